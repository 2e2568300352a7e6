"""Running the CLI as cron and systemd do: real processes, real exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TOKEN = "rahasia-token-0xC0FFEE-never-shown"


def bridge_env(sim: Any, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
    env.update(
        LAPOR_BRIDGE_API_URL=sim.url if sim else "http://127.0.0.1:9/api/v1",
        LAPOR_BRIDGE_TOKEN=sim.config.token if sim else TOKEN,
        LAPOR_BRIDGE_INSTANSI_ID=str(sim.config.instansi_id if sim else 3327),
        LAPOR_BRIDGE_DATABASE_URL=database_url,
        LAPOR_BRIDGE_MAPPINGS_DIR=str(REPO / "mappings"),
        LAPOR_BRIDGE_RATE_LIMIT_PER_S="1000",
        LAPOR_BRIDGE_MAX_RETRY_ELAPSED_S="2",
    )
    env.update(extra)
    return env


def cli_args(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "cli.py"), *args]


def cli(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_args(*args),
        env=env,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]
