"""Local reports for follow-ups, and a client pointed at a simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from lapor_bridge.simulator import Simulator
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import Assignment, ReportRow, TindakLanjut
from lapor_bridge.timeutil import parse_upstream_time
from lapor_bridge.upstream.client import LaporClient, RequestRetryPolicy

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
) -> ReportRow:
    report = ReportRow(
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
        retry=RequestRetryPolicy(
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


def queue_many(engine: Engine, tracking_ids: list[int], n: int, *, instansi_id: int = 3327) -> None:
    """`n` pending follow-ups spread round-robin over `tracking_ids`, written in bulk
    (record_tindak_lanjut, tested on its own, refreshes SLA clocks per item)."""
    from lapor_bridge.outbox.respond import new_external_ref

    with write_session(engine) as session:
        for i in range(n):
            tracking_id = tracking_ids[(i * 7) % len(tracking_ids)]
            session.add(
                TindakLanjut(
                    tracking_id=tracking_id,
                    external_ref=new_external_ref(instansi_id),
                    opd="DINKES",
                    status="SELESAI" if i % 5 == 4 else "DIPROSES",
                    content=f"Tindak lanjut nomor {i} untuk laporan {tracking_id}.",
                    created_at=NOW,
                    state="pending",
                )
            )


def check_delivered_once_in_order(engine: Engine, sim: Simulator) -> dict[str, int]:
    """Compare the simulator's stored follow-ups with the local outbox: every local
    item upstream exactly once, nothing upstream that is not local, per-report order
    kept, and the local rows all sent with the right upstream id."""
    local = items(engine)
    upstream = ours_upstream(sim)
    refs = [f["external_ref"] for f in upstream]
    duplicates = len(refs) - len(set(refs))
    local_refs = {i.external_ref for i in local}
    lost = local_refs - set(refs)
    unknown = set(refs) - local_refs
    assert (duplicates, len(lost), len(unknown)) == (0, 0, 0)
    by_ref = {f["external_ref"]: f for f in upstream}
    for item in local:
        assert item.state == "sent", (item.id, item.state, item.last_error)
        assert item.upstream_id == by_ref[item.external_ref]["id"]
        assert by_ref[item.external_ref]["tracking_id"] == item.tracking_id
        assert by_ref[item.external_ref]["content"] == item.content
    per_report_local: dict[int, list[str]] = {}
    for item in local:  # id order = the order written
        per_report_local.setdefault(item.tracking_id, []).append(item.external_ref)
    per_report_upstream: dict[int, list[str]] = {}
    for f in upstream:  # upstream id order = the order LAPOR! stored them
        per_report_upstream.setdefault(f["tracking_id"], []).append(f["external_ref"])
    assert per_report_upstream == per_report_local
    return {"items": len(local), "reports": len(per_report_local)}


def not_sent(engine: Engine) -> tuple[int, float]:
    """(items not sent, seconds until the earliest next attempt of those)."""
    from sqlalchemy import func

    with read_session(engine) as session:
        left = session.scalar(
            select(func.count()).select_from(TindakLanjut).where(TindakLanjut.state != "sent")
        )
        first = session.scalar(
            select(func.min(TindakLanjut.next_attempt_at)).where(TindakLanjut.state != "sent")
        )
    wait = (first - datetime.now(UTC)).total_seconds() if first else 0.0
    return int(left or 0), max(0.0, wait)


def until_all_sent(run: Any, engine: Engine, *, give_up_s: float = 150) -> list[Any]:
    """Call `run()` (one push run) again and again, as cron would, sleeping until the
    next attempt is due, until every item is sent; the runs' summaries."""
    import time

    runs = []
    give_up = time.monotonic() + give_up_s
    while time.monotonic() < give_up:
        runs.append(run())
        left, wait = not_sent(engine)
        if not left:
            break
        time.sleep(min(wait, 2.0))
    return runs
