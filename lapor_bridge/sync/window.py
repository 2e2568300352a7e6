"""Pure logic of incremental windows and checkpoints (no I/O).

A pull stream keeps a high-water mark H: every change with `updated_at < H`
that was visible when it was read is stored. Because a change may become
visible up to the contract's 120 s after its `updated_at`, the next window
starts `lookback` before H, and writes are idempotent by
`(tracking_id, version)`, so re-reading costs nothing but requests.

Within a window the listing is ordered by `(updated_at, tracking_id)`, and
several reports can share one second across a page boundary, so after a page
whose last record has `updated_at = U` only `updated_at < U` is known
complete: U itself is the durable position (read again `>= U` on restart).

Whose clock: `updated_at` is the upstream's clock, so the window end is the
upstream's "now" (its `Date` header), not the host's. The host's clock only
bounds it (a `Date` more than `MAX_UPSTREAM_AHEAD` ahead of the host is not
believed). No position is ever stored beyond the window end, whatever the
records say, and a stored checkpoint found ahead of the upstream's "now" (a
host clock that stepped, an older bridge) is detected and repaired by
re-reading from a safe point: the newest `updated_at` actually stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lapor_bridge.errors import ContractViolation, UpstreamError


@dataclass(frozen=True)
class Window:
    """The half-open range `[start, end)` of `updated_at` one listing covers."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be aware datetimes")


def floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


# A `Date` header further ahead of the host than this is not believed: the window
# then ends here instead (still never beyond the upstream's clock).
MAX_UPSTREAM_AHEAD = timedelta(hours=1)


def window_end(host_now: datetime, upstream_now: datetime | None) -> datetime:
    """Where a window may end: the upstream's "now" (its clock stamps `updated_at`),
    floored to the second, and never more than MAX_UPSTREAM_AHEAD past the host's.
    Without an upstream clock, the host's. Never beyond the upstream's clock."""
    if upstream_now is None:
        return floor_second(host_now)
    return floor_second(min(upstream_now, host_now + MAX_UPSTREAM_AHEAD))


def checkpoint_ahead(high_water: datetime | None, end: datetime) -> bool:
    """A stored position beyond where a window may end now: it was written under
    a wrong clock and cannot be trusted."""
    return high_water is not None and high_water > end


def safe_restart_point(
    newest_stored: datetime | None, end: datetime, initial_since: datetime
) -> datetime:
    """Where to re-read from after a checkpoint ahead of now: everything with
    `updated_at` below the newest stored one was read (the listing is ordered),
    so that is safe; with nothing stored, the very beginning."""
    if newest_stored is None:
        return initial_since
    return min(newest_stored, end)


def incremental_window(
    high_water: datetime | None,
    *,
    run_start: datetime,
    lookback: timedelta,
    initial_since: datetime,
    upstream_now: datetime | None = None,
) -> Window:
    """The next incremental window: from the checkpoint minus the look-back, up to
    the upstream's "now" (never "the newest value seen": a signpost)."""
    end = window_end(run_start, upstream_now)
    start = initial_since if high_water is None else high_water - lookback
    return Window(start=min(start, end), end=end)


def position_after_page(
    current: datetime, page_last_updated_at: datetime | None, end: datetime | None = None
) -> datetime:
    """The durable position inside a window after a stored page: the last
    record's `updated_at` (ties may continue on the next page), never moving
    backwards, and never beyond the window's end (a record out of order, or
    stamped by a clock ahead, is stored but does not move the position)."""
    position = current if page_last_updated_at is None else max(current, page_last_updated_at)
    return position if end is None else min(position, max(current, end))


def advance_high_water(
    old: datetime | None, new: datetime, end: datetime | None = None
) -> datetime:
    """A checkpoint never moves backwards, nor beyond the window's end."""
    if end is not None:
        new = min(new, end)
    return new if old is None else max(old, new)


def split_windows(start: datetime, end: datetime, size: timedelta) -> list[Window]:
    """`[start, end)` cut into consecutive windows of at most `size`."""
    if size <= timedelta(0):
        raise ValueError("window size must be positive")
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + size, end)
        windows.append(Window(cursor, nxt))
        cursor = nxt
    return windows


# A listing may go on without its position moving only while the pages hold
# reports sharing one second; this many reports in one second is not a listing
# but a server looping with fresh cursors.
MAX_RECORDS_WITHOUT_PROGRESS = 20_000
MIN_PAGES_WITHOUT_PROGRESS = 20


class CursorGuard:
    """Stops a listing whose server repeats a cursor, or hands out new cursors
    without the position moving (either would go on forever)."""

    def __init__(self, limit: int = 500) -> None:
        self._seen: set[str] = set()
        self._max_stalled = max(MIN_PAGES_WITHOUT_PROGRESS, MAX_RECORDS_WITHOUT_PROGRESS // limit)
        self._stalled = 0
        self._position: datetime | None = None

    def check(self, cursor: str | None, position: datetime | None = None) -> None:
        if cursor is None:
            return
        if cursor in self._seen:
            raise UpstreamError(
                "LAPOR! returned a next_cursor it had already returned in this listing; "
                "stopping instead of looping. Report it to the API operator; the next run retries."
            )
        self._seen.add(cursor)
        if position is None:
            return
        self._stalled = self._stalled + 1 if position == self._position else 0
        self._position = position
        if self._stalled >= self._max_stalled:
            raise ContractViolation(
                f"LAPOR! kept handing out new cursors for {self._stalled} pages without the "
                f"listing moving past {position.isoformat()}; stopping instead of following "
                "them forever. Report it to the API operator; the next run retries."
            )
