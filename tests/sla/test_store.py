"""refresh_clocks against a real store (SQLite file and PostgreSQL), and the SQL views."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from lapor_bridge.sla import refresh
from lapor_bridge.sla.clock import clock_state
from lapor_bridge.sla.policy import SlaPolicies, parse_policies
from lapor_bridge.sla.refresh import refresh_clocks
from lapor_bridge.sla.views import UNASSIGNED, list_clocks, state_expression, summarize
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SlaClock
from lapor_bridge.timeutil import WIB
from tests.sla.conftest import add_local, add_report, add_upstream, assign, w

NOW = w("2026-03-20 12:00")
HOUR = 3600


def clocks(engine: Engine) -> dict[tuple[int, str], SlaClock]:
    with read_session(engine) as session:
        return {(c.tracking_id, c.policy): c for c in session.exec(select(SlaClock)).scalars()}


def seed(engine: Engine) -> None:
    with write_session(engine) as s:
        # 1: answered and settled locally; the echo of the settlement comes back later
        add_report(s, 1, "2026-03-02 10:00", opd="DPU")
        add_local(s, 1, "2026-03-02 14:00")
        add_local(s, 1, "2026-03-03 08:00", "SELESAI")
        add_upstream(s, 1, "2026-03-03 09:30", status="SELESAI", echo=True)
        # 2: complex, nothing done
        add_report(s, 2, "2026-03-19 10:00", opd="DINKES", complex_case=True)
        # 3: no assignment, no disposition time, answered on the LAPOR! site
        add_report(s, 3, None, created="2026-03-02 10:00")
        add_upstream(s, 3, "2026-03-12 09:00")
        add_upstream(s, 3, "2026-03-02 11:00", author="PELAPOR")
        # 4: transferred away before anything happened
        add_report(s, 4, "2026-03-02 10:00", transferred_at="2026-03-02 15:00", opd="DPU")
        # 5: settled, the citizen replied, a second cycle runs
        add_report(s, 5, "2026-03-18 10:00", opd="DPU")
        add_local(s, 5, "2026-03-18 20:00", "SELESAI")
        add_upstream(s, 5, "2026-03-19 18:00", author="PELAPOR")
        # 6: never asked for in the subset refresh; its only follow-up was withdrawn
        add_report(s, 6, "2026-03-02 10:00", opd="DPU")
        add_local(s, 6, "2026-03-02 11:00", "SELESAI", state="cancelled")


def test_refresh_clocks_from_stored_rows(engine: Engine, policies: SlaPolicies) -> None:
    seed(engine)
    with write_session(engine) as session:
        written = refresh_clocks(session, [1, 2, 3, 4, 5, 999], now=NOW, policies=policies)
    assert written == 10  # 5 reports x 2 policies; 999 is not stored

    got = clocks(engine)
    assert (6, "bupati-24h") not in got

    settled = got[(1, "bupati-24h")]
    assert settled.stopped_at == w("2026-03-03 08:00")  # the local time, not the echo's
    assert (settled.stop_reason, settled.elapsed_s, settled.cycle) == ("SETTLED", 22 * HOUR, 1)
    first = got[(1, "nasional-5hk")]
    assert (first.stopped_at, first.elapsed_s) == (w("2026-03-02 14:00"), 4 * HOUR)

    open_complex = got[(2, "bupati-24h")]
    assert open_complex.due_at == w("2026-03-21 10:00")  # 2x24 h
    assert open_complex.stopped_at is None and open_complex.elapsed_s is None

    upstream_answer = got[(3, "nasional-5hk")]
    assert upstream_answer.started_at == w("2026-03-02 10:00")  # created_at
    assert upstream_answer.stopped_at == w("2026-03-12 09:00")
    assert upstream_answer.due_at == w("2026-03-10 00:00")

    moved = got[(4, "nasional-5hk")]
    assert (moved.stopped_at, moved.stop_reason) == (w("2026-03-02 15:00"), "TRANSFERRED")

    reopened = got[(5, "bupati-24h")]
    assert (reopened.cycle, reopened.started_at) == (2, w("2026-03-19 18:00"))
    assert reopened.due_at == w("2026-03-20 18:00") and reopened.stopped_at is None
    assert all(c.computed_at == NOW for c in got.values())


def test_refresh_all_upserts_and_follows_new_events(engine: Engine, policies: SlaPolicies) -> None:
    seed(engine)
    with write_session(engine) as session:
        assert refresh_clocks(session, None, now=NOW, policies=policies) == 12
    with write_session(engine) as session:  # the same again: same rows, no duplicates
        assert refresh_clocks(session, None, now=NOW, policies=policies) == 12
    assert len(clocks(engine)) == 12

    later = NOW + timedelta(hours=1)
    with write_session(engine) as session:  # a liaison records a follow-up, then refreshes
        add_local(session, 6, "2026-03-20 12:30", "SELESAI")
        refresh_clocks(session, [6], now=later, policies=policies)
    got = clocks(engine)
    assert got[(6, "nasional-5hk")].stopped_at == w("2026-03-20 12:30")
    assert got[(6, "nasional-5hk")].computed_at == later
    assert got[(1, "nasional-5hk")].computed_at == NOW  # others untouched


def test_reassignment_keeps_the_start(engine: Engine, policies: SlaPolicies) -> None:
    with write_session(engine) as s:
        add_report(s, 7, "2026-03-02 10:00", opd="DPU")
    with write_session(engine) as session:
        refresh_clocks(session, [7], now=NOW, policies=policies)
    with write_session(engine) as session:  # pending, not flushed: refresh_clocks flushes
        assign(session, 7, "DINKES", complex_case=True)
        refresh_clocks(session, [7], now=NOW, policies=policies)
    clock = clocks(engine)[(7, "bupati-24h")]
    assert clock.started_at == w("2026-03-02 10:00")
    assert clock.due_at == w("2026-03-04 10:00")
    with read_session(engine) as session:
        (row,) = list_clocks(session, now=NOW, policies=policies, policy="bupati-24h")
    assert (row.opd, row.complex, row.state) == ("DINKES", True, "BREACHED")


def test_removed_policy_clocks_go_away(engine: Engine, policies: SlaPolicies) -> None:
    seed(engine)
    with write_session(engine) as session:
        refresh_clocks(session, None, now=NOW, policies=policies)
    only_24h = parse_policies(
        "policies:\n  bupati-24h: {stop: settlement, duration: {hours: 24}}\n"
    )
    with write_session(engine) as session:
        refresh_clocks(session, [1], now=NOW, policies=only_24h)
    got = clocks(engine)
    assert (1, "nasional-5hk") not in got
    assert (2, "nasional-5hk") in got  # not refreshed, kept until `sla recompute`
    assert got[(1, "bupati-24h")].due_at == w("2026-03-03 10:00")


def test_refresh_runs_in_the_callers_transaction(engine: Engine, policies: SlaPolicies) -> None:
    seed(engine)
    with pytest.raises(RuntimeError), write_session(engine) as session:
        refresh_clocks(session, None, now=NOW, policies=policies)
        raise RuntimeError("the caller fails after refreshing")
    assert clocks(engine) == {}


def test_chunks_give_the_same_clocks(
    engine: Engine, policies: SlaPolicies, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(engine)
    with write_session(engine) as session:
        refresh_clocks(session, None, now=NOW, policies=policies)
    whole = {k: (c.due_at, c.stopped_at, c.cycle) for k, c in clocks(engine).items()}
    with write_session(engine) as session:
        session.execute(SlaClock.__table__.delete())  # type: ignore[attr-defined]
    monkeypatch.setattr(refresh, "CHUNK", 2)
    with write_session(engine) as session:
        assert refresh_clocks(session, [6, 5, 4, 3, 2, 1, 1], now=NOW, policies=policies) == 12
    assert {k: (c.due_at, c.stopped_at, c.cycle) for k, c in clocks(engine).items()} == whole


def test_sql_state_matches_python_rule(engine: Engine, policies: SlaPolicies) -> None:
    seed(engine)
    with write_session(engine) as session:
        refresh_clocks(session, None, now=NOW, policies=policies)
    seen = set()
    for now in (
        "2026-03-02 10:00",
        "2026-03-03 05:00",
        "2026-03-06 20:00",
        "2026-03-20 12:00",
        "2026-03-20 19:00",
    ):
        at = w(now)
        with read_session(engine) as session:
            rows = session.execute(select(SlaClock, state_expression(at).label("state"))).all()
        assert len(rows) == 12
        for clock, state in rows:
            expected = clock_state(
                now=at,
                due_at=clock.due_at,
                at_risk_at=clock.at_risk_at,
                stopped_at=clock.stopped_at,
                stop_reason=clock.stop_reason,
            )
            assert state == expected, (now, clock.tracking_id, clock.policy)
            seen.add(state)
    assert seen == {"ON_TRACK", "AT_RISK", "BREACHED", "MET", "MET_LATE", "STOPPED"}


def test_list_most_urgent_first_and_filters(engine: Engine, policies: SlaPolicies) -> None:
    seed(engine)
    with write_session(engine) as session:
        refresh_clocks(session, None, now=NOW, policies=policies)
    with read_session(engine) as session:
        rows = list_clocks(session, now=NOW, policies=policies)
        listed = [(r.tracking_id, r.policy, r.state) for r in rows]
        assert listed == [
            (3, "bupati-24h", "BREACHED"),  # due 3 Mar 10:00, longest overdue first
            (6, "bupati-24h", "BREACHED"),  # same due time: by tracking id
            (6, "nasional-5hk", "BREACHED"),  # due 10 Mar
            (5, "bupati-24h", "AT_RISK"),  # cycle 2, due 20 Mar 18:00
            (2, "bupati-24h", "ON_TRACK"),  # due 21 Mar 10:00 (complex)
            (2, "nasional-5hk", "ON_TRACK"),  # due 1 Apr (cuti bersama Idul Fitri 2026)
        ]
        assert rows[3].cycle == 2
        assert rows[5].due_at == w("2026-04-01 00:00")
        assert rows[0].time_left_s == -int((NOW - w("2026-03-03 10:00")).total_seconds())

        everything = list_clocks(session, now=NOW, policies=policies, include_closed=True)
        assert len(everything) == 12
        assert [r.state for r in everything][-1] == "STOPPED"

        late = list_clocks(session, now=NOW, policies=policies, state="met_late")
        assert {(r.tracking_id, r.policy) for r in late} == {(3, "nasional-5hk")}
        assert late[0].opd == UNASSIGNED and late[0].time_left_s == -57 * HOUR

        dpu_5hk = list_clocks(session, now=NOW, policies=policies, opd="DPU", policy="nasional-5hk")
        assert [r.tracking_id for r in dpu_5hk] == [6]
        unassigned = list_clocks(
            session, now=NOW, policies=policies, opd=UNASSIGNED, include_closed=True
        )
        assert {r.tracking_id for r in unassigned} == {3}

        # the state moves with `now`, without any refresh
        later = list_clocks(session, now=w("2026-03-21 10:00"), policies=policies, opd="DINKES")
        assert [(r.policy, r.state) for r in later] == [
            ("bupati-24h", "BREACHED"),
            ("nasional-5hk", "ON_TRACK"),
        ]


def test_list_rejects_unknown_state_and_policy(
    sqlite_engine: Engine, policies: SlaPolicies
) -> None:
    from lapor_bridge.errors import ConfigError

    with read_session(sqlite_engine) as session:
        with pytest.raises(ConfigError, match="unknown SLA state 'LATE'"):
            list_clocks(session, now=NOW, policies=policies, state="LATE")
        with pytest.raises(ConfigError, match="no SLA policy named 'x'"):
            list_clocks(session, now=NOW, policies=policies, policy="x")


# --- summary ------------------------------------------------------------------------


def seed_summary(session: Session) -> None:
    """DPU: five reports answered after 1, 2, 3, 4 and 10 hours, settled after 20, 22,
    26, 30 and 50 hours; DINKES: answered after 1, 2, 3 and 4 hours, none settled,
    one transferred; LH: one open report."""
    day = "2026-03-02"  # Monday; every report disposed at 08:00 WIB
    for i, (answer_h, settle_h) in enumerate([(1, 20), (2, 22), (3, 26), (4, 30), (10, 50)]):
        tracking_id = 100 + i
        add_report(session, tracking_id, f"{day} 08:00", opd="DPU")
        start = w(f"{day} 08:00")
        add_local(session, tracking_id, _wib(start + timedelta(hours=answer_h)))
        add_local(session, tracking_id, _wib(start + timedelta(hours=settle_h)), "SELESAI")
    for i, answer_h in enumerate([1, 2, 3, 4]):
        tracking_id = 200 + i
        add_report(session, tracking_id, f"{day} 08:00", opd="DINKES")
        add_local(session, tracking_id, _wib(w(f"{day} 08:00") + timedelta(hours=answer_h)))
    add_report(session, 204, f"{day} 08:00", transferred_at=f"{day} 09:00", opd="DINKES")
    add_report(session, 300, "2026-03-19 08:00", opd="LH")


def _wib(at: datetime) -> str:
    """An aware time as WIB wall-clock text, the form the helpers take."""
    return at.astimezone(WIB).strftime("%Y-%m-%d %H:%M")


def test_summary_counts_shares_and_percentiles(engine: Engine, policies: SlaPolicies) -> None:
    with write_session(engine) as session:
        seed_summary(session)
        session.flush()
        refresh_clocks(session, None, now=NOW, policies=policies)
    with read_session(engine) as session:
        summary = {(s.opd, s.policy): s for s in summarize(session, now=NOW, policies=policies)}
    assert set(summary) == {
        (opd, policy)
        for opd in ("DINKES", "DPU", "LH")
        for policy in ("bupati-24h", "nasional-5hk")
    }

    dpu_first = summary[("DPU", "nasional-5hk")]
    assert dpu_first.stop == "first_followup"
    assert dpu_first.counts["MET"] == 5 and dpu_first.total == 5
    assert dpu_first.on_time_share == 1.0
    # 1 2 3 4 10 h: median 3 h; p90 at rank 1 + 0.9*4 = 4.6: 4 h + 0.6 * 6 h = 7.6 h
    assert dpu_first.stopped_n == 5
    assert dpu_first.median_s == 3 * HOUR
    assert dpu_first.p90_s == pytest.approx(7.6 * HOUR)

    dpu_settle = summary[("DPU", "bupati-24h")]
    assert dpu_settle.stop == "settlement"
    assert (dpu_settle.counts["MET"], dpu_settle.counts["MET_LATE"]) == (2, 3)
    assert dpu_settle.on_time_share == pytest.approx(2 / 5)
    # 20 22 26 30 50 h: median 26 h; p90: 30 h + 0.6 * 20 h = 42 h
    assert (dpu_settle.median_s, dpu_settle.p90_s) == (26 * HOUR, pytest.approx(42 * HOUR))

    dinkes_first = summary[("DINKES", "nasional-5hk")]
    assert (dinkes_first.counts["MET"], dinkes_first.counts["STOPPED"], dinkes_first.total) == (
        4,
        1,
        5,
    )
    # 1 2 3 4 h (the transfer is not a follow-up): median 2.5 h; p90 at 3.7: 3.7 h
    assert dinkes_first.median_s == pytest.approx(2.5 * HOUR)
    assert dinkes_first.p90_s == pytest.approx(3.7 * HOUR)

    dinkes_settle = summary[("DINKES", "bupati-24h")]
    assert dinkes_settle.counts["BREACHED"] == 4 and dinkes_settle.on_time_share == 0.0
    assert dinkes_settle.stopped_n == 0 and dinkes_settle.median_s is None

    lh = summary[("LH", "bupati-24h")]
    assert lh.counts["BREACHED"] == 1 and lh.median_s is None
    assert summary[("LH", "nasional-5hk")].counts["ON_TRACK"] == 1
    assert summary[("LH", "nasional-5hk")].on_time_share is None  # nothing decided yet


def test_summary_since_and_single_value(engine: Engine, policies: SlaPolicies) -> None:
    with write_session(engine) as session:
        seed_summary(session)
        add_report(session, 301, "2026-03-19 09:00", opd="LH")
        add_local(session, 301, "2026-03-19 14:00")
        session.flush()
        refresh_clocks(session, None, now=NOW, policies=policies)
    with read_session(engine) as session:
        recent = summarize(session, now=NOW, policies=policies, since=w("2026-03-19 00:00"))
    by_key = {(s.opd, s.policy): s for s in recent}
    assert set(by_key) == {("LH", "bupati-24h"), ("LH", "nasional-5hk")}
    lh_first = by_key[("LH", "nasional-5hk")]
    assert (lh_first.total, lh_first.stopped_n) == (2, 1)
    assert lh_first.median_s == lh_first.p90_s == 5 * HOUR


def test_clock_times_are_stored_as_the_orm_stores_them(
    engine: Engine, policies: SlaPolicies
) -> None:
    """refresh_clocks writes straight to the driver; what it writes must be what
    UTCDateTime writes, or SQL comparisons against bound times would drift."""
    with write_session(engine) as s:
        add_report(s, 1, "2026-03-02 10:00", opd="DPU")
        add_local(s, 1, "2026-03-02 14:00:00.250000")
    with write_session(engine) as session:
        refresh_clocks(session, [1], now=NOW, policies=policies)
    with write_session(engine) as session:
        written = session.get(SlaClock, (1, "nasional-5hk"))
        assert written is not None
        session.add(
            SlaClock(
                tracking_id=2,
                policy="nasional-5hk",
                started_at=written.started_at,
                due_at=written.due_at,
                at_risk_at=written.at_risk_at,
                stopped_at=written.stopped_at,
                computed_at=NOW,
            )
        )
    raw = "SELECT started_at, due_at, at_risk_at, stopped_at FROM sla_clock WHERE policy = 'nasional-5hk' ORDER BY tracking_id"
    with engine.connect() as conn:
        ours, orms = conn.exec_driver_sql(raw).all()
    assert tuple(ours) == tuple(orms)
    assert written.stopped_at == w("2026-03-02 14:00:00.250000")
