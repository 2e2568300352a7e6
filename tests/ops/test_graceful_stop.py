"""SIGTERM/SIGINT: the current page is finished, the run recorded as interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from lapor_bridge.simulator import Faults
from lapor_bridge.store import open_store
from tests.ops.helpers import bridge_env, cli, cli_args
from tests.sync.helpers import store_versions, truth_versions


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_the_page_records_interrupted_and_the_next_run_converges(
    make_simulator, tmp_path, signum
):
    # slow pages: each answer waits 0.3 s, so the signal lands mid-request
    sim = make_simulator(initial_reports=400, faults=Faults(slow_rate=1.0, slow_s=0.3))
    url = f"sqlite:///{tmp_path / 'b.db'}"
    env = bridge_env(sim, url, LAPOR_BRIDGE_PAGE_LIMIT="20")
    proc = subprocess.Popen(
        cli_args("sync", "-vv", "--log-format", "json"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until pages are being stored
        if sum(1 for r in sim.request_log() if "/laporan" in r.get("path", "")) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"stopped by {signal.Signals(signum).name}" in errors[0]
    assert "Traceback" not in err and out == ""

    status = json.loads(cli("status", "--json", env=env).stdout)
    assert status["last_sync"]["outcome"] == "interrupted"
    assert status["last_sync"]["exit_status"] == 128 + signum
    stored = store_versions(open_store(url))
    assert 0 < len(stored) < 400  # stopped after whole pages, not at the end
    assert len(stored) % 20 == 0

    sim.set_faults(slow_rate=0.0)
    assert cli("sync", env=env).returncode == 0
    assert store_versions(open_store(url)) == truth_versions(sim)
