"""Every run leaves a trace: in `status`, in the metrics file, in the store."""

from __future__ import annotations

import json
import re
import socket

from sqlalchemy import select

from lapor_bridge.store import open_store, read_session
from lapor_bridge.store.tables import SyncRun
from tests.ops.helpers import REPO, TOKEN, bridge_env, cli, error_lines


def gauge(text: str, name: str, labels: str) -> float | None:
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broken_mappings(tmp_path):
    broken = tmp_path / "broken-mappings"
    broken.mkdir()
    (broken / "units.yaml").write_text("default: NOPE\nunits: []\n")
    (broken / "rules.yaml").write_text("rules: []\n")
    (broken / "sla.yaml").write_text((REPO / "mappings" / "sla.yaml").read_text())
    return broken


def test_upstream_down_and_broken_mapping_are_in_status_and_metrics(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=20)
    db = tmp_path / "bridge.db"
    metrics = tmp_path / "metrics" / "lapor_bridge.prom"
    env = bridge_env(sim, f"sqlite:///{db}", LAPOR_BRIDGE_METRICS_FILE=str(metrics))
    assert cli("sync", env=env).returncode == 0
    ok_at = gauge(
        metrics.read_text(), "lapor_bridge_last_success_timestamp_seconds", '{kind="sync"}'
    )

    down = dict(
        env,
        LAPOR_BRIDGE_API_URL=f"http://127.0.0.1:{closed_port()}/api/v1",
        LAPOR_BRIDGE_MAX_ATTEMPTS="1",
    )
    proc = cli("sync", env=down)
    assert proc.returncode == 4 and len(error_lines(proc)) == 1
    text = metrics.read_text()
    failed_at = gauge(text, "lapor_bridge_last_failure_timestamp_seconds", '{kind="sync"}')
    assert failed_at is not None and failed_at >= ok_at
    assert gauge(text, "lapor_bridge_last_success_timestamp_seconds", '{kind="sync"}') == ok_at
    status = json.loads(cli("status", "--json", env=env).stdout)
    assert status["last_sync"]["outcome"] == "failed" and status["last_sync"]["exit_status"] == 4
    assert "did not answer" in status["last_sync"]["error"]
    assert status["last_success"]["outcome"] == "ok"

    proc = cli("sync", env=dict(env, LAPOR_BRIDGE_MAPPINGS_DIR=str(broken_mappings(tmp_path))))
    assert proc.returncode == 3
    text = metrics.read_text()
    assert gauge(text, "lapor_bridge_last_failure_timestamp_seconds", '{kind="sync"}') >= failed_at
    assert gauge(text, "lapor_bridge_last_run_timestamp_seconds", '{kind="sync",outcome="refused"}')
    shown = cli("status", env=env).stdout
    assert re.search(r"last sync: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WIB REFUSED \(exit 3\)", shown)
    assert "last success: " in shown and "WIB" in shown

    # the next run that opens the store folds the kept runs in, once
    assert cli("sync", env=env).returncode == 0
    assert cli("sync", env=env).returncode == 0
    with read_session(open_store(f"sqlite:///{db}")) as session:
        outcomes = [
            r.outcome for r in session.scalars(select(SyncRun).order_by(SyncRun.started_at))
        ]
    assert outcomes == ["ok", "failed", "refused", "ok", "ok"]
    assert not (tmp_path / "bridge.db.runs.jsonl").read_text()


def test_a_failed_first_run_creates_no_store_but_status_and_metrics_show_it(tmp_path):
    db = tmp_path / "bridge.db"
    metrics = tmp_path / "lapor_bridge.prom"
    env = bridge_env(
        None,
        f"sqlite:///{db}",
        LAPOR_BRIDGE_API_URL=f"http://127.0.0.1:{closed_port()}/api/v1",
        LAPOR_BRIDGE_MAX_ATTEMPTS="1",
        LAPOR_BRIDGE_METRICS_FILE=str(metrics),
    )
    proc = cli("sync", env=env)
    assert proc.returncode == 4
    assert not db.exists()
    assert gauge(
        metrics.read_text(), "lapor_bridge_last_failure_timestamp_seconds", '{kind="sync"}'
    )
    status = cli("status", env=env)
    assert status.returncode == 1 and not db.exists()  # read-only: never creates a store
    assert "attention: sync" in status.stdout and "FAILED (exit 4)" in status.stdout
    assert "no store at" in status.stderr
    assert TOKEN not in status.stdout + status.stderr + proc.stderr


def test_read_only_commands_never_create_a_store(tmp_path):
    env = bridge_env(None, "sqlite:///lapor-bridge.db")
    for args in (("status",), ("export",), ("outbox",), ("sla",), ("replies",), ("health",)):
        proc = cli(*args, env=env, cwd=tmp_path)
        assert proc.returncode != 0, args
        assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_run_killed_before_it_recorded_is_marked_failed_by_the_next(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=5)
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    env = bridge_env(sim, url)
    assert cli("sync", env=env).returncode == 0
    from lapor_bridge.store import write_session
    from lapor_bridge.timeutil import utcnow

    with write_session(open_store(url)) as session:  # what SIGKILL mid-run leaves
        session.add(SyncRun(kind="sync", started_at=utcnow()))
    assert "running since" in cli("status", env=env).stdout
    assert cli("sync", env=env).returncode == 0
    with read_session(open_store(url)) as session:
        killed = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()[1]
    assert killed.outcome == "failed" and "killed or crashed" in killed.error


def test_partial_run_exits_6_and_says_why(make_simulator, tmp_path):
    from lapor_bridge.simulator import Faults

    sim = make_simulator(initial_reports=60, faults=Faults(malformed_rate=1.0))
    sim.generate_changes(5)
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    proc = cli("sync", env=bridge_env(sim, url))
    assert proc.returncode == 6, proc.stderr
    assert proc.stdout == ""
    assert "attention: " in proc.stderr and "in quarantine" in proc.stderr  # every run
    status = json.loads(cli("status", "--json", env=bridge_env(sim, url)).stdout)
    assert status["last_sync"]["outcome"] == "partial"
    assert "quarantined" in status["last_sync"]["error"]
    assert status["last_success"] is not None  # partial counts as done for staleness
