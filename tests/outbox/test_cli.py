"""The push commands of the CLI on a real SQLite file and a real simulator:
respond (one, CSV), push, outbox (list, retry, cancel), replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import UpstreamFollowUpRow
from tests.outbox.helpers import NOW, items, ours_upstream, seed_from_simulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bridge(tmp_path, monkeypatch, make_simulator):
    sim = make_simulator(initial_reports=30)
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    engine = open_store(url)
    reports = seed_from_simulator(engine, sim)
    for name, value in {
        "API_URL": sim.url,
        "TOKEN": sim.config.token,
        "INSTANSI_ID": str(sim.config.instansi_id),
        "DATABASE_URL": url,
        "MAPPINGS_DIR": str(REPO / "mappings"),
        "RATE_LIMIT_PER_S": "1000",
        "MAX_RETRY_ELAPSED_S": "2",
    }.items():
        monkeypatch.setenv(f"LAPOR_BRIDGE_{name}", value)
    yield sim, engine, reports
    engine.dispose()


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "sim-token" not in result.output
    return result


def test_respond_push_and_the_outbox_views(bridge, tmp_path):
    sim, engine, reports = bridge
    a, b, c = reports[:3]
    result = run(
        "respond", str(a), "--status", "DIPROSES", "--text", "Sedang dicek petugas.",
        "--attach", "https://pemalangkab.go.id/a.jpg", "--by", "liaison",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recorded outbox #1: DIPROSES for report" in result.stdout

    csv_file = tmp_path / "jawaban.csv"
    csv_file.write_text(
        f"tracking_id,status,text\n{b},SELESAI,Sudah selesai.\n{c},DITANGANI,x\n{c},SELESAI,Beres\n"
    )
    result = run("respond", "--from-csv", str(csv_file))
    assert result.exit_code == 1  # a bad row: non-zero, the good rows are in
    assert "jawaban.csv:3: skipped: status 'DITANGANI'" in result.stderr
    assert "2 follow-up(s) recorded, 1 row(s) skipped." in result.stdout

    listed = json.loads(run("outbox", "--json").stdout)
    assert [(r["id"], r["state"]) for r in listed] == [
        (1, "pending"),
        (2, "pending"),
        (3, "pending"),
    ]

    sim.update_report(c, status="DITUTUP")  # closed upstream meanwhile
    result = run("push", "--json")
    assert result.exit_code == 6, result.output  # partial: an item died (README: exit statuses)
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["dead"], summary["due_left"]) == (2, 1, 0)
    assert len(summary["stuck"]) == 1 and "outbox #3" in summary["stuck"][0]
    assert "attention: outbox #3" in result.stderr  # repeated on every run until resolved
    assert "outbox retry 3" not in result.stderr  # a 409 says "do not retry": only cancel
    assert "outbox cancel 3" in result.stderr
    assert [f["unit"] for f in ours_upstream(sim)] == ["Dinas Kesehatan"] * 2  # units.yaml

    table = run("outbox", "--state", "dead").stdout
    assert "409" in table and "dead" in table
    assert "invalid" in run("outbox", "--state", "lost").output.lower()

    result = run("outbox", "retry", "3")
    assert result.exit_code == 0 and "requeued #3" in result.stdout
    result = run("outbox", "cancel", "3", "--reason", "laporan sudah ditutup")
    assert result.exit_code == 0 and "cancelled outbox #3" in result.stdout
    assert [i.state for i in items(engine)] == ["sent", "sent", "cancelled"]
    assert "stuck" not in run("push").stderr


def test_errors_are_one_line_with_what_to_do(bridge):
    _, _, reports = bridge
    result = run("respond", "999", "--status", "DIPROSES", "--text", "x")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: report 999 is not in the local store: check the tracking ID, "
        "or run `lapor-bridge sync` to fetch it first."
    ]
    result = run("respond", str(reports[0]), "--text", "x")
    assert result.exit_code == 2 and "--status" in result.output
    result = run("outbox", "retry", "42")
    assert result.exit_code == 1 and "no outbox item #42" in result.stderr
    result = run("outbox", "retry")
    assert result.exit_code == 2
    result = run("respond", str(reports[0]), "--status", "SELESAI", "--text", "x", "--opd", "DINKS")
    assert result.exit_code == 1 and "'DINKS' is not in mappings/units.yaml" in result.stderr


def test_a_wrong_token_stops_push_without_showing_it(bridge, monkeypatch):
    _, engine, reports = bridge
    assert run("respond", str(reports[0]), "--status", "SELESAI", "--text", "ok").exit_code == 0
    monkeypatch.setenv("LAPOR_BRIDGE_TOKEN", "rahasia-sekali-123")
    result = run("push")
    assert result.exit_code == 5  # Unauthorized
    assert "401" in result.stderr and "rahasia-sekali-123" not in result.output
    assert items(engine)[0].state == "pending"


def test_replies_show_the_citizens_answers_per_opd(bridge):
    _, engine, reports = bridge
    with write_session(engine) as session:
        session.add(
            UpstreamFollowUpRow(
                id=9001,
                tracking_id=reports[0],
                author="PELAPOR",
                status="DIPROSES",
                content="Terima kasih, tapi jalan masih rusak.",
                created_at=NOW,
                first_seen_at=NOW,
            )
        )
    shown = json.loads(run("replies", "--json", "--opd", "DINKES").stdout)
    assert [(r["tracking_id"], r["content"]) for r in shown] == [
        (reports[0], "Terima kasih, tapi jalan masih rusak.")
    ]
    assert "jalan masih rusak" in run("replies").stdout
    assert (
        "belum ada balasan pelapor" in run("replies", "--opd", "DPUPR").stdout
    )  # Indonesian by default
