"""Real receivers on 127.0.0.1: an HTTP endpoint for apprise `json://` URLs
(optionally flaky: drops connections, answers 5xx) and an SMTP server
(aiosmtpd) for `mailto://` URLs."""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOTIFICATION_ID = re.compile(r"(?:notification|notifikasi) #(\d+)")


@dataclass
class Received:
    path: str
    title: str
    body: str

    @property
    def batch_id(self) -> int | None:
        found = NOTIFICATION_ID.search(self.body)
        return int(found.group(1)) if found else None


@dataclass
class Flaky:
    """Per request: drop before recording, drop after recording (the hand-over
    happened but the answer is lost), or answer 503 without recording."""

    drop_before: float = 0.0
    drop_after: float = 0.0
    error_5xx: float = 0.0
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class JsonReceiver:
    def __init__(self, flaky: Flaky | None = None) -> None:
        self.flaky = flaky
        self.received: list[Received] = []
        self.dropped_after = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                fate = receiver._fate()
                if fate == "drop_before":
                    self._drop()
                    return
                if fate == "5xx":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, data.get("title", ""), data.get("message", ""))
                    )
                if fate == "drop_after":
                    with receiver.lock:
                        receiver.dropped_after += 1
                    self._drop()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _fate(self) -> str:
        if self.flaky is None:
            return "ok"
        with self.lock:
            roll = self.flaky.rng.random()
        f = self.flaky
        if roll < f.drop_before:
            return "drop_before"
        if roll < f.drop_before + f.drop_after:
            return "drop_after"
        if roll < f.drop_before + f.drop_after + f.error_5xx:
            return "5xx"
        return "ok"

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> JsonReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """aiosmtpd on a free port of 127.0.0.1, accepting any login (AUTH over plain
    SMTP allowed: loopback only), keeping every message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[tuple[str, str]] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def __enter__(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.messages.append(
                    message_from_bytes(envelope.content, policy=default_policy)
                )
                return "250 Message accepted"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> Any:
            receiver.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=True)

        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
        )
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()

    def url(self, to: str, user: str = "pengirim", password: str = "${SMTP_PASS}") -> str:
        return (
            f"mailto://{user}:{password}@127.0.0.1:{self.port}"
            f"?from=lapor-bridge@pemalangkab.go.id&to={to}&mode=insecure"
        )

    def bodies(self) -> list[tuple[str, str, str]]:
        """(to, subject, text) of every message."""
        out = []
        for m in self.messages:
            part = m.get_body(preferencelist=("plain", "html"))
            out.append((str(m["To"]), str(m["Subject"]), part.get_content() if part else ""))
        return out
