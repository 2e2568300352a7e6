"""Unit tests of the LAPOR! HTTP client, with `responses` and a fake clock.

Nothing sleeps for real: the client gets a fake clock whose `sleep` records the
wait and moves the clock on, so retry and rate-limit timing is exact.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.client import RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import tenacity.wait
from responses.registries import OrderedRegistry
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from lapor_bridge.errors import (
    ConfigError,
    ContractViolation,
    CursorExpired,
    RateLimited,
    Rejected,
    Unauthorized,
    Unavailable,
    UpstreamError,
)
from lapor_bridge.upstream.client import (
    Action,
    LaporClient,
    ListingPage,
    RequestRetryPolicy,
    action_for,
    parse_retry_after,
)
from lapor_bridge.upstream.ratelimit import RateLimiter

BASE = "https://lapor.test/api/v1"
TOKEN = "tok-S3CR3T-9f8e7d6c5b4a"  # distinctive: must never show up anywhere
WIB = timezone(timedelta(hours=7))
TOPICS = f"{BASE}/topics"
LISTING = f"{BASE}/instansi/3201/laporan"
REPORT = f"{BASE}/laporan/1916449"
FOLLOWUPS = f"{BASE}/laporan/1916449/tindak-lanjut"
FOLLOWUP_IN = {
    "content": "RAHASIA-ISI: jalan sudah diperbaiki",
    "status": "DIPROSES",
    "unit": "Dinas PUPR",
    "external_ref": "fu-42",
}


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mocked():
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def make_client(clock):
    clients: list[LaporClient] = []

    def make(**kw) -> LaporClient:
        kw.setdefault("rate_limit_per_s", None)
        kw.setdefault("sleep", clock.sleep)
        kw.setdefault("clock", clock.now)
        client = LaporClient(BASE, TOKEN, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def jitter_high(monkeypatch):
    """Full jitter picks uniform(0, high): pin it to `high` to check the bounds."""
    monkeypatch.setattr(tenacity.wait.random, "uniform", lambda low, high: high)


def refused() -> requests.exceptions.ConnectionError:
    """What requests raises when the TCP connect is refused."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/x", reason))


def dropped() -> requests.exceptions.ConnectionError:
    """What requests raises when the server closes the connection after the request."""
    err = ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed"))
    return requests.exceptions.ConnectionError(err)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --- request shape ------------------------------------------------------------


def test_every_request_carries_bearer_token_and_timeout(mocked, make_client):
    mocked.get(TOPICS, json={"data": [{"id": 1, "parent": 0, "name": "Jalan"}]})
    client = make_client(timeout=(3.0, 20.0))
    assert client.list_topics() == [{"id": 1, "parent": 0, "name": "Jalan"}]
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("lapor-bridge/")
    assert request.req_kwargs["timeout"] == (3.0, 20.0)
    assert client.requests_made == 1


def test_post_sends_json_body_with_token_and_timeout(mocked, make_client):
    created = {"id": 7, "tracking_id": 1916449, "external_ref": "fu-42"}
    mocked.post(FOLLOWUPS, json=created, status=201)
    assert make_client().post_followup(1916449, FOLLOWUP_IN) == created
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.req_kwargs["timeout"] == (5.0, 30.0)
    assert responses.matchers.json_params_matcher(FOLLOWUP_IN)(request)[0]


def test_listing_sends_rfc3339_times_with_offset(mocked, make_client):
    mocked.get(LISTING, json={"data": [{"tracking_id": 1}], "next_cursor": "c2"})
    page = make_client().list_reports(
        3201,
        updated_from=datetime(2024, 5, 1, 8, 0, tzinfo=WIB),
        updated_to=datetime(2024, 5, 1, 3, 0, 30, tzinfo=UTC),
        limit=200,
    )
    assert page == ListingPage(data=[{"tracking_id": 1}], next_cursor="c2")
    assert query(mocked.calls[0]) == {
        "updated_from": ["2024-05-01T08:00:00+07:00"],  # '+' survived URL encoding
        "updated_to": ["2024-05-01T03:00:30+00:00"],
        "limit": ["200"],
    }


def test_listing_without_updated_to_means_until_now(mocked, make_client):
    mocked.get(LISTING, json={"data": [], "next_cursor": None})
    page = make_client().list_reports(3201, updated_from=datetime(2024, 5, 1, tzinfo=WIB))
    assert page == ListingPage(data=[], next_cursor=None)
    assert query(mocked.calls[0]) == {
        "updated_from": ["2024-05-01T00:00:00+07:00"],
        "limit": ["500"],
    }


def test_listing_with_cursor_sends_only_the_cursor(mocked, make_client):
    mocked.get(LISTING, json={"data": [], "next_cursor": None})
    make_client().list_reports(
        3201,
        updated_from=datetime(2024, 5, 1, tzinfo=WIB),
        updated_to=datetime(2024, 5, 2, tzinfo=WIB),
        cursor="opaque/+cursor==",
    )
    assert query(mocked.calls[0]) == {"cursor": ["opaque/+cursor=="], "limit": ["500"]}


def test_listing_returns_records_raw_without_validation(mocked, make_client):
    records = [{"tracking_id": "not-an-int", "unknown_field": True}, {"broken": None}]
    mocked.get(LISTING, json={"data": records, "next_cursor": None, "extra": 1})
    page = make_client().list_reports(3201, updated_from=datetime(2024, 5, 1, tzinfo=WIB))
    assert page.data == records


@pytest.mark.parametrize("name", ["updated_from", "updated_to"])
def test_naive_datetime_is_refused_before_any_request(mocked, make_client, name):
    times = {"updated_from": datetime(2024, 5, 1, tzinfo=WIB), name: datetime(2024, 5, 1)}
    with pytest.raises(ValueError, match=name):
        make_client().list_reports(3201, **times)
    assert len(mocked.calls) == 0


def test_limit_out_of_range_is_refused(make_client):
    with pytest.raises(ValueError, match="limit"):
        make_client().list_reports(3201, updated_from=datetime(2024, 5, 1, tzinfo=WIB), limit=501)


def test_get_report_and_followups(mocked, make_client):
    mocked.get(REPORT, json={"tracking_id": 1916449, "status": "DISPOSISI"})
    mocked.get(FOLLOWUPS, json={"data": [{"id": 1, "external_ref": "fu-42"}]})
    client = make_client()
    assert client.get_report(1916449)["status"] == "DISPOSISI"
    assert client.list_followups(1916449) == [{"id": 1, "external_ref": "fu-42"}]
    assert client.requests_made == 2


def test_post_without_external_ref_is_refused_before_sending(mocked, make_client):
    with pytest.raises(ValueError, match="external_ref"):
        make_client().post_followup(1, {"content": "x", "status": "DIPROSES", "unit": "u"})
    assert len(mocked.calls) == 0


# --- GET retries ----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_get_retries_transient_status_then_succeeds(mocked, make_client, clock, status):
    mocked.get(TOPICS, status=status)
    mocked.get(TOPICS, status=status)
    mocked.get(TOPICS, json={"data": []})
    assert make_client().list_topics() == []
    assert len(mocked.calls) == 3
    assert len(clock.sleeps) == 2
    # full jitter: uniform(0, base * 2**n)
    assert 0 <= clock.sleeps[0] <= 0.5
    assert 0 <= clock.sleeps[1] <= 1.0


@pytest.mark.parametrize(
    "exc",
    [
        refused(),
        dropped(),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ConnectTimeout("x"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
    ids=["refused", "dropped", "read-timeout", "connect-timeout", "chunked"],
)
def test_get_retries_transport_failures(mocked, make_client, exc):
    mocked.get(REPORT, body=exc)
    mocked.get(REPORT, json={"tracking_id": 1916449})
    assert make_client().get_report(1916449) == {"tracking_id": 1916449}
    assert len(mocked.calls) == 2


def test_bounded_attempts_then_unavailable(mocked, make_client, clock, jitter_high):
    for _ in range(6):
        mocked.get(TOPICS, status=500)
    client = make_client(
        retry=RequestRetryPolicy(max_attempts=6, backoff_base_s=0.5, backoff_max_s=3.0)
    )
    with pytest.raises(Unavailable) as info:
        client.list_topics()
    assert len(mocked.calls) == 6
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]  # exponential, capped
    msg = str(info.value)
    assert msg.startswith("LAPOR! API at lapor.test did not answer GET /topics after 6 attempts")
    assert "over 9.5 s: HTTP 500" in msg
    assert msg.endswith("Check the network or try again later.")
    assert info.value.maybe_sent is False


def test_time_budget_bounds_retries_including_waits(mocked, make_client, clock, jitter_high):
    for _ in range(4):
        mocked.get(TOPICS, status=502)
    policy = RequestRetryPolicy(
        max_attempts=100, max_elapsed_s=10.0, backoff_base_s=1.0, backoff_max_s=4.0
    )
    with pytest.raises(Unavailable, match=r"after 4 attempts over 7\.0 s"):
        make_client(retry=policy).list_topics()
    # waits 1, 2, 4 end at t=7; the next wait (4) would end past 10 s: stop before sleeping
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(mocked.calls) == 4


def test_429_retry_after_is_honoured_exactly(mocked, make_client, clock):
    mocked.get(TOPICS, status=429, headers={"Retry-After": "7"})
    mocked.get(TOPICS, json={"data": []})
    assert make_client().list_topics() == []
    assert clock.sleeps == [7.0]


def test_429_retry_after_as_http_date(mocked, make_client, clock):
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
    mocked.get(TOPICS, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    mocked.get(TOPICS, json={"data": []})
    make_client().list_topics()
    assert len(clock.sleeps) == 1
    assert 18.0 <= clock.sleeps[0] <= 20.0


@pytest.mark.parametrize("seconds", [31, 120])
def test_429_retry_after_too_long_raises_rate_limited_without_sleeping(
    mocked, make_client, clock, seconds
):
    mocked.get(TOPICS, status=429, headers={"Retry-After": str(seconds)})
    with pytest.raises(RateLimited) as info:
        make_client().list_topics()
    assert info.value.retry_after == seconds
    assert "GET /topics" in str(info.value)
    assert clock.sleeps == []
    assert len(mocked.calls) == 1


def test_429_without_retry_after_backs_off_and_ends_rate_limited(mocked, make_client, clock):
    for _ in range(3):
        mocked.get(TOPICS, status=429)
    with pytest.raises(RateLimited) as info:
        make_client(retry=RequestRetryPolicy(max_attempts=3, backoff_max_s=15.0)).list_topics()
    assert len(mocked.calls) == 3
    assert len(clock.sleeps) == 2
    assert info.value.retry_after == 15.0


def test_503_retry_after_is_honoured(mocked, make_client, clock):
    mocked.get(REPORT, status=503, headers={"Retry-After": "2"})
    mocked.get(REPORT, json={"tracking_id": 1916449})
    make_client().get_report(1916449)
    assert clock.sleeps == [2.0]


def test_503_retry_after_too_long_raises_unavailable_with_retry_after(mocked, make_client, clock):
    mocked.get(REPORT, status=503, headers={"Retry-After": "45"})  # > 30 s, within the budget
    with pytest.raises(Unavailable) as info:
        make_client().get_report(1916449)
    assert info.value.retry_after == 45.0
    assert info.value.maybe_sent is False
    assert clock.sleeps == []
    assert len(mocked.calls) == 1


def test_retry_after_on_500_is_ignored(mocked, make_client, clock, jitter_high):
    mocked.get(TOPICS, status=500, headers={"Retry-After": "25"})
    mocked.get(TOPICS, json={"data": []})
    make_client().list_topics()
    assert clock.sleeps == [0.5]


# --- final answers ---------------------------------------------------------------


def test_401_is_fatal_and_never_retried(mocked, make_client, clock):
    mocked.get(TOPICS, status=401, json={"message": "token expired"})
    with pytest.raises(Unauthorized) as info:
        make_client().list_topics()
    assert str(info.value) == "LAPOR! rejected the token (401). Set a valid LAPOR_BRIDGE_TOKEN."
    assert len(mocked.calls) == 1
    assert clock.sleeps == []


def test_401_on_post_is_fatal_too(mocked, make_client):
    mocked.post(FOLLOWUPS, status=401)
    with pytest.raises(Unauthorized):
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert len(mocked.calls) == 1


def test_410_on_listing_is_cursor_expired(mocked, make_client):
    mocked.get(LISTING, status=410)
    with pytest.raises(CursorExpired, match="restart the window"):
        make_client().list_reports(3201, updated_from=datetime(2024, 5, 1, tzinfo=WIB), cursor="c1")
    assert len(mocked.calls) == 1


def test_410_elsewhere_is_a_rejection(mocked, make_client):
    mocked.get(REPORT, status=410)
    with pytest.raises(Rejected) as info:
        make_client().get_report(1916449)
    assert not isinstance(info.value, CursorExpired)
    assert info.value.status == 410


def test_422_propagates_the_servers_errors(mocked, make_client):
    body = {"message": "Validation failed", "errors": ["content: too long", "status: invalid"]}
    mocked.post(FOLLOWUPS, status=422, json=body)
    with pytest.raises(Rejected) as info:
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert info.value.status == 422
    assert info.value.errors == ["content: too long", "status: invalid"]
    assert "Validation failed" in str(info.value)
    assert "POST /laporan/1916449/tindak-lanjut" in str(info.value)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 409, 418])
def test_other_4xx_are_final_rejections(mocked, make_client, status):
    mocked.post(FOLLOWUPS, status=status, body="<html>nope</html>")
    with pytest.raises(Rejected) as info:
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert info.value.status == status
    assert info.value.errors == []
    assert len(mocked.calls) == 1


def test_redirect_is_not_followed(mocked, make_client):
    mocked.get(TOPICS, status=301, headers={"Location": "https://elsewhere.test/topics"})
    with pytest.raises(Rejected, match="LAPOR_BRIDGE_API_URL"):
        make_client().list_topics()
    assert len(mocked.calls) == 1


def test_non_json_200_breaks_the_contract(mocked, make_client):
    mocked.get(TOPICS, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(ContractViolation, match="broke the contract on GET /topics") as info:
        make_client().list_topics()
    assert isinstance(info.value, Unavailable)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "body", [{"data": []}, {"next_cursor": None}, {"data": {}, "next_cursor": None}, [1, 2]]
)
def test_listing_without_required_keys_breaks_the_contract(mocked, make_client, body):
    mocked.get(LISTING, json=body)
    with pytest.raises(ContractViolation):
        make_client().list_reports(3201, updated_from=datetime(2024, 5, 1, tzinfo=WIB))


# --- POST: never re-sent once it may have arrived -----------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_5xx_is_maybe_sent_and_never_retried(mocked, make_client, clock, status):
    mocked.post(FOLLOWUPS, status=status, headers={"Retry-After": "1"})
    with pytest.raises(Unavailable) as info:
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert info.value.maybe_sent is True
    assert "fu-42" in str(info.value)  # tells what to reconcile by
    assert len(mocked.calls) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout("slow"),
        dropped(),
        requests.exceptions.ConnectionError("?"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
    ids=["read-timeout", "dropped", "unknown-connection-error", "chunked"],
)
def test_post_failure_after_sending_is_maybe_sent_and_not_retried(mocked, make_client, exc):
    mocked.post(FOLLOWUPS, body=exc)
    with pytest.raises(Unavailable) as info:
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert info.value.maybe_sent is True
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "exc", [refused(), requests.exceptions.ConnectTimeout("x")], ids=["refused", "connect-timeout"]
)
def test_post_connect_failure_is_retried_then_succeeds(mocked, make_client, exc):
    mocked.post(FOLLOWUPS, body=exc)
    mocked.post(FOLLOWUPS, json={"id": 9, "external_ref": "fu-42"}, status=201)
    assert make_client().post_followup(1916449, FOLLOWUP_IN)["id"] == 9
    assert len(mocked.calls) == 2


def test_post_connection_refused_exhausted_is_not_sent(mocked, make_client):
    for _ in range(4):
        mocked.post(FOLLOWUPS, body=refused())
    with pytest.raises(Unavailable) as info:
        make_client(retry=RequestRetryPolicy(max_attempts=4)).post_followup(1916449, FOLLOWUP_IN)
    assert info.value.maybe_sent is False
    assert "after 4 attempts" in str(info.value)
    assert len(mocked.calls) == 4


def test_post_refused_then_read_timeout_is_maybe_sent(mocked, make_client):
    mocked.post(FOLLOWUPS, body=refused())
    mocked.post(FOLLOWUPS, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(Unavailable) as info:
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert info.value.maybe_sent is True
    assert len(mocked.calls) == 2


def test_post_429_was_not_applied_so_it_is_retried(mocked, make_client, clock):
    mocked.post(FOLLOWUPS, status=429, headers={"Retry-After": "3"})
    mocked.post(FOLLOWUPS, json={"id": 9}, status=201)
    assert make_client().post_followup(1916449, FOLLOWUP_IN) == {"id": 9}
    assert clock.sleeps == [3.0]


def test_post_non_json_201_was_applied(mocked, make_client):
    mocked.post(FOLLOWUPS, body="created", status=201)
    with pytest.raises(ContractViolation) as info:
        make_client().post_followup(1916449, FOLLOWUP_IN)
    assert info.value.maybe_sent is True


# --- secrets --------------------------------------------------------------------


ERROR_PATHS = {
    "401": lambda m: m.get(TOPICS, status=401, json={"message": f"bad token Bearer {TOKEN}"}),
    "refused": lambda m: [m.get(TOPICS, body=refused()) for _ in range(6)],
    "5xx-exhausted": lambda m: [m.get(TOPICS, status=503) for _ in range(6)],
    "422-echoing-token": lambda m: m.get(
        TOPICS, status=422, json={"message": f"no {TOKEN}", "errors": [f"Authorization: {TOKEN}"]}
    ),
    "read-timeout": lambda m: [
        m.get(TOPICS, body=requests.exceptions.ReadTimeout(TOKEN)) for _ in range(6)
    ],
    "429-too-long": lambda m: m.get(TOPICS, status=429, headers={"Retry-After": "999"}),
    "not-json": lambda m: m.get(TOPICS, body=f"<pre>{TOKEN}</pre>"),
}


@pytest.mark.parametrize("path", ERROR_PATHS)
def test_token_never_appears_in_errors_or_logs(mocked, make_client, caplog, path):
    ERROR_PATHS[path](mocked)
    client = make_client()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamError) as info:
        client.list_topics()
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent
    exc = info.value
    texts = [str(exc), repr(exc), repr(exc.args), exc.message, repr(vars(exc)), repr(client)]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(exc.__cause__), str(exc.__context__)]
    assert "S3CR3T" not in "\n".join(texts)
    assert exc.__cause__ is None and exc.__context__ is None  # no request object rides along


def test_token_and_body_never_logged_and_retry_logged(mocked, make_client, caplog, clock):
    mocked.post(FOLLOWUPS, body=refused())
    mocked.post(FOLLOWUPS, json={"id": 9, "content": FOLLOWUP_IN["content"]}, status=201)
    caplog.set_level(logging.DEBUG, logger="lapor_bridge.upstream")
    make_client().post_followup(1916449, FOLLOWUP_IN)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "POST /laporan/1916449/tindak-lanjut" in msg
    assert "attempt 1 of 6" in msg
    assert "could not connect" in msg
    assert f"retrying in {clock.sleeps[0]:.2f} s" in msg
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert "RAHASIA" not in caplog.text
    assert TOKEN not in caplog.text


def test_bad_token_or_base_url_is_a_config_error_without_the_token():
    with pytest.raises(ConfigError) as info:
        LaporClient(BASE, "tok-S3CR3T with space")
    assert "S3CR3T" not in str(info.value)
    with pytest.raises(ConfigError):
        LaporClient("ftp://lapor.test", TOKEN)
    with pytest.raises(ConfigError) as info:
        LaporClient("https://user:S3CR3T@lapor.test/api", TOKEN)
    assert "S3CR3T" not in str(info.value)


# --- rate limit ------------------------------------------------------------------


def test_rate_limit_never_exceeds_rate_in_any_second(mocked, make_client, clock):
    sent_at: list[float] = []

    def answer(request):
        sent_at.append(clock.now())
        return 200, {}, '{"data": []}'

    for _ in range(12):
        mocked.add_callback(responses.GET, TOPICS, callback=answer)
    client = make_client(rate_limit_per_s=5.0)
    for _ in range(12):
        client.list_topics()
    assert len(sent_at) == 12
    # any 6 consecutive requests span at least 1 s plus the 5 % margin for arrival
    # jitter at the server: no 1-s window there holds more than 5
    assert all(sent_at[i + 5] - sent_at[i] >= 1.05 - 1e-9 for i in range(len(sent_at) - 5))
    assert clock.sleeps == pytest.approx([0.21] * 11)


def test_rate_limit_none_means_unlimited(mocked, make_client, clock):
    for _ in range(20):
        mocked.get(TOPICS, json={"data": []})
    client = make_client(rate_limit_per_s=None)
    for _ in range(20):
        client.list_topics()
    assert clock.sleeps == []


def test_rate_limiter_is_thread_safe():
    """Real clock and sleep: threads that wait at the same time get distinct slots,
    and the waiting really happens (a limiter that does not sleep is caught)."""
    limiter = RateLimiter(200.0)
    granted: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(5)

    def worker():
        start.wait()
        for _ in range(6):
            t = limiter.acquire()
            with lock:
                granted.append(t)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    granted.sort()
    assert len(granted) == 30
    assert all(b - a >= 0.005 - 1e-9 for a, b in itertools.pairwise(granted))
    # 30 slots 1.05/200 s apart: at least 29 intervals of real time went by
    # (a lower bound: a busy machine only makes it longer)
    assert elapsed >= 29 * limiter.interval - 1e-3


class _Arrivals(BaseHTTPRequestHandler):
    """Answers every GET with an empty listing and notes when it arrived."""

    arrivals: list[float]

    def do_GET(self) -> None:
        self.arrivals.append(time.monotonic())
        body = b'{"data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def arrival_server():
    """A real HTTP server on 127.0.0.1; yields (base URL, arrival times at the server)."""
    arrivals: list[float] = []
    handler = type("Handler", (_Arrivals,), {"arrivals": arrivals})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1", arrivals
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_rate_limit_spaces_real_requests_at_the_server(arrival_server):
    """Real requests, real clock: what the server sees. One request follows the
    answer to the one before, so request i+k leaves at least (k-1) intervals
    after request i arrived: no 1-second window at the server holds more than
    the rate however slow the machine is, and a limiter that does nothing
    (loopback answers in about a millisecond) fails this at once."""
    url, arrivals = arrival_server
    rate = 20.0
    client = LaporClient(url, TOKEN, rate_limit_per_s=rate)
    try:
        for _ in range(16):
            client.list_topics()
    finally:
        client.close()
    assert len(arrivals) == 16
    interval = 1.05 / rate
    for i in range(len(arrivals) - 6):
        assert arrivals[i + 6] - arrivals[i] >= 5 * interval - 1e-3, (i, arrivals)
    assert arrivals[-1] - arrivals[0] >= 14 * interval - 1e-3


# --- plumbing ---------------------------------------------------------------------


def test_urllib3_never_retries_on_its_own():
    client = LaporClient(BASE, TOKEN)
    for prefix in ("https://x", "http://x"):
        retries = client._session.get_adapter(prefix).max_retries
        assert retries.total == 0
        assert retries.read is False
    session = requests.Session()  # an injected session gets the same treatment
    LaporClient(BASE, TOKEN, session=session)
    assert session.get_adapter("https://x").max_retries.total == 0


def test_policy_table():
    assert action_for(200) is Action.SUCCESS
    assert action_for(201) is Action.SUCCESS
    assert action_for(401) is Action.UNAUTHORIZED
    assert action_for(410) is Action.CURSOR_EXPIRED
    assert action_for(429) is Action.RATE_LIMITED
    assert {action_for(s) for s in (500, 502, 503, 504)} == {Action.RETRY}
    assert {action_for(s) for s in (400, 403, 404, 409, 422, 418)} == {Action.REJECT}
    assert {action_for(s) for s in (301, 501, 505)} == {Action.FAIL}


def test_parse_retry_after():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:42 GMT", now=now) == 42.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None


def test_repr_hides_the_token():
    client = LaporClient(BASE, TOKEN)
    assert "S3CR3T" not in repr(client)
    assert "S3CR3T" not in repr(client._auth)


# --- one real socket ---------------------------------------------------------------


def test_closed_port_on_localhost_is_unavailable_not_sent_quickly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends
    waits: list[float] = []
    client = LaporClient(
        f"http://127.0.0.1:{port}/api/v1", TOKEN, sleep=waits.append, rate_limit_per_s=None
    )
    started = time.monotonic()
    with pytest.raises(Unavailable) as info:
        client.post_followup(1916449, FOLLOWUP_IN)
    assert time.monotonic() - started < 5.0
    assert info.value.maybe_sent is False
    assert "connection refused" in str(info.value)
    assert len(waits) == 5  # retried: it surely never reached a server
    assert "S3CR3T" not in str(info.value)
    client.close()


@pytest.mark.parametrize(
    "body",
    [
        '{"data": [{"a": 1, "b": [1, {"c": "\\u00e9"}]}, {"x": null} ], "next_cursor": "c"}',
        ' {\n "next_cursor" : null ,\n "data" : [ ]\n } ',
        '{"data": [1, "s", 2.5, true, NaN], "data": [{"z": 0}], "extra": {"k": [1]}}',
    ],
)
def test_a_listing_is_split_into_the_records_as_received(body):
    from lapor_bridge.upstream.client import split_listing

    decoded, texts = split_listing(body)
    assert decoded == json.loads(body)
    assert [json.loads(t) for t in texts] == decoded["data"]
    assert all(t in body for t in texts)


@pytest.mark.parametrize(
    "body", ["[1]", '{"data": [1,]}', '{"data": [1]} x', '{"data": [1}', "", '{"a" 1}']
)
def test_what_is_not_a_plain_object_is_left_to_json_loads(body):
    from lapor_bridge.upstream.client import split_listing

    assert split_listing(body) is None
