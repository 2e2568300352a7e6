"""The clock arithmetic, pinned case by case (pure functions, no store).

Times are written in WIB without offset and read with parse_upstream_time,
which is exactly how legacy upstream times are read. Dates checked against
the Indonesian calendar of the `holidays` library:
  2025: Fri 28 Mar cuti Nyepi, Sat 29 Nyepi, Mon 31 Mar + Tue 1 Apr Idul Fitri,
        Wed 2 - Fri 4 Apr and Mon 7 Apr cuti bersama Idul Fitri;
        Thu 25 Dec Natal, Fri 26 Dec cuti bersama; Thu 1 Jan 2026 Tahun Baru.
  2026: Wed 18 Mar cuti Nyepi, Thu 19 Nyepi, Fri 20 cuti Idul Fitri, Sat 21 + Sun 22
        Idul Fitri, Mon 23 + Tue 24 cuti bersama Idul Fitri.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lapor_bridge.sla.clock import (
    ClockFacts,
    ClockFollowUp,
    LocalFollowUp,
    StopReason,
    compute_clock,
    state_of,
)
from lapor_bridge.sla.policy import SlaPolicies, load_policies, parse_policies
from lapor_bridge.timeutil import parse_upstream_time

SHIPPED = load_policies(Path(__file__).parents[2] / "mappings" / "sla.yaml")
NO_CUTI = SHIPPED.model_copy(update={"cuti_bersama": False})
LOCAL_DAY_OFF = parse_policies(
    """
zone: Asia/Jakarta
days_off:
  - {date: 2026-03-04, reason: "Hari jadi (contoh)"}
policies:
  nasional-5hk: {stop: first_followup, duration: {working_days: 5}, at_risk: 0.75}
"""
)


def w(text: str) -> datetime:
    """A WIB wall-clock time without offset, read like a legacy upstream time."""
    return parse_upstream_time(text)


@dataclass
class Case:
    name: str
    policy: str
    now: str
    state: str
    due: str
    start: str = "2026-03-02 10:00"  # Monday
    stopped: str | None = None
    reason: StopReason | None = None
    cycle: int = 1
    at_risk: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    policies: SlaPolicies = SHIPPED


def L(at: str, status: str = "DIPROSES") -> LocalFollowUp:
    return LocalFollowUp(at=w(at), status=status)


def U(
    at: str, author: str = "INSTANSI", status: str = "DIPROSES", echo: bool = False
) -> ClockFollowUp:
    return ClockFollowUp(at=w(at), author=author, status=status, is_echo=echo)


N5 = "nasional-5hk"
B24 = "bupati-24h"

CASES = [
    # --- working days: weekends, zone, the day of disposition -------------------
    Case(
        "5hk: Monday start, due end of next Monday",
        N5,
        "2026-03-05 09:00",
        "ON_TRACK",
        due="2026-03-10 00:00",
        at_risk="2026-03-06 18:00",
    ),
    Case(
        "5hk: at-risk at 18:00 of the 4th working day",
        N5,
        "2026-03-06 18:00",
        "AT_RISK",
        due="2026-03-10 00:00",
    ),
    Case(
        "5hk: one minute before due is still at risk",
        N5,
        "2026-03-09 23:59",
        "AT_RISK",
        due="2026-03-10 00:00",
    ),
    Case(
        "5hk: due instant is breached", N5, "2026-03-10 00:00", "BREACHED", due="2026-03-10 00:00"
    ),
    Case(
        "5hk: Friday 23:59 WIB disposition, weekend skipped",
        N5,
        "2026-03-09 12:00",
        "ON_TRACK",
        start="2026-03-06 23:59",
        due="2026-03-14 00:00",
        at_risk="2026-03-12 18:00",
    ),
    Case(
        "5hk: Saturday disposition counts from Monday, same due as Friday",
        N5,
        "2026-03-09 12:00",
        "ON_TRACK",
        start="2026-03-07 09:00",
        due="2026-03-14 00:00",
    ),
    Case(
        "5hk: Monday 06:00 WIB is Sunday in UTC: the local date counts",
        N5,
        "2026-03-10 12:00",
        "ON_TRACK",
        start="2026-03-09 06:00",
        due="2026-03-17 00:00",
        at_risk="2026-03-13 18:00",
    ),
    Case(
        "5hk: a Z time is converted to WIB first",
        N5,
        "2026-03-05 09:00",
        "ON_TRACK",
        start="2026-03-01T20:00:00Z",
        due="2026-03-10 00:00",
    ),
    Case(
        "5hk: legacy time without offset is WIB",
        N5,
        "2021-09-28 23:00",
        "AT_RISK",
        start="2021-09-21 10:15:00",
        due="2021-09-29 00:00",
        at_risk="2021-09-27 18:00",
    ),
    # --- holidays ----------------------------------------------------------------
    Case(
        "5hk: across Nyepi and Idul Fitri 2025 with cuti bersama",
        N5,
        "2025-04-10 12:00",
        "ON_TRACK",
        start="2025-03-27 10:00",
        due="2025-04-15 00:00",
        at_risk="2025-04-11 18:00",
    ),
    Case(
        "5hk: Idul Fitri 2025 breached the day after",
        N5,
        "2025-04-15 00:00",
        "BREACHED",
        start="2025-03-27 10:00",
        due="2025-04-15 00:00",
    ),
    Case(
        "5hk: across Nyepi and Idul Fitri 2026 with cuti bersama",
        N5,
        "2026-03-25 12:00",
        "ON_TRACK",
        start="2026-03-17 10:00",
        due="2026-04-01 00:00",
        at_risk="2026-03-30 18:00",
    ),
    Case(
        "5hk: Idul Fitri 2026 without cuti bersama only the holidays are off",
        N5,
        "2026-03-25 12:00",
        "AT_RISK",
        start="2026-03-17 10:00",
        due="2026-03-26 00:00",
        policies=NO_CUTI,
    ),
    Case(
        "5hk: across Natal, its cuti bersama and New Year",
        N5,
        "2026-01-05 12:00",
        "AT_RISK",
        start="2025-12-24 10:00",
        due="2026-01-06 00:00",
        at_risk="2026-01-02 18:00",
    ),
    Case(
        "5hk: disposed on New Year's Day starts counting on Friday 2 January",
        N5,
        "2026-01-05 12:00",
        "ON_TRACK",
        start="2026-01-01 08:00",
        due="2026-01-09 00:00",
    ),
    Case(
        "5hk: an extra local day off from the config",
        N5,
        "2026-03-10 12:00",
        "AT_RISK",
        due="2026-03-11 00:00",
        policies=LOCAL_DAY_OFF,
    ),
    # --- first follow-up ----------------------------------------------------------
    Case(
        "5hk: local follow-up before due is MET at the local time",
        N5,
        "2026-03-20 12:00",
        "MET",
        due="2026-03-10 00:00",
        stopped="2026-03-04 15:00",
        reason=StopReason.FOLLOWUP,
        facts={"local": (L("2026-03-04 15:00"),), "upstream": (U("2026-03-05 09:00", echo=True),)},
    ),
    Case(
        "5hk: local follow-up after due is MET_LATE",
        N5,
        "2026-03-20 12:00",
        "MET_LATE",
        due="2026-03-10 00:00",
        stopped="2026-03-10 08:00",
        reason=StopReason.FOLLOWUP,
        facts={"local": (L("2026-03-10 08:00", "SELESAI"),)},
    ),
    Case(
        "5hk: an answer given on the LAPOR! site (non-echo INSTANSI) counts if earlier",
        N5,
        "2026-03-20 12:00",
        "MET",
        due="2026-03-10 00:00",
        stopped="2026-03-03 11:00",
        reason=StopReason.FOLLOWUP,
        facts={"local": (L("2026-03-06 15:00"),), "upstream": (U("2026-03-03 11:00"),)},
    ),
    Case(
        "5hk: an echo alone does not stop the clock (the local row stands for it)",
        N5,
        "2026-03-10 01:00",
        "BREACHED",
        due="2026-03-10 00:00",
        facts={"upstream": (U("2026-03-03 11:00", echo=True),)},
    ),
    Case(
        "5hk: citizen and admin follow-ups are not the regency's answer",
        N5,
        "2026-03-10 01:00",
        "BREACHED",
        due="2026-03-10 00:00",
        facts={"upstream": (U("2026-03-03 11:00", "PELAPOR"), U("2026-03-03 12:00", "ADMIN"))},
    ),
    Case(
        "5hk: seen DIPROSES with no follow-up known stops at that version's updated_at",
        N5,
        "2026-03-20 12:00",
        "MET",
        due="2026-03-10 00:00",
        stopped="2026-03-05 10:00",
        reason=StopReason.SEEN_CLOSED,
        facts={"status": "DIPROSES", "updated_at": w("2026-03-05 10:00")},
    ),
    Case(
        "5hk: a follow-up stamped before the disposition counts as at the start",
        N5,
        "2026-03-20 12:00",
        "MET",
        due="2026-03-10 00:00",
        stopped="2026-03-02 10:00",
        reason=StopReason.FOLLOWUP,
        facts={"local": (L("2026-03-01 09:00"),)},
    ),
    Case(
        "5hk: complex has no effect on a policy without complex_duration",
        N5,
        "2026-03-05 09:00",
        "ON_TRACK",
        due="2026-03-10 00:00",
        facts={"complex": True},
    ),
    Case(
        "5hk: no disposition time: the clock starts at created_at",
        N5,
        "2026-03-05 09:00",
        "ON_TRACK",
        start="2026-03-09 10:00",
        due="2026-03-10 00:00",
        facts={"disposed_at": None, "created_at": w("2026-03-02 10:00")},
    ),
    # --- calendar hours: Mas Bup Siaga 1x24 / 2x24 --------------------------------
    Case(
        "24h: Friday 23:59 WIB, weekends count in calendar hours",
        B24,
        "2026-03-07 12:00",
        "ON_TRACK",
        start="2026-03-06 23:59",
        due="2026-03-07 23:59",
        at_risk="2026-03-07 17:59",
    ),
    Case(
        "24h: at risk after 18 of 24 hours",
        B24,
        "2026-03-07 18:00",
        "AT_RISK",
        start="2026-03-06 23:59",
        due="2026-03-07 23:59",
    ),
    Case(
        "24h: holidays count in calendar hours (Idul Fitri 2026)",
        B24,
        "2026-03-21 10:00",
        "BREACHED",
        start="2026-03-20 09:00",
        due="2026-03-21 09:00",
    ),
    Case(
        "24h complex: 2x24 h",
        B24,
        "2026-03-08 11:00",
        "ON_TRACK",
        start="2026-03-06 23:59",
        due="2026-03-08 23:59",
        at_risk="2026-03-08 11:59",
        facts={"complex": True},
    ),
    Case(
        "24h: standard case breached where the complex one would not be",
        B24,
        "2026-03-08 12:00",
        "BREACHED",
        start="2026-03-06 23:59",
        due="2026-03-07 23:59",
    ),
    Case(
        "24h: a DIPROSES follow-up does not settle",
        B24,
        "2026-03-03 11:00",
        "BREACHED",
        due="2026-03-03 10:00",
        facts={"local": (L("2026-03-02 12:00"),)},
    ),
    Case(
        "24h: local SELESAI settles, at the local time",
        B24,
        "2026-03-09 00:00",
        "MET",
        due="2026-03-03 10:00",
        stopped="2026-03-03 09:00",
        reason=StopReason.SETTLED,
        facts={
            "local": (L("2026-03-02 12:00"), L("2026-03-03 09:00", "SELESAI")),
            "upstream": (U("2026-03-03 10:30", status="SELESAI", echo=True),),
        },
    ),
    Case(
        "24h: SELESAI given on the LAPOR! site settles",
        B24,
        "2026-03-09 00:00",
        "MET_LATE",
        due="2026-03-03 10:00",
        stopped="2026-03-03 12:00",
        reason=StopReason.SETTLED,
        facts={"upstream": (U("2026-03-03 12:00", status="SELESAI"),)},
    ),
    Case(
        "24h: seen SELESAI with no follow-up known: updated_at",
        B24,
        "2026-03-09 00:00",
        "MET",
        due="2026-03-03 10:00",
        stopped="2026-03-03 08:00",
        reason=StopReason.SEEN_CLOSED,
        facts={"status": "SELESAI", "updated_at": w("2026-03-03 08:00")},
    ),
    Case(
        "24h: closed by the platform (DITUTUP) stops it too",
        B24,
        "2026-03-09 00:00",
        "MET_LATE",
        due="2026-03-03 10:00",
        stopped="2026-03-04 08:00",
        reason=StopReason.SEEN_CLOSED,
        facts={"status": "DITUTUP", "updated_at": w("2026-03-04 08:00")},
    ),
    Case(
        "24h: settled exactly at due is MET",
        B24,
        "2026-03-09 00:00",
        "MET",
        due="2026-03-03 10:00",
        stopped="2026-03-03 10:00",
        reason=StopReason.SETTLED,
        facts={"local": (L("2026-03-03 10:00", "SELESAI"),)},
    ),
    # --- reopen -----------------------------------------------------------------------
    Case(
        "reopen: a citizen's reply after SELESAI starts cycle 2 at the reply",
        B24,
        "2026-03-04 10:00",
        "ON_TRACK",
        due="2026-03-04 18:00",
        at_risk="2026-03-04 12:00",
        cycle=2,
        facts={
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen: cycle 2 breached 24 h after the reply",
        B24,
        "2026-03-04 18:00",
        "BREACHED",
        due="2026-03-04 18:00",
        cycle=2,
        facts={
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen: settled again, late, in cycle 2",
        B24,
        "2026-03-09 00:00",
        "MET_LATE",
        due="2026-03-04 18:00",
        stopped="2026-03-05 07:00",
        reason=StopReason.SETTLED,
        cycle=2,
        facts={
            "local": (L("2026-03-02 20:00", "SELESAI"), L("2026-03-05 07:00", "SELESAI")),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen: a complex case gets 48 h again",
        B24,
        "2026-03-05 10:00",
        "AT_RISK",
        due="2026-03-05 18:00",
        at_risk="2026-03-05 06:00",
        cycle=2,
        facts={
            "complex": True,
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen: a reply before the settlement does not reopen",
        B24,
        "2026-03-09 00:00",
        "MET",
        due="2026-03-03 10:00",
        stopped="2026-03-02 20:00",
        reason=StopReason.SETTLED,
        facts={
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-02 15:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen: a version seen SELESAI before the reply does not settle cycle 2",
        B24,
        "2026-03-04 10:00",
        "ON_TRACK",
        due="2026-03-04 18:00",
        cycle=2,
        facts={
            "status": "SELESAI",
            "updated_at": w("2026-03-03 18:00"),
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen: a version seen SELESAI after the reply settles cycle 2",
        B24,
        "2026-03-09 00:00",
        "MET",
        due="2026-03-04 18:00",
        stopped="2026-03-04 09:00",
        reason=StopReason.SEEN_CLOSED,
        cycle=2,
        facts={
            "status": "SELESAI",
            "updated_at": w("2026-03-04 09:00"),
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    Case(
        "reopen does not touch the first-response clock",
        N5,
        "2026-03-20 00:00",
        "MET",
        due="2026-03-10 00:00",
        stopped="2026-03-02 20:00",
        reason=StopReason.FOLLOWUP,
        facts={
            "local": (L("2026-03-02 20:00", "SELESAI"),),
            "upstream": (U("2026-03-03 18:00", "PELAPOR"),),
        },
    ),
    # --- transfer and reassignment ----------------------------------------------------
    Case(
        "transfer: an open clock is STOPPED at transferred_at",
        B24,
        "2026-03-09 00:00",
        "STOPPED",
        due="2026-03-03 10:00",
        stopped="2026-03-02 15:00",
        reason=StopReason.TRANSFERRED,
        facts={"transferred": True, "transferred_at": w("2026-03-02 15:00"), "status": "DIALIHKAN"},
    ),
    Case(
        "transfer: after the due time it is still STOPPED",
        N5,
        "2026-03-20 00:00",
        "STOPPED",
        due="2026-03-10 00:00",
        stopped="2026-03-12 15:00",
        reason=StopReason.TRANSFERRED,
        facts={"transferred": True, "transferred_at": w("2026-03-12 15:00"), "status": "DIALIHKAN"},
    ),
    Case(
        "transfer: without transferred_at the version's updated_at is used",
        N5,
        "2026-03-20 00:00",
        "STOPPED",
        due="2026-03-10 00:00",
        stopped="2026-03-05 15:00",
        reason=StopReason.TRANSFERRED,
        facts={"transferred": True, "updated_at": w("2026-03-05 15:00"), "status": "DIALIHKAN"},
    ),
    Case(
        "transfer: a clock met before the transfer stays MET",
        N5,
        "2026-03-20 00:00",
        "MET",
        due="2026-03-10 00:00",
        stopped="2026-03-03 09:00",
        reason=StopReason.FOLLOWUP,
        facts={
            "transferred": True,
            "transferred_at": w("2026-03-05 15:00"),
            "status": "DIALIHKAN",
            "local": (L("2026-03-03 09:00"),),
        },
    ),
    Case(
        "reassigned to a complex case: start kept, 48 h from the first disposition",
        B24,
        "2026-03-04 09:00",
        "AT_RISK",
        due="2026-03-04 10:00",
        at_risk="2026-03-03 22:00",
        facts={"complex": True},
    ),
]


def facts_for(case: Case) -> ClockFacts:
    start = w(case.start)
    base: dict[str, Any] = {
        "tracking_id": 1,
        "created_at": start,
        "disposed_at": start,
        "status": "DISPOSISI",
        "updated_at": start,
    }
    return ClockFacts(**{**base, **case.facts})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_clock_rules(case: Case) -> None:
    policy = case.policies.get(case.policy)
    clock = compute_clock(facts_for(case), policy, case.policies.calendar)

    assert clock.due_at == w(case.due)
    assert state_of(clock, w(case.now)) == case.state
    assert clock.stopped_at == (w(case.stopped) if case.stopped else None)
    assert clock.stop_reason == case.reason
    assert clock.cycle == case.cycle
    if case.at_risk:
        assert clock.at_risk_at == w(case.at_risk)


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


def test_times_come_back_in_utc() -> None:
    clock = compute_clock(facts_for(CASES[0]), SHIPPED.get(N5), SHIPPED.calendar)
    assert clock.due_at.utcoffset() is not None
    assert clock.due_at.isoformat() == "2026-03-09T17:00:00+00:00"
