"""sla.yaml validation (errors with file:line) and the working-day calendar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lapor_bridge.errors import ConfigError, MappingInvalid
from lapor_bridge.sla.calendar import WorkingCalendar
from lapor_bridge.sla.policy import (
    StopEvent,
    default_policies,
    load_policies,
    parse_policies,
)
from lapor_bridge.timeutil import WIB, parse_upstream_time
from lapor_bridge.yamlfiles import MappingFilesInvalid

SHIPPED_FILE = Path(__file__).parents[2] / "mappings" / "sla.yaml"


def test_shipped_policies() -> None:
    policies = load_policies(SHIPPED_FILE)
    bupati = policies.get("bupati-24h")
    nasional = policies.get("nasional-5hk")
    assert bupati.stop is StopEvent.SETTLEMENT
    assert bupati.duration.hours == 24 and bupati.complex_duration.hours == 48  # type: ignore[union-attr]
    assert nasional.stop is StopEvent.FIRST_FOLLOWUP
    assert nasional.duration.working_days == 5 and nasional.complex_duration is None
    assert policies.zone == "Asia/Jakarta" and policies.cuti_bersama


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "policies:\n  x:\n    stop: settlement\n    duration: {hours: 24, working_days: 5}\n",
            "sla.yaml:4: `duration`: give exactly one of `hours` or `working_days`. write it like",
        ),
        (
            "zone: Mars/Base\npolicies:\n  x: {stop: settlement, duration: {hours: 1}}\n",
            "sla.yaml:1: `zone` 'Mars/Base' is not an IANA time zone",
        ),
        (
            "policies:\n  x:\n    stop: settled\n    duration: {hours: 1}\n",
            "sla.yaml:3: `stop` must be one of 'first_followup' or 'settlement', not 'settled'",
        ),
        (
            "policies:\n  x:\n    stop: settlement\n    duration: {hours: 1}\n    at_risk: 1.5\n",
            "sla.yaml:5: `at_risk` must be less than 1.0, not 1.5",
        ),
        (
            "days_off:\n  - {date: 2026-01-02, reason: a}\n  - {date: 2026-13-02, reason: b}\n"
            "policies:\n  x: {stop: settlement, duration: {hours: 1}}\n",
            "sla.yaml:3: `date` must be a date, not '2026-13-02'",
        ),
        (
            "days_off:\n  - {date: 2026-01-02, reason: a}\n  - {date: 2026-01-02, reason: b}\n"
            "policies:\n  x: {stop: settlement, duration: {hours: 1}}\n",
            "sla.yaml:1: `days_off`: 2026-01-02 is listed twice",
        ),
        (
            "policies:\n  x: {stop: settlement, duration: {hours: 1}, colour: red}\n",
            "sla.yaml:2: unknown key `colour`. remove it; allowed here: description, start, stop,",
        ),
        ("policies: {}\n", "sla.yaml:1: `policies` has no items"),
        ("policies: [\n", "sla.yaml:2: YAML syntax error"),
        ("- a\n", "sla.yaml:1: the file must be keys and values at the top level"),
    ],
)
def test_invalid_policies_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(MappingInvalid) as info:
        parse_policies(text, source="mappings/sla.yaml")
    assert info.value.exit_code == 3
    assert expected in info.value.message


def test_every_problem_of_the_file_is_reported_with_its_line_and_a_fix() -> None:
    text = (
        "zone: Mars/Base\n"  # 1
        "policies:\n"
        "  x:\n"
        "    stop: settled\n"  # 4
        "    duration: {hours: 1}\n"
        "    complex_duraton: {hours: 2}\n"  # 6
        "  Bad Name: {stop: settlement, duration: {hours: 1}}\n"  # 7
    )
    with pytest.raises(MappingFilesInvalid) as info:
        parse_policies(text, source="mappings/sla.yaml")
    found = [(issue.line, issue.message, issue.fix) for issue in info.value.errors]
    assert [line for line, _, _ in found] == [1, 4, 6, 7]
    assert "did you mean `complex_duration`?" in found[2][2]
    assert "policy name `Bad Name`" in found[3][1]
    assert all(fix for _, _, fix in found)


def test_unknown_policy_name_is_a_clear_error() -> None:
    with pytest.raises(
        ConfigError, match="no SLA policy named 'nope'; the policies are: bupati-24h"
    ):
        load_policies(SHIPPED_FILE).get("nope")


def test_missing_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(MappingInvalid, match=r"sla\.yaml.*LAPOR_BRIDGE_MAPPINGS_DIR"):
        load_policies(tmp_path / "sla.yaml")


def test_default_policies_are_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("policies:\n  a: {stop: settlement, duration: {hours: 1}}\n")
    first = default_policies(tmp_path)
    assert default_policies(tmp_path) is first
    path.write_text("policies:\n  b: {stop: settlement, duration: {hours: 2}}\n")
    import os

    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    assert list(default_policies(tmp_path).policies) == ["b"]


def test_default_policies_read_the_settings_folder(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "sla.yaml").write_text(
        "policies:\n  only: {stop: settlement, duration: {hours: 3}}\n"
    )
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(tmp_path))
    assert list(default_policies().policies) == ["only"]


# --- calendar --------------------------------------------------------------------


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar(zone=WIB, extra_days_off={dt.date(2026, 3, 4): "Hari jadi (contoh)"})


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2025-03-31", "Hari Raya Idul Fitri"),
        ("2025-04-02", "Cuti Bersama Hari Raya Idul Fitri"),
        ("2025-04-07", "Cuti Bersama Hari Raya Idul Fitri"),
        ("2025-12-26", "Cuti Bersama Hari Raya Natal"),
        ("2026-01-01", "Tahun Baru Masehi"),
        ("2026-03-23", "Cuti Bersama Hari Raya Idul Fitri"),
        ("2026-03-04", "Hari jadi (contoh)"),
        ("2026-03-07", "akhir pekan"),
        ("2026-03-02", None),
    ],
)
def test_days_off(calendar: WorkingCalendar, day: str, reason: str | None) -> None:
    found = calendar.day_off_reason(dt.date.fromisoformat(day))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_cuti_bersama_can_be_switched_off() -> None:
    calendar = WorkingCalendar(zone=WIB, cuti_bersama=False)
    assert calendar.is_working_day(dt.date(2025, 4, 2))
    assert not calendar.is_working_day(dt.date(2025, 3, 31))  # Idul Fitri itself stays off


def test_working_time_between(calendar: WorkingCalendar) -> None:
    start = parse_upstream_time("2026-03-02 10:00")  # Monday; Wed 4 is a local day off
    due = calendar.add_working_days(start, 5)
    assert due == parse_upstream_time("2026-03-11 00:00")
    assert calendar.working_time_between(start, parse_upstream_time("2026-03-02 23:00")) == 0
    assert calendar.working_time_between(start, parse_upstream_time("2026-03-04 12:00")) == 1
    assert calendar.working_time_between(start, parse_upstream_time("2026-03-05 06:00")) == 1.25
    assert calendar.working_time_between(start, due) == 5
    at_risk = calendar.add_working_time(start, 3.75)
    assert calendar.working_time_between(start, at_risk) == 3.75


def test_nth_working_day_needs_a_positive_count(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        calendar.nth_working_day_after(dt.date(2026, 3, 2), 0)
