"""Backfill throughput and peak memory against the simulator on loopback.

    python bench/bench_backfill.py [--reports 20000] [--page-limit 500] [--postgres]

The simulator runs in its own process (`lapor-bridge simulator serve`), the
backfill in another (`lapor-bridge backfill`), so the figures are the
bridge's alone: reports per second over the whole run and the backfill
process's peak resident memory (from wait4's rusage).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(
                f"{url}/topics", headers={"Authorization": f"Bearer {token}"}, timeout=1
            ).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("simulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=20000)
    parser.add_argument("--page-limit", type=int, default=500)
    parser.add_argument("--postgres", action="store_true", help="use LAPOR_BRIDGE_TEST_PG_URL")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1"
    sim = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "cli.py"),
            "simulator",
            "serve",
            "--port",
            str(port),
            "--reports",
            str(args.reports),
            "--change-rate",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url, "sim-token")
        with tempfile.TemporaryDirectory() as tmp:
            db = (
                os.environ["LAPOR_BRIDGE_TEST_PG_URL"]
                if args.postgres
                else f"sqlite:///{tmp}/bench.db"
            )
            env = {
                **os.environ,
                "LAPOR_BRIDGE_API_URL": url,
                "LAPOR_BRIDGE_TOKEN": "sim-token",
                "LAPOR_BRIDGE_INSTANSI_ID": "3327",
                "LAPOR_BRIDGE_DATABASE_URL": db,
                "LAPOR_BRIDGE_MAPPINGS_DIR": str(REPO / "mappings"),
                "LAPOR_BRIDGE_PAGE_LIMIT": str(args.page_limit),
                "LAPOR_BRIDGE_RATE_LIMIT_PER_S": "10",
            }
            cmd = [
                sys.executable,
                str(REPO / "cli.py"),
                "backfill",
                "--since",
                "2020-01-01",
                "--until",
                "2027-01-01",
                "--window-hours",
                str(24 * 365),
                "--json",
                "--restart",
            ]
            started = time.monotonic()
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            _, status, rusage = os.wait4(proc.pid, 0)
            elapsed = time.monotonic() - started
            out, err = proc.stdout.read(), proc.stderr.read()
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"backfill failed: {err}")
            summary = json.loads(out)
    finally:
        sim.terminate()
        sim.wait()
    print(f"store:          {'postgresql' if args.postgres else 'sqlite'}")
    print(
        f"reports:        {summary['fetched']} fetched, {summary['inserted']} new, {summary['pages']} pages"
    )
    print(f"requests:       {summary['requests']} (client limit 10/s)")
    print(f"wall time:      {elapsed:.1f} s (process), {summary['duration_s']} s (inside)")
    print(f"throughput:     {summary['fetched'] / elapsed:.0f} reports/s")
    print(f"peak memory:    {rusage.ru_maxrss / 1024:.0f} MiB (backfill process RSS)")


if __name__ == "__main__":
    main()
