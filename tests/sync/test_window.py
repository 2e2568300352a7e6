"""The pure checkpoint/window logic."""

from datetime import UTC, datetime, timedelta

import pytest

from lapor_bridge.errors import UpstreamError
from lapor_bridge.sync.window import (
    CursorGuard,
    Window,
    advance_high_water,
    incremental_window,
    position_after_page,
    split_windows,
)

T = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
SINCE = datetime(2012, 1, 1, tzinfo=UTC)


def test_first_window_starts_at_initial_since_and_ends_at_run_start_floored():
    w = incremental_window(
        None,
        run_start=T + timedelta(microseconds=900_000),
        lookback=timedelta(seconds=300),
        initial_since=SINCE,
    )
    assert w == Window(SINCE, T)


def test_next_window_starts_lookback_before_the_checkpoint():
    w = incremental_window(
        T, run_start=T + timedelta(minutes=5), lookback=timedelta(seconds=300), initial_since=SINCE
    )
    assert w.start == T - timedelta(seconds=300)
    assert w.end == T + timedelta(minutes=5)


def test_window_never_starts_after_it_ends():
    w = incremental_window(
        T, run_start=T - timedelta(hours=1), lookback=timedelta(0), initial_since=SINCE
    )
    assert w.start == w.end == T - timedelta(hours=1)


def test_position_is_last_updated_at_and_never_moves_back():
    assert position_after_page(T, T + timedelta(seconds=3)) == T + timedelta(seconds=3)
    assert position_after_page(T, T - timedelta(seconds=3)) == T
    assert position_after_page(T, None) == T


def test_high_water_never_moves_back():
    assert advance_high_water(None, T) == T
    assert advance_high_water(T, T - timedelta(seconds=1)) == T
    assert advance_high_water(T, T + timedelta(seconds=1)) == T + timedelta(seconds=1)


def test_split_windows_covers_the_range_exactly():
    windows = split_windows(T, T + timedelta(hours=25), timedelta(hours=10))
    assert [(w.start, w.end) for w in windows] == [
        (T, T + timedelta(hours=10)),
        (T + timedelta(hours=10), T + timedelta(hours=20)),
        (T + timedelta(hours=20), T + timedelta(hours=25)),
    ]
    assert split_windows(T, T, timedelta(hours=1)) == []
    with pytest.raises(ValueError):
        split_windows(T, T + timedelta(hours=1), timedelta(0))


def test_cursor_guard_stops_a_repeated_cursor():
    guard = CursorGuard()
    guard.check("a")
    guard.check("b")
    guard.check(None)
    with pytest.raises(UpstreamError, match="already returned"):
        guard.check("a")


def test_naive_window_bounds_are_refused():
    with pytest.raises(ValueError):
        Window(datetime(2026, 1, 1), T)
