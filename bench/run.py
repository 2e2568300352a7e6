"""Every benchmark side by side in one run; writes docs/benchmarks.md.

    python bench/run.py            # the full run (about 15-20 minutes on 2 cores)
    python bench/run.py --quick    # CI-size: small numbers, one repeat, no 1,000,000 store

PostgreSQL is included when LAPOR_BRIDGE_TEST_PG_URL is set (scratch
databases are created and dropped). Everything talks to 127.0.0.1 only: the
simulator runs in its own process, each contestant in another, and each
contestant's CPU seconds and peak RSS come from `os.wait4`. The machine is
shared and noisy, so the figures that count are **ratios** between
contestants of the same run (the bridge against the floor in bench/floor.py,
a command against `python -c pass`); the raw medians are printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CLI = str(REPO / "cli.py")
PY = sys.executable
TOKEN = "sim-token"
INSTANSI = 3327
PG_URL = os.environ.get("LAPOR_BRIDGE_TEST_PG_URL")


# --- running contestants ----------------------------------------------------------


@dataclass
class Run:
    cpu_s: float
    wall_s: float
    rss_mib: float
    out: str


def run_proc(cmd: list[str], env: dict[str, str] | None = None, *, check: bool = True) -> Run:
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:4])} failed ({proc.returncode}): {errors[-2000:]}")
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, text)


@contextmanager
def simulator(reports: int, *, faults: dict[str, Any] | None = None) -> Iterator[str]:
    """A simulator in its own process on a free port of 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [PY, CLI, "simulator", "serve", "--port", str(port), "--reports", str(reports)]
    cmd += ["--change-rate", "0"]
    if faults:
        cmd += ["--faults", json.dumps(faults)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(
                    f"{url}/topics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
                ).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the simulator did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def store(kind: str, scratch: Path) -> Iterator[str]:
    """A fresh store URL: a SQLite file, or a scratch PostgreSQL database."""
    if kind == "sqlite":
        path = scratch / f"store-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    assert PG_URL
    admin_url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"lb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bridge_env(url: str, db: str, **extra: str) -> dict[str, str]:
    return {
        "LAPOR_BRIDGE_API_URL": url,
        "LAPOR_BRIDGE_TOKEN": TOKEN,
        "LAPOR_BRIDGE_INSTANSI_ID": str(INSTANSI),
        "LAPOR_BRIDGE_DATABASE_URL": db,
        "LAPOR_BRIDGE_MAPPINGS_DIR": str(REPO / "mappings"),
        "LAPOR_BRIDGE_PAGE_LIMIT": "500",
        "LAPOR_BRIDGE_RATE_LIMIT_PER_S": "100000",  # lifted: only CPU counts
        "LAPOR_BRIDGE_INITIAL_SINCE": "2020-01-01T00:00:00Z",
        "LAPOR_BRIDGE_LOCK_DIR": str(Path(db.removeprefix("sqlite:///")).parent)
        if db.startswith("sqlite")
        else tempfile.gettempdir(),
        **extra,
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- results ------------------------------------------------------------------------


@dataclass
class Results:
    quick: bool
    ratios: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # what, value, target, met
    raw: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ratio(self, what: str, value: float, target: float | None, fmt: str = "{:.2f}×") -> None:
        met = "" if target is None else ("yes" if value <= target else "**no**")
        shown = fmt.format(value) if target is None else shown_against(value, target, fmt)
        self.ratios.append((what, shown, "" if target is None else f"≤ {fmt.format(target)}", met))
        print(f"  {what}: {shown}" + (f" (target ≤ {fmt.format(target)}: {met})" if target else ""))

    def at_least(self, what: str, value: float, target: float, fmt: str = "{:.2f}") -> None:
        met = "yes" if value >= target else "**no**"
        shown = shown_against(value, target, fmt)
        self.ratios.append((what, shown, f"≥ {fmt.format(target)}", met))
        print(f"  {what}: {shown} (target ≥ {fmt.format(target)}: {met})")

    def figure(self, what: str, value: str) -> None:
        self.raw.append((what, value))
        print(f"  {what}: {value}")


def shown_against(value: float, target: float, fmt: str) -> str:
    """`value` in `fmt`, with more digits when fewer would print it equal to a target
    it misses or meets only unrounded (0.9498 is not shown as 0.950 next to "no")."""
    digits = re.search(r"\{:\.(\d+)([f%])\}", fmt)
    if value == target or digits is None:
        return fmt.format(value)
    places = int(digits.group(1))
    while True:
        at = fmt.replace(digits.group(0), f"{{:.{places}{digits.group(2)}}}")
        if at.format(value) != at.format(target) or places >= 6:
            return at.format(value)
        places += 1


# --- backfill: the bridge against the floor ------------------------------------------


def bench_backfill(res: Results, scratch: Path, n: int, repeats: int, engines: list[str]) -> None:
    print(f"backfill of {n:,} reports", flush=True)
    with simulator(n) as url:
        for engine in engines:
            floor_cpu, bridge_cpu, floor_wall, bridge_wall, rss = [], [], [], [], []
            pages = 0
            for _ in range(repeats):
                with store(engine, scratch) as db:
                    target = db if engine != "sqlite" else db.removeprefix("sqlite:///")
                    f = run_proc([PY, str(REPO / "bench" / "floor.py"), url, str(INSTANSI), target])
                    assert json.loads(f.out)["fetched"] == n, f.out
                with store(engine, scratch) as db:
                    b = run_proc(
                        [PY, CLI, "backfill", "--since", "2020-01-01", "--until", "2030-01-01",
                         "--window-hours", str(24 * 366 * 10), "--json", "--restart"],
                        bridge_env(url, db),
                    )  # fmt: skip
                    summary = json.loads(b.out)
                    assert summary["fetched"] == n, summary
                    pages = summary["pages"]
                floor_cpu.append(f.cpu_s)
                bridge_cpu.append(b.cpu_s)
                floor_wall.append(f.wall_s)
                bridge_wall.append(b.wall_s)
                rss.append(b.rss_mib)
            fc, bc = median(floor_cpu), median(bridge_cpu)
            label = f"backfill {n:,} {engine}"
            res.ratio(f"{label}: bridge CPU / floor CPU", bc / fc, 1.5)
            per_page = bc / max(pages, 1) * 1000
            res.figure(
                f"{label}",
                f"bridge {bc:.2f} s CPU, {median(bridge_wall):.2f} s wall, "
                f"{per_page:.0f} ms CPU a page, peak RSS {median(rss):.0f} MiB; "
                f"floor {fc:.2f} s CPU, {median(floor_wall):.2f} s wall",
            )
            # at 10 requests/s a 500-report page allows 100 ms: the share of the
            # contract's 5,000 reports/s that the bridge's CPU would reach
            res.at_least(
                f"{label}: share of 5,000 reports/s at 10 req/s",
                min(1.0, 100 / per_page),
                0.9,
                "{:.0%}",
            )
            res.rss[(engine, n)] = median(rss)  # type: ignore[attr-defined]


# --- startup and a no-op sync, and how they grow with the store ----------------------


def seed_store(db_path: Path, n: int) -> None:
    """Fill a migrated SQLite store with n reports, their assignments, two
    clocks and two follow-ups each (the regency's answer and the citizen's
    reply), directly with bulk SQL (not through the simulator): history, as a
    store holds it after years, settled (SELESAI, both clocks stopped in time).
    The clocks still open and the recent replies are what a sync's time pass
    reads (bench/NOTES.md)."""
    from lapor_bridge.store import open_store

    open_store(f"sqlite:///{db_path}").dispose()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    base = datetime(2024, 1, 1)
    chunk = 50_000
    for start in range(0, n, chunk):
        db.execute("BEGIN")
        reports, assignments, clocks, followups = [], [], [], []
        for i in range(start, min(n, start + chunk)):
            tid = 9_000_000_000 + i  # far from the simulator's tracking ids
            at = (base + timedelta(seconds=i * 20)).isoformat(" ", "microseconds")
            due = (base + timedelta(seconds=i * 20 + 86400)).isoformat(" ", "microseconds")
            settled = (base + timedelta(seconds=i * 20 + 21600)).isoformat(" ", "microseconds")
            reports.append(
                (tid, 1, f"Laporan {i}", "Jalan rusak di desa, mohon diperbaiki.", 101,
                 "PENGADUAN", "PUBLIK", "WEB", "SELESAI", INSTANSI, "Taman", "Beji", "[]", 0,
                 at, at, at, 0, '{"seeded":true}', at, at)
            )  # fmt: skip
            assignments.append((tid, "DPUPR", None, 0, "rule:infra", "seeded", at, "sync"))
            for policy in ("bupati-24h", "nasional-5hk"):
                clocks.append((tid, policy, 1, at, due, due, settled, "SETTLED", 21600, at))
            for k, author in enumerate(("INSTANSI", "PELAPOR")):
                followups.append(
                    (tid * 2 + k, tid, author, "SELESAI", "Sudah ditangani.", settled, settled)
                )
        db.executemany(
            "INSERT INTO report (tracking_id, version, title, content, topic_id, classification,"
            " privacy, channel, status, instansi_id, kecamatan, desa, tags, masbupsiaga,"
            " created_at, disposed_at, updated_at, transferred, raw, first_seen_at,"
            " last_synced_at) VALUES (" + ", ".join("?" * 21) + ")",
            reports,
        )
        db.executemany(
            "INSERT INTO assignment (tracking_id, opd, co_opd, complex, mapped_by, reason,"
            " assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            assignments,
        )
        db.executemany(
            "INSERT INTO sla_clock (tracking_id, policy, cycle, started_at, due_at, at_risk_at,"
            " stopped_at, stop_reason, elapsed_s, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            clocks,
        )
        db.executemany(
            "INSERT INTO upstream_followup (id, tracking_id, author, status, content, created_at,"
            " first_seen_at, is_echo) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            followups,
        )
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def forget_pulled(db_path: Path, checkpoint: str) -> None:
    """Undo a sync of the simulator's reports, so the next sync pulls one page again."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN")
    for table in ("sla_clock", "assignment", "assignment_history", "upstream_followup", "report"):
        db.execute(f"DELETE FROM {table} WHERE tracking_id < 9000000000")
    db.execute("UPDATE sync_checkpoint SET high_water = ?, window_to = NULL", (checkpoint,))
    db.execute("COMMIT")
    db.close()


def timed(
    cmd: list[str], env: dict[str, str] | None, repeats: int
) -> tuple[float, float, list[Run]]:
    """Median CPU seconds and median wall seconds of `repeats` runs."""
    runs = [run_proc(cmd, env) for _ in range(repeats)]
    return median([r.cpu_s for r in runs]), median([r.wall_s for r in runs]), runs


def bench_startup_and_growth(res: Results, scratch: Path, sizes: list[int], repeats: int) -> None:
    print("startup, no-op sync, one-page sync", flush=True)
    py_cpu, py_wall, _ = timed([PY, "-c", "pass"], None, repeats)
    res.figure("`python -c pass`", f"{py_cpu * 1000:.0f} ms CPU, {py_wall * 1000:.0f} ms wall")
    with simulator(400) as url:
        help_cpu, help_wall, _ = timed([PY, CLI, "--help"], None, repeats)
        res.figure(
            "`lapor-bridge --help`", f"{help_cpu * 1000:.0f} ms CPU, {help_wall * 1000:.0f} ms wall"
        )
        res.ratio("`--help` CPU minus `python -c pass` CPU", help_cpu - py_cpu, 0.3, "{:.2f} s")
        noop_by_size: dict[int, float] = {}
        for n in [0, *sizes]:
            path = scratch / f"grow-{n}.db"
            started = time.monotonic()
            seed_store(path, n)
            seeded = time.monotonic() - started
            env = bridge_env(url, f"sqlite:///{path}")
            one_page: list[Run] = []
            noop: list[Run] = []
            requests_made = 0
            for _ in range(repeats):
                forget_pulled(path, "2000-01-01 00:00:00.000000")
                first = run_proc([PY, CLI, "sync", "--json"], env)
                summary = json.loads(first.out)
                assert summary["fetched"] == 400 and summary["pages"] == 1, summary
                one_page.append(first)
                again = run_proc([PY, CLI, "sync", "--json"], env)
                requests_made = max(requests_made, json.loads(again.out)["requests"])
                noop.append(again)
            st_cpu, st_wall, _ = timed([PY, CLI, "status"], env, repeats)
            noop_cpu = median([r.cpu_s for r in noop])
            page_cpu = median([r.cpu_s for r in one_page])
            noop_by_size[n] = noop_cpu
            label = f"{n:,} stored" if n else "empty store"
            res.figure(
                f"sync, {label}",
                f"no-op {noop_cpu * 1000:.0f} ms CPU / {median([r.wall_s for r in noop]) * 1000:.0f} ms wall "
                f"({requests_made} requests); one page of 400 {page_cpu * 1000:.0f} ms CPU / "
                f"{median([r.wall_s for r in one_page]) * 1000:.0f} ms wall; `status` "
                f"{st_cpu * 1000:.0f} ms CPU / {st_wall * 1000:.0f} ms wall"
                + (f" (seeded in {seeded:.0f} s)" if n else ""),
            )
            res.ratio(f"no-op sync CPU / `--help` CPU, {label}", noop_cpu / help_cpu, 2.0)
            res.ratio(f"`status` CPU / `--help` CPU, {label}", st_cpu / help_cpu, 2.0)
            res.ratio(f"no-op sync requests, {label}", requests_made, 2, "{:.0f}")
            res.growth[n] = (noop_cpu, page_cpu)  # type: ignore[attr-defined]
            path.unlink()
        base_noop, base_page = res.growth[0]  # type: ignore[attr-defined]
        for n in sizes:
            noop_cpu, page_cpu = res.growth[n]  # type: ignore[attr-defined]
            res.ratio(f"no-op sync CPU, {n:,} stored / none stored", noop_cpu / base_noop, 1.2)
            res.ratio(f"one-page sync CPU, {n:,} stored / none stored", page_cpu / base_page, 1.2)


# --- SLA and remap over many stored reports ------------------------------------------


def bench_store_commands(res: Results, scratch: Path, n: int, repeats: int) -> None:
    print(f"sla summary, sla recompute, remap over {n:,} reports", flush=True)
    path = scratch / "commands.db"
    seed_store(path, n)
    env = bridge_env("http://127.0.0.1:9/api/v1", f"sqlite:///{path}")
    help_cpu, _, _ = timed([PY, CLI, "--help"], None, repeats)
    first = run_proc([PY, CLI, "sla", "recompute"], env)
    again_cpu, again_wall, _ = timed([PY, CLI, "sla", "recompute"], env, repeats)
    sum_cpu, sum_wall, _ = timed([PY, CLI, "sla", "summary"], env, repeats)
    remap_first = run_proc([PY, CLI, "remap"], env)
    remap_cpu, remap_wall, _ = timed([PY, CLI, "remap"], env, repeats)
    res.figure(
        f"{n:,} stored reports (SQLite), whole commands, CPU / wall",
        f"`sla recompute` first {first.cpu_s:.2f} / {first.wall_s:.2f} s, nothing changed "
        f"{again_cpu:.2f} / {again_wall:.2f} s; `sla summary` {sum_cpu:.2f} / {sum_wall:.2f} s; "
        f"remap first {remap_first.cpu_s:.2f} / {remap_first.wall_s:.2f} s, nothing changed "
        f"{remap_cpu:.2f} / {remap_wall:.2f} s (`--help` {help_cpu:.2f} s CPU)",
    )
    res.ratio(f"`sla recompute` of {n:,}, nothing changed (CPU)", again_cpu, 3.0, "{:.2f} s")
    res.ratio(f"remap of {n:,} that changes nothing (CPU)", remap_cpu, 3.0, "{:.2f} s")
    path.unlink()


# --- push throughput ------------------------------------------------------------------


def bench_push(res: Results, scratch: Path, items: int) -> None:
    """Push throughput at the contract's 10 requests/s. The client spaces requests by
    its limiter's interval, 5 % above 1/10 s on purpose (ratelimit.py: arrivals jitter),
    so the most a push can reach is the limiter's pace, 10/1.05 ≈ 9.52/s: the target
    is a share of that pace; the share of 10/s is printed beside it. N requests span
    N - 1 intervals, so the rate counts the requests after the first over the whole
    push (a short run is not flattered by the fencepost)."""
    print("push throughput at 10 requests/s", flush=True)
    sys.path.insert(0, str(REPO / "bench"))
    import logging

    import bench_push

    from lapor_bridge.upstream.ratelimit import RateLimiter

    limit = 10.0
    pace = 1 / RateLimiter(limit).interval
    logging.basicConfig(level=logging.ERROR)
    proc, sim_url = bench_push.start_simulator(scratch, reports=200)
    try:
        cases = (
            ("no faults", {}),
            ("10% transient 5xx", {"error_rate": 0.1, "error_burst_len": 1}),
        )
        for label, faults in cases:  # the faults independent, one request each
            bench_push.admin(
                sim_url,
                "POST",
                "/_sim/faults",
                {"drop_after_apply_rate": 0.0, "error_rate": 0.0, **faults},
            )
            url = f"sqlite:///{scratch / f'push-{uuid.uuid4().hex[:6]}.db'}"
            r = bench_push.bench_one(url, sim_url, limit, items)
            req_s = (r["requests"] - 1) / r["s"]
            res.figure(
                f"push, {label}",
                f"{r['items']} items, {r['requests']} requests in {r['s']:.1f} s "
                f"({r['runs']} run{'s' if r['runs'] > 1 else ''}, paused {r['paused_s']:.1f} s): "
                f"{r['items'] / r['s']:.2f} items/s, {req_s:.2f} requests/s after the first, "
                f"{req_s / limit:.3f} of {limit:g}/s",
            )
            res.at_least(
                f"push, {label}: requests/s as a share of the limiter's pace ({pace:.2f}/s)",
                req_s / pace,
                0.95,
                "{:.3f}",
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_report(res: Results) -> None:
    script = REPO / "bench" / "bench_report.py"
    if not script.exists():
        res.notes.append("`report`: bench/bench_report.py is not there yet (issue 10).")
        return
    print("report (bench/bench_report.py)", flush=True)
    r = run_proc([PY, str(script)], check=False)
    res.figure("`report` (bench/bench_report.py)", " / ".join(r.out.strip().splitlines()[-5:]))


# --- the page ---------------------------------------------------------------------------


def machine() -> str:
    mem = "?"
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {mem} memory, {platform.platform()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        f"load average at the start {load}"
    )


def write_page(res: Results, out: Path, started: datetime, took: float, host: str) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `python bench/run.py"
        + (" --quick" if res.quick else "")
        + "`; do not edit by hand.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC, the run took {took / 60:.1f} minutes",
        f"- machine: {host}",
        "- every contestant runs in its own process; CPU seconds and peak RSS are the",
        "  process's own (`os.wait4`), the simulator runs in another process on 127.0.0.1",
        "- the machine is shared: read the ratios, the absolute figures move with the load",
        "",
        "## Ratios and targets",
        "",
        "| what | measured | target | met |",
        "|---|---|---|---|",
        *[f"| {w} | {v} | {t} | {m} |" for w, v, t, m in res.ratios],
        "",
        "## Raw medians",
        "",
        "| what | figure |",
        "|---|---|",
        *[f"| {w} | {v} |" for w, v in res.raw],
        "",
    ]
    if res.notes:
        lines += ["## Notes of this run", "", *[f"- {n}" for n in res.notes], ""]
    notes = REPO / "bench" / "NOTES.md"  # the profiles behind targets not met (by hand)
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-size numbers, one repeat")
    parser.add_argument(
        "--out", type=Path, help="default: docs/benchmarks.md; with --quick a temporary file"
    )
    parser.add_argument("--only", help="comma list: backfill,startup,commands,push,report")
    args = parser.parse_args()
    if args.out is None:
        args.out = (
            Path(tempfile.gettempdir()) / "lapor-bridge-benchmarks-quick.md"
            if args.quick
            else REPO / "docs" / "benchmarks.md"
        )
    parts = set((args.only or "backfill,startup,commands,push,report").split(","))
    started = datetime.now(UTC)
    host = machine()
    res = Results(quick=args.quick)
    res.rss = {}  # type: ignore[attr-defined]
    res.growth = {}  # type: ignore[attr-defined]
    engines = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
    if not PG_URL:
        res.notes.append("PostgreSQL skipped: LAPOR_BRIDGE_TEST_PG_URL was not set.")
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lb-bench-") as tmp:
        scratch = Path(tmp)
        if "backfill" in parts:
            sizes = [5_000] if args.quick else [20_000, 100_000]
            for n in sizes:
                bench_backfill(res, scratch, n, 1 if args.quick or n > 20_000 else 3, engines)
            for engine in engines:
                rss = [res.rss[(engine, n)] for n in sizes if (engine, n) in res.rss]  # type: ignore[attr-defined]
                if rss:
                    res.ratio(f"backfill peak RSS {engine}, largest", max(rss), 150, "{:.0f} MiB")
                if len(rss) == 2:
                    res.ratio(
                        f"backfill peak RSS {engine}, {sizes[1]:,} / {sizes[0]:,}",
                        rss[1] / rss[0],
                        1.15,
                    )
        if "startup" in parts:
            bench_startup_and_growth(
                res,
                scratch,
                [10_000] if args.quick else [10_000, 1_000_000],
                3 if args.quick else 5,
            )
        if "commands" in parts:
            bench_store_commands(
                res, scratch, 10_000 if args.quick else 100_000, 1 if args.quick else 3
            )
        if "push" in parts:
            bench_push(res, scratch, 40 if args.quick else 150)
        if "report" in parts:
            bench_report(res)
    write_page(res, args.out, started, time.monotonic() - clock, host)


if __name__ == "__main__":
    main()
