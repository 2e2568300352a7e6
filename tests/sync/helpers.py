"""Comparing the local store with the simulator's truth."""

from __future__ import annotations

import time

from sqlalchemy import Engine, select

from lapor_bridge.simulator import Simulator
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import ReportRow


def store_versions(engine: Engine) -> dict[int, int]:
    with read_session(engine) as session:
        return dict(session.execute(select(ReportRow.tracking_id, ReportRow.version)).all())


def truth_versions(sim: Simulator) -> dict[int, int]:
    """What a correct bridge holds once the runs settle: the newest valid version of
    every report the listing shows."""
    return {r["tracking_id"]: r["version"] for r in sim.truth() if not r.get("_malformed")}


def next_second() -> None:
    """Sleep into the next wall-clock second: a window `[.., floor(now))` then
    includes every change made before the call."""
    time.sleep(1.05 - (time.time() % 1.0))
