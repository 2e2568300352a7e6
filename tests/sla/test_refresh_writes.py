"""`sla recompute` and the sync's refresh write only the clocks that changed
(real SQLite file and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from lapor_bridge.sla.policy import SlaPolicies
from lapor_bridge.sla.refresh import refresh
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SlaClock
from tests.sla.conftest import add_local, add_report, w

NOW = w("2026-03-20 12:00")


def computed(engine: Engine) -> dict[tuple[int, str], object]:
    with read_session(engine) as session:
        return {(c.tracking_id, c.policy): c.computed_at for c in session.scalars(select(SlaClock))}


def test_a_second_refresh_writes_nothing_and_a_change_writes_only_its_clocks(
    engine: Engine, policies: SlaPolicies
) -> None:
    per_report = len(policies.policies)
    with write_session(engine) as s:
        for tracking_id in range(1, 31):
            add_report(s, tracking_id, "2026-03-19 10:00", opd="DPU")
    with write_session(engine) as s:
        first = refresh(s, None, now=NOW, policies=policies)
    assert (first.clocks, first.written) == (30 * per_report, 30 * per_report)

    later = NOW + timedelta(hours=2)
    with write_session(engine) as s:
        again = refresh(s, None, now=later, policies=policies)
    assert (again.clocks, again.written, again.removed) == (30 * per_report, 0, 0)
    assert set(computed(engine).values()) == {NOW}  # not one row rewritten

    with write_session(engine) as s:  # a follow-up on report 7 moves its clocks only
        add_local(s, 7, "2026-03-19 15:00", "SELESAI")
    with write_session(engine) as s:
        changed = refresh(s, None, now=later, policies=policies)
    assert changed.written == per_report
    stamps = computed(engine)
    assert {k for k, at in stamps.items() if at == later} == {(7, p) for p in policies.policies}


def test_clocks_of_a_removed_policy_are_removed(engine: Engine, policies: SlaPolicies) -> None:
    with write_session(engine) as s:
        add_report(s, 1, "2026-03-19 10:00", opd="DPU")
        s.add(
            SlaClock(
                tracking_id=1, policy="retired", started_at=NOW, due_at=NOW, at_risk_at=NOW,
                computed_at=NOW,
            )
        )  # fmt: skip
    with write_session(engine) as s:
        counts = refresh(s, [1], now=NOW, policies=policies)
    assert counts.removed == 1
    assert {policy for _, policy in computed(engine)} == set(policies.policies)
