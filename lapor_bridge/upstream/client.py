"""HTTP client of the LAPOR! integration API (see shared/lapor-api/).

Read top to bottom:

1. the error policy as data: HTTP status -> action (``STATUS_POLICY``);
2. how a failed request is described and classified ("surely not sent" or
   "may have been applied"), and the tenacity pieces (retry predicates, a wait
   that honours Retry-After, a stop on the time budget);
3. the client: one ``requests.Session``, a bearer token on every request, a
   timeout on every request, a client-side rate limit, and bounded retries.

Retries are ours alone: the session's adapters get ``max_retries=0`` so urllib3
never re-sends anything behind our back. GETs are retried on transient
failures. The POST of a follow-up is not idempotent, so it is retried only
when it surely never reached the server (the connection was never made, or a
429 that was not applied); anything else after sending raises
``Unavailable(maybe_sent=True)`` at once and the caller reconciles by
``external_ref``.

The token is only ever put into the Authorization header by a small auth
object whose repr hides it. Every message raised or logged here is built from
the method, the path, the host, status codes and exception class names, never
from request headers or bodies (RAHASIA content must never be logged).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import operator
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_random_exponential
from urllib3 import connection as urllib3_connection
from urllib3 import connectionpool as urllib3_connectionpool
from urllib3 import exceptions as urllib3_exceptions
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.util.retry import Retry

from lapor_bridge import __version__
from lapor_bridge.errors import (
    ConfigError,
    ContractViolation,
    CursorExpired,
    RateLimited,
    Rejected,
    Unauthorized,
    Unavailable,
)
from lapor_bridge.upstream.ratelimit import RateLimiter

__all__ = [
    "STATUS_POLICY",
    "Action",
    "LaporClient",
    "ListingPage",
    "RequestRetryPolicy",
    "action_for",
    "parse_retry_after",
]

log = logging.getLogger("lapor_bridge.upstream")

# An answer larger than this after decompression is refused (a page of 500 reports
# is a few MB); it is read in chunks of _CHUNK so a gzip bomb never fills memory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024

# --- 1. error policy as data -------------------------------------------------


class Action(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"  # transient: back off and retry a GET; a POST may have been applied
    RATE_LIMITED = "rate_limited"  # 429: not applied; wait (Retry-After) and retry, any method
    UNAUTHORIZED = "unauthorized"  # 401: fatal for the run, never retried
    CURSOR_EXPIRED = "cursor_expired"  # 410 on a listing: restart the window
    REJECT = "reject"  # a final refusal: never retried
    FAIL = "fail"  # outside the contract (1xx, 3xx, other 5xx): give up at once


STATUS_POLICY: Mapping[int, Action] = MappingProxyType(
    {
        400: Action.REJECT,
        401: Action.UNAUTHORIZED,
        403: Action.REJECT,
        404: Action.REJECT,
        409: Action.REJECT,
        410: Action.CURSOR_EXPIRED,  # REJECT when the request is not a listing
        422: Action.REJECT,
        429: Action.RATE_LIMITED,
        500: Action.RETRY,
        502: Action.RETRY,
        503: Action.RETRY,
        504: Action.RETRY,
    }
)

# Statuses whose Retry-After is honoured (the same set urllib3 uses, minus 413).
RETRY_AFTER_STATUSES = frozenset({429, 503})

# What a refusal means here, appended to the server's own message.
_REJECT_HINTS: Mapping[int, str] = MappingProxyType(
    {
        400: "the request parameters are invalid",
        403: "the report is not disposed to this body (any more)",
        404: "no such report",
        409: "the report is closed or no longer ours; do not retry",
        410: "the resource is gone",
        422: "the follow-up is invalid; do not retry",
    }
)


def action_for(status: int) -> Action:
    """The action for an HTTP status: the table first, then by class."""
    if status in STATUS_POLICY:
        return STATUS_POLICY[status]
    if 200 <= status < 300:
        return Action.SUCCESS
    if 400 <= status < 500:
        return Action.REJECT
    return Action.FAIL


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date).

    None when absent or unreadable; never negative.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


# --- 2. failures, classification, tenacity pieces ---------------------------


class _RetrySignal(Exception):
    """One failed attempt that another attempt may fix. Never leaves the client.

    `not_sent` is True only when the server surely did not apply the request:
    the connection was never made, or it answered 429.
    """

    def __init__(
        self,
        reason: str,
        *,
        not_sent: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_sent = not_sent
        self.status = status
        self.retry_after = retry_after


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps: args, urllib3's `.reason`, __cause__, __context__."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        nested = [*cur.args, getattr(cur, "reason", None), cur.__cause__, cur.__context__]
        stack.extend(e for e in nested if isinstance(e, BaseException))


def _never_reached_server(exc: requests.RequestException) -> bool:
    """True when no connection was made, so the server cannot have seen the request."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return False  # cannot tell a failed handshake from a failure after sending
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    # urllib3 wraps a failed connect (refused, DNS, connect timeout) as
    # MaxRetryError(reason=NewConnectionError | ConnectTimeoutError).
    return any(isinstance(c, ConnectTimeoutError) for c in _causes(exc))


def _describe(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    """A short, secret-free reason: no URL, no headers, only kinds and OS errors."""
    causes = list(_causes(exc))
    os_error = next(
        (c for c in causes if isinstance(c, OSError) and c.strerror and c.errno is not None),
        None,
    )
    detail = f" ([Errno {os_error.errno}] {os_error.strerror})" if os_error else ""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connect timeout (no connection within {timeout[0]:g} s)"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"read timeout (no answer within {timeout[1]:g} s)"
    if any(isinstance(c, NameResolutionError) for c in causes):
        return "DNS lookup of the host failed"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, NewConnectionError) for c in causes):
        return f"could not connect{detail}"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (check the certificate and that the base URL uses the right scheme)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped while reading the answer"
    if any(type(c).__name__ == "ReadTimeoutError" for c in causes):
        return f"read timeout (no answer within {timeout[1]:g} s)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        wrappers = (requests.RequestException, MaxRetryError, ProtocolError)
        inner = [type(c).__name__ for c in causes if not isinstance(c, wrappers)]
        kind = detail or (f" ({inner[0]})" if inner else "")
        return f"connection dropped{kind}"
    return f"request failed ({type(exc).__name__})"


# Transport failures another attempt may fix. Anything else (invalid URL or
# header, TLS, undecodable content) is given up at once.
_TRANSIENT_TRANSPORT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _retry_get(exc: BaseException) -> bool:
    """A GET is safe to repeat: retry every transient failure."""
    return isinstance(exc, _RetrySignal)


def _retry_post(exc: BaseException) -> bool:
    """A POST is not idempotent: retry only what surely was not applied."""
    return isinstance(exc, _RetrySignal) and exc.not_sent


class _WaitRetryAfterOrBackoff(wait_base):
    """Exactly Retry-After when the server gave one, else full-jitter backoff."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self._backoff = wait_random_exponential(multiplier=base_s, max=max_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _RetrySignal) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(retry_state)


class _StopAtBudget(stop_base):
    """Stop when the next wait would end past the request's time budget."""

    def __init__(self, clock: Callable[[], float], started: float, budget_s: float) -> None:
        self._clock = clock
        self._started = started
        self._budget_s = budget_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        elapsed = self._clock() - self._started
        return elapsed + (retry_state.upcoming_sleep or 0.0) >= self._budget_s


# --- 3. the client ------------------------------------------------------------


@dataclass(frozen=True)
class RequestRetryPolicy:
    max_attempts: int = 6  # per request, total
    max_elapsed_s: float = 60.0  # per request, total time budget incl. waits
    backoff_base_s: float = 0.5  # exponential backoff with full jitter, capped
    backoff_max_s: float = 15.0
    # A longer Retry-After is not slept: RateLimited / Unavailable(retry_after=...)
    # is raised so the caller stores it and the cron run exits.
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RequestRetryPolicy.max_attempts must be >= 1")
        for name in ("max_elapsed_s", "backoff_base_s", "backoff_max_s", "max_retry_after_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"RequestRetryPolicy.{name} must be >= 0")


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer, its body read within the client's bounds."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class ListingPage:
    data: list[dict[str, Any]]  # raw JSON records, NOT validated
    next_cursor: str | None
    # each record's JSON text as received (same order as `data`), when the answer
    # was valid UTF-8 and could be split; None otherwise (the store serialises then).
    # A by-product of decoding: pages are equal by what they hold.
    texts: list[str] | None = field(default=None, compare=False, repr=False)


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


@dataclass
class _Call:
    """One logical request and its attempts."""

    method: str
    path: str
    started: float
    listing: bool = False
    external_ref: str | None = None
    fence: Callable[[], None] | None = None  # called right before each send and each wait
    attempts: int = field(default=0)
    texts: list[str] | None = None  # a listing's records as received (see split_listing)

    @property
    def is_post(self) -> bool:
        return self.method != "GET"


# --- fencing: the last check before each write of a request ---------------------
#
# A caller's `fence()` (the push: "do I still hold this item's lease?") runs after
# the rate limiter, right before the request is sent. A process frozen after that
# check (SIGSTOP, a swapped or suspended VM) would send on a lease it no longer
# holds, so the connection itself checks, before each write of the request (the
# headers, then the body: a server applies nothing until the body is complete),
# how long ago the fence started, and runs it again when that is more than
# FENCE_FRESH_S ago, on the clock that also counts a suspend. A fence that fails
# there aborts the request before its body is complete.

FENCE_FRESH_S = 0.5
_BOOT_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
_fence_local = threading.local()


def _boot_now() -> float:
    return time.clock_gettime(_BOOT_CLOCK)


def _run_fence(fence: Callable[[], None]) -> None:
    """Run `fence` and arm it for the connection's writes. Its age counts from
    before it ran: a process frozen inside it (after the database granted the
    lease, before the answer came back) finds it stale at the first write."""
    started = _boot_now()
    fence()
    _fence_local.fence = fence
    _fence_local.checked_at = started


def _disarm_fence() -> None:
    _fence_local.fence = None


def _recheck_fence() -> None:
    fence = getattr(_fence_local, "fence", None)
    if fence is not None and _boot_now() - _fence_local.checked_at > FENCE_FRESH_S:
        _run_fence(fence)


class _FencedHTTPConnection(urllib3_connection.HTTPConnection):
    def send(self, data: Any) -> None:
        _recheck_fence()
        super().send(data)


class _FencedHTTPSConnection(urllib3_connection.HTTPSConnection):
    def send(self, data: Any) -> None:
        _recheck_fence()
        super().send(data)


class _FencedHTTPPool(urllib3_connectionpool.HTTPConnectionPool):
    ConnectionCls = _FencedHTTPConnection


class _FencedHTTPSPool(urllib3_connectionpool.HTTPSConnectionPool):
    ConnectionCls = _FencedHTTPSConnection


class _Adapter(HTTPAdapter):
    """No urllib3 retries, and connections that re-check a stale fence."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _FencedHTTPPool,
            "https": _FencedHTTPSPool,
        }


def _no_urllib3_retries(session: requests.Session, owned: bool) -> None:
    """Make sure only this client retries: urllib3 must never re-send."""
    if owned:
        for prefix in ("https://", "http://"):
            session.mount(prefix, _Adapter(max_retries=0))
        return
    for adapter in session.adapters.values():
        if isinstance(adapter, HTTPAdapter):
            # What HTTPAdapter(max_retries=0) sets. read=False makes urllib3 raise
            # read errors as themselves, which requests maps to ReadTimeout etc.
            adapter.max_retries = Retry(0, read=False)


_WS = json.decoder.WHITESPACE.match
_scan_string = json.decoder.scanstring
_scan_value = json.decoder.JSONDecoder().scan_once


def split_listing(text: str) -> tuple[dict[str, Any], list[str] | None] | None:
    """A listing answer decoded in one pass, with the JSON text of each record of
    its `data` array as received (so the store need not serialise it again).

    The same object `json.loads(text)` gives (the same C scanner decodes every
    value); None for anything that is not a plain JSON object, so the caller
    falls back to `json.loads` and its errors. The texts are None when `data`
    is not an array."""
    try:
        return _split_listing(text)
    except (ValueError, IndexError, StopIteration, RecursionError):
        return None


def _split_listing(text: str) -> tuple[dict[str, Any], list[str] | None] | None:
    i = _WS(text, 0).end()
    if text[i] != "{":
        return None
    i = _WS(text, i + 1).end()
    body: dict[str, Any] = {}
    texts: list[str] | None = None
    if text[i] == "}":
        i += 1
    else:
        while True:
            if text[i] != '"':
                return None
            key, i = _scan_string(text, i + 1)
            i = _WS(text, i).end()
            if text[i] != ":":
                return None
            i = _WS(text, i + 1).end()
            if key == "data" and text[i] == "[":
                body[key], texts, i = _split_array(text, i)
            else:
                body[key], i = _scan_value(text, i)
                if key == "data":
                    texts = None
            i = _WS(text, i).end()
            if text[i] == "}":
                i += 1
                break
            if text[i] != ",":
                return None
            i = _WS(text, i + 1).end()
    if _WS(text, i).end() != len(text):
        return None
    return body, texts


def _split_array(text: str, i: int) -> tuple[list[Any], list[str], int]:
    """The array opening at `text[i]`, its items and each item's text, and where it ends."""
    items: list[Any] = []
    texts: list[str] = []
    i = _WS(text, i + 1).end()
    if text[i] == "]":
        return items, texts, i + 1
    while True:
        start = i
        value, i = _scan_value(text, i)
        items.append(value)
        texts.append(text[start:i])
        i = _WS(text, i).end()
        if text[i] == "]":
            return items, texts, i + 1
        if text[i] != ",":
            raise ValueError("expected , or ]")
        i = _WS(text, i + 1).end()


def _rfc3339(value: datetime, name: str) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"{name} must be timezone-aware (RFC 3339 needs an offset): {value}")
    if offset.seconds % 60 or offset.microseconds:  # e.g. a historical LMT offset
        value = value.astimezone(UTC)
    return value.isoformat()


def _as_id(value: int, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    return operator.index(value)


def _check_token(token: str) -> str:
    token = token.strip() if isinstance(token, str) else ""
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ConfigError(
            "LAPOR_BRIDGE_TOKEN is empty or contains spaces, control or non-ASCII "
            "characters. Set the token exactly as LAPOR! issued it."
        )
    return token


class LaporClient:
    """The LAPOR! API: listings, reports, follow-ups. Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RequestRetryPolicy = RequestRetryPolicy(),
        rate_limit_per_s: float | None = 10.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = f"lapor-bridge/{__version__}",
        clock: Callable[[], float] = time.monotonic,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        parts = urlsplit(base_url or "")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ConfigError(
                "LAPOR_BRIDGE_API_URL must be an http(s) URL with a host, "
                "e.g. https://lapor.example.go.id/api/v1"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ConfigError(
                "LAPOR_BRIDGE_API_URL must not carry user:password, a query or a fragment; "
                "the token goes in LAPOR_BRIDGE_TOKEN."
            )
        if len(timeout) != 2 or not all(t > 0 for t in timeout):
            raise ValueError("timeout must be (connect_s, read_s), both > 0")
        self._base = base_url.rstrip("/")
        self.host = parts.netloc
        self._token = _check_token(token)
        self._auth = _BearerAuth(self._token)
        self.timeout = (float(timeout[0]), float(timeout[1]))
        # One attempt, from sending to the last byte of the answer, never takes longer
        # than both timeouts together (a server sending one byte every few seconds
        # never trips the read timeout, which is per read).
        self.attempt_deadline_s = self.timeout[0] + self.timeout[1]
        self.max_response_bytes = int(max_response_bytes)
        self.retry = retry
        self._sleep = sleep
        self._clock = clock
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        _no_urllib3_retries(self._session, self._owns_session)
        self._limiter = (
            RateLimiter(rate_limit_per_s, clock=clock, sleep=sleep)
            if rate_limit_per_s is not None
            else None
        )
        self._count_lock = threading.Lock()
        self.requests_made = 0
        # The upstream's clock: the newest `Date` header and when (our monotonic clock) it came.
        self._server_date: tuple[datetime, float] | None = None

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> LaporClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LaporClient(base_url={self._base!r}, requests_made={self.requests_made})"

    # -- the upstream's clock ------------------------------------------------------

    def upstream_now(self) -> datetime | None:
        """The upstream's "now": its newest `Date` header plus the time since it came
        (floored: `Date` has one-second precision). None before any answer had one."""
        seen = self._server_date
        if seen is None:
            return None
        date, at = seen
        return date + timedelta(seconds=max(0.0, self._clock() - at))

    def _note_date(self, response: requests.Response) -> None:
        value = response.headers.get("Date")
        if not value:
            return
        try:
            date = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return
        if date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
        self._server_date = (date.astimezone(UTC), self._clock())

    # -- the API ---------------------------------------------------------------

    def list_topics(self) -> list[dict[str, Any]]:
        call = self._call("GET", "/topics")
        return self._data_list(call, self._request_json(call))

    def list_reports(
        self,
        instansi_id: int,
        *,
        updated_from: datetime,
        updated_to: datetime | None = None,
        limit: int = 500,
        cursor: str | None = None,
    ) -> ListingPage:
        """One page of reports whose updated_at is in [updated_from, updated_to).

        With `cursor` only the cursor (and limit) is sent: the cursor carries the window.
        """
        path = f"/instansi/{_as_id(instansi_id, 'instansi_id')}/laporan"
        if not 1 <= limit <= 500:
            raise ValueError(f"limit must be 1..500, got {limit}")
        params: dict[str, str | int] = {"updated_from": _rfc3339(updated_from, "updated_from")}
        if updated_to is not None:
            params["updated_to"] = _rfc3339(updated_to, "updated_to")
        if cursor is not None:
            params = {"cursor": cursor}
        params["limit"] = limit
        call = self._call("GET", path, listing=True)
        body = self._request_json(call, params=params)
        data = self._data_list(call, body)
        if len(data) > limit:
            raise self._broken(call, f"a page of limit {limit} holds {len(data)} records")
        if "next_cursor" not in body:
            raise self._broken(call, "the answer has no `next_cursor`")
        next_cursor = body["next_cursor"]
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise self._broken(call, "`next_cursor` is neither a string nor null")
        texts = call.texts if call.texts is not None and len(call.texts) == len(data) else None
        return ListingPage(data=data, next_cursor=next_cursor, texts=texts)

    def get_report(self, tracking_id: int) -> dict[str, Any]:
        call = self._call("GET", f"/laporan/{_as_id(tracking_id, 'tracking_id')}")
        return self._object(call, self._request_json(call))

    def list_followups(self, tracking_id: int) -> list[dict[str, Any]]:
        call = self._call("GET", f"/laporan/{_as_id(tracking_id, 'tracking_id')}/tindak-lanjut")
        return self._data_list(call, self._request_json(call))

    def post_followup(
        self,
        tracking_id: int,
        body: dict[str, Any],
        *,
        fence: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Create a follow-up. NOT idempotent: see the module docstring.

        Raises Unavailable(maybe_sent=True) when it may have been applied: look
        for `body["external_ref"]` in list_followups() before posting again.
        `fence()` is called right before each attempt goes on the wire (after the
        rate limiter) and before each wait between attempts; whatever it raises
        (the caller's lease is lost) stops the call with nothing sent.
        """
        path = f"/laporan/{_as_id(tracking_id, 'tracking_id')}/tindak-lanjut"
        ref = body.get("external_ref") if isinstance(body, Mapping) else None
        if not isinstance(ref, str) or not ref:
            raise ValueError("a follow-up needs a non-empty `external_ref` to reconcile by")
        payload = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        call = self._call("POST", path, external_ref=ref, fence=fence)
        return self._object(call, self._request_json(call, data=payload))

    # -- one logical request: retries around attempts ---------------------------

    def _call(self, method: str, path: str, **kw: Any) -> _Call:
        return _Call(method, path, started=self._clock(), **kw)

    def _request_json(
        self,
        call: _Call,
        *,
        params: Mapping[str, str | int] | None = None,
        data: bytes | None = None,
    ) -> Any:
        policy = self.retry
        retrying = Retrying(
            retry=retry_if_exception(_retry_post if call.is_post else _retry_get),
            stop=stop_after_attempt(policy.max_attempts)
            | _StopAtBudget(self._clock, call.started, policy.max_elapsed_s),
            wait=_WaitRetryAfterOrBackoff(policy.backoff_base_s, policy.backoff_max_s),
            sleep=self._sleep,
            before_sleep=lambda state: self._before_wait(call, state),
            reraise=True,
        )
        failure: Exception | None = None
        try:
            answer = retrying(self._attempt, call, params, data)
        except _RetrySignal as signal:
            failure = self._give_up(call, signal)
        if failure is not None:
            raise failure  # outside the except: no chained exception holds the request
        return self._decode(call, answer)

    def _before_wait(self, call: _Call, state: RetryCallState) -> None:
        self._log_retry(call, state)
        if call.fence is not None:
            call.fence()

    def _attempt(
        self, call: _Call, params: Mapping[str, str | int] | None, data: bytes | None
    ) -> _Answer:
        if self._limiter is not None:
            self._limiter.acquire()
        if call.fence is not None:
            _run_fence(call.fence)
        call.attempts += 1
        with self._count_lock:
            self.requests_made += 1
        headers = self._headers
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        log.debug("LAPOR! %s %s (attempt %d)", call.method, call.path, call.attempts)
        failure: Exception | None = None
        try:
            response = self._session.request(
                call.method,
                self._base + call.path,
                params=params,
                data=data,
                headers=headers,
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            failure = self._transport_failure(call, exc)
        finally:
            _disarm_fence()
        if failure is not None:
            raise failure
        self._note_date(response)
        answer = self._read(call, response, deadline=self._clock() + self.attempt_deadline_s)
        log.debug(
            "LAPOR! %s %s -> %d (attempt %d)",
            call.method,
            call.path,
            answer.status,
            call.attempts,
        )
        self._check_status(call, answer)
        return answer

    def _read(self, call: _Call, response: requests.Response, *, deadline: float) -> _Answer:
        """The whole body, decompressed, counted as it comes: past `max_response_bytes`
        it is a contract violation; past the attempt's deadline, a transient failure."""
        cap = self.max_response_bytes
        chunks: list[bytes] = []
        total = 0
        failure: Exception | None = None
        try:
            declared = response.headers.get("Content-Length", "")
            plain = not response.headers.get("Content-Encoding")
            if plain and declared.isdigit() and int(declared) > cap:
                raise self._too_large(call, f"announces {int(declared):,} bytes")
            while True:
                if self._clock() > deadline:
                    failure = _RetrySignal(
                        f"the answer took longer than {self.attempt_deadline_s:g} s "
                        "(connect and read timeouts together)",
                        not_sent=False,
                    )
                    break
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise self._too_large(call, f"holds over {cap:,} bytes")
                chunks.append(chunk)
        except (urllib3_exceptions.HTTPError, OSError) as exc:
            failure = _RetrySignal(
                "read timeout while reading the answer"
                if isinstance(exc, urllib3_exceptions.ReadTimeoutError | TimeoutError)
                else f"connection dropped while reading the answer ({type(exc).__name__})",
                not_sent=False,
            )
        finally:
            response.close()
        if failure is not None:
            raise failure
        return _Answer(
            response.status_code, response.reason or "", response.headers, b"".join(chunks)
        )

    def _too_large(self, call: _Call, what: str) -> ContractViolation:
        return self._broken(
            call,
            f"the answer {what}, more than the {self.max_response_bytes / (1024 * 1024):g} MiB "
            "an answer may hold (after decompression)",
        )

    def _transport_failure(self, call: _Call, exc: requests.RequestException) -> Exception:
        reason = _describe(exc, self.timeout)
        if isinstance(exc, _TRANSIENT_TRANSPORT) and not isinstance(
            exc, requests.exceptions.SSLError
        ):
            return _RetrySignal(reason, not_sent=_never_reached_server(exc))
        return Unavailable(
            f"{call.method} {call.path} to the LAPOR! API at {self.host} failed: {reason}.",
            maybe_sent=call.is_post and not _never_reached_server(exc),
        )

    def _check_status(self, call: _Call, response: _Answer) -> None:
        status = response.status
        action = action_for(status)
        if action is Action.CURSOR_EXPIRED and not call.listing:
            action = Action.REJECT
        if action is Action.SUCCESS:
            return
        if action is Action.UNAUTHORIZED:
            raise Unauthorized("LAPOR! rejected the token (401). Set a valid LAPOR_BRIDGE_TOKEN.")
        if action is Action.CURSOR_EXPIRED:
            raise CursorExpired(
                f"LAPOR! says the listing cursor of {call.method} {call.path} expired (410); "
                "restart the window from the last checkpoint."
            )
        if action is Action.REJECT:
            raise self._rejected(call, response)
        retry_after = None
        if status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        too_long = retry_after is not None and retry_after > self.retry.max_retry_after_s
        if action is Action.RATE_LIMITED:
            if too_long:
                raise RateLimited(
                    f"LAPOR! API at {self.host} rate-limited {call.method} {call.path} (429) "
                    f"and asks to wait {retry_after:g} s; try again after that.",
                    retry_after=retry_after,
                )
            raise _RetrySignal("HTTP 429", not_sent=True, status=429, retry_after=retry_after)
        reason = f"HTTP {status} {response.reason}".rstrip()
        if action is Action.RETRY:
            if too_long:
                raise Unavailable(
                    f"LAPOR! API at {self.host} is unavailable for {call.method} {call.path} "
                    f"({reason}) and asks to wait {retry_after:g} s; try again after that."
                    + self._maybe_sent_hint(call),
                    maybe_sent=call.is_post,
                    retry_after=retry_after,
                )
            raise _RetrySignal(reason, not_sent=False, status=status, retry_after=retry_after)
        if 300 <= status < 400:
            raise Rejected(
                f"LAPOR! API at {self.host} redirected {call.method} {call.path} ({reason}); "
                "check LAPOR_BRIDGE_API_URL (scheme, host and path).",
                status=status,
            )
        raise Unavailable(
            f"LAPOR! API at {self.host} answered {call.method} {call.path} with {reason}, "
            "which the contract does not allow." + self._maybe_sent_hint(call),
            maybe_sent=call.is_post,
        )

    def _rejected(self, call: _Call, response: _Answer) -> Rejected:
        message, errors = None, []
        try:
            body = json.loads(response.body.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("message"), str):
                message = self._redact(body["message"])[:500]
            if isinstance(body.get("errors"), list):
                errors = [self._redact(str(e))[:500] for e in body["errors"]]
        status = response.status
        text = f"LAPOR! refused {call.method} {call.path} ({status})"
        text += f": {message}" if message else ""
        hint = _REJECT_HINTS.get(status)
        text += f" ({hint})." if hint else "."
        return Rejected(text, status=status, errors=errors)

    def _give_up(self, call: _Call, signal: _RetrySignal) -> Exception:
        elapsed = self._clock() - call.started
        if call.is_post and not signal.not_sent:
            return Unavailable(
                f"{call.method} {call.path} to the LAPOR! API at {self.host} failed: "
                f"{signal.reason}." + self._maybe_sent_hint(call),
                maybe_sent=True,
                retry_after=signal.retry_after,
            )
        tries = f"after {call.attempts} attempts over {elapsed:.1f} s"
        if signal.status == 429:
            wait = (
                signal.retry_after if signal.retry_after is not None else self.retry.backoff_max_s
            )
            return RateLimited(
                f"LAPOR! API at {self.host} kept rate-limiting {call.method} {call.path} (429) "
                f"{tries}; try again in {wait:g} s.",
                retry_after=wait,
            )
        return Unavailable(
            f"LAPOR! API at {self.host} did not answer {call.method} {call.path} {tries}: "
            f"{signal.reason}. Check the network or try again later.",
            maybe_sent=False,
            retry_after=signal.retry_after,
        )

    def _log_retry(self, call: _Call, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc.reason if isinstance(exc, _RetrySignal) else type(exc).__name__
        log.warning(
            "LAPOR! %s %s failed (attempt %d of %d): %s; retrying in %.2f s",
            call.method,
            call.path,
            call.attempts,
            self.retry.max_attempts,
            reason,
            state.upcoming_sleep,
        )

    # -- answers ---------------------------------------------------------------

    def _decode(self, call: _Call, response: _Answer) -> Any:
        """The JSON of an answer. Bytes that are not UTF-8 are kept as lone surrogates
        (never silently replaced), so the records holding them are quarantined."""
        try:
            text = response.body.decode("utf-8")
        except UnicodeDecodeError:
            log.warning(
                "LAPOR! %s %s: the answer is not valid UTF-8; the records concerned are quarantined",
                call.method,
                call.path,
            )
            text = response.body.decode("utf-8", "surrogateescape")
        else:
            if call.listing and response.status < 300:
                split = split_listing(text)
                if split is not None:
                    body, call.texts = split
                    return body
        try:
            return json.loads(text)
        except RecursionError:
            raise self._broken(call, "the answer nests JSON too deeply") from None
        except ValueError:
            pass
        ctype = (response.headers.get("Content-Type") or "none")[:60]
        raise self._broken(
            call, f"the answer (HTTP {response.status}, Content-Type {ctype}) is not JSON"
        )

    def _data_list(self, call: _Call, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise self._broken(call, "the answer is not an object with a `data` list")
        return body["data"]

    def _object(self, call: _Call, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise self._broken(call, "the answer is not a JSON object")
        return body

    def _broken(self, call: _Call, what: str) -> ContractViolation:
        return ContractViolation(
            f"LAPOR! API at {self.host} broke the contract on {call.method} {call.path}: "
            f"{what}. Check that LAPOR_BRIDGE_API_URL points at the integration API."
            + self._maybe_sent_hint(call, applied=True),
            maybe_sent=call.is_post,
        )

    def _maybe_sent_hint(self, call: _Call, *, applied: bool = False) -> str:
        if not call.is_post:
            return ""
        verb = "was applied" if applied else "may have been applied"
        return (
            f" The follow-up {verb}: look for external_ref {call.external_ref!r} in "
            f"GET {call.path} before posting again."
        )

    def _redact(self, text: str) -> str:
        """Server-provided text could echo the token back; never pass it on."""
        return text.replace(self._token, "<redacted>")
