"""A loopback inbox for `lapor-bridge demo`: an HTTP receiver on 127.0.0.1
behind apprise `json://` URLs, and a copy of the mappings whose units point
at it, so the demo shows a message really arriving."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class LoopbackInbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []  # (path, title, body)
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                data = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                inbox.received.append((self.path, data.get("title", ""), data.get("message", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._dir = Path(tempfile.mkdtemp(prefix="lapor-bridge-demo-"))

    def __enter__(self) -> LoopbackInbox:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def mappings(self, source: Path) -> Path:
        """A copy of `source` where every unit has `notify: [json://<this inbox>/<CODE>]`."""
        from ruamel.yaml import YAML

        if not (Path(source) / "units.yaml").is_file():
            return source  # (the demo then says what is missing)
        target = self._dir / "mappings"
        shutil.copytree(source, target)
        yaml = YAML(typ="rt")
        doc = yaml.load((target / "units.yaml").read_text(encoding="utf-8"))
        host = self.url.removeprefix("http://")
        for unit in doc["units"]:
            unit["notify"] = [f"json://{host}/{unit['code']}"]
        with (target / "units.yaml").open("w", encoding="utf-8") as handle:
            yaml.dump(doc, handle)
        return target

    def newest_listing(self) -> Iterator[str]:
        """The newest message that lists reports, a few lines of it."""
        for path, title, body in reversed(self.received):
            if "\n- #" in body:
                yield f"{path}: {title}"
                yield from body.splitlines()[:6]
                return
