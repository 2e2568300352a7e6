"""Local reports for follow-ups, and a client pointed at a simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from lapor_bridge.simulator import Simulator
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import Assignment, Report, TindakLanjut
from lapor_bridge.timeutil import parse_upstream_time
from lapor_bridge.upstream.client import LaporClient, RetryPolicy

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, 10:00 WIB
OPEN = ("DISPOSISI", "DIPROSES", "SELESAI")


def add_report(
    session: Any,
    tracking_id: int,
    *,
    status: str = "DISPOSISI",
    privacy: str = "PUBLIK",
    transferred: bool = False,
    instansi_id: int = 3327,
    opd: str | None = "DINKES",
    at: datetime = NOW,
) -> Report:
    report = Report(
        tracking_id=tracking_id,
        version=1,
        title=f"Laporan {tracking_id}",
        content="Isi laporan.",
        classification="PENGADUAN",
        privacy=privacy,
        channel="WEB",
        status=status,
        instansi_id=instansi_id,
        created_at=at,
        disposed_at=at,
        updated_at=at,
        transferred=transferred,
        raw={"tracking_id": tracking_id},
        first_seen_at=at,
        last_synced_at=at,
    )
    session.add(report)
    if opd is not None:
        session.add(
            Assignment(tracking_id=tracking_id, opd=opd, mapped_by="manual", assigned_at=at)
        )
    return report


def seed_from_simulator(engine: Engine, sim: Simulator, *, opd: str = "DINKES") -> list[int]:
    """Store the simulator's open reports of our instansi locally; their ids, sorted."""
    ids = []
    with write_session(engine) as session:
        for record in sim.truth():
            if record["instansi_id"] != sim.config.instansi_id or record["status"] not in OPEN:
                continue
            at = parse_upstream_time(record["updated_at"])
            add_report(
                session,
                record["tracking_id"],
                status=record["status"],
                privacy=record["privacy"],
                opd=opd,
                at=at,
            )
            ids.append(record["tracking_id"])
    return sorted(ids)


def make_client(
    sim: Simulator,
    *,
    rate_limit_per_s: float | None = 1000.0,
    max_retry_after_s: float = 0.0,
    token: str | None = None,
    timeout: tuple[float, float] = (1.0, 2.0),
) -> LaporClient:
    """A client with quick in-request retries; by default every Retry-After is
    handed back to the push (max_retry_after_s=0)."""
    return LaporClient(
        sim.url,
        token or sim.config.token,
        timeout=timeout,
        retry=RetryPolicy(
            max_attempts=3,
            max_elapsed_s=2.0,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            max_retry_after_s=max_retry_after_s,
        ),
        rate_limit_per_s=rate_limit_per_s,
    )


def items(engine: Engine) -> list[TindakLanjut]:
    with read_session(engine) as session:
        return list(session.scalars(select(TindakLanjut).order_by(TindakLanjut.id)))


def ours_upstream(sim: Simulator) -> list[dict[str, Any]]:
    """The follow-ups LAPOR! (the simulator) stores that the bridge posted, in id order."""
    return sorted(
        (f for f in sim.followups() if (f.get("external_ref") or "").startswith("lb-")),
        key=lambda f: f["id"],
    )
