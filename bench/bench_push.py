"""Delivery throughput of `push_outbox` against the client's rate limit, on loopback.

Run by hand (not collected by pytest):

    python bench/bench_push.py                 # SQLite in a temporary directory
    python bench/bench_push.py --pg URL        # also PostgreSQL (an empty database)

A simulator runs in its own process (so it does not share this process's GIL);
for each rate limit the outbox is filled with follow-ups spread over many
reports and pushed until empty. Printed per row: items, requests, seconds,
items/s, requests/s and items/s as a share of the limit. With faults on, each
uncertain item costs one extra GET (reconciliation) and some runs stop early.
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lapor_bridge.outbox import push_outbox
from lapor_bridge.outbox.respond import new_external_ref
from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import ReportRow, TindakLanjut
from lapor_bridge.timeutil import parse_upstream_time, utcnow
from lapor_bridge.upstream.client import LaporClient, RequestRetryPolicy

TOKEN = "sim-token"
OPEN = ("DISPOSISI", "DIPROSES", "SELESAI")


def start_simulator(workdir: Path, reports: int) -> tuple[subprocess.Popen[bytes], str]:
    log = (workdir / "sim.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lapor_bridge.simulator", "--port", "0", "--reports", str(reports)],
        stderr=log,
    )
    for _ in range(400):
        found = re.search(r"simulator at (\S+)", (workdir / "sim.log").read_text())
        if found:
            return proc, found.group(1)
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the simulator did not start")


def admin(url: str, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(
        method, url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()


def fill(engine: Any, truth: list[dict[str, Any]], n: int) -> None:
    open_ids = [r["tracking_id"] for r in truth if r["status"] in OPEN]
    now = utcnow()
    with write_session(engine) as session:
        for r in truth:
            if r["status"] not in OPEN or session.get(ReportRow, r["tracking_id"]) is not None:
                continue
            at = parse_upstream_time(r["updated_at"])
            session.add(
                ReportRow(
                    tracking_id=r["tracking_id"], version=r["version"], title="t", content="c",
                    classification=r["classification"], privacy=r["privacy"], channel=r["channel"],
                    status=r["status"], instansi_id=r["instansi_id"], created_at=at,
                    updated_at=at, raw={}, first_seen_at=now, last_synced_at=now,
                )
            )  # fmt: skip
        for i in range(n):
            session.add(
                TindakLanjut(
                    tracking_id=open_ids[(i * 7) % len(open_ids)],
                    external_ref=new_external_ref(3327),
                    opd="DINKES",
                    status="DIPROSES",
                    content=f"Tindak lanjut {i}.",
                    created_at=now,
                )
            )


def bench_one(store_url: str, sim_url: str, rate: float | None, n: int) -> dict[str, Any]:
    engine = open_store(store_url)
    with write_session(engine) as session:
        session.execute(TindakLanjut.__table__.delete())
    fill(engine, admin(sim_url, "GET", "/_sim/truth")["data"], n)
    client = LaporClient(
        sim_url,
        TOKEN,
        timeout=(2.0, 5.0),
        retry=RequestRetryPolicy(
            max_attempts=3, max_elapsed_s=5, backoff_base_s=0.05, backoff_max_s=0.2
        ),
        rate_limit_per_s=rate,
    )
    started = time.perf_counter()
    runs = 0
    paused_s = 0.0
    while True:
        runs += 1
        summary = push_outbox(
            engine, client, lease_s=60, max_attempts=50, backoff_base_s=0.0, backoff_max_s=0.0
        )
        paused_s += summary.paused_s
        with write_session(engine) as session:
            left = session.scalar(
                select(func.count()).select_from(TindakLanjut).where(TindakLanjut.state != "sent")
            )
        if not left:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {
        "items": n,
        "requests": client.requests_made,
        "s": elapsed,
        "runs": runs,
        "paused_s": paused_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="an empty PostgreSQL database URL to bench as well")
    parser.add_argument("--items", type=int, default=0, help="items per row (default: ~15 s worth)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the faults' retries are expected

    workdir = Path(tempfile.mkdtemp(prefix="bench-push-"))
    proc, sim_url = start_simulator(workdir, reports=200)
    stores = {"sqlite": f"sqlite:///{workdir / 'bench.db'}"}
    if args.pg:
        stores["postgres"] = args.pg
    cases: list[tuple[str, float | None, dict[str, Any]]] = [
        ("none", 5.0, {}),
        ("none", 10.0, {}),
        ("none", 20.0, {}),
        ("none", 50.0, {}),
        ("none", None, {}),
        ("5% drop-after-apply, 1% 5xx bursts", 10.0, {"drop_after_apply_rate": 0.05, "error_rate": 0.01}),
    ]  # fmt: skip
    print(f"{'store':<9}{'faults':<36}{'limit/s':>8}{'items':>7}{'requests':>9}{'s':>8}"
          f"{'items/s':>9}{'req/s':>8}{'of limit':>9}")  # fmt: skip
    try:
        for store, url in stores.items():
            for faults, rate, fault_values in cases:
                admin(
                    sim_url,
                    "POST",
                    "/_sim/faults",
                    {"drop_after_apply_rate": 0.0, "error_rate": 0.0, **fault_values},
                )
                n = args.items or int(min(400, (rate or 40) * 15))
                r = bench_one(url, sim_url, rate, n)
                items_s, req_s = r["items"] / r["s"], r["requests"] / r["s"]
                share = f"{items_s / rate:.0%}" if rate else "-"
                print(f"{store:<9}{faults:<36}{rate or 'none'!s:>8}{r['items']:>7}{r['requests']:>9}"
                      f"{r['s']:>8.1f}{items_s:>9.1f}{req_s:>8.1f}{share:>9}", flush=True)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
