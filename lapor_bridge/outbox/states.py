"""The outbox state machine as pure functions: no I/O, no clock, no randomness
of its own (the caller passes `now` and a `random.Random`).

    pending --claim--> sending --Delivered--> sent
                          |----Transient----> failed (attempts+1, backoff) --claim--> sending
                          |                   \\-> dead when attempts reach max_attempts
                          |----RateLimit----> failed (attempts kept, next = now + Retry-After)
                          |----Final--------> dead (409/422/...: the server's reason kept)
                          \\----Release------> back to pending/failed untouched (401)
    sending with an expired lease --claim--> sending, uncertain
    dead --admin retry--> pending (attempts 0)      pending|failed|dead --admin cancel--> cancelled

`uncertain` means an earlier attempt may have reached LAPOR!: the next attempt
first lists the report's follow-ups and looks for the item's external_ref.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class OutboxState(StrEnum):
    PENDING = "pending"  # written, never tried (or requeued by an admin)
    SENDING = "sending"  # claimed by a worker holding a lease
    SENT = "sent"  # LAPOR! has it (upstream_id recorded)
    FAILED = "failed"  # a transient failure; tried again at next_attempt_at
    DEAD = "dead"  # a final refusal or too many attempts; an admin must act
    CANCELLED = "cancelled"  # withdrawn by an admin; never sent, no longer blocks


# An item of a report waits until every earlier item of that report is in one of these.
SETTLED = (OutboxState.SENT, OutboxState.CANCELLED)
# States a worker may claim (when due); an expired `sending` lease is claimable too.
CLAIMABLE = (OutboxState.PENDING, OutboxState.FAILED)


def add_note(note: str | None, now: datetime, text: str) -> str:
    """Append one dated line to an item's note (admin actions, reconciliations)."""
    line = f"{now.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%SZ')} {text}"
    return f"{note}\n{line}" if note else line


# --- what an attempt ended with --------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """LAPOR! has the follow-up: the POST answered, or the list showed our external_ref."""

    upstream_id: int | None
    found_by_listing: bool = False


@dataclass(frozen=True)
class Transient:
    """5xx, dropped connection, timeout: try again later (backoff or Retry-After)."""

    error: str
    maybe_sent: bool
    retry_after: float | None = None


@dataclass(frozen=True)
class RateLimit:
    """429 whose Retry-After is longer than the run may wait: surely not applied."""

    error: str
    retry_after: float


@dataclass(frozen=True)
class Final:
    """A refusal that no retry can fix (409 closed/transferred, 422 invalid, 403, 404),
    or a stored follow-up the contract cannot carry (status None: never sent)."""

    error: str
    status: int | None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    """The run must stop before anything was applied (401): put the item back as it was."""

    error: str


Outcome = Delivered | Transient | RateLimit | Final | Release


# --- the transition ---------------------------------------------------------


@dataclass(frozen=True)
class PushRetryPolicy:
    """Across-run retries of one item (the client's own in-request retries are apart)."""

    max_attempts: int = 12
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not (0 <= self.backoff_base_s <= self.backoff_max_s):
            raise ValueError("need 0 <= backoff_base_s <= backoff_max_s")


@dataclass(frozen=True)
class Attempt:
    """What the worker knew about the item when its attempt ended."""

    state_before: OutboxState  # the state it was claimed from (pending, failed, sending)
    attempts: int  # attempts before this one
    uncertain: bool  # an earlier attempt may have reached the server
    checked_absent: bool = False  # this attempt listed the follow-ups: ours was not there


@dataclass(frozen=True)
class Transition:
    """The new values of the item's delivery columns, and whether the run stops."""

    state: OutboxState
    attempts: int
    uncertain: bool
    next_attempt_at: datetime | None
    last_error: str | None
    upstream_id: int | None = None
    sent_at: datetime | None = None
    last_status: int | None = None
    errors: tuple[str, ...] | None = None
    stop_run: bool = False
    note: str | None = None  # a line for the item's note (dated when written)


def backoff_s(attempts: int, policy: PushRetryPolicy, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter" after `attempts` failed attempts (>= 1).

    The ceiling doubles from backoff_base_s up to backoff_max_s; the delay is
    drawn from [ceiling/2, ceiling], so retries spread out but never come back
    at once.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    exponent = min(attempts - 1, 60)  # 2**60 is past any cap; avoids huge floats
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2.0**exponent)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def next_state(
    attempt: Attempt,
    outcome: Outcome,
    *,
    now: datetime,
    policy: PushRetryPolicy,
    rng: random.Random,
) -> Transition:
    """The item's next state after one attempt ended with `outcome`."""
    if isinstance(outcome, Delivered):
        return Transition(
            state=OutboxState.SENT,
            attempts=attempt.attempts + 1,
            uncertain=False,
            next_attempt_at=None,
            last_error=None,
            upstream_id=outcome.upstream_id,
            sent_at=now,
            note=(
                f"found on LAPOR! (id {outcome.upstream_id}) after an uncertain attempt: "
                "recorded as sent, not posted again"
                if outcome.found_by_listing
                else None
            ),
        )
    if isinstance(outcome, Release):
        back = (
            OutboxState.PENDING
            if attempt.state_before == OutboxState.PENDING
            else OutboxState.FAILED
        )
        return Transition(
            state=back,
            attempts=attempt.attempts,
            uncertain=attempt.uncertain,
            next_attempt_at=None,
            last_error=outcome.error,
            stop_run=True,
        )
    if isinstance(outcome, RateLimit):
        return Transition(
            state=OutboxState.FAILED,
            attempts=attempt.attempts,  # not the item's fault: not counted
            uncertain=attempt.uncertain,
            next_attempt_at=now + timedelta(seconds=outcome.retry_after),
            last_error=outcome.error,
            stop_run=True,
        )
    if isinstance(outcome, Final):
        return Transition(
            state=OutboxState.DEAD,
            attempts=attempt.attempts + 1,
            uncertain=attempt.uncertain,
            next_attempt_at=None,
            last_error=outcome.error,
            last_status=outcome.status,
            errors=outcome.errors,
        )
    return _after_transient(attempt, outcome, now=now, policy=policy, rng=rng)


def _after_transient(
    attempt: Attempt,
    outcome: Transient,
    *,
    now: datetime,
    policy: PushRetryPolicy,
    rng: random.Random,
) -> Transition:
    attempts = attempt.attempts + 1
    # Listing just now showed it absent, so only this attempt's POST can have landed.
    uncertain = outcome.maybe_sent or (attempt.uncertain and not attempt.checked_absent)
    if attempts >= policy.max_attempts:
        return Transition(
            state=OutboxState.DEAD,
            attempts=attempts,
            uncertain=uncertain,
            next_attempt_at=None,
            last_error=f"gave up after {attempts} attempts; last: {outcome.error}",
        )
    if outcome.retry_after is not None:
        return Transition(
            state=OutboxState.FAILED,
            attempts=attempts,
            uncertain=uncertain,
            next_attempt_at=now + timedelta(seconds=outcome.retry_after),
            last_error=outcome.error,
            stop_run=True,
        )
    delay = backoff_s(attempts, policy, rng)
    return Transition(
        state=OutboxState.FAILED,
        attempts=attempts,
        uncertain=uncertain,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=outcome.error,
    )
