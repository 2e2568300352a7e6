"""Benchmark: the static site (`lapor-bridge report`) over 100,000 stored reports.

    python bench/bench_report.py [--reports 100000]

Builds a temporary SQLite store with the rows of bench_sla_summary (reports
over 2025-2026, 30 OPD, follow-ups, transfers; many reports never answered, so
tens of thousands are open and each gets its page), computes their clocks
(not timed), then times in the same run:

- `site`: build_site into a fresh folder (overview, OPD pages, one page per open report);
- `site_again`: the same into the folder it wrote (the cron refresh);
- `summary`: `sla summary` over the same store (the baseline of what is counted);
- `export`: `export --format jsonl` of every report to a file (the baseline of
  writing every row once).

The last line is a JSON dict of the figures (seconds and ratios to the baselines).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_sla_summary import MAPPINGS, NOW, load, rows
from lapor_bridge.config import Settings
from lapor_bridge.export import write_export
from lapor_bridge.reports.site import build_site
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla import load_policies, refresh_clocks
from lapor_bridge.sla.views import summarize
from lapor_bridge.store import read_session, write_session

CPU: dict[str, float] = {}


def best_of(func: Any, repeat: int = 2) -> tuple[float, Any]:
    """Best wall time of `repeat` runs (and that run's CPU time of this process in CPU)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = func()
        wall = time.perf_counter() - start
        if wall < best:
            best, CPU[func.__name__] = wall, time.process_time() - cpu
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    policies = load_policies(MAPPINGS / "sla.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        rt = Runtime(Settings(database_url=url, mappings_dir=MAPPINGS))
        load(rt.engine, rows(args.reports))
        with write_session(rt.engine) as session:
            refresh_clocks(session, None, now=NOW, policies=policies)
        print(f"store: {args.reports} reports, clocks computed", file=sys.stderr)

        def summary() -> Any:
            with read_session(rt.engine) as session:
                return summarize(session, now=NOW, policies=policies)

        def export() -> int:
            with open(Path(tmp) / "export.jsonl", "w", encoding="utf-8") as out:
                return write_export(rt.engine, out, fmt="jsonl", policies=list(policies.policies))

        site_dirs = iter(range(10_000))
        built: list[Path] = []

        def site() -> Any:
            built.append(Path(tmp) / f"site{next(site_dirs)}")
            return build_site(rt, built[-1], now=NOW - timedelta(minutes=15))

        def site_again() -> Any:  # the next cron run, 15 minutes later, into the same folder
            return build_site(rt, built[-1], now=NOW)

        summary_s, _ = best_of(summary, args.repeat)
        export_s, exported = best_of(export, args.repeat)
        site_s, result = best_of(site, args.repeat)
        again_s, _ = best_of(site_again, 1)
        size = sum(f.stat().st_size for f in built[-1].rglob("*.html"))
    figures = {
        "reports": args.reports,
        "pages": result.pages,
        "report_pages": result.report_pages,
        "site_mib": round(size / 2**20, 1),
        "site_s": round(site_s, 2),
        "site_again_s": round(again_s, 2),
        "site_cpu_s": round(CPU["site"], 2),
        "site_again_cpu_s": round(CPU["site_again"], 2),
        "export_cpu_s": round(CPU["export"], 2),
        "summary_s": round(summary_s, 3),
        "export_jsonl_s": round(export_s, 2),
        "exported": exported,
        "site_over_summary": round(site_s / summary_s, 1),
        "site_over_export": round(site_s / export_s, 2),
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
