"""`report` and `recap` as jobs: the lifecycle of lapor_bridge.job, read-only.

Each run takes the lock of its own kind (`report`, `recap`): two `report`
runs from cron never write the same folder at once (the second exits 75),
and neither blocks `sync`, which holds another lock. Every run that gets the
lock leaves its run record with its outcome (a refused one, e.g. broken
mapping files or an unwritable folder, beside the lock when the store was
not opened yet), so `status` shows the last report and recap runs. The work
only reads the store; the run record is the one row they write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lapor_bridge.errors import ConfigError
from lapor_bridge.job import Job, start_job, unwritable
from lapor_bridge.runtime import Runtime, StoreMissing, missing_sqlite_file
from lapor_bridge.timeutil import utcnow

if TYPE_CHECKING:
    from lapor_bridge.reports.recap import RecapResult
    from lapor_bridge.reports.site import SiteResult


def _prepare(rt: Runtime, *paths: tuple[str, Path, bool]) -> Callable[[], Any]:
    """Before the store is opened: the mapping and SLA files parse, the outputs
    are writable, and (read-only) a store exists to read."""

    def check() -> None:
        from lapor_bridge.mapping import load_mapping
        from lapor_bridge.sla.policy import default_policies

        settings = rt.settings
        load_mapping(settings.mappings_dir)
        default_policies(settings.mappings_dir)
        for what, path, directory in paths:
            problem = unwritable(path, directory=directory)
            if problem:
                raise ConfigError(f"{what} {path}: {problem}")
        from lapor_bridge.store.db import create_store_engine

        missing = missing_sqlite_file(create_store_engine(settings.database_url))
        if missing is not None:
            raise StoreMissing(
                f"no store at {missing}: nothing synced yet. Run `lapor-bridge sync` first"
            )

    return check


def run_report(
    rt: Runtime,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: Callable[[], datetime] = utcnow,
) -> tuple[Job, SiteResult]:
    """`lapor-bridge report --out DIR` as job `report`."""
    from lapor_bridge.reports.site import build_site

    def check() -> None:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"site folder (--out) {out}: is a file, not a folder")
        _prepare(rt, ("site folder (--out)", out, True))()

    with start_job(rt, "report", precheck=check, now=now) as job:
        result = build_site(rt, out, since=since, until=until, now=now())
        job.summary = {
            "pages": result.pages,
            "opd_pages": result.opd_pages,
            "report_pages": result.report_pages,
            "rendered": result.rendered,
            "removed": result.removed,
        }
    return job, result


def run_recap(
    rt: Runtime,
    month: str,
    out: Path,
    *,
    csv_path: Path | None = None,
    now: Callable[[], datetime] = utcnow,
) -> tuple[Job, RecapResult]:
    """`lapor-bridge recap --month M --out FILE.xlsx` as job `recap`."""
    from lapor_bridge.reports.recap import month_bounds, write_recap

    def check() -> None:
        month_bounds(month, rt.settings.zone)  # a usage error refuses the run
        _prepare(
            rt,
            ("recap file (--out)", out, False),
            ("ranking CSV (--csv)", csv_path or out.with_suffix(".csv"), False),
        )()

    with start_job(rt, "recap", precheck=check, now=now) as job:
        result = write_recap(rt, month, out, csv_path=csv_path, now=now())
        job.summary = {"month": month, "opd": result.opd, "reports": result.reports}
    return job, result
