"""The CLI as cron runs it: real processes, real exit statuses, real SIGKILLs."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from lapor_bridge.store import open_store, read_session
from lapor_bridge.store.tables import Assignment, BackfillRun, SyncCheckpoint
from tests.sync.helpers import store_versions, truth_versions

REPO = Path(__file__).resolve().parents[2]
SECRET = "sekali-rahasia-token-0xDEADBEEF"


def bridge_env(sim, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
    env.update(
        LAPOR_BRIDGE_API_URL=sim.url if sim else "http://127.0.0.1:9/api/v1",
        LAPOR_BRIDGE_TOKEN=sim.config.token if sim else SECRET,
        LAPOR_BRIDGE_INSTANSI_ID=str(sim.config.instansi_id if sim else 3327),
        LAPOR_BRIDGE_DATABASE_URL=database_url,
        LAPOR_BRIDGE_MAPPINGS_DIR=str(REPO / "mappings"),
        LAPOR_BRIDGE_RATE_LIMIT_PER_S="1000",
    )
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_backfill_killed_at_random_points_converges_to_a_clean_run(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=4000)
    args = (
        "backfill",
        "--since",
        "2024-01-01",
        "--until",
        "2027-01-01",
        "--window-hours",
        "720",
        "--json",
    )
    extra = {"LAPOR_BRIDGE_PAGE_LIMIT": "100"}

    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    assert cli(*args, env=bridge_env(sim, clean_url, **extra)).returncode == 0

    killed_url = f"sqlite:///{tmp_path / 'killed.db'}"
    env = bridge_env(sim, killed_url, **extra)
    rng = random.Random(1708)
    kills = 0
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "cli.py"), *args],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    final = cli(*args, env=env)
    assert final.returncode == 0, final.stderr
    assert kills >= 3

    clean, killed = open_store(clean_url), open_store(killed_url)
    assert store_versions(killed) == store_versions(clean) == truth_versions(sim)
    with read_session(clean) as a, read_session(killed) as b:
        assign = lambda s: {(r.tracking_id, r.opd) for r in s.scalars(select(Assignment))}  # noqa: E731
        assert assign(a) == assign(b) and len(assign(a)) == 4000
        runs = b.scalars(select(BackfillRun)).all()
        assert len(runs) == 1 and runs[0].done  # every rerun continued the same run
        assert (
            b.get(SyncCheckpoint, (3327, "incremental")) is None
        )  # backfill leaves the checkpoint alone


def test_second_backfill_continues_and_a_finished_one_is_not_repeated(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=300)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    args = ("backfill", "--since", "2025-01-01", "--until", "2027-01-01", "--json")
    first = json.loads(cli(*args, env=env).stdout)
    assert first["fetched"] > 0 and not first["resumed"]
    second = json.loads(cli(*args, env=env).stdout)
    assert second["already_done"] and second["fetched"] == 0
    third = json.loads(cli(*args, "--restart", env=env).stdout)
    assert third["fetched"] == first["fetched"] and third["inserted"] == 0


def test_backfill_until_now_again_continues_from_where_the_last_one_ended(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=200)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    args = ("backfill", "--since", "2025-01-01", "--window-hours", "2160", "--json")
    first = json.loads(cli(*args, env=env).stdout)
    assert first["fetched"] == 200 and not first["resumed"]
    second = json.loads(cli(*args, env=env).stdout)
    assert second["resumed"] and second["run_id"] != first["run_id"]
    assert second["fetched"] < 20  # only the seconds since the first run ended


def test_invalid_setting_is_one_line_exit_2_and_touches_nothing(tmp_path):
    db = tmp_path / "x.db"
    proc = cli("sync", env=bridge_env(None, f"sqlite:///{db}", LAPOR_BRIDGE_INSTANSI_ID="pemalang"))
    assert proc.returncode == 2
    assert "LAPOR_BRIDGE_INSTANSI_ID" in one_line_error(proc)
    assert not db.exists()


def test_missing_setting_is_one_line_exit_2(tmp_path):
    env = bridge_env(None, f"sqlite:///{tmp_path / 'x.db'}")
    del env["LAPOR_BRIDGE_TOKEN"]
    proc = cli("sync", env=env)
    assert proc.returncode == 2
    assert "LAPOR_BRIDGE_TOKEN" in one_line_error(proc)


def test_wrong_token_is_one_line_never_shows_the_token_and_changes_nothing(
    make_simulator, tmp_path
):
    sim = make_simulator(initial_reports=20)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    ok = cli("sync", "--json", env=bridge_env(sim, url))
    assert ok.returncode == 0, ok.stderr
    before = store_versions(open_store(url))
    proc = cli("sync", env=bridge_env(sim, url, LAPOR_BRIDGE_TOKEN=SECRET))
    assert proc.returncode == 5
    line = one_line_error(proc)
    assert "token" in line.lower()
    assert SECRET not in proc.stderr + proc.stdout
    assert store_versions(open_store(url)) == before
    status = cli("status", "--json", env=bridge_env(sim, url))
    shown = json.loads(status.stdout)
    assert shown["last_sync"]["outcome"] == "failed"  # the refused run is recorded
    assert shown["last_sync"]["exit_status"] == 5 and "token" in shown["last_sync"]["error"]
    assert shown["last_success"]["ok"] is True
    assert SECRET not in status.stdout


def test_unreachable_server_is_one_line_non_zero_and_creates_nothing(tmp_path):
    db = tmp_path / "x.db"
    env = bridge_env(
        None,
        f"sqlite:///{db}",
        LAPOR_BRIDGE_API_URL=f"http://127.0.0.1:{closed_port()}/api/v1",
        LAPOR_BRIDGE_MAX_ATTEMPTS="2",
    )
    proc = cli("sync", env=env)
    assert proc.returncode == 4
    assert "127.0.0.1" in one_line_error(proc)
    assert SECRET not in proc.stderr + proc.stdout
    assert not db.exists()


def test_second_sync_while_one_runs_exits_75(make_simulator, tmp_path):
    from filelock import FileLock

    sim = make_simulator(initial_reports=5)
    db = tmp_path / "x.db"
    url = f"sqlite:///{db}"
    assert cli("sync", env=bridge_env(sim, url)).returncode == 0
    with FileLock(str(db) + ".sync.lock", timeout=0):
        proc = cli("sync", env=bridge_env(sim, url))
    assert proc.returncode == 75
    assert "another 'sync' job" in one_line_error(proc)
