"""Delivery: push due outbox items to LAPOR!, each exactly once, in order per report.

One item at a time: claim (committed) -> [list the report's follow-ups when
the item is uncertain] -> POST -> write the outcome (committed). What each
failure does is decided by `states.next_state`; this module only translates
the client's exceptions into outcomes and runs the loop.

Retry-After: the item's next attempt is set to it. A 5xx whose Retry-After
is short (<= `max_pause_s`, default LAPOR_BRIDGE_MAX_RETRY_AFTER_S, the same
limit the client sleeps for) holds back that item only, when it is a single
failure: the run goes on with the other items, and when nothing else is due
it waits for the item (when the deadline allows), so it still goes out in
this run. When the failure follows another one (failures in a row: LAPOR!
may really be down) the whole run pauses that long instead. A longer
Retry-After, or a 429 the client would not wait for (RateLimited), stops the
run: the rest waits for the next run instead of sleeping past the cron slot.
The run also stops after `max_consecutive_failures` transient failures in a
row (LAPOR! looks down) and at `deadline` (a `time.monotonic()` value). A 401
stops it with Unauthorized after putting the item back untouched.

A retry is an attempt like the first: an item that may have reached LAPOR!
is `uncertain`, and its next attempt lists the report's follow-ups before it
posts again (`_attempt`), however soon that attempt comes.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import Engine

from lapor_bridge.config import Settings
from lapor_bridge.errors import ConfigError, RateLimited, Rejected, Unauthorized, Unavailable
from lapor_bridge.job import start_job, stop_requested
from lapor_bridge.outbox.claim import (
    ClaimedItem,
    LeaseLost,
    claim_next,
    count_due,
    finish,
    renew_lease,
)
from lapor_bridge.outbox.states import (
    Attempt,
    Delivered,
    Final,
    OutboxState,
    Outcome,
    PushRetryPolicy,
    RateLimit,
    Release,
    Transient,
    Transition,
    next_state,
)
from lapor_bridge.runtime import Runtime
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import ReportRow
from lapor_bridge.timeutil import rfc3339, utcnow
from lapor_bridge.upstream.models import Attachment, FollowUpIn, FollowUpStatus

log = logging.getLogger("lapor_bridge.outbox")


class FollowUpClient(Protocol):
    """The two calls of lapor_bridge.upstream.client.LaporClient the push needs."""

    def list_followups(self, tracking_id: int) -> list[dict[str, Any]]: ...

    def post_followup(
        self,
        tracking_id: int,
        body: dict[str, Any],
        *,
        fence: Callable[[], None] | None = None,
    ) -> dict[str, Any]: ...


@dataclass
class PushSummary:
    worker: str
    claimed: int = 0
    sent: int = 0  # posted in this run
    found_upstream: int = 0  # an uncertain item LAPOR! already had: recorded, not re-posted
    failed: int = 0  # transient failure or rate limit: tried again later
    dead: int = 0  # dead-lettered in this run (final refusal or too many attempts)
    lost_lease: int = 0  # the item was taken over meanwhile (lease expired, or an echo)
    stopped: str | None = None  # why the run stopped before the queue was empty
    retry_at: datetime | None = None  # when LAPOR! asked us to come back (Retry-After)
    due_left: int = 0  # items still due when the run ended
    paused_s: float = 0.0  # time paused for short Retry-After answers (see the module doc)
    outcome: str = "ok"  # of the `push` job: ok | partial (lapor_bridge.job)

    @property
    def delivered(self) -> int:
        return self.sent + self.found_upstream

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["delivered"] = self.delivered
        data["retry_at"] = rfc3339(self.retry_at) if self.retry_at else None
        return data


def new_worker_id(name: str = "push") -> str:
    """A lease owner unique to this process and run: `name@host:pid:random`."""
    return f"{name}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def longest_call_s(client: Any) -> float | None:
    """The longest one client call can take (time budget of its retries plus one
    more attempt's timeouts), when the client tells (LaporClient does)."""
    timeout = getattr(client, "timeout", None)
    retry = getattr(client, "retry", None)
    if not isinstance(timeout, tuple) or retry is None:
        return None
    return float(getattr(retry, "max_elapsed_s", 0.0)) + float(sum(timeout))


def push_outbox(
    engine: Engine,
    client: FollowUpClient,
    *,
    settings: Settings | None = None,
    now_fn: Callable[[], datetime] = utcnow,
    lease_s: float | None = None,
    max_attempts: int | None = None,
    deadline: float | None = None,
    worker: str = "push",
    backoff_base_s: float | None = None,
    backoff_max_s: float | None = None,
    max_consecutive_failures: int = 5,
    max_pause_s: float | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    instansi_id: int | None = None,
) -> PushSummary:
    """Deliver due outbox items until none is due or the run must stop.

    Lease, attempts and backoff come from the arguments, else from `settings`
    (LAPOR_BRIDGE_PUSH_*), else from the settings' defaults. `deadline` is a
    `time.monotonic()` value: no item is claimed after it. `worker` names the
    caller; the lease owner adds host, pid and a random part to it. The lease
    must be longer than the longest client call, or another worker could post
    an item still in flight a second time (checked: ConfigError).
    `instansi_id` keys the claims: only that instansi's follow-ups are pushed
    (None: every item, for tests and tools).
    Raises Unauthorized on a 401 (the item is put back untouched).
    """
    settings = settings or Settings.model_construct()
    lease_s = settings.push_lease_s if lease_s is None else lease_s
    policy = PushRetryPolicy(
        settings.push_max_attempts if max_attempts is None else max_attempts,
        settings.push_backoff_base_s if backoff_base_s is None else backoff_base_s,
        settings.push_backoff_max_s if backoff_max_s is None else backoff_max_s,
    )
    longest = longest_call_s(client)
    if longest is not None and lease_s <= longest:
        raise ConfigError(
            f"LAPOR_BRIDGE_PUSH_LEASE_S ({lease_s:g} s) must be longer than the longest "
            f"upstream call ({longest:g} s: LAPOR_BRIDGE_MAX_RETRY_ELAPSED_S plus the connect "
            "and read timeouts), or a follow-up still in flight could be posted twice."
        )
    if max_pause_s is None:
        max_pause_s = settings.max_retry_after_s
    worker = new_worker_id(worker)
    rng = rng or random.Random()
    summary = PushSummary(worker=worker)
    failures_in_a_row = 0
    held_back_until: datetime | None = None  # the soonest short Retry-After of this run
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            summary.stopped = "deadline reached"
            break
        if stop_requested():  # SIGTERM/SIGINT: the item in hand is finished, no new claim
            summary.stopped = "stop requested (SIGTERM/SIGINT)"
            break
        now = now_fn()
        claimed = claim_next(
            engine, worker=worker, now=now, lease_s=lease_s, instansi_id=instansi_id
        )
        if claimed is None:
            # Nothing else due: wait (once) for an item held back by a short Retry-After
            # (not yet due at `now`; one due already was not claimable, e.g. taken over).
            later = held_back_until if held_back_until and held_back_until > now else None
            wait_s = _wait_until(later, now, max_pause_s, deadline)
            held_back_until = None
            if wait_s is None:
                break
            summary.paused_s = round(summary.paused_s + wait_s, 3)
            sleep(wait_s)
            continue
        summary.claimed += 1
        try:
            outcome, checked_absent = _attempt(engine, client, claimed, worker, now_fn, lease_s)
        except Exception:
            # A bug or an unforeseen failure: record it as possibly sent, so the next
            # attempt reconciles first, then let it surface.
            attempt = Attempt(claimed.state_before, claimed.attempts, True)
            unexpected = Transient("unexpected error during the attempt (see the log)", True)
            transition = next_state(attempt, unexpected, now=now_fn(), policy=policy, rng=rng)
            finish(engine, claimed, worker=worker, transition=transition)
            raise
        if outcome is None:  # the lease was lost before posting: someone else has it
            summary.lost_lease += 1
            continue
        attempt = Attempt(claimed.state_before, claimed.attempts, claimed.uncertain, checked_absent)
        transition = next_state(attempt, outcome, now=now_fn(), policy=policy, rng=rng)
        if not finish(engine, claimed, worker=worker, transition=transition):
            summary.lost_lease += 1
            log.warning(
                "outbox #%d: lease lost during the attempt; outcome not recorded", claimed.id
            )
            continue
        _log_and_count(summary, claimed, outcome, transition.state)
        if isinstance(outcome, Release):
            raise Unauthorized(outcome.error)
        failures_in_a_row = failures_in_a_row + 1 if isinstance(outcome, Transient) else 0
        if transition.stop_run:
            wait_s = _pause_for(outcome, transition, now_fn(), max_pause_s, deadline)
            if wait_s is None:
                summary.stopped = f"LAPOR! asked to wait: {transition.last_error}"
                summary.retry_at = transition.next_attempt_at
                break
            if failures_in_a_row == 1:  # a single failure: only this item waits
                assert transition.next_attempt_at is not None  # _pause_for checked it
                if held_back_until is None or transition.next_attempt_at < held_back_until:
                    held_back_until = transition.next_attempt_at
                continue
            summary.paused_s = round(summary.paused_s + wait_s, 3)
            sleep(wait_s)
            continue
        if failures_in_a_row >= max_consecutive_failures:
            summary.stopped = (
                f"{failures_in_a_row} transient failures in a row, LAPOR! looks unavailable; "
                "the items are tried again at their next attempt time"
            )
            break
    with read_session(engine) as session:
        summary.due_left = count_due(session, now=now_fn(), instansi_id=instansi_id)
    return summary


def _pause_for(
    outcome: Outcome,
    transition: Transition,
    now: datetime,
    max_pause_s: float,
    deadline: float | None,
) -> float | None:
    """Seconds to pause for a short Retry-After on a 5xx, or None to stop the run."""
    if not isinstance(outcome, Transient):
        return None
    return _wait_until(transition.next_attempt_at, now, max_pause_s, deadline)


def _wait_until(
    at: datetime | None, now: datetime, max_pause_s: float, deadline: float | None
) -> float | None:
    """Seconds from `now` to `at`, or None when there is nothing to wait for, or it
    is longer than `max_pause_s`, or it would end past the run's deadline."""
    if at is None:
        return None
    wait_s = max(0.0, (at - now).total_seconds())
    if wait_s > max_pause_s:
        return None
    if deadline is not None and time.monotonic() + wait_s >= deadline:
        return None
    return wait_s


def _attempt(
    engine: Engine,
    client: FollowUpClient,
    claimed: ClaimedItem,
    worker: str,
    now_fn: Callable[[], datetime],
    lease_s: float,
) -> tuple[Outcome | None, bool]:
    """One delivery attempt. Returns (outcome, whether the listing showed it absent);
    (None, ...) when the lease was lost before the POST."""
    checked_absent = False
    posting = False
    try:
        body = follow_up_body(claimed)
    except ValidationError as exc:  # written before a contract change, or edited by hand
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return Final(f"the stored follow-up cannot be sent as it is: {problems}", None), False
    try:
        if claimed.uncertain:
            found = _find_upstream(client, claimed)
            if found is not None:
                return found, False
            checked_absent = True
            if not renew_lease(engine, claimed, worker=worker, now=now_fn(), lease_s=lease_s):
                return None, checked_absent
        transferred_to = _transferred_to(engine, claimed.tracking_id)
        if transferred_to is not None:  # the contract: never push to a transferred report
            return Final(
                f"report {claimed.tracking_id} was transferred to instansi {transferred_to} "
                "before this follow-up went out; not sent (cancel it with `outbox cancel`)",
                None,
            ), checked_absent
        posting = True
        fence = _lease_fence(engine, claimed, worker, now_fn, lease_s)
        answer = client.post_followup(claimed.tracking_id, body, fence=fence)
        upstream_id = answer.get("id")
        return Delivered(upstream_id if isinstance(upstream_id, int) else None), checked_absent
    except LeaseLost:
        log.warning(
            "outbox #%d: lease lost before the POST (this worker was paused past it); "
            "not posted, another worker has the item",
            claimed.id,
        )
        return None, checked_absent
    except Unauthorized as exc:
        return Release(exc.message), checked_absent
    except RateLimited as exc:
        return RateLimit(exc.message, exc.retry_after), checked_absent
    except Rejected as exc:
        return Final(exc.message, exc.status, tuple(exc.errors)), checked_absent
    except Unavailable as exc:
        # A failed GET applied nothing; a failed POST may have (the client says which).
        maybe_sent = posting and exc.maybe_sent
        return Transient(exc.message, maybe_sent, exc.retry_after), checked_absent


def _lease_fence(
    engine: Engine,
    claimed: ClaimedItem,
    worker: str,
    now_fn: Callable[[], datetime],
    lease_s: float,
) -> Callable[[], None]:
    """The check the client runs right before each POST attempt goes out (after its
    rate limiter) and before each wait between attempts: renew the lease, or raise
    LeaseLost when another worker took the item over meanwhile (this one was paused
    past its lease). A renewed lease has `lease_s` left, more than one attempt can
    take (push_outbox checks `lease_s` against the client's timeouts at start)."""

    def fence() -> None:
        if not renew_lease(engine, claimed, worker=worker, now=now_fn(), lease_s=lease_s):
            raise LeaseLost(claimed.id)

    return fence


def _transferred_to(engine: Engine, tracking_id: int) -> int | None:
    """The body a report was transferred to, as last pulled, or None if still ours."""
    with read_session(engine) as session:
        report = session.get(ReportRow, tracking_id)
    return report.instansi_id if report is not None and report.transferred else None


def _find_upstream(client: FollowUpClient, claimed: ClaimedItem) -> Delivered | None:
    for follow_up in client.list_followups(claimed.tracking_id):
        if isinstance(follow_up, dict) and follow_up.get("external_ref") == claimed.external_ref:
            upstream_id = follow_up.get("id")
            return Delivered(upstream_id if isinstance(upstream_id, int) else None, True)
    return None


def follow_up_body(claimed: ClaimedItem) -> dict[str, Any]:
    """The JSON body of the POST (FollowUpIn), built from the stored row."""
    body = FollowUpIn(
        content=claimed.content,
        status=FollowUpStatus(claimed.status),
        unit=claimed.unit or claimed.opd,
        external_ref=claimed.external_ref,
        attachments=[Attachment(**a) for a in claimed.attachments],
    )
    return body.model_dump(mode="json", exclude_none=True)


def _log_and_count(
    summary: PushSummary, claimed: ClaimedItem, outcome: Outcome, state: OutboxState
) -> None:
    where = f"outbox #{claimed.id} (report {claimed.tracking_id})"
    if isinstance(outcome, Delivered):
        if outcome.found_by_listing:
            summary.found_upstream += 1
            log.info(
                "%s was already on LAPOR! (id %s): recorded as sent", where, outcome.upstream_id
            )
        else:
            summary.sent += 1
            log.info("%s sent (LAPOR! id %s)", where, outcome.upstream_id)
    elif state == OutboxState.DEAD:
        summary.dead += 1
        log.error("%s is dead: %s", where, _error_of(outcome))
    elif isinstance(outcome, Transient | RateLimit):
        summary.failed += 1
        log.warning("%s failed, will retry: %s", where, outcome.error)


def _error_of(outcome: Outcome) -> str:
    return getattr(outcome, "error", type(outcome).__name__)


# --- the `push` command -------------------------------------------------------


def run_push(runtime: Runtime, *, deadline: float | None = None) -> PushSummary:
    """The `lapor-bridge push` command: push with the configured settings, as a
    job (lapor_bridge.job, kind "push"); items dead in this run make it partial."""
    with ExitStack() as stack:

        def prepare() -> Any:
            return stack.enter_context(runtime.client())

        with start_job(runtime, "push", precheck=prepare) as job:
            summary = push_outbox(
                runtime.engine,
                job.prepared,
                settings=runtime.settings,
                deadline=deadline,
                instansi_id=runtime.instansi_id,
            )
            if summary.dead:
                job.mark_partial(f"{summary.dead} outbox item(s) died (see status)")
            job.summary = summary.to_dict()
        summary.outcome = job.outcome
        return summary


__all__ = [
    "FollowUpClient",
    "PushSummary",
    "follow_up_body",
    "longest_call_s",
    "new_worker_id",
    "push_outbox",
    "run_push",
]
