"""`remap`, `assign` and `unassign` tell the units what moved: the new unit
"assigned", the old one "moved away", each once, decided in the transaction
of the change; over a real simulator sync, a real SQLite file and a real
json:// receiver."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

from lapor_bridge.mapping import load_mapping
from lapor_bridge.mapping.commands import assign, remap, unassign
from lapor_bridge.notify.service import run_notifications
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import NotifyEvent
from lapor_bridge.sync.engine import run_sync
from lapor_bridge.timeutil import utcnow
from tests.conftest import REPO
from tests.notify.conftest import write_mappings
from tests.notify.helpers import MOVED_AWAY, NEW, sections
from tests.notify.receivers import JsonReceiver


def _told(messages) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    new: dict[int, list[str]] = defaultdict(list)
    moved: dict[int, list[str]] = defaultdict(list)
    for message in messages:
        found = sections(message.body)
        for tid, _ in found.get(NEW, []):
            new[tid].append(message.path)
        for tid, _ in found.get(MOVED_AWAY, []):
            moved[tid].append(message.path)
    return dict(new), dict(moved)


def _events(engine, kind: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    with read_session(engine) as session:
        for tid, recipient in session.execute(
            select(NotifyEvent.tracking_id, NotifyEvent.recipient).where(
                NotifyEvent.kind == kind, NotifyEvent.quiet.is_(False)
            )
        ):
            out[tid].append(recipient)
    return out


def test_remap_assign_and_unassign_tell_both_units_once(
    make_simulator, make_runtime, sqlite_url, mappings_dir
):
    units = list(load_mapping(REPO / "mappings").units)
    with JsonReceiver() as rx:
        write_mappings(mappings_dir, {code: [rx.url(f"/{code}")] for code in units})
        sim = make_simulator(initial_reports=120, seed=21)
        rt = make_runtime(sim, sqlite_url, mappings_dir=mappings_dir)
        run_sync(rt)  # the first sync: summaries only
        start = len(rx.received)
        mapping = load_mapping(mappings_dir)

        def deliver(minutes: int) -> list:
            before = len(rx.received)
            run_notifications(
                rt.engine,
                mapping=load_mapping(mappings_dir),
                settings=rt.settings,
                now_fn=lambda: utcnow() + timedelta(minutes=minutes),
            )
            return rx.received[before:]

        # a rule edit: what DPUPR's first rule routed goes to DINSOS now
        rules = mappings_dir / "rules.yaml"
        text = rules.read_text(encoding="utf-8")
        assert "opd: DPUPR\n" in text
        rules.write_text(text.replace("opd: DPUPR\n", "opd: DINSOS\n", 1), encoding="utf-8")
        result = remap(rt, dry_run=False)
        moves = {c.tracking_id: (c.from_opd, c.to_opd) for c in result.changes}
        assert len(moves) >= 2 and all(f == "DPUPR" and t == "DINSOS" for f, t in moves.values())
        # decided in the remap's own transaction, before any notification pass
        assert _events(rt.engine, "assigned") == {tid: ["DINSOS"] for tid in moves}
        assert _events(rt.engine, "moved_away") == {tid: ["DPUPR"] for tid in moves}
        after_remap = deliver(1)
        again = deliver(2)

        # by hand: one of them to DISHUB, then back to the rules
        tid = min(moves)
        assign(rt, tid, "DISHUB", reason="uji: jalan nasional", by="tester")
        after_assign = deliver(3)
        unassign(rt, tid, reason="uji: kembali ke aturan", by="tester")
        after_unassign = deliver(4)
        assert mapping.units["DISHUB"]

    assert start > 0
    new, moved = _told(after_remap)
    assert new == {t: ["/DINSOS"] for t in moves}, new
    assert moved == {t: ["/DPUPR"] for t in moves}, moved
    assert _told(again) == ({}, {}), "told once"
    assert _told(after_assign) == ({tid: ["/DISHUB"]}, {tid: ["/DINSOS"]})
    assert _told(after_unassign) == ({tid: ["/DINSOS"]}, {tid: ["/DISHUB"]})
    assert all(m.title.startswith("LAPOR! ") for m in after_remap + after_assign)
