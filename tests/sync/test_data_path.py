"""The data path flows one way: ingest stores what the pull saw without the
outbox; the engine lets the outbox settle echoes, then maps and clocks."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from lapor_bridge.mapping import load_mapping
from lapor_bridge.sla.policy import default_policies
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SlaClock, TindakLanjut, UpstreamFollowUpRow
from lapor_bridge.sync.engine import record_page
from tests.sync.test_ingest import OURS, record

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_ingest_does_not_import_the_outbox() -> None:
    code = (
        "import sys, lapor_bridge.sync.ingest; "
        "print([m for m in sys.modules if m.startswith('lapor_bridge.outbox')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_an_echo_of_our_answer_settles_the_item_and_is_not_counted_as_an_answer(engine) -> None:
    mapping = load_mapping(REPO / "mappings")
    policies = default_policies(REPO / "mappings")
    local_time = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 12:00 WIB
    with write_session(engine) as s:
        s.add(
            TindakLanjut(
                tracking_id=1916449, external_ref="lb-3327-abc", opd="DPUPR", status="DIPROSES",
                content="Sedang ditangani.", created_at=local_time, state="failed", uncertain=True,
            )
        )  # fmt: skip
    echo = {
        "id": 501, "tracking_id": 1916449, "content": "Sedang ditangani.", "status": "DIPROSES",
        "author": "INSTANSI", "external_ref": "lb-3327-abc",
        "created_at": "2026-11-27T13:30:00+07:00",
    }  # fmt: skip
    other = {**echo, "id": 502, "external_ref": "someone-else", "author": "ADMIN"}
    with write_session(engine) as s:
        result = record_page(
            s, [record(version=2, status="DIPROSES", followups=[echo, other])],
            instansi_id=OURS, mapping=mapping, policies=policies, now=NOW,
        )  # fmt: skip
    assert result.inserted == 1
    with read_session(engine) as s:
        item = s.scalars(select(TindakLanjut)).one()
        flags = {f.id: f.is_echo for f in s.scalars(select(UpstreamFollowUpRow))}
        first = {c.policy: c.stopped_at for c in s.scalars(select(SlaClock))}
    assert (item.state, item.upstream_id, item.uncertain) == ("sent", 501, False)
    assert flags == {501: True, 502: False}
    assert first["nasional-5hk"] == local_time  # the local time, not the echo's
