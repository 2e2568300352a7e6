"""Helpers of the mapping tests: small mapping files in tmp_path, reports
inserted straight into a real store."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from lapor_bridge.mapping import Mapping, load_mapping
from lapor_bridge.mapping.match import RoutingFacts, report_facts
from lapor_bridge.simulator.seed import TOPICS
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import Assignment, AssignmentHistory, ReportRow, TopicRow

SEED_TOPICS: dict[int, int] = {tid: parent for tid, parent, _ in TOPICS}
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)

UNITS = """\
default: TRIASE
units:
  - code: TRIASE
    name: Koordinator
    kind: koordinator
    liaison: [{name: Admin, phone: "0812-0000-0001"}]
  - code: DPUPR
    name: Dinas PU
    liaison: [{name: PIC PU, email: pu@example.go.id}]
  - code: DISHUB
    name: Dinas Perhubungan
    liaison: [{name: PIC Hub, phone: "0812-0000-0002"}]
  - code: BPBD
    name: BPBD
    liaison: [{name: PIC BPBD, phone: "0812-0000-0003"}]
  - code: DINSOS
    name: Dinas Sosial
    liaison: [{name: PIC Sosial, phone: "0812-0000-0004"}]
  - code: DINKES
    name: Dinas Kesehatan
    liaison: [{name: PIC Kes, phone: "0812-0000-0005"}]
  - code: PERUMDA_AIR_MINUM
    name: Tirta Mulia
    liaison: [{name: PIC Air, phone: "0812-0000-0006"}]
  - code: KEC_MOGA
    name: Kecamatan Moga
    kind: kecamatan
    kecamatan: Moga
    liaison: [{name: Camat, phone: "0812-0000-0007"}]
  - code: KEC_COMAL
    name: Kecamatan Comal
    kind: kecamatan
    kecamatan: Comal
    liaison: [{name: Camat, phone: "0812-0000-0008"}]
"""


def write_mapping(directory: Path, rules: str, units: str = UNITS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "units.yaml").write_text(textwrap.dedent(units), encoding="utf-8")
    (directory / "rules.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
    return directory


def mapping_of(
    directory: Path, rules: str, *, units: str = UNITS, topics: dict[int, int] | None = SEED_TOPICS
) -> Mapping:
    return load_mapping(write_mapping(directory, rules, units), topics=topics)


def facts(
    *,
    title: str = "",
    content: str = "",
    topic: int | None = None,
    kecamatan: str | None = None,
    desa: str | None = None,
    channel: str = "WEB",
    classification: str = "PENGADUAN",
    masbupsiaga: bool = False,
    privacy: str = "PUBLIK",
    tree: dict[int, int] = SEED_TOPICS,
) -> RoutingFacts:
    return report_facts(
        tree,
        tracking_id=1,
        title=title,
        content=content,
        topic_id=topic,
        kecamatan=kecamatan,
        desa=desa,
        channel=channel,
        classification=classification,
        masbupsiaga=masbupsiaga,
        privacy=privacy,
    )


def report_row(tracking_id: int, **values: Any) -> ReportRow:
    """A Report with every required column filled; `values` override."""
    at = values.pop("at", NOW - timedelta(days=1))
    row: dict[str, Any] = {
        "tracking_id": tracking_id,
        "version": 1,
        "title": f"Laporan {tracking_id}",
        "content": "Isi laporan warga.",
        "topic_id": None,
        "classification": "PENGADUAN",
        "privacy": "PUBLIK",
        "channel": "WEB",
        "status": "DISPOSISI",
        "instansi_id": 3327,
        "created_at": at,
        "updated_at": at,
        "raw": {"tracking_id": tracking_id},
        "first_seen_at": at,
        "last_synced_at": at,
    }
    row.update(values)
    return ReportRow(**row)


def add_reports(engine: Engine, reports: Iterable[ReportRow]) -> None:
    with write_session(engine) as session:
        session.add_all(list(reports))


def add_topics(engine: Engine, topics: Iterable[tuple[int, int, str]] = TOPICS) -> None:
    with write_session(engine) as session:
        session.add_all(TopicRow(id=t, parent=p, name=n, synced_at=NOW) for t, p, n in topics)


def assignments(engine: Engine) -> dict[int, tuple[str, str, tuple[str, ...], bool]]:
    """tracking_id -> (opd, mapped_by, co_opd, complex)."""
    with read_session(engine) as session:
        rows = session.execute(select(Assignment)).scalars()
        return {a.tracking_id: (a.opd, a.mapped_by, tuple(a.co_opd or ()), a.complex) for a in rows}


def history(engine: Engine, tracking_id: int | None = None) -> list[AssignmentHistory]:
    with read_session(engine) as session:
        query = select(AssignmentHistory).order_by(AssignmentHistory.id)
        if tracking_id is not None:
            query = query.where(AssignmentHistory.tracking_id == tracking_id)
        return list(session.execute(query).scalars())


def history_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.execute(select(func.count()).select_from(AssignmentHistory)).scalar_one()
