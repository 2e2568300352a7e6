"""The HTTP face of the simulator: the /api/v1 contract, the fault pipeline, /_sim/ admin."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import re
import socket
import sys
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from lapor_bridge.errors import BridgeError

from . import timefmt
from .config import Faults, SimulatorConfig
from .seed import TOPICS
from .world import World

API = "/api/v1"
ADMIN = "/_sim"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
FOLLOWUP_STATUSES = ("DIPROSES", "SELESAI")
BURST_S = 0.2  # the rate-limit bucket holds 200 ms worth of requests (at least one)

_RE_LISTING = re.compile(r"^/instansi/([^/]+)/laporan/?$")
_RE_REPORT = re.compile(r"^/laporan/([^/]+)/?$")
_RE_FOLLOWUPS = re.compile(r"^/laporan/([^/]+)/tindak-lanjut/?$")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection with no response
    delay: float = 0.0  # sleep this long before answering
    fault: str | None = None
    applied: bool = False  # a POST that stored a follow-up


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, dict(headers or {}))


def _error(status: int, message: str, errors: list[str] | None = None, **headers: str) -> Reply:
    payload: dict[str, Any] = {"message": message}
    if errors is not None:
        payload["errors"] = errors
    return _json(status, payload, {k.replace("_", "-"): v for k, v in headers.items()})


def _bearer(headers: Any) -> str | None:
    value = headers.get("Authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Simulator:
    """The LAPOR! API simulator: seeded state, an HTTP server thread, fault switches."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        # A private copy (a Faults object may be shared between configs); from here on
        # sim.config.faults and sim.faults are that copy.
        self._faults = Faults.model_validate(self.config.faults.model_dump())
        self.config.faults = self._faults
        self._lock = threading.RLock()
        self._world = World(self.config.seed, self.config.instansi_id, lambda: self._faults)
        self._world.clock = self.now
        self._world.seed(self.config.initial_reports, self.now())
        self._frng = random.Random(self.config.seed + 1)  # request faults only
        self._secret = hashlib.sha256(
            f"lapor-sim:{self.config.seed}:".encode() + os.urandom(16)
        ).digest()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._burst_left = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=500_000)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._gen_thread: threading.Thread | None = None
        self._warm_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.log_to_stderr = False
        self.url: str = ""
        self.port: int = 0

    # --- lifecycle -----------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._server is not None:
            return self.url
        server = _Server((host, port), _Handler)
        server.sim = self
        self._server = server
        self.port = server.server_address[1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{shown}:{self.port}{API}"
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="lapor-sim-http",
            daemon=True,
        )
        self._thread.start()
        self._warm_thread = threading.Thread(
            target=self._warm_cache, name="lapor-sim-warm", daemon=True
        )
        self._warm_thread.start()
        if self.config.change_rate_per_s > 0:
            self._gen_thread = threading.Thread(
                target=self._generate_loop, name="lapor-sim-gen", daemon=True
            )
            self._gen_thread.start()
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.close_all()
            server.server_close()
        for t in (self._thread, self._gen_thread, self._warm_thread):
            if t is not None and t is not threading.current_thread():
                t.join(timeout=5)
        self._thread = self._gen_thread = self._warm_thread = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _warm_cache(self) -> None:
        """Render the listing of every report once, in the background, in small chunks."""
        with self._lock:
            ids = list(self._world.reports)
        for i in range(0, len(ids), 250):
            if self._stopping.is_set():
                return
            with self._lock:
                for tid in ids[i : i + 250]:
                    rep = self._world.reports[tid]
                    if rep.listed:
                        self._world.render_listing(rep, rep.listed[-1])
            time.sleep(0.001)  # let requests in

    def _generate_loop(self) -> None:
        rng = random.Random(self.config.seed + 2)  # timing only
        delay = 0.0
        while not self._stopping.wait(delay):
            rate = self.config.change_rate_per_s
            if rate <= 0:
                delay = 0.5
            elif self._faults.equal_timestamps:
                k = rng.randint(3, 12)
                self.generate_changes(k)
                delay = k / rate
            else:
                self.generate_changes(1)
                delay = rng.expovariate(rate)

    # --- Python API ------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, **changes: Any) -> None:
        with self._lock:
            merged = {**self._faults.model_dump(), **changes}
            self._faults = Faults.model_validate(merged)
            self.config.faults = self._faults
            if not self._faults.error_rate:
                self._burst_left = 0  # errors switched off: end a running burst too

    def now(self) -> float:
        """The server's clock (the host's plus the `clock_offset_s` fault)."""
        return time.time() + self._faults.clock_offset_s

    def generate_changes(self, n: int) -> list[int]:
        with self._lock:
            t = self.now()
            out = []
            for _ in range(n):
                tc = t if self._faults.equal_timestamps else self.now()
                out.append(self._world.generate_change(tc))
            return out

    def truth(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._world.truth()

    def followups(self, tracking_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return self._world.all_followups(tracking_id)

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._log]

    def add_report(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            rep = self._world.add_report(self.now(), dict(fields))
            return self._world.record(rep)

    def update_report(self, tracking_id: int, **fields: Any) -> dict[str, Any]:
        with self._lock:
            rep = self._world.update_report(self.now(), tracking_id, dict(fields))
            return self._world.record(rep)

    # --- request handling ------------------------------------------------------

    def handle(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Reply:
        if path == ADMIN or path.startswith((ADMIN + "/", API + ADMIN + "/")):
            return self._admin(method, path.removeprefix(API), query, headers, body)
        if not (path == API or path.startswith(API + "/")):
            return _error(404, "not found; the API lives under /api/v1")
        t0 = time.time()
        with self._lock:
            reply = self._api(method, path[len(API) :], query, headers, body)
            self._log.append(
                {
                    "t": t0,
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": None if reply.drop else reply.status,
                    "fault": reply.fault,
                }
            )
        return reply

    def _api(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Reply:
        f = self._faults
        rng = self._frng
        if f.drop_rate and rng.random() < f.drop_rate:
            return Reply(0, drop=True, fault="drop")
        token = _bearer(headers)
        if token is None or not hmac.compare_digest(token.encode(), self.config.token.encode()):
            return _error(401, "missing or invalid bearer token", WWW_Authenticate="Bearer")
        if f.rate_limit_per_s:
            wait = self._take_token(token, f.rate_limit_per_s)
            if wait > 0:
                r = _error(429, "too many requests", Retry_After=str(max(1, math.ceil(wait))))
                r.fault = "rate_limit"
                return r
        if self._burst_left > 0 or (f.error_rate and rng.random() < f.error_rate):
            if self._burst_left <= 0:
                self._burst_left = f.error_burst_len
            self._burst_left -= 1
            status = rng.choice((500, 502, 503, 504))
            hdrs = {}
            if status == 503 and rng.random() < 0.5:
                hdrs["Retry-After"] = str(rng.randint(1, 2))
            r = _error(
                status,
                "upstream error (simulated)",
                **{k.replace("-", "_"): v for k, v in hdrs.items()},
            )
            r.fault = "error_burst"
            return r
        slow = f.slow_s if f.slow_rate and rng.random() < f.slow_rate else 0.0
        try:
            reply = self._route(method, path, query, body)
        except Exception as exc:  # a bug of the simulator: say so, as a server would
            reply = _error(500, f"simulator error: {type(exc).__name__}")
        if reply.applied and f.drop_after_apply_rate and rng.random() < f.drop_after_apply_rate:
            reply.drop = True
            reply.fault = "drop_after_apply"
        if slow:
            reply.delay = slow
            reply.fault = reply.fault or "slow"
        return reply

    def _take_token(self, token: str, rate: float) -> float:
        """Seconds to wait before the token has a request left (0 = go on)."""
        now = time.monotonic()
        cap = max(1.0, rate * BURST_S)
        key = hashlib.sha256(token.encode()).hexdigest()
        tokens, last = self._buckets.get(key, (cap, now))
        tokens = min(cap, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def _route(self, method: str, path: str, query: str, body: bytes) -> Reply:
        if path in ("/topics", "/topics/"):
            if method != "GET":
                return _error(405, "method not allowed")
            return _json(200, {"data": [{"id": i, "parent": p, "name": n} for i, p, n in TOPICS]})
        if m := _RE_LISTING.match(path):
            if method != "GET":
                return _error(405, "method not allowed")
            return self._listing(m.group(1), query)
        if m := _RE_FOLLOWUPS.match(path):
            if method == "GET":
                return self._get_followups(m.group(1))
            if method == "POST":
                return self._post_followup(m.group(1), body)
            return _error(405, "method not allowed")
        if m := _RE_REPORT.match(path):
            if method != "GET":
                return _error(405, "method not allowed")
            return self._get_report(m.group(1))
        return _error(404, "not found")

    # --- listing -------------------------------------------------------------

    def _listing(self, instansi: str, query: str) -> Reply:
        if not instansi.isdigit():
            return _error(400, "instansi_id must be an integer")
        if int(instansi) != self.config.instansi_id:
            return _error(403, "this token may not list that instansi")
        qs = parse_qs(query, keep_blank_values=True)

        def arg(name: str) -> str | None:
            values = qs.get(name)
            return values[-1] if values else None

        now = self.now()
        cursor = arg("cursor")
        if cursor:
            try:
                c = self._decode_cursor(cursor)
            except ValueError:
                return _error(400, "invalid cursor", ["cursor: not a cursor of this server"])
            if c["n"] != self.config.instansi_id:
                return _error(400, "invalid cursor", ["cursor: issued for another instansi"])
            if now - c["i"] > self._faults.cursor_ttl_s:
                return _error(410, "cursor expired; restart the window")
            frm, to, limit, after = c["f"], c["t"], c["l"], (c["k"][0], c["k"][1])
        else:
            errors = []
            frm = to = 0.0
            raw_from = arg("updated_from")
            if raw_from is None or raw_from == "":
                errors.append("updated_from: required")
            else:
                try:
                    frm = timefmt.parse(raw_from)
                except ValueError:
                    errors.append("updated_from: not an RFC 3339 time")
            raw_to = arg("updated_to")
            if raw_to:
                try:
                    to = timefmt.parse(raw_to)
                except ValueError:
                    errors.append("updated_to: not an RFC 3339 time")
            else:
                to = now
            limit = DEFAULT_LIMIT
            raw_limit = arg("limit")
            if raw_limit not in (None, ""):
                try:
                    limit = int(raw_limit)
                except ValueError:
                    limit = -1
                if not 1 <= limit <= MAX_LIMIT:
                    errors.append(f"limit: must be an integer in 1..{MAX_LIMIT}")
            if errors:
                return _error(400, "bad parameters", errors)
            after = None
        f = self._faults
        if f.ignore_updated_to:
            to = math.inf
        items, last, more = self._world.page(frm, to, after, limit, now)
        if f.gzip_bomb:
            return Reply(200, gzip_bomb(), {"Content-Encoding": "gzip"}, fault="gzip_bomb")
        items, fault = _hostile_items(f, items, limit)
        nxt = None
        if f.endless_cursors and last is None and after is not None:
            last = (after[0], after[1])  # an empty page that still hands out a new cursor
        if (more or f.endless_cursors) and last is not None:
            nxt = self._encode_cursor(
                {
                    "f": frm,
                    "t": to,
                    "l": limit,
                    "k": list(last),
                    "i": now,
                    "n": self.config.instansi_id,
                }
            )
        body = '{"data":[' + ",".join(items) + '],"next_cursor":' + json.dumps(nxt) + "}"
        data = body.encode()
        if f.non_utf8 and items:  # Latin-1 bytes where UTF-8 was due
            data = data.replace(b'"title":"', b'"title":"caf\xe9 ', 1)
            fault = "non_utf8"
        return Reply(200, data, fault=fault or ("endless_cursors" if f.endless_cursors else None))

    def _encode_cursor(self, data: dict[str, Any]) -> str:
        payload = _b64(json.dumps(data, separators=(",", ":")).encode())
        sig = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:12]
        return f"{payload}.{_b64(sig)}"

    def _decode_cursor(self, cursor: str) -> dict[str, Any]:
        try:
            payload, _, sig = cursor.partition(".")
            want = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:12]
            if not hmac.compare_digest(want, _unb64(sig)):
                raise ValueError("bad signature")
            data = json.loads(_unb64(payload))
            for k in ("f", "t", "l", "k", "i", "n"):
                if k not in data:
                    raise ValueError(k)
            return data
        except (ValueError, TypeError, UnicodeError) as exc:
            raise ValueError("invalid cursor") from exc

    # --- single reports and follow-ups -----------------------------------------

    def _find(self, raw_id: str) -> tuple[Any, Reply | None]:
        """(report, None) if it is ours now, else (report or None, the error reply)."""
        if not raw_id.isdigit():
            return None, _error(404, "no such report")
        rep = self._world.reports.get(int(raw_id))
        if rep is None:
            return None, _error(404, "no such report")
        if rep.latest.fields["instansi_id"] != self.config.instansi_id:
            return rep, _error(403, "the report is not disposed to this instansi")
        return rep, None

    def _get_report(self, raw_id: str) -> Reply:
        rep, err = self._find(raw_id)
        if err:
            return err
        return _json(200, self._world.render_current(rep))

    def _get_followups(self, raw_id: str) -> Reply:
        rep, err = self._find(raw_id)
        if err:
            return err
        return _json(200, {"data": [fu.data for fu in rep.followups]})

    def _post_followup(self, raw_id: str, body: bytes) -> Reply:
        rep, err = self._find(raw_id)
        transferred = rep is not None and err is not None and err.status == 403 and rep.listed
        if err and not transferred:
            return err
        try:
            data = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            return _error(422, "invalid body", ["body: not valid JSON"])
        errors = validate_followup(data)
        if errors:
            return _error(422, "invalid body", errors)
        if transferred:
            return _error(
                409, "the report was transferred to another instansi (DIALIHKAN); do not retry"
            )
        status = rep.latest.fields["status"]
        if status == "DITUTUP":
            return _error(409, "the report is closed (DITUTUP); do not retry")
        if status == "DIALIHKAN":
            return _error(409, "the report was transferred (DIALIHKAN); do not retry")
        fu = self._world.post_followup(self.now(), rep, data)
        reply = _json(
            201, fu, {"Location": f"{API}/laporan/{rep.tracking_id}/tindak-lanjut/{fu['id']}"}
        )
        reply.applied = True
        return reply

    # --- admin -------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Reply:
        token = _bearer(headers)
        if token is None or not hmac.compare_digest(token.encode(), self.config.token.encode()):
            return _error(401, "missing or invalid bearer token", WWW_Authenticate="Bearer")
        path = path.rstrip("/")
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _error(422, "invalid body", ["body: not valid JSON"])
        if method == "POST" and not isinstance(data, dict):
            return _error(422, "invalid body", ["body: must be a JSON object"])
        qs = parse_qs(query)
        try:
            if method == "GET" and path == "/_sim/truth":
                return _json(200, {"data": self.truth()})
            if method == "GET" and path == "/_sim/followups":
                raw = qs.get("tracking_id", [None])[-1]
                if raw is not None and not raw.isdigit():
                    return _error(400, "bad parameters", ["tracking_id: must be an integer"])
                return _json(200, {"data": self.followups(int(raw) if raw else None)})
            if method == "GET" and path == "/_sim/requests":
                return _json(200, {"data": self.request_log()})
            if method == "GET" and path == "/_sim/faults":
                return _json(200, self._faults.model_dump())
            if method == "POST" and path == "/_sim/faults":
                self.set_faults(**data)
                return _json(200, self._faults.model_dump())
            if method == "POST" and path == "/_sim/generate":
                n = data.get("n", 1)
                if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 100_000:
                    return _error(422, "invalid body", ["n: must be an integer in 0..100000"])
                return _json(200, {"tracking_ids": self.generate_changes(n)})
            if method == "POST" and path == "/_sim/reports":
                return _json(201, self.add_report(**data))
            if method == "POST" and (m := re.match(r"^/_sim/reports/(\d+)$", path)):
                return _json(200, self.update_report(int(m.group(1)), **data))
        except ValidationError as exc:
            return _error(
                422,
                "invalid body",
                [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()],
            )
        except KeyError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")
        except (ValueError, TypeError) as exc:
            return _error(422, "invalid body", [str(exc)])
        return _error(404, "no such admin endpoint")


def validate_followup(data: Any) -> list[str]:
    """The errors of a FollowUpIn body (empty when valid)."""
    if not isinstance(data, dict):
        return ["body: must be a JSON object"]
    errors = []
    content = data.get("content")
    if not isinstance(content, str):
        errors.append("content: required string")
    elif not 1 <= len(content) <= 5000:
        errors.append("content: must be 1..5000 characters")
    if data.get("status") not in FOLLOWUP_STATUSES:
        errors.append("status: must be one of DIPROSES, SELESAI")
    if not isinstance(data.get("unit"), str):
        errors.append("unit: required string")
    ref = data.get("external_ref")
    if not isinstance(ref, str):
        errors.append("external_ref: required string")
    elif len(ref) > 64:
        errors.append("external_ref: at most 64 characters")
    if "attachments" in data and data["attachments"] is not None:
        atts = data["attachments"]
        if not isinstance(atts, list):
            errors.append("attachments: must be an array")
        else:
            for i, a in enumerate(atts):
                if not isinstance(a, dict) or not isinstance(a.get("url"), str):
                    errors.append(f"attachments[{i}].url: required string")
                    continue
                for k in ("name", "mime"):
                    if a.get(k) is not None and not isinstance(a[k], str):
                        errors.append(f"attachments[{i}].{k}: must be a string or null")
    return errors


def _hostile_items(f: Faults, items: list[str], limit: int) -> tuple[list[str], str | None]:
    """A listing page's records as the hostile-answer faults make them."""
    fault = None
    if f.oversized_page and items:
        items = [items[i % len(items)] for i in range(f.oversized_page)]
        fault = "oversized_page"
    if f.bad_updated_at and items:
        bad: list[Any] = [1700000000, ["2026-01-01"]]
        items = list(items)
        for i, value in enumerate(bad[: len(items)]):
            record = json.loads(items[i])
            record["updated_at"] = value
            items[i] = json.dumps(record, ensure_ascii=False)
        fault = "bad_updated_at"
    if f.huge_title_bytes and items:
        record = json.loads(items[0])
        record["title"] = "x" * f.huge_title_bytes
        items = [json.dumps(record), *items[1:]]
        fault = "huge_title"
    if f.null_records and len(items) < limit:
        items = ["null", *items]
        fault = "null_records"
    return items, fault


_GZIP_BOMB: bytes | None = None


def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB of JSON-looking blanks (made once)."""
    global _GZIP_BOMB
    if _GZIP_BOMB is None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        blank = b" " * (1 << 20)
        parts = [packer.compress(b'{"data":[')]
        parts += [packer.compress(blank) for _ in range(1024)]
        parts += [packer.compress(b'],"next_cursor":null}'), packer.flush()]
        _GZIP_BOMB = b"".join(parts)
    return _GZIP_BOMB


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    sim: Simulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that vanish mid-request are normal here; other errors are printed."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def close_all(self) -> None:
        """Shut open keep-alive connections so a stopped server answers nothing."""
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LaporSim/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections
    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # the simulator logs itself
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, from the server's clock (see the clock_offset_s fault)."""
        return super().date_time_string(self.server.sim.now() if timestamp is None else timestamp)

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _header_bytes(self) -> bytes:
        """End the headers and take them out of the handler's buffer (not yet sent)."""
        buffered = getattr(self, "_headers_buffer", [])
        self._headers_buffer = []
        return b"".join(buffered) + b"\r\n"

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        t0 = time.time()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        reply = sim.handle(method, url.path, url.query, self.headers, body)
        if reply.delay > 0:
            time.sleep(reply.delay)
        if sim.log_to_stderr:
            status = "-" if reply.drop else str(reply.status)
            note = f" [{reply.fault}]" if reply.fault else ""
            shown = url.path + (f"?{url.query}" if url.query else "")
            ms = (time.time() - t0) * 1000
            stamp = timefmt.render(t0)
            print(
                f"{stamp} {method} {shown} {status} {ms:.1f}ms{note}", file=sys.stderr, flush=True
            )
        if reply.drop:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(reply.body)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            # Headers and body in one write: two small writes meet Nagle and the
            # client's delayed ACK, and every response would take 40 ms more.
            trickle = sim.faults.trickle_s if url.path.startswith(API + "/instansi/") else 0.0
            try:
                if trickle:  # the trickle fault: headers, then one byte at a time
                    self.wfile.write(self._header_bytes())
                    for i in range(len(reply.body)):
                        if sim.stopping:
                            break
                        time.sleep(trickle)
                        self.wfile.write(reply.body[i : i + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(self._header_bytes() + reply.body)
            except OSError:  # the client gave up (its timeout): nothing to answer to
                self.close_connection = True


def serve(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8708) -> None:
    """Run the simulator in the foreground until Ctrl-C; one stderr line per request."""
    sim = Simulator(config)
    sim.log_to_stderr = True
    try:
        url = sim.start(host, port)
    except OSError as exc:
        raise BridgeError(
            f"cannot serve the simulator on {host}:{port}: {exc.strerror or exc}"
        ) from None
    print(
        f"LAPOR! simulator at {url} (instansi {config.instansi_id}, "
        f"{config.initial_reports} seeded reports, seed {config.seed}); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the simulator", file=sys.stderr, flush=True)
    finally:
        sim.stop()
