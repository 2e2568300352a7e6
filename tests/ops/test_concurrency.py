"""Ten `sync` at once: the lock comes before any request and before migration."""

from __future__ import annotations

import subprocess

import pytest

from lapor_bridge.simulator import Faults
from lapor_bridge.store import open_store
from tests.ops.helpers import bridge_env, cli, cli_args, json_lines
from tests.sync.helpers import next_second, store_versions, truth_versions

PROCESSES = 10
# Every answer waits this long, so the one sync that gets the lock is still
# working when the slowest of the ten starts up, even on a loaded machine.
SLOW = Faults(slow_rate=1.0, slow_s=4.0)


def _start_together(env: dict[str, str]) -> list[subprocess.Popen[str]]:
    args = cli_args("sync", "-vv", "--log-format", "json", "--json")
    return [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]


def _finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    return [(p.wait(timeout=180), *p.communicate()) for p in procs]


def _check_one_works(results: list[tuple[int, str, str]]) -> None:
    codes = sorted(code for code, _, _ in results)
    assert codes == [0] + [75] * (PROCESSES - 1), [r[2][-500:] for r in results]
    for code, _out, err in results:
        assert "Traceback" not in err
        if code != 75:
            continue
        held = [e for e in json_lines(err) if e["event"].startswith("lock held")]
        assert len(held) == 1, err
        assert held[0]["after_s"] < 1.0  # from the job's start to exit 75: no request first
        assert err.rstrip().splitlines()[-1].startswith("error: another 'sync' job")


@pytest.mark.slow
def test_ten_syncs_at_once_on_an_existing_store(make_simulator, store_url, tmp_path):
    sim = make_simulator(initial_reports=300)
    env = bridge_env(sim, store_url)
    twin_url = f"sqlite:///{tmp_path / 'twin.db'}"  # synced the same way, then alone
    assert cli("sync", env=env).returncode == 0
    assert cli("sync", env=bridge_env(sim, twin_url)).returncode == 0
    sim.generate_changes(60)
    next_second()
    sim.set_faults(slow_rate=SLOW.slow_rate, slow_s=SLOW.slow_s)

    before = len(sim.request_log())
    results = _finish(_start_together(env))
    _check_one_works(results)
    concurrent_requests = len(sim.request_log()) - before

    sim.set_faults(slow_rate=0.0)
    before = len(sim.request_log())
    assert cli("sync", env=bridge_env(sim, twin_url)).returncode == 0
    one_run = len(sim.request_log()) - before
    assert concurrent_requests == one_run  # the nine others made no request at all
    assert store_versions(open_store(store_url)) == truth_versions(sim)
    assert store_versions(open_store(store_url)) == store_versions(open_store(twin_url))


@pytest.mark.slow
def test_ten_first_runs_at_once_on_a_new_store(make_simulator, store_url):
    """Issue 8: migration under the lock; one migrates, nine exit 75, no traceback."""
    sim = make_simulator(initial_reports=200, faults=SLOW)
    results = _finish(_start_together(bridge_env(sim, store_url)))
    _check_one_works(results)
    assert store_versions(open_store(store_url)) == truth_versions(sim)
