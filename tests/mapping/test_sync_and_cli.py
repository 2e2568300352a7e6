"""The mapping through its real entry points: a sync against the simulator
over HTTP (SQLite file and PostgreSQL), and the CLI commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import app
from lapor_bridge.errors import MappingInvalid
from lapor_bridge.store import open_store, read_session, write_session
from lapor_bridge.store.tables import ReportRow
from lapor_bridge.sync.engine import run_sync

from .conftest import NOW, add_reports, add_topics, assignments, history_count, report_row

REPO = Path(__file__).resolve().parents[2]


def test_sync_assigns_every_pulled_report_and_refuses_a_broken_mapping(
    make_simulator, make_runtime, store_url, tmp_path
):
    sim = make_simulator(initial_reports=120)
    rt = make_runtime(sim, store_url)
    run_sync(rt, push=False)
    engine = rt.engine
    got = assignments(engine)
    with read_session(engine) as session:
        reports = {r.tracking_id: r for r in session.execute(select(ReportRow)).scalars()}
    assert {tid for tid, r in reports.items() if not r.transferred} <= set(got)
    assert history_count(engine) == len(got)
    # the shipped rules route the simulator's topics as the regency expects
    for tid, (opd, mapped_by, _co, _complex) in got.items():
        if reports[tid].topic_id == 104:
            assert (opd, mapped_by) == ("DISHUB", "rule:penerangan-jalan-umum")
        elif reports[tid].topic_id == 202:
            assert opd == "RSUD"

    # an admin breaks the rules file: the next sync refuses and changes nothing
    broken = tmp_path / "broken"
    shutil.copytree(REPO / "mappings", broken)
    text = (broken / "rules.yaml").read_text()
    (broken / "rules.yaml").write_text(text.replace("opd: RSUD", "opd: RSUD_ASHARI", 1))
    sim.generate_changes(30)
    with read_session(engine) as session:
        versions = dict(session.execute(select(ReportRow.tracking_id, ReportRow.version)).all())
    before = (assignments(engine), history_count(engine))
    refused = make_runtime(sim, store_url, mappings_dir=broken)
    with pytest.raises(MappingInvalid) as caught:
        run_sync(refused, push=False)
    assert f"{broken / 'rules.yaml'}:" in caught.value.message
    assert "did you mean `RSUD`?" in caught.value.message
    assert (assignments(engine), history_count(engine)) == before
    with read_session(engine) as session:
        assert (
            dict(session.execute(select(ReportRow.tracking_id, ReportRow.version)).all())
            == versions
        )


# --- CLI ------------------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAPOR_BRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(REPO / "mappings"))
    engine = open_store(url)
    add_topics(engine)
    add_reports(
        engine,
        [
            report_row(1, topic_id=101),
            report_row(2, topic_id=1200, kecamatan="Belik"),
            report_row(
                3,
                topic_id=None,
                channel="SMS",
                content="masbupsiaga banjir di desa",
                masbupsiaga=True,
            ),
            report_row(4, topic_id=None),
        ],
    )
    yield engine
    engine.dispose()


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_mappings_check_ok_and_broken(cli_store, tmp_path, monkeypatch):
    result = run("mappings", "check")
    assert result.exit_code == 0, result.output
    assert "mapping OK: 42 units, 39 rules, default unit KOORDINATOR, 0 warnings" in result.output

    broken = tmp_path / "mine"
    shutil.copytree(REPO / "mappings", broken)
    rules = (broken / "rules.yaml").read_text()
    lines = rules.splitlines()
    line_no = lines.index("    opd: DPUPR") + 1  # the first rule sending to DPUPR
    lines[line_no - 1] = "   opd: DPUPR"  # one space short, as typed in a hurry
    (broken / "rules.yaml").write_text("\n".join(lines) + "\n")
    (broken / "units.yaml").write_text(
        (broken / "units.yaml")
        .read_text()
        .replace("code: KEC_MOGA\n", "code: KEC_MOGA\n    liaisons: []\n", 1)
    )
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(broken))
    result = run("mappings", "check")
    assert result.exit_code == 3
    assert f"{broken / 'rules.yaml'}:{line_no}: YAML syntax error" in result.output
    assert "unknown key `liaisons`. did you mean `liaison`?" in result.output
    assert "nothing was changed" in result.output


def test_mappings_check_warns_without_failing(cli_store, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    shutil.copytree(REPO / "mappings", mine)
    text = (
        (mine / "rules.yaml")
        .read_text()
        .replace("when: {topic: 1001}", "when: {topic: [1001, 1003]}")
    )
    (mine / "rules.yaml").write_text(text)
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(mine))
    result = run("mappings", "check")
    assert result.exit_code == 0, result.output
    assert (
        "warning: " in result.output
        and "topic 1003 is not in the synced LAPOR! topic tree" in result.output
    )


def test_remap_dry_run_then_apply_assign_explain_status(cli_store):
    result = run("remap", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would change 4 of 4 routed reports" in result.output
    assert "(new)" in result.output and "KEC_BELIK" in result.output
    assert assignments(cli_store) == {}

    result = run("remap")
    assert result.exit_code == 0, result.output
    assert "changed 4 of 4" in result.output
    assert assignments(cli_store) == {
        1: ("DPUPR", "rule:infrastruktur", (), False),
        2: ("KEC_BELIK", "rule:kec-belik", (), False),
        3: ("BPBD", "rule:kata-banjir", ("DPUPR", "DINSOS"), True),
        4: ("KOORDINATOR", "default", (), False),
    }
    assert "changed 0 of 4" in run("remap").output

    result = run("assign", "4", "DPUPR", "--reason", "jalan desa", "--by", "sri")
    assert result.exit_code == 0, result.output
    assert "report 4: KOORDINATOR -> DPUPR (manual" in result.output
    result = run("assign", "4", "DPUPX", "--reason", "x")
    assert result.exit_code == 1
    assert (
        result.output.strip() == "error: 'DPUPX' is not a unit of the mapping; did you mean DPUPR?"
    )

    result = run("mappings", "explain", "3")
    assert result.exit_code == 0, result.output
    assert "rule kata-banjir" in result.output and "keyword 'banjir'" in result.output
    assert "rules before it that did not match:" in result.output
    assert "SMS (Mas Bup Siaga)" in result.output
    data = json.loads(run("mappings", "explain", "4", "--json").output)
    assert data["assigned_mapped_by"] == "manual" and data["assigned_by"] == "sri"

    data = json.loads(run("mappings", "status", "--json").output)
    assert {e["opd"] for e in data["per_opd"]} == {"DPUPR", "KEC_BELIK", "BPBD"}
    assert data["unmapped"]["count"] == 0
    result = run("mappings", "status", "--opd", "DPUPR")
    assert result.exit_code == 0, result.output
    assert "co-assigned to DPUPR: 1" in result.output
    assert run("mappings", "status", "--opd", "NOPE").exit_code == 1

    result = run("unassign", "4", "--reason", "rules are fine")
    assert result.exit_code == 0, result.output
    assert assignments(cli_store)[4] == ("KOORDINATOR", "default", (), False)


def test_assign_refuses_unknown_report(cli_store):
    result = run("assign", "999", "DPUPR", "--reason", "x")
    assert result.exit_code == 1
    assert "no report 999 in the store" in result.output
    with write_session(cli_store) as session:
        assert session.execute(select(func.count()).select_from(ReportRow)).scalar_one() == 4
    assert NOW  # the fixture's clock is the store's clock


def test_remap_that_makes_a_case_complex_moves_its_due_time_not_its_start(
    make_simulator, make_runtime, sqlite_url, tmp_path
):
    from datetime import timedelta

    from lapor_bridge.mapping.commands import remap
    from lapor_bridge.store.tables import SlaClock

    sim = make_simulator(initial_reports=200)
    rt = make_runtime(sim, sqlite_url)
    run_sync(rt, push=False)

    def clocks() -> dict[int, tuple]:
        with read_session(rt.engine) as session:
            rows = session.execute(
                select(SlaClock.tracking_id, SlaClock.started_at, SlaClock.due_at)
                .join(ReportRow, ReportRow.tracking_id == SlaClock.tracking_id)
                .where(SlaClock.policy == "bupati-24h", ReportRow.topic_id == 101)
            ).all()
        return {tid: (start, due) for tid, start, due in rows}

    before = clocks()
    assert before and all(due - start == timedelta(hours=24) for start, due in before.values())

    edited = tmp_path / "mappings"
    shutil.copytree(REPO / "mappings", edited)
    rules = (edited / "rules.yaml").read_text()
    rules = rules.replace(
        "    when: {topic: 100}          # jalan, jembatan, drainase, irigasi\n    opd: DPUPR\n",
        "    when: {topic: 100}\n    opd: DPUPR\n    complex: true\n",
    )
    (edited / "rules.yaml").write_text(rules)
    remap(make_runtime(sim, sqlite_url, mappings_dir=edited), dry_run=False)

    after = clocks()
    assert after.keys() == before.keys()
    for tid, (start, due) in after.items():
        assert start == before[tid][0]  # the citizen has waited all along
        assert due - start == timedelta(hours=48)
