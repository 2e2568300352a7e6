"""`lapor-bridge sla`, `sla summary`, `sla recompute` on a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from lapor_bridge.store import open_store, write_session
from lapor_bridge.timeutil import WIB, utcnow
from tests.sla.conftest import MAPPINGS, add_local, add_report


def wib_text(delta: timedelta) -> str:
    return (utcnow() + delta).astimezone(WIB).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAPOR_BRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(MAPPINGS))
    engine = open_store(url)
    with write_session(engine) as s:
        # answered and settled one hour after disposition, ten days ago: MET on both clocks
        add_report(s, 11, wib_text(-timedelta(days=10)), opd="DPU")
        add_local(s, 11, wib_text(-timedelta(days=10) + timedelta(hours=1)), "SELESAI")
        # disposed ten days ago, nothing done: BREACHED on both (10 days > 5 working days
        # only when no long holiday intervenes, so only the 24 h clock is asserted)
        add_report(s, 12, wib_text(-timedelta(days=10)), opd="DINKES")
    engine.dispose()
    return url


def test_recompute_list_and_summary(store: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["sla", "recompute"])
    assert result.exit_code == 0, result.output
    assert "recomputed 4 SLA clocks" in result.output

    result = runner.invoke(app, ["sla", "--all", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 4
    states = {(r["tracking_id"], r["policy"]): r["state"] for r in rows}
    assert states[("11", "bupati-24h")] == "MET"
    assert states[("11", "nasional-5hk")] == "MET"
    assert states[("12", "bupati-24h")] == "BREACHED"
    assert rows[0]["tracking_id"] == "12"  # most urgent first
    assert "title" not in rows[0] and "content" not in rows[0]

    result = runner.invoke(app, ["sla", "--json", "--policy", "bupati-24h", "--opd", "DINKES"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(r["tracking_id"], r["state"]) for r in listed] == [(12, "BREACHED")]
    assert listed[0]["time_left_s"] < -8 * 24 * 3600

    result = runner.invoke(app, ["sla", "summary", "--json"])
    assert result.exit_code == 0, result.output
    summary = {(s["opd"], s["policy"]): s for s in json.loads(result.output)}
    assert summary[("DPU", "bupati-24h")]["time_to_settlement"] == {
        "n": 1,
        "median_s": 3600.0,
        "p90_s": 3600.0,
    }
    assert summary[("DPU", "nasional-5hk")]["on_time_share"] == 1.0

    result = runner.invoke(app, ["sla", "summary"])
    assert result.exit_code == 0 and "DINKES" in result.output


def test_bad_arguments_are_one_line_errors(store: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["sla", "--state", "LATE"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: unknown SLA state 'LATE'")
    result = runner.invoke(app, ["sla", "--policy", "nope"])
    assert result.exit_code == 2 and "no SLA policy named 'nope'" in result.output
    result = runner.invoke(app, ["sla", "summary", "--since", "yesterday"])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_a_broken_sla_yaml_exits_3_with_file_and_line(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, mine)
    text = (mine / "sla.yaml").read_text()
    lines = text.splitlines()
    line_no = lines.index("    stop: settlement") + 1
    lines[line_no - 1] = "    stop: selesai"
    (mine / "sla.yaml").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(mine))
    for command in (["sla", "recompute"], ["sla", "summary"], ["mappings", "check"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 3, (command, result.output)
        assert f"{mine / 'sla.yaml'}:{line_no}: `stop` must be one of" in result.output
        assert "nothing was changed" in result.output
