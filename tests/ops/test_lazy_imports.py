"""`lapor-bridge --help` loads no heavy library: commands import inside their bodies."""

from __future__ import annotations

import subprocess
import sys

from tests.ops.helpers import REPO

HEAVY = ("sqlalchemy", "pydantic", "rich", "holidays", "alembic", "lapor_bridge.simulator",
         "lapor_bridge.upstream.models", "lapor_bridge.store")  # fmt: skip


def imported_by(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(REPO / "cli.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


def test_help_imports_no_heavy_library():
    for args in (("--help",), ("--version",), ("sync", "--help")):
        modules = imported_by(*args)
        # typer's own adapters load pydantic for a subcommand's help; our models never
        heavy = HEAVY if args[0] != "sync" else tuple(h for h in HEAVY if h != "pydantic")
        found = sorted(m for m in modules if m.split(".")[0] in heavy or m.startswith(heavy))
        assert found == [], (args, found)
        assert "lapor_bridge.config" not in modules
