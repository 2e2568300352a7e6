"""The pure state machine and backoff: every outcome from every starting point."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from lapor_bridge.outbox.states import (
    Attempt,
    Delivered,
    Final,
    OutboxState,
    PushRetryPolicy,
    RateLimit,
    Release,
    Transient,
    add_note,
    backoff_s,
    next_state,
)

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
POLICY = PushRetryPolicy(max_attempts=5, backoff_base_s=10, backoff_max_s=100)


def step(attempt: Attempt, outcome, *, seed: int = 1):
    return next_state(attempt, outcome, now=NOW, policy=POLICY, rng=random.Random(seed))


def test_delivered_is_sent_with_the_upstream_id_and_clears_doubt():
    t = step(Attempt(OutboxState.FAILED, 2, uncertain=True), Delivered(77, found_by_listing=True))
    assert (t.state, t.upstream_id, t.sent_at, t.uncertain) == (OutboxState.SENT, 77, NOW, False)
    assert t.attempts == 3 and t.next_attempt_at is None and t.last_error is None
    assert not t.stop_run


def test_transient_failure_backs_off_and_counts_the_attempt():
    t = step(
        Attempt(OutboxState.PENDING, 0, uncertain=False), Transient("HTTP 502", maybe_sent=False)
    )
    assert t.state == OutboxState.FAILED and t.attempts == 1 and t.last_error == "HTTP 502"
    assert NOW + timedelta(seconds=5) <= t.next_attempt_at <= NOW + timedelta(seconds=10)
    assert not t.uncertain and not t.stop_run


def test_maybe_sent_makes_the_item_uncertain():
    t = step(
        Attempt(OutboxState.PENDING, 0, uncertain=False), Transient("read timeout", maybe_sent=True)
    )
    assert t.uncertain


def test_doubt_survives_a_failure_that_did_not_check():
    # e.g. the listing itself failed: the earlier POST may still be on LAPOR!
    t = step(
        Attempt(OutboxState.FAILED, 1, uncertain=True), Transient("HTTP 500", maybe_sent=False)
    )
    assert t.uncertain


def test_doubt_is_cleared_when_the_listing_showed_it_absent_and_the_post_never_left():
    attempt = Attempt(OutboxState.FAILED, 1, uncertain=True, checked_absent=True)
    t = step(attempt, Transient("connection refused", maybe_sent=False))
    assert not t.uncertain
    t = step(attempt, Transient("read timeout", maybe_sent=True))
    assert t.uncertain


def test_reaching_max_attempts_is_dead_with_the_last_error_and_keeps_doubt():
    t = step(
        Attempt(OutboxState.FAILED, 4, uncertain=True), Transient("HTTP 504", maybe_sent=False)
    )
    assert t.state == OutboxState.DEAD and t.attempts == 5
    assert t.last_error == "gave up after 5 attempts; last: HTTP 504"
    assert t.uncertain  # a retry by the admin reconciles first
    assert t.next_attempt_at is None


def test_retry_after_on_a_5xx_sets_the_next_attempt_and_stops_the_run():
    t = step(
        Attempt(OutboxState.PENDING, 0, False), Transient("503", maybe_sent=True, retry_after=90)
    )
    assert t.state == OutboxState.FAILED and t.next_attempt_at == NOW + timedelta(seconds=90)
    assert t.stop_run and t.attempts == 1 and t.uncertain


def test_rate_limit_is_not_counted_and_stops_the_run():
    t = step(Attempt(OutboxState.FAILED, 3, uncertain=False), RateLimit("429", retry_after=600))
    assert t.state == OutboxState.FAILED and t.attempts == 3
    assert t.next_attempt_at == NOW + timedelta(seconds=600) and t.stop_run


def test_final_refusal_is_dead_with_status_and_errors():
    t = step(Attempt(OutboxState.PENDING, 0, False), Final("closed", 409, ("report DITUTUP",)))
    assert (t.state, t.last_status, t.errors, t.last_error) == (
        OutboxState.DEAD,
        409,
        ("report DITUTUP",),
        "closed",
    )
    assert not t.stop_run


@pytest.mark.parametrize(
    ("before", "back"),
    [
        (OutboxState.PENDING, OutboxState.PENDING),
        (OutboxState.FAILED, OutboxState.FAILED),
        (OutboxState.SENDING, OutboxState.FAILED),
    ],
)
def test_unauthorized_puts_the_item_back_untouched_and_stops(before, back):
    t = step(Attempt(before, 2, uncertain=True), Release("401"))
    assert t.state == back and t.attempts == 2 and t.uncertain and t.stop_run


def test_backoff_grows_exponentially_within_jitter_bounds_and_is_capped():
    rng = random.Random(7)
    for attempts in range(1, 12):
        ceiling = min(100, 10 * 2 ** (attempts - 1))
        for _ in range(50):
            assert ceiling / 2 <= backoff_s(attempts, POLICY, rng) <= ceiling


def test_backoff_is_jittered():
    rng = random.Random(3)
    assert len({round(backoff_s(4, POLICY, rng), 6) for _ in range(20)}) == 20


def test_backoff_of_huge_attempt_counts_stays_at_the_cap():
    assert 50 <= backoff_s(10_000, POLICY, random.Random(1)) <= 100
    with pytest.raises(ValueError):
        backoff_s(0, POLICY, random.Random(1))


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        PushRetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        PushRetryPolicy(backoff_base_s=10, backoff_max_s=5)


def test_notes_append_dated_lines():
    note = add_note(None, NOW, "retried")
    assert note == "2026-03-02 03:00:00Z retried"
    assert add_note(note, NOW + timedelta(hours=1), "cancelled").splitlines() == [
        "2026-03-02 03:00:00Z retried",
        "2026-03-02 04:00:00Z cancelled",
    ]
