"""The site in a real headless Chromium (Debian's `chromium`), served over HTTP
on 127.0.0.1: no console error, every request answered by our server, and a
screenshot that is not blank. Skips locally without chromium; fails under CI."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lapor_bridge.reports.site import build_site

from .conftest import Seeded

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: scripts/test installs Debian's chromium package")
        pytest.skip("no chromium: apt-get install -y chromium")
    return CHROMIUM


class _Server:
    def __init__(self, root: Path) -> None:
        self.requests: list[tuple[str, int]] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                server.requests.append((self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def screenshot(chromium: str, url: str, png: Path, profile: Path) -> str:
    """Open `url`, save a screenshot; the browser's stderr (console messages)."""
    done = subprocess.run(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1300,1800",
            f"--screenshot={png}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert png.is_file(), done.stderr[-2000:]
    return done.stderr


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").resize((260, 360))
        return len(set(small.tobytes()[i : i + 3] for i in range(0, 260 * 360 * 3, 3)))


def test_overview_and_an_opd_page_render_without_console_errors(
    chromium: str, seeded: Seeded, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    build_site(seeded.rt, site, now=seeded.now)
    server = _Server(site)
    try:
        shots = {}
        for name, path in (("overview", "/index.html"), ("opd", "/opd/DPUPR.html")):
            png = tmp_path / f"{name}.png"
            stderr = screenshot(chromium, server.url + path, png, tmp_path / f"profile-{name}")
            assert console_errors(stderr) == [], stderr[-2000:]
            shots[name] = png
    finally:
        server.stop()
    paths = [p for p, _ in server.requests]
    assert "/index.html" in paths and "/opd/DPUPR.html" in paths
    assert all(code == 200 for _, code in server.requests), server.requests
    for png in shots.values():
        assert colours(png) > 40, f"{png} looks blank"
    if os.environ.get("SAVE_OVERVIEW_PNG"):
        shutil.copy(shots["overview"], os.environ["SAVE_OVERVIEW_PNG"])


def test_the_console_check_sees_an_error(chromium: str, tmp_path: Path) -> None:
    """The check above can fail: a page with a script error is caught."""
    (tmp_path / "bad.html").write_text("<p>x</p><script>console.error('boom')</script>")
    server = _Server(tmp_path)
    try:
        stderr = screenshot(chromium, server.url + "/bad.html", tmp_path / "b.png", tmp_path / "p")
    finally:
        server.stop()
    assert any("boom" in line for line in console_errors(stderr))
    # and a blank page is seen as blank
    (tmp_path / "blank.html").write_text("<html><body style='background:#fff'></body></html>")
    server = _Server(tmp_path)
    try:
        screenshot(chromium, server.url + "/blank.html", tmp_path / "w.png", tmp_path / "p2")
    finally:
        server.stop()
    assert colours(tmp_path / "w.png") <= 2
