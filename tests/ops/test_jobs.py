"""sync, backfill, push and remap all go through the one job lifecycle."""

from __future__ import annotations

import json

from sqlalchemy import select

from lapor_bridge.store import open_store, read_session
from lapor_bridge.store.tables import SyncRun, TindakLanjut
from tests.ops.helpers import bridge_env, cli


def test_every_job_kind_is_recorded_and_cancel_takes_several_ids(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=20)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    env = bridge_env(sim, url)
    assert cli("sync", "--no-push", env=env).returncode == 0
    assert cli("backfill", "--since", "2020-01-01", env=env).returncode == 0
    assert cli("remap", env=env).returncode == 0
    open_reports = [
        r
        for r in sim.truth()
        if r["status"] in ("DISPOSISI", "DIPROSES") and r["instansi_id"] == 3327
    ]
    tracking_ids = [r["tracking_id"] for r in open_reports[:3]]
    assert len(tracking_ids) == 3
    for tid in tracking_ids:
        proc = cli(
            "respond", str(tid), "--status", "DIPROSES", "--text", "Sedang ditangani.", env=env
        )
        assert proc.returncode == 0, proc.stderr
    proc = cli("outbox", "cancel", "1", "2", "--reason", "duplikat", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("cancelled outbox #") == 2
    push = cli("push", env=env)
    assert push.returncode == 0 and push.stdout == ""  # quiet under cron
    assert cli("push", "--summary", env=env).stdout.startswith("push: 0 delivered")

    with read_session(open_store(url)) as session:
        states = dict(session.execute(select(TindakLanjut.id, TindakLanjut.state)).all())
        runs = [(r.kind, r.outcome) for r in session.scalars(select(SyncRun).order_by(SyncRun.id))]
    assert states == {1: "cancelled", 2: "cancelled", 3: "sent"}
    assert runs == [
        ("sync", "ok"),
        ("backfill", "ok"),
        ("remap", "ok"),
        ("push", "ok"),
        ("push", "ok"),
    ]
    status = json.loads(cli("status", "--json", env=env).stdout)
    assert set(status["last_runs"]) == {"sync", "backfill", "remap", "push"}
    text = cli("status", env=env).stdout
    assert "last push:" in text and "last backfill:" in text


def test_a_second_backfill_exits_75_before_any_request(make_simulator, tmp_path):
    from filelock import FileLock

    sim = make_simulator(initial_reports=5)
    db = tmp_path / "b.db"
    env = bridge_env(sim, f"sqlite:///{db}")
    with FileLock(str(db) + ".backfill.lock", timeout=0):
        proc = cli("backfill", "--since", "2020-01-01", env=env)
    assert proc.returncode == 75 and sim.request_log() == []
    assert not db.exists()
