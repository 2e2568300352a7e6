"""The clock rules: from a report's facts and a policy to one clock. Pure functions.

Every time is aware UTC; the regency's zone only enters through the working-day
calendar. The rules (README, "SLA clock rules"):

- Start: `disposed_at`, or `created_at` when the report has no disposition time.
  A reassignment to another OPD does not restart the clock.
- First follow-up: the earliest of the local follow-ups (`tindak_lanjut.created_at`,
  DIPROSES or SELESAI, except those an admin cancelled in the outbox) and the non-echo INSTANSI follow-ups listed upstream
  (answers given on the LAPOR! site directly). Echoes of our own pushed
  follow-ups are not counted: the local row stands for them with the local time.
  When none is known but the report was seen DIPROSES, SELESAI or DITUTUP, the
  clock stops at that version's `updated_at` (an upper bound of the real time).
- Settlement: SELESAI. The earliest local SELESAI follow-up in the cycle, else an
  upstream non-echo INSTANSI SELESAI follow-up, whichever is earlier; when none is
  known in the last cycle but the report was seen SELESAI or DITUTUP, that
  version's `updated_at`.
- Reopen: a citizen's reply (PELAPOR follow-up) after a settlement starts a new
  cycle of the settlement clock at the reply's time, with the full duration.
- Transfer: a transferred report's clocks stop at `transferred_at` (else at
  `updated_at`) unless they stopped earlier.
- An event before the clock's start counts as at the start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from lapor_bridge.sla.calendar import WorkingCalendar
from lapor_bridge.sla.policy import Duration, Policy, StopEvent


class ClockState(StrEnum):
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    BREACHED = "BREACHED"
    MET = "MET"
    MET_LATE = "MET_LATE"
    STOPPED = "STOPPED"


OPEN_STATES = (ClockState.BREACHED, ClockState.AT_RISK, ClockState.ON_TRACK)


class StopReason(StrEnum):
    FOLLOWUP = "FOLLOWUP"  # a follow-up (local or upstream) stopped the first-response clock
    SETTLED = "SETTLED"  # a SELESAI follow-up stopped the settlement clock
    SEEN_CLOSED = "SEEN_CLOSED"  # no follow-up known, the report was seen answered/closed
    TRANSFERRED = "TRANSFERRED"  # the report went to another body: STOPPED


# the members as module constants: an enum member lookup costs a tenth of a
# microsecond, as much as the rest of a simple clock's rule
_FIRST_FOLLOWUP = StopEvent.FIRST_FOLLOWUP
_FOLLOWUP, _SEEN_CLOSED, _SETTLED = StopReason.FOLLOWUP, StopReason.SEEN_CLOSED, StopReason.SETTLED
_TRANSFERRED = StopReason.TRANSFERRED

_ANSWERED = frozenset({"DIPROSES", "SELESAI", "DITUTUP"})
_CLOSED = frozenset({"SELESAI", "DITUTUP"})


class LocalFollowUp(NamedTuple):
    at: datetime  # tindak_lanjut.created_at: the local follow-up time
    status: str  # DIPROSES | SELESAI


class ClockFollowUp(NamedTuple):
    at: datetime
    author: str  # INSTANSI | PELAPOR | ADMIN
    status: str
    is_echo: bool = False


class ClockFacts(NamedTuple):
    """What the clocks of one report are computed from (a NamedTuple: 100,000 are
    built per full refresh, and a tuple is the cheapest immutable record)."""

    tracking_id: int
    created_at: datetime
    disposed_at: datetime | None
    status: str
    updated_at: datetime
    transferred: bool = False
    transferred_at: datetime | None = None
    complex: bool = False
    local: tuple[LocalFollowUp, ...] = ()
    upstream: tuple[ClockFollowUp, ...] = ()


class Clock(NamedTuple):
    tracking_id: int
    policy: str
    cycle: int
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    stopped_at: datetime | None
    stop_reason: StopReason | None

    @property
    def elapsed(self) -> timedelta | None:
        """Calendar time from start to stop, None while the clock runs."""
        return None if self.stopped_at is None else self.stopped_at - self.started_at


# --- deadlines -------------------------------------------------------------


def deadlines(
    start: datetime, duration: Duration, at_risk: float, calendar: WorkingCalendar
) -> tuple[datetime, datetime]:
    """(due_at, at_risk_at) of a clock starting at `start`."""
    hours = duration.hours
    if hours is not None:
        budgets = _budgets.get((hours, at_risk))
        if budgets is None:
            budget = timedelta(hours=hours)
            budgets = _budgets[(hours, at_risk)] = (budget, budget * at_risk)
        return start + budgets[0], start + budgets[1]
    assert duration.working_days is not None
    return calendar.working_deadlines(start, duration.working_days, at_risk)


# (hours, at-risk share) -> (budget, at-risk budget): a policy file has a few
_budgets: dict[tuple[float, float], tuple[timedelta, timedelta]] = {}


# --- events ----------------------------------------------------------------


def clock_start(facts: ClockFacts) -> datetime:
    return facts.disposed_at if facts.disposed_at is not None else facts.created_at


def _counted_upstream(upstream: tuple[ClockFollowUp, ...]) -> list[ClockFollowUp]:
    """Upstream follow-ups of the regency that are not echoes of local ones."""
    return [f for f in upstream if f.author == "INSTANSI" and not f.is_echo]


def first_followup_at(facts: ClockFacts) -> tuple[datetime, StopReason] | None:
    if facts.local or facts.upstream:
        times = [f.at for f in facts.local] + [f.at for f in _counted_upstream(facts.upstream)]
        if times:
            return min(times), _FOLLOWUP
    if facts.status in _ANSWERED:
        return facts.updated_at, _SEEN_CLOSED
    return None


def settlement_cycle(
    facts: ClockFacts, start: datetime
) -> tuple[int, datetime, datetime | None, StopReason | None]:
    """(cycle, cycle start, settled at, reason) of the current settlement cycle."""
    upstream = facts.upstream
    settlements = [f.at for f in facts.local if f.status == "SELESAI"]
    if upstream:
        settlements += [f.at for f in _counted_upstream(upstream) if f.status == "SELESAI"]
        replies = sorted([f.at for f in upstream if f.author == "PELAPOR"])
    else:
        replies = []
    settlements.sort()
    cycle, cycle_start = 1, start
    while True:
        # in the first cycle an event before the start counts as at the start
        pending = settlements if cycle == 1 else [s for s in settlements if s >= cycle_start]
        if not pending:
            break
        settled = max(pending[0], cycle_start)
        reply = next((r for r in replies if r > settled), None) if replies else None
        if reply is None:
            return cycle, cycle_start, settled, _SETTLED
        cycle, cycle_start = cycle + 1, reply
    # after a reopen, only a version updated after the reply shows a new settlement
    seen_after_start = cycle == 1 or facts.updated_at > cycle_start
    if facts.status in _CLOSED and seen_after_start:
        return cycle, cycle_start, max(facts.updated_at, cycle_start), _SEEN_CLOSED
    return cycle, cycle_start, None, None


# --- the clock -------------------------------------------------------------


def compute_clock(facts: ClockFacts, policy: Policy, calendar: WorkingCalendar) -> Clock:
    """The current clock of one report under one policy."""
    start = clock_start(facts)
    cycle = 1
    stop: tuple[datetime, StopReason] | None
    if policy.stop is _FIRST_FOLLOWUP:
        stop = first_followup_at(facts)
    else:
        cycle, start, settled, reason = settlement_cycle(facts, start)
        stop = (settled, reason) if settled is not None and reason is not None else None
    if stop is not None:
        stopped_at, stop_reason = stop
        if stopped_at < start:
            stopped_at = start
    else:
        stopped_at = stop_reason = None
    if facts.transferred:
        moved = max(facts.transferred_at or facts.updated_at, start)
        if stopped_at is None or moved < stopped_at:
            stopped_at, stop_reason = moved, _TRANSFERRED
    duration = policy.duration_for(complex_case=facts.complex)
    due_at, at_risk_at = deadlines(start, duration, policy.at_risk, calendar)
    # tuple.__new__: a NamedTuple's own __new__ is a Python function (a fifth of a
    # microsecond); the fields in their order
    return _new(
        Clock,
        (facts.tracking_id, policy.name, cycle, start, due_at, at_risk_at, stopped_at, stop_reason),
    )


_new = tuple.__new__


def clock_state(
    *,
    now: datetime,
    due_at: datetime,
    at_risk_at: datetime,
    stopped_at: datetime | None,
    stop_reason: str | None,
) -> ClockState:
    """The state of a clock at `now` (the same rule as views.state_expression, in SQL)."""
    if stop_reason == StopReason.TRANSFERRED:
        return ClockState.STOPPED
    if stopped_at is not None:
        return ClockState.MET if stopped_at <= due_at else ClockState.MET_LATE
    if now >= due_at:
        return ClockState.BREACHED
    if now >= at_risk_at:
        return ClockState.AT_RISK
    return ClockState.ON_TRACK


def state_of(clock: Clock, now: datetime) -> ClockState:
    return clock_state(
        now=now,
        due_at=clock.due_at,
        at_risk_at=clock.at_risk_at,
        stopped_at=clock.stopped_at,
        stop_reason=clock.stop_reason,
    )
