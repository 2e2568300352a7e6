"""The working-day calendar of the regency: weekends, Indonesian holidays, local days off.

National holidays come from the `holidays` library (`holidays.Indonesia`):
its `public` category holds the public holidays (libur nasional) and its
`government` category holds the collective leave days of civil servants
(cuti bersama, "Cuti Bersama Hari Raya Idul Fitri" and the like), set by
decree year by year. holidays 0.109 has cuti bersama for 2002-2027 and none
for later years (they appear when the library learns the decree: upgrade it
each year). Lunar holidays of years without a decree are the library's own
computation.

The working-day rule (one documented decision):
    A clock of N working days that starts at time t is due at the end (24:00
    in the regency's zone) of the N-th working day after the local date of t.
    The day the clock starts never counts, whether or not it is a working
    day, so a report disposed on a Saturday and one disposed on the Friday
    before are due on the same day.
    Working time is counted in whole working days of 24 h (00:00-24:00 local);
    days off do not count. The clock's share of time used is working time
    elapsed since the start of the first counted day divided by N, so with an
    at-risk share of 0.75 a 5-working-day clock turns AT_RISK at 18:00 of its
    4th working day (3.75 days used).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from holidays import HolidayBase

DAY = timedelta(days=1)
_WEEKEND = (5, 6)  # Saturday, Sunday


class WorkingCalendar:
    """Which local dates are working days, and arithmetic in working days.

    Pure: no I/O, no clock. Every datetime in and out is aware; results are UTC.
    """

    def __init__(
        self,
        *,
        zone: ZoneInfo,
        cuti_bersama: bool = True,
        extra_days_off: Mapping[dt.date, str] | None = None,
    ) -> None:
        self.zone = zone
        self.cuti_bersama = cuti_bersama
        self.extra_days_off = dict(extra_days_off or {})
        self._working = lru_cache(maxsize=65536)(self._is_working_day)
        self._nth = lru_cache(maxsize=65536)(self._nth_working_day_after)
        self._used_up = lru_cache(maxsize=65536)(self._used_up_uncached)
        # (local start date, n, at-risk share) -> (due, at risk): see working_deadlines
        self._deadlines: dict[tuple[dt.date, int, float], tuple[datetime, datetime]] = {}

    @cached_property
    def _holidays(self) -> HolidayBase:
        """Indonesia's holidays, built at the first date looked up (the library and
        its year tables cost a tenth of a second; a run that computes no clock
        never needs them)."""
        import holidays

        categories = ("public", "government") if self.cuti_bersama else ("public",)
        return holidays.country_holidays("ID", categories=categories, language="id")

    # --- days ----------------------------------------------------------------

    def day_off_reason(self, day: dt.date) -> str | None:
        """Why `day` is not a working day, or None when it is one."""
        if day in self.extra_days_off:
            return self.extra_days_off[day]
        name = self._holidays.get(day)
        if name is not None:
            return str(name)
        if day.weekday() in _WEEKEND:
            return "akhir pekan"
        return None

    def is_working_day(self, day: dt.date) -> bool:
        return self._working(day)

    def _is_working_day(self, day: dt.date) -> bool:
        return self.day_off_reason(day) is None

    def local_date(self, when: datetime) -> dt.date:
        return when.astimezone(self.zone).date()

    def start_of_day(self, day: dt.date) -> datetime:
        """00:00 local of `day`, as UTC."""
        return datetime.combine(day, dt.time(0), tzinfo=self.zone).astimezone(UTC)

    def nth_working_day_after(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after `day` (n >= 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        return self._nth(day, n)

    def _nth_working_day_after(self, day: dt.date, n: int) -> dt.date:
        found = 0
        while found < n:
            day += DAY
            if self._working(day):
                found += 1
        return day

    # --- instants ------------------------------------------------------------

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The end (24:00 local) of the n-th working day after the local date of `start`."""
        if n < 1:
            raise ValueError("n must be at least 1")
        return self._used_up(self.local_date(start), float(n))

    def add_working_time(self, start: datetime, days: float) -> datetime:
        """The instant at which `days` working days (24 h each) are used, counting from
        the first working day after the local date of `start`."""
        if days <= 0:
            raise ValueError("days must be positive")
        return self._used_up(self.local_date(start), days)

    def working_deadlines(
        self, start: datetime, n: int, at_risk: float
    ) -> tuple[datetime, datetime]:
        """(add_working_days(start, n), add_working_time(start, n * at_risk)) in one
        step. Both depend only on the local date of `start` (and the calendar), so
        they are memoised by that date: one zone conversion and one lookup a clock."""
        key = (start.astimezone(self.zone).date(), n, at_risk)
        found = self._deadlines.get(key)
        if found is None:
            if n < 1:
                raise ValueError("n must be at least 1")
            found = (self._used_up(key[0], float(n)), self._used_up(key[0], n * at_risk))
            if len(self._deadlines) < 65536:  # a century of start dates per policy
                self._deadlines[key] = found
        return found

    def _used_up_uncached(self, start_day: dt.date, days: float) -> datetime:
        whole = int(days)
        part = days - whole
        if part == 0:
            return self.start_of_day(self.nth_working_day_after(start_day, whole) + DAY)
        day = self.nth_working_day_after(start_day, whole + 1)
        # a 24-hour share of a local day, exact for zones without DST (WIB, WITA, WIT)
        return self.start_of_day(day) + timedelta(days=part)

    def working_time_between(self, start: datetime, end: datetime) -> float:
        """Working days used from `start` to `end` under the rule above (0 before the
        first counted day; whole days off add nothing)."""
        first = self.nth_working_day_after(self.local_date(start), 1)
        begin = self.start_of_day(first)
        if end <= begin:
            return 0.0
        end_day = self.local_date(end)
        used = 0.0
        day = first
        while day < end_day:
            if self._working(day):
                used += 1.0
            day += DAY
        if self._working(end_day):
            used += (end - self.start_of_day(end_day)) / DAY
        return used
