"""`lapor-bridge push` killed with SIGKILL at random points, then run again: every
follow-up reaches LAPOR! exactly once, in order (simulator in this process)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lapor_bridge.store import open_store
from tests.outbox.helpers import (
    check_delivered_once_in_order,
    items,
    queue_many,
    seed_from_simulator,
)

REPO = Path(__file__).resolve().parents[2]
LEASE_S = 2.5  # > max_retry_elapsed 0.5 + connect 0.5 + read 1.0


def push_env(sim, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
    env.update(
        LAPOR_BRIDGE_API_URL=sim.url,
        LAPOR_BRIDGE_TOKEN=sim.config.token,
        LAPOR_BRIDGE_INSTANSI_ID=str(sim.config.instansi_id),
        LAPOR_BRIDGE_DATABASE_URL=database_url,
        LAPOR_BRIDGE_MAPPINGS_DIR=str(REPO / "mappings"),
        LAPOR_BRIDGE_RATE_LIMIT_PER_S="20",
        LAPOR_BRIDGE_CONNECT_TIMEOUT_S="0.5",
        LAPOR_BRIDGE_READ_TIMEOUT_S="1",
        LAPOR_BRIDGE_MAX_RETRY_ELAPSED_S="0.5",
        LAPOR_BRIDGE_PUSH_LEASE_S=str(LEASE_S),
        LAPOR_BRIDGE_PUSH_BACKOFF_BASE_S="0.05",
        LAPOR_BRIDGE_PUSH_BACKOFF_MAX_S="0.2",
    )
    return env


def start_push(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "push", "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def posts_since(sim, t: float) -> int:
    return sum(1 for r in sim.request_log() if r["method"] == "POST" and r["t"] >= t)


def reconciled_items(engine) -> list:
    return [i for i in items(engine) if i.note and "found on LAPOR!" in i.note]


@pytest.mark.slow
def test_push_killed_at_random_points_delivers_every_item_exactly_once(make_simulator, tmp_path):
    rng = random.Random()
    sim = make_simulator(initial_reports=40)
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    engine = open_store(url)
    reports = seed_from_simulator(engine, sim)
    queue_many(engine, reports, 45)
    # Every other answer comes 0.2 s after the follow-up was stored: a kill then
    # lands between "LAPOR! has it" and "the outbox knows it".
    sim.set_faults(slow_rate=0.5, slow_s=0.2, drop_after_apply_rate=0.05)
    env = push_env(sim, url)

    kills = 0
    for _ in range(5):
        started = time.time()
        proc = start_push(env)
        deadline = time.monotonic() + 20
        while posts_since(sim, started) == 0 and proc.poll() is None:
            assert time.monotonic() < deadline, "push never started posting"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=20)
    assert kills >= 3

    time.sleep(LEASE_S + 0.2)  # the killed runs' leases run out
    # A killed run may itself have reconciled an earlier run's item before it died:
    # those are counted here, so the final runs' summaries must account for the rest.
    reconciled_before = len(reconciled_items(engine))
    summaries = []
    for _ in range(10):
        done = subprocess.run(
            [sys.executable, str(REPO / "cli.py"), "push", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        summaries.append(json.loads(done.stdout))
        if all(i.state == "sent" for i in items(engine)):
            break
        time.sleep(0.3)
    check_delivered_once_in_order(engine, sim)
    reconciled = reconciled_items(engine)
    assert reconciled, "no kill landed after LAPOR! stored a follow-up"
    # Every reconciliation the final runs made is in their summaries, and no other.
    assert sum(s["found_upstream"] for s in summaries) == len(reconciled) - reconciled_before
    engine.dispose()
