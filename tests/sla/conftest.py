"""Rows for the SLA store tests, written the way the other parts of the bridge write them."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from lapor_bridge.sla.policy import SlaPolicies, load_policies
from lapor_bridge.store.tables import Assignment, ReportRow, TindakLanjut, UpstreamFollowUpRow
from lapor_bridge.timeutil import parse_upstream_time

MAPPINGS = Path(__file__).parents[2] / "mappings"
_ids = itertools.count(1)


def w(text: str) -> datetime:
    """A WIB wall-clock time without offset (how legacy upstream times look)."""
    return parse_upstream_time(text)


@pytest.fixture(scope="session")
def policies() -> SlaPolicies:
    return load_policies(MAPPINGS / "sla.yaml")


def add_report(
    session: Session,
    tracking_id: int,
    disposed: str | None,
    *,
    created: str | None = None,
    status: str = "DISPOSISI",
    updated: str | None = None,
    transferred_at: str | None = None,
    opd: str | None = None,
    complex_case: bool = False,
) -> None:
    start = w(disposed or created or "2026-03-02 10:00")
    session.add(
        ReportRow(
            tracking_id=tracking_id,
            version=1,
            title="judul",
            content="isi",
            classification="PENGADUAN",
            privacy="PUBLIK",
            channel="WEB",
            status="DIALIHKAN" if transferred_at else status,
            instansi_id=1,
            created_at=w(created) if created else start,
            disposed_at=w(disposed) if disposed else None,
            updated_at=w(updated) if updated else (w(transferred_at) if transferred_at else start),
            transferred=transferred_at is not None,
            transferred_at=w(transferred_at) if transferred_at else None,
            raw={},
            first_seen_at=start,
            last_synced_at=start,
        )
    )
    if opd is not None:
        assign(session, tracking_id, opd, complex_case=complex_case)


def assign(session: Session, tracking_id: int, opd: str, *, complex_case: bool = False) -> None:
    row = session.get(Assignment, tracking_id)
    if row is None:
        row = Assignment(
            tracking_id=tracking_id, opd=opd, mapped_by="manual", assigned_at=w("2026-03-02 10:00")
        )
    row.opd = opd
    row.complex = complex_case
    session.add(row)


def add_local(
    session: Session, tracking_id: int, at: str, status: str = "DIPROSES", *, state: str = "sent"
) -> None:
    session.add(
        TindakLanjut(
            tracking_id=tracking_id,
            external_ref=f"lb-test-{next(_ids)}",
            opd="TEST",
            status=status,
            content="tindak lanjut",
            created_at=w(at),
            state=state,
        )
    )


def add_upstream(
    session: Session,
    tracking_id: int,
    at: str,
    *,
    author: str = "INSTANSI",
    status: str = "DIPROSES",
    echo: bool = False,
) -> None:
    session.add(
        UpstreamFollowUpRow(
            id=next(_ids),
            tracking_id=tracking_id,
            author=author,
            status=status,
            content="follow-up",
            is_echo=echo,
            created_at=w(at),
            first_seen_at=w(at),
        )
    )
