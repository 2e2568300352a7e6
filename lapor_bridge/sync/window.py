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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lapor_bridge.errors import UpstreamError


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


def incremental_window(
    high_water: datetime | None,
    *,
    run_start: datetime,
    lookback: timedelta,
    initial_since: datetime,
) -> Window:
    """The next incremental window: from the checkpoint minus the look-back,
    up to the run's start (never "the newest value seen": a signpost)."""
    end = floor_second(run_start)
    start = initial_since if high_water is None else high_water - lookback
    return Window(start=min(start, end), end=end)


def position_after_page(current: datetime, page_last_updated_at: datetime | None) -> datetime:
    """The durable position inside a window after a stored page: the last
    record's `updated_at` (ties may continue on the next page), never moving
    backwards."""
    if page_last_updated_at is None:
        return current
    return max(current, page_last_updated_at)


def advance_high_water(old: datetime | None, new: datetime) -> datetime:
    """A checkpoint never moves backwards."""
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


class CursorGuard:
    """Stops a listing whose server repeats a cursor (it would loop forever)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def check(self, cursor: str | None) -> None:
        if cursor is None:
            return
        if cursor in self._seen:
            raise UpstreamError(
                "LAPOR! returned a next_cursor it had already returned in this listing; "
                "stopping instead of looping. Report it to the API operator; the next run retries."
            )
        self._seen.add(cursor)
