"""The shortcuts of the clock rules (memoised deadlines, the no-follow-up path,
tuple-built clocks) against the rules written plainly, over many random cases:
any wrong memo or shortcut gives a different clock here."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pytest

from lapor_bridge.sla.calendar import WorkingCalendar
from lapor_bridge.sla.clock import (
    Clock,
    ClockFacts,
    ClockFollowUp,
    LocalFollowUp,
    StopReason,
    compute_clock,
    deadlines,
)
from lapor_bridge.sla.policy import Duration, Policy, SlaPolicies, StopEvent, parse_policies
from lapor_bridge.timeutil import WIB

# --- the rules as written before the shortcuts (the reference) -------------------


def _plain_deadlines(
    start: datetime, duration: Duration, at_risk: float, calendar: WorkingCalendar
) -> tuple[datetime, datetime]:
    if duration.hours is not None:
        budget = timedelta(hours=duration.hours)
        return start + budget, start + budget * at_risk
    assert duration.working_days is not None
    days = duration.working_days
    return calendar.add_working_days(start, days), calendar.add_working_time(start, days * at_risk)


def _counted(facts: ClockFacts) -> Iterable[ClockFollowUp]:
    return (f for f in facts.upstream if f.author == "INSTANSI" and not f.is_echo)


def _plain_first(facts: ClockFacts) -> tuple[datetime, StopReason] | None:
    times = [f.at for f in facts.local] + [f.at for f in _counted(facts)]
    if times:
        return min(times), StopReason.FOLLOWUP
    if facts.status in {"DIPROSES", "SELESAI", "DITUTUP"}:
        return facts.updated_at, StopReason.SEEN_CLOSED
    return None


def _plain_settlement(
    facts: ClockFacts, start: datetime
) -> tuple[int, datetime, datetime | None, StopReason | None]:
    settlements = sorted(
        [f.at for f in facts.local if f.status == "SELESAI"]
        + [f.at for f in _counted(facts) if f.status == "SELESAI"]
    )
    replies = sorted(f.at for f in facts.upstream if f.author == "PELAPOR")
    cycle, cycle_start = 1, start
    while True:
        pending = settlements if cycle == 1 else [s for s in settlements if s >= cycle_start]
        if not pending:
            break
        settled = max(pending[0], cycle_start)
        reply = next((r for r in replies if r > settled), None)
        if reply is None:
            return cycle, cycle_start, settled, StopReason.SETTLED
        cycle, cycle_start = cycle + 1, reply
    seen_after_start = cycle == 1 or facts.updated_at > cycle_start
    if facts.status in {"SELESAI", "DITUTUP"} and seen_after_start:
        return cycle, cycle_start, max(facts.updated_at, cycle_start), StopReason.SEEN_CLOSED
    return cycle, cycle_start, None, None


def _plain_clock(facts: ClockFacts, policy: Policy, calendar: WorkingCalendar) -> Clock:
    start = facts.disposed_at if facts.disposed_at is not None else facts.created_at
    cycle = 1
    if policy.stop is StopEvent.FIRST_FOLLOWUP:
        stop = _plain_first(facts)
    else:
        cycle, start, settled, reason = _plain_settlement(facts, start)
        stop = (settled, reason) if settled is not None and reason is not None else None
    if stop is not None:
        stop = (max(stop[0], start), stop[1])
    if facts.transferred:
        moved = max(facts.transferred_at or facts.updated_at, start)
        if stop is None or moved < stop[0]:
            stop = (moved, StopReason.TRANSFERRED)
    duration = policy.duration_for(complex_case=facts.complex)
    due_at, at_risk_at = _plain_deadlines(start, duration, policy.at_risk, calendar)
    return Clock(
        tracking_id=facts.tracking_id,
        policy=policy.name,
        cycle=cycle,
        started_at=start,
        due_at=due_at,
        at_risk_at=at_risk_at,
        stopped_at=stop[0] if stop else None,
        stop_reason=stop[1] if stop else None,
    )


# --- random cases -------------------------------------------------------------------

POLICIES = parse_policies(
    "zone: Asia/Jakarta\n"
    "days_off: [{date: 2026-01-02, reason: Keputusan Bupati}]\n"
    "policies:\n"
    "  b24: {stop: settlement, duration: {hours: 24}, complex_duration: {hours: 48}}\n"
    "  b36: {stop: first_followup, duration: {hours: 36.5}, at_risk: 0.6}\n"
    "  hk5: {stop: first_followup, duration: {working_days: 5}}\n"
    "  hk3: {stop: settlement, duration: {working_days: 3},"
    " complex_duration: {working_days: 10}, at_risk: 0.5}\n"
)

# around the turns of the year, Idul Fitri (cuti bersama), Christmas and a local day off
_AROUND = [date(y, 12, 20) for y in range(2023, 2028)] + [
    date(2024, 4, 5), date(2025, 3, 27), date(2026, 3, 16), date(2026, 1, 1),
]  # fmt: skip


def _instant(rnd: random.Random) -> datetime:
    """A random UTC instant, half of them within a few weeks of a holiday season,
    often right at a local midnight (where the local date turns)."""
    if rnd.random() < 0.5:
        day = rnd.choice(_AROUND) + timedelta(days=rnd.randrange(-3, 25))
    else:
        day = date(2023, 1, 1) + timedelta(days=rnd.randrange(5 * 366))
    local = datetime(day.year, day.month, day.day, tzinfo=WIB)
    if rnd.random() < 0.2:
        local += rnd.choice(
            [timedelta(0), timedelta(microseconds=-1), timedelta(days=1, microseconds=-1)]
        )
    else:
        local += timedelta(seconds=rnd.randrange(86400), microseconds=rnd.randrange(10**6))
    return local.astimezone(UTC)


def _facts(rnd: random.Random, tracking_id: int) -> ClockFacts:
    created = _instant(rnd)
    disposed = None if rnd.random() < 0.2 else created + timedelta(hours=rnd.randrange(0, 200))

    def later() -> datetime:
        return created + timedelta(minutes=rnd.randrange(-600, 20_000))

    local = tuple(
        LocalFollowUp(later(), rnd.choice(["DIPROSES", "SELESAI"]))
        for _ in range(rnd.choice([0, 0, 0, 1, 2, 3]))
    )
    upstream = tuple(
        ClockFollowUp(
            later(),
            rnd.choice(["INSTANSI", "PELAPOR", "ADMIN"]),
            rnd.choice(["DIPROSES", "SELESAI"]),
            rnd.random() < 0.2,
        )
        for _ in range(rnd.choice([0, 0, 0, 1, 2, 4]))
    )
    transferred = rnd.random() < 0.15
    return ClockFacts(
        tracking_id,
        created,
        disposed,
        rnd.choice(["DISPOSISI", "DIPROSES", "SELESAI", "DITUTUP", "DIALIHKAN"]),
        later(),
        transferred,
        later() if transferred and rnd.random() < 0.7 else None,
        rnd.random() < 0.3,
        local,
        upstream,
    )


@pytest.mark.parametrize("seed", range(4))
def test_clocks_equal_the_plain_rules(seed: int) -> None:
    rnd = random.Random(seed)
    policies = list(POLICIES.policies.values())
    for i in range(5000):
        facts = _facts(rnd, i)
        for policy in policies:
            fast = compute_clock(facts, policy, POLICIES.calendar)
            assert fast == _plain_clock(facts, policy, _fresh()), (facts, policy.name)
            assert type(fast) is Clock and fast.policy == policy.name


_calendars: list[WorkingCalendar] = []


def _fresh() -> WorkingCalendar:
    """A calendar of the same file with no memo shared with POLICIES.calendar."""
    if not _calendars:
        _calendars.append(SlaPolicies.model_validate(POLICIES.model_dump()).calendar)
    return _calendars[0]


@pytest.mark.parametrize("cuti_bersama", [True, False])
def test_memoised_deadlines_equal_the_uncached_computation(cuti_bersama: bool) -> None:
    """working_deadlines against the day-by-day walk, uncached: many random starts
    (holidays, year turns, local midnights), each looked up twice (the memo's hit)."""
    cached = WorkingCalendar(zone=WIB, cuti_bersama=cuti_bersama)
    plain = WorkingCalendar(zone=WIB, cuti_bersama=cuti_bersama)
    rnd = random.Random(7)

    def walk(start: datetime, days: float) -> datetime:  # no lru, no memo
        day = start.astimezone(WIB).date()
        whole = int(days)
        found = 0
        while found < whole + (days > whole):
            day += timedelta(days=1)
            if plain.day_off_reason(day) is None:
                found += 1
        if days == whole:
            return plain.start_of_day(day + timedelta(days=1))
        return plain.start_of_day(day) + timedelta(days=days - whole)

    starts = [_instant(rnd) for _ in range(3000)]
    for start in starts + starts[::-1]:
        for n, share in ((5, 0.75), (1, 0.5), (3, 0.9), (10, 0.75)):
            due, at_risk = cached.working_deadlines(start, n, share)
            assert due == walk(start, n) == cached.add_working_days(start, n)
            assert at_risk == walk(start, n * share) == cached.add_working_time(start, n * share)
            duration = Duration(working_days=n)
            assert deadlines(start, duration, share, cached) == (due, at_risk)


def test_hour_budgets_equal_timedelta_arithmetic() -> None:
    rnd = random.Random(3)
    calendar = POLICIES.calendar
    for _ in range(2000):
        start = _instant(rnd)
        hours = rnd.choice([1, 24, 48, 36.5, 0.1])
        share = rnd.choice([0.75, 0.6, 0.33])
        budget = timedelta(hours=hours)
        got = deadlines(start, Duration(hours=hours), share, calendar)
        assert got == (start + budget, start + budget * share)


def test_working_deadlines_refuse_a_count_below_one() -> None:
    calendar = WorkingCalendar(zone=WIB)
    with pytest.raises(ValueError, match="at least 1"):
        calendar.working_deadlines(datetime(2026, 3, 2, tzinfo=UTC), 0, 0.75)
