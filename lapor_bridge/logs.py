"""Logging for cron and for people: levels, JSON lines, a log file, no secrets.

- stderr: errors by default (plus the command's own `error:` and
  `attention:` lines, which are not log records); `-q` not even logged
  errors; `-v` warnings (retries, expired cursors); `-vv` the job's events
  and every request; `-vvv` third-party libraries (alembic, filelock,
  urllib3, SQLAlchemy) and tracebacks too.
- `--log-format json`: one object per line with `ts` (RFC 3339), `level`,
  `logger`, `event`, and the `job` and `run_id` of the running job.
- `--log-file PATH`: the same lines appended to PATH at info level or more
  verbose; a WatchedFileHandler, so logrotate may move the file (no
  copytruncate needed).
- The token never appears: every record is scrubbed of it before output.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOB: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "lapor_bridge_job", default=None
)
THIRD_PARTY = ("alembic", "filelock", "urllib3", "sqlalchemy", "requests", "asyncio", "httpx")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class _Context(logging.Filter):
    """Adds the job and run id; replaces every secret by `***`."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = JOB.get() or {}
        record.job = ctx.get("job")
        record.run_id = ctx.get("run_id")
        if self.secrets:
            text = record.getMessage()
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, None
            if record.exc_text:
                for secret in self.secrets:
                    record.exc_text = record.exc_text.replace(secret, "***")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "job": getattr(record, "job", None),
            "run_id": getattr(record, "run_id", None),
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in data and not key.startswith("_"):
                data[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info and logging.getLogger().isEnabledFor(logging.DEBUG):
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return (
            datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z")
        )

    def format(self, record: logging.LogRecord) -> str:
        job, run_id = getattr(record, "job", None), getattr(record, "run_id", None)
        record.where = f" [{job}#{run_id}]" if job and run_id else f" [{job}]" if job else ""
        return super().format(record)


def stderr_level(verbose: int, quiet: bool) -> int:
    if quiet:
        return logging.CRITICAL
    return {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.DEBUG)


def setup_logging(
    *,
    verbose: int = 0,
    quiet: bool = False,
    fmt: str = "text",
    log_file: Path | None = None,
    secrets: list[str] | None = None,
) -> None:
    """Configure the root logger once per process (see the module docstring)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    context = _Context(secrets or [])
    level = stderr_level(verbose, quiet)
    stream = logging.StreamHandler()
    stream.setLevel(level)
    stream.setFormatter(formatter)
    stream.addFilter(context)
    root.addHandler(stream)
    lowest = level
    if log_file is not None:
        file_handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8", delay=False)
        file_level = min(level, logging.INFO)
        file_handler.setLevel(file_level)
        file_handler.setFormatter(formatter)
        file_handler.addFilter(context)
        root.addHandler(file_handler)
        lowest = min(lowest, file_level)
    root.setLevel(lowest)
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose >= 3 else logging.WARNING)


def add_secret(secret: str | None) -> None:
    """Scrub `secret` from every later record too (the token, once settings are read)."""
    if not secret:
        return
    for handler in logging.getLogger().handlers:
        for f in handler.filters:
            if isinstance(f, _Context) and secret not in f.secrets:
                f.secrets.append(secret)
