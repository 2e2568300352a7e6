"""Reading the clocks: the state as SQL, the list of clocks, the per-OPD summary.

States are never stored: they are derived in SQL from `now` and the stored
times (state_expression), so a clock turns AT_RISK or BREACHED without any
job rewriting rows. The summary is computed in SQL over the whole store, the
percentiles with window functions (ROW_NUMBER/COUNT OVER), which SQLite and
PostgreSQL both have; Python only interpolates between the two neighbouring
values each group returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.orm.util import AliasedClass
from sqlmodel import Session

from lapor_bridge.errors import ConfigError
from lapor_bridge.sla.clock import OPEN_STATES, ClockState, StopReason
from lapor_bridge.sla.policy import SlaPolicies
from lapor_bridge.store.tables import Assignment, SlaClock
from lapor_bridge.store.types import UTCDateTime

UNASSIGNED = "(unassigned)"
_URGENCY = {
    ClockState.BREACHED: 0,
    ClockState.AT_RISK: 1,
    ClockState.ON_TRACK: 2,
    ClockState.MET_LATE: 3,
    ClockState.MET: 4,
    ClockState.STOPPED: 5,
}
PERCENTILES = (50, 90)


def state_expression(
    now: datetime, clock: type[SlaClock] | AliasedClass[SlaClock] = SlaClock
) -> ColumnElement[str]:
    """The state of `clock` at `now`, as a SQL CASE over sla_clock's columns.

    `clock` may be an alias (sqlalchemy.orm.aliased(SlaClock)) to join one
    clock per policy into the same row. Same rule as clock.clock_state.
    """
    at = literal(now, UTCDateTime())
    return case(
        (clock.stop_reason == StopReason.TRANSFERRED.value, ClockState.STOPPED.value),
        (
            and_(clock.stopped_at.is_not(None), clock.stopped_at <= clock.due_at),  # type: ignore[union-attr,operator]
            ClockState.MET.value,
        ),
        (clock.stopped_at.is_not(None), ClockState.MET_LATE.value),  # type: ignore[union-attr]
        (clock.due_at <= at, ClockState.BREACHED.value),
        (clock.at_risk_at <= at, ClockState.AT_RISK.value),
        else_=ClockState.ON_TRACK.value,
    )


def _opd() -> ColumnElement[str]:
    # an inline constant, so SQLite sees the same expression in SELECT and PARTITION BY
    return func.coalesce(Assignment.opd, literal_column(f"'{UNASSIGNED}'"))


# --- the list ----------------------------------------------------------------


@dataclass(frozen=True)
class ClockRow:
    tracking_id: int
    opd: str
    complex: bool
    policy: str
    cycle: int
    state: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None
    time_left_s: int  # to due_at from now (open) or from the stop; negative = overdue/late

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracking_id": self.tracking_id,
            "opd": self.opd,
            "complex": self.complex,
            "policy": self.policy,
            "cycle": self.cycle,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "stopped_at": None if self.stopped_at is None else self.stopped_at.isoformat(),
            "stop_reason": self.stop_reason,
            "time_left_s": self.time_left_s,
        }


def _check_state(state: str | None) -> ClockState | None:
    if state is None:
        return None
    try:
        return ClockState(state.upper())
    except ValueError:
        known = ", ".join(s.value for s in ClockState)
        raise ConfigError(f"unknown SLA state {state!r}; use one of {known}") from None


def list_clocks(
    session: Session,
    *,
    now: datetime,
    policies: SlaPolicies,
    opd: str | None = None,
    state: str | None = None,
    policy: str | None = None,
    include_closed: bool = False,
    limit: int | None = None,
    stopped_since: datetime | None = None,
) -> list[ClockRow]:
    """Clocks, most urgent first: BREACHED (longest overdue first), AT_RISK, ON_TRACK
    (soonest due first), then MET_LATE, MET, STOPPED. Open clocks only unless a
    `state` is asked for or `include_closed`."""
    wanted = _check_state(state)
    if policy is not None:
        policies.get(policy)  # a clear error for an unknown name
    state_col = state_expression(now)
    urgency = case({s.value: rank for s, rank in _URGENCY.items()}, value=state_col)
    query = (
        select(
            SlaClock.tracking_id,
            _opd().label("opd"),
            func.coalesce(Assignment.complex, False).label("complex"),
            SlaClock.policy,
            SlaClock.cycle,
            state_col.label("state"),
            SlaClock.started_at,
            SlaClock.due_at,
            SlaClock.stopped_at,
            SlaClock.stop_reason,
        )
        .outerjoin(Assignment, Assignment.tracking_id == SlaClock.tracking_id)
        .order_by(urgency, SlaClock.due_at, SlaClock.tracking_id, SlaClock.policy)
    )
    if wanted is not None:
        query = query.where(state_col == wanted.value)
    elif not include_closed:
        query = query.where(state_col.in_([s.value for s in OPEN_STATES]))
    if opd is not None:
        query = query.where(
            Assignment.opd == opd if opd != UNASSIGNED else Assignment.opd.is_(None)  # type: ignore[union-attr]
        )
    if policy is not None:
        query = query.where(SlaClock.policy == policy)
    if stopped_since is not None:
        query = query.where(SlaClock.stopped_at >= stopped_since)  # type: ignore[operator]
    if limit:
        query = query.limit(limit)
    rows = []
    for r in session.execute(query):
        reference = r.stopped_at if r.stopped_at is not None else now
        rows.append(
            ClockRow(
                tracking_id=r.tracking_id,
                opd=r.opd,
                complex=bool(r.complex),
                policy=r.policy,
                cycle=r.cycle,
                state=r.state,
                started_at=r.started_at,
                due_at=r.due_at,
                stopped_at=r.stopped_at,
                stop_reason=r.stop_reason,
                time_left_s=int((r.due_at - reference).total_seconds()),
            )
        )
    return rows


# --- the summary -------------------------------------------------------------


@dataclass(frozen=True)
class PolicySummary:
    opd: str
    policy: str
    stop: str  # the policy's stop event: first_followup | settlement ("" if not configured)
    total: int
    counts: dict[str, int]
    on_time_share: float | None  # MET / (MET + MET_LATE + BREACHED); None when none decided
    stopped_n: int  # clocks with a time to stop (MET and MET_LATE)
    median_s: float | None  # time from start to the stop event
    p90_s: float | None

    def as_dict(self) -> dict[str, Any]:
        label = f"time_to_{self.stop or 'stop'}"
        return {
            "opd": self.opd,
            "policy": self.policy,
            "total": self.total,
            "counts": self.counts,
            "on_time_share": self.on_time_share,
            label: {"n": self.stopped_n, "median_s": self.median_s, "p90_s": self.p90_s},
        }


def _since(
    query: Any, since: datetime | None, until: datetime | None = None, opd: str | None = None
) -> Any:
    """Clocks started in [since, until), of one OPD if given."""
    if since is not None:
        query = query.where(SlaClock.started_at >= since)
    if until is not None:
        query = query.where(SlaClock.started_at < until)
    if opd is not None:
        query = query.where(
            Assignment.opd == opd if opd != UNASSIGNED else Assignment.opd.is_(None)  # type: ignore[union-attr]
        )
    return query


def _counts(
    session: Session,
    now: datetime,
    since: datetime | None,
    until: datetime | None = None,
    opd_code: str | None = None,
) -> dict[tuple[str, str], dict[str, int]]:
    """Per (opd, policy): clocks by state (one GROUP BY over opd, policy, state)."""
    opd, state = _opd().label("opd"), state_expression(now).label("state")
    query = _since(
        select(opd, SlaClock.policy, state, func.count().label("n"))
        .outerjoin(Assignment, Assignment.tracking_id == SlaClock.tracking_id)
        .group_by(opd, SlaClock.policy, state),
        since,
        until,
        opd_code,
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for row in session.execute(query):
        by_state = counts.setdefault((row.opd, row.policy), {s.value: 0 for s in ClockState})
        by_state[row.state] = int(row.n)
    return counts


def _percentiles(
    session: Session,
    since: datetime | None,
    until: datetime | None = None,
    opd: str | None = None,
) -> dict[tuple[str, str], tuple[int, dict[int, float | None]]]:
    """Per (opd, policy): how many clocks were met (on time or late) and the
    linear-interpolated percentiles of their elapsed_s (as PostgreSQL's
    percentile_cont). SQL ranks the values in one sort (ROW_NUMBER and COUNT
    over the same window) and keeps only the two neighbours of each percentile."""
    window = {
        "partition_by": (_opd(), SlaClock.policy),
        "order_by": SlaClock.elapsed_s,
    }
    ranked = _since(
        select(
            _opd().label("opd"),
            SlaClock.policy,
            SlaClock.elapsed_s,
            func.row_number().over(**window).label("rn"),
            func.count().over(**window, rows=(None, None)).label("n"),
        )
        .outerjoin(Assignment, Assignment.tracking_id == SlaClock.tracking_id)
        .where(
            SlaClock.elapsed_s.is_not(None),  # type: ignore[union-attr]
            or_(
                SlaClock.stop_reason.is_(None),  # type: ignore[union-attr]
                SlaClock.stop_reason != StopReason.TRANSFERRED.value,
            ),
        ),
        since,
        until,
        opd,
    ).subquery()
    lows = {p: 1 + (p * (ranked.c.n - 1)) // 100 for p in PERCENTILES}  # integer division
    picks = []
    for p, low in lows.items():
        picks.append(func.max(case((ranked.c.rn == low, ranked.c.elapsed_s))).label(f"lo{p}"))
        picks.append(func.max(case((ranked.c.rn == low + 1, ranked.c.elapsed_s))).label(f"hi{p}"))
    wanted = [rank for low in lows.values() for rank in (low, low + 1)]
    query = (
        select(ranked.c.opd, ranked.c.policy, ranked.c.n, *picks)
        .where(or_(*(ranked.c.rn == rank for rank in wanted)))
        .group_by(ranked.c.opd, ranked.c.policy, ranked.c.n)
    )
    result: dict[tuple[str, str], tuple[int, dict[int, float | None]]] = {}
    for row in session.execute(query):
        n = int(row.n)
        values: dict[int, float | None] = {}
        for p in PERCENTILES:
            lo, hi = getattr(row, f"lo{p}"), getattr(row, f"hi{p}")
            frac = (p * (n - 1)) % 100 / 100
            values[p] = float(lo) if frac == 0 or hi is None else lo + frac * (hi - lo)
        result[(row.opd, row.policy)] = (n, values)
    return result


def summarize(
    session: Session,
    *,
    now: datetime,
    policies: SlaPolicies,
    since: datetime | None = None,
    until: datetime | None = None,
    opd: str | None = None,
) -> list[PolicySummary]:
    """Per OPD and policy: counts by state, share met on time, median and 90th
    percentile of the time to the stop event (first follow-up or settlement).
    Only clocks started in [since, until), and of `opd` if given."""
    counts = _counts(session, now, since, until, opd)
    percentiles = _percentiles(session, since, until, opd)
    out = []
    for (opd, policy), by_state in sorted(counts.items()):
        decided = (
            by_state[ClockState.MET] + by_state[ClockState.MET_LATE] + by_state[ClockState.BREACHED]
        )
        n, values = percentiles.get((opd, policy), (0, {}))
        configured = policies.policies.get(policy)
        out.append(
            PolicySummary(
                opd=opd,
                policy=policy,
                stop=configured.stop.value if configured else "",
                total=sum(by_state.values()),
                counts=by_state,
                on_time_share=by_state[ClockState.MET] / decided if decided else None,
                stopped_n=n,
                median_s=values.get(50),
                p90_s=values.get(90),
            )
        )
    return out


# --- the ranking of OPD ------------------------------------------------------

BREACH_STATES = (ClockState.BREACHED, ClockState.MET_LATE)
SORTS = ("breaches", "on-time", "name")


@dataclass(frozen=True)
class OpdRanking:
    """One OPD over a period: its policies' summaries and what it is ranked by."""

    opd: str
    policies: dict[str, PolicySummary]  # by policy name
    breaches: int  # BREACHED + MET_LATE over every policy
    decided: int  # MET + MET_LATE + BREACHED over every policy
    total: int  # clocks

    @property
    def on_time_share(self) -> float | None:
        """MET / (MET + MET_LATE + BREACHED) over every policy."""
        met = sum(s.counts[ClockState.MET] for s in self.policies.values())
        return met / self.decided if self.decided else None

    def count(self, policy: str, *states: ClockState) -> int:
        summary = self.policies.get(policy)
        return 0 if summary is None else sum(summary.counts[s] for s in states)


def rank_opds(summary: Sequence[PolicySummary], sort: str = "breaches") -> list[OpdRanking]:
    """Group `summarize`'s rows per OPD and order them: `breaches` (most first,
    then the lower share on time), `on-time` (best share first, none decided
    last) or `name` (by code)."""
    if sort not in SORTS:
        raise ConfigError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    grouped: dict[str, dict[str, PolicySummary]] = {}
    for s in summary:
        grouped.setdefault(s.opd, {})[s.policy] = s
    ranking = []
    for opd, by_policy in grouped.items():
        rows = by_policy.values()
        ranking.append(
            OpdRanking(
                opd=opd,
                policies=by_policy,
                breaches=sum(s.counts[st] for s in rows for st in BREACH_STATES),
                decided=sum(
                    s.counts[ClockState.MET]
                    + s.counts[ClockState.MET_LATE]
                    + s.counts[ClockState.BREACHED]
                    for s in rows
                ),
                total=sum(s.total for s in rows),
            )
        )

    def share(r: OpdRanking) -> float:
        return -1.0 if r.on_time_share is None else r.on_time_share

    if sort == "breaches":
        ranking.sort(key=lambda r: (-r.breaches, share(r), r.opd))
    elif sort == "on-time":
        ranking.sort(key=lambda r: (-share(r), -r.decided, r.opd))
    else:
        ranking.sort(key=lambda r: r.opd)
    return ranking


# --- one row per report (the liaison's worklist) -----------------------------


@dataclass(frozen=True)
class ReportClocks:
    """A report with all its clocks: what a liaison works from. `title` is None
    for a RAHASIA report; no reporter identity is read."""

    tracking_id: int
    opd: str
    complex: bool
    title: str | None
    privacy: str
    kecamatan: str | None
    desa: str | None
    channel: str
    masbupsiaga: bool
    status: str
    clocks: dict[str, ClockRow]  # by policy name, in the policies' order
    urgency: int  # position in the most-urgent-first order (0 = most urgent)

    @property
    def rahasia(self) -> bool:
        return self.privacy == "RAHASIA"

    @property
    def state(self) -> str:
        """The most urgent state of its clocks."""
        return min((c.state for c in self.clocks.values()), key=lambda s: _URGENCY[ClockState(s)])


@dataclass(frozen=True)
class Worklist:
    reports: list[ReportClocks]
    total: int  # how many reports matched before the limit

    @property
    def more(self) -> int:
        return self.total - len(self.reports)


def list_report_clocks(
    session: Session,
    *,
    now: datetime,
    policies: SlaPolicies,
    opd: str | None = None,
    state: str | None = None,
    policy: str | None = None,
    include_closed: bool = False,
    limit: int | None = None,
    tracking_ids: Sequence[int] | None = None,
    stopped_since: datetime | None = None,
) -> Worklist:
    """Reports with a clock matching the filters (as list_clocks), one entry per
    report with every clock of it, most urgent first (by its most urgent clock)."""
    from lapor_bridge.store.tables import ReportRow

    matching = list_clocks(
        session,
        now=now,
        policies=policies,
        opd=opd,
        state=state,
        policy=policy,
        include_closed=include_closed,
        stopped_since=stopped_since,
    )
    wanted = None if tracking_ids is None else set(tracking_ids)
    order: dict[int, int] = {}
    for row in matching:
        if wanted is None or row.tracking_id in wanted:
            order.setdefault(row.tracking_id, len(order))
    chosen = list(order)[:limit] if limit else list(order)
    names = list(policies.policies)
    clocks: dict[int, dict[str, ClockRow]] = {tid: {} for tid in chosen}
    facts: dict[int, Any] = {}
    state_col = state_expression(now)
    for start in range(0, len(chosen), 500):
        ids = chosen[start : start + 500]
        for r in session.execute(
            select(
                SlaClock.tracking_id,
                SlaClock.policy,
                SlaClock.cycle,
                state_col.label("state"),
                SlaClock.started_at,
                SlaClock.due_at,
                SlaClock.stopped_at,
                SlaClock.stop_reason,
            ).where(SlaClock.tracking_id.in_(ids))  # type: ignore[attr-defined]
        ):
            reference = r.stopped_at if r.stopped_at is not None else now
            clocks[r.tracking_id][r.policy] = ClockRow(
                tracking_id=r.tracking_id,
                opd="",
                complex=False,
                policy=r.policy,
                cycle=r.cycle,
                state=r.state,
                started_at=r.started_at,
                due_at=r.due_at,
                stopped_at=r.stopped_at,
                stop_reason=r.stop_reason,
                time_left_s=int((r.due_at - reference).total_seconds()),
            )
        for r in session.execute(
            select(
                ReportRow.tracking_id,
                ReportRow.title,
                ReportRow.privacy,
                ReportRow.kecamatan,
                ReportRow.desa,
                ReportRow.channel,
                ReportRow.masbupsiaga,
                ReportRow.status,
                _opd().label("opd"),
                func.coalesce(Assignment.complex, False).label("complex"),
            )
            .outerjoin(Assignment, Assignment.tracking_id == ReportRow.tracking_id)
            .where(ReportRow.tracking_id.in_(ids))  # type: ignore[attr-defined]
        ):
            facts[r.tracking_id] = r
    reports = []
    for tid in chosen:
        f = facts.get(tid)
        if f is None:
            continue
        ordered = {p: clocks[tid][p] for p in names if p in clocks[tid]}
        ordered.update({p: c for p, c in clocks[tid].items() if p not in ordered})
        reports.append(
            ReportClocks(
                tracking_id=tid,
                opd=f.opd,
                complex=bool(f.complex),
                title=None if f.privacy == "RAHASIA" else f.title,
                privacy=f.privacy,
                kecamatan=f.kecamatan,
                desa=f.desa,
                channel=f.channel,
                masbupsiaga=bool(f.masbupsiaga),
                status=f.status,
                clocks=ordered,
                urgency=order[tid],
            )
        )
    return Worklist(reports=reports, total=len(order))
