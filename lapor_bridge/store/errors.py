"""Database errors as one line without data.

A driver's error can carry the statement and its parameters (report text,
RAHASIA content included). What people see, and what is stored as a run's
error, is built here from the error's class and code only: what failed,
which table, what to do. Engines are created with `hide_parameters=True`
as well, so even a traceback at `-vvv` carries no parameters.
"""

from __future__ import annotations

import re
from typing import Any

from lapor_bridge.errors import BridgeError

_TABLE = re.compile(
    r'\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|FROM)\s+"?([A-Za-z_][A-Za-z0-9_]*)',
    re.IGNORECASE,
)


class StoreError(BridgeError):
    """The database refused or failed an operation (disk full, read-only, gone)."""

    exit_code = 1


def is_db_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    return isinstance(exc, DBAPIError | SQLAlchemyError)


def _table(statement: str | None) -> str | None:
    if not statement:
        return None
    match = _TABLE.search(statement)
    return match.group(1) if match else None


def _where(engine_url: Any) -> str:
    database = getattr(engine_url, "database", None)
    if getattr(engine_url, "get_backend_name", lambda: "")() == "sqlite" and database:
        from pathlib import Path

        return str(Path(database).resolve().parent)
    host = getattr(engine_url, "host", None)
    return f"the PostgreSQL server {host}" if host else "the database's disk"


def describe_db_error(exc: BaseException, *, url: Any = None) -> str:
    """One line: what failed, on which table, what to do. Never parameters or row data."""
    from sqlalchemy.exc import DBAPIError

    orig = getattr(exc, "orig", None)
    statement = getattr(exc, "statement", None)
    table = _table(statement)
    on = f" on table {table}" if table else ""
    verb = (statement or "").lstrip().split(" ", 1)[0].lower()
    what = f"database {verb}{on} failed" if verb else "database operation failed"
    sqlstate = getattr(orig, "sqlstate", None)
    primary = _primary_message(orig).lower()
    where = _where(url)
    if sqlstate == "53100" or "disk is full" in primary or "no space" in primary:
        return f"{what}: disk full: free space in {where}, then run again (nothing is lost)"
    if "readonly" in primary or "read-only" in primary or sqlstate == "25006":
        return (
            f"{what}: the database is read-only: make it writable for this user "
            f"(file and folder {where}), then run again"
        )
    if "database is locked" in primary:
        return f"{what}: the SQLite file stayed locked by another process for 30 s; run again"
    if "unable to open database" in primary:
        return f"{what}: cannot open the SQLite file in {where}: check the folder exists and is writable"
    if "not a database" in primary or "malformed" in primary:
        return f"{what}: the SQLite file is damaged or not a database; restore it from a backup"
    if (sqlstate and sqlstate.startswith("08")) or "connection" in primary:
        return (
            f"cannot connect to {where}: check that the server is up and "
            "LAPOR_BRIDGE_DATABASE_URL (nothing was done)"
        )
    if sqlstate == "57014":
        return f"{what}: the statement was cancelled by the server (timeout); run again"
    if isinstance(exc, DBAPIError) and orig is not None:
        code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
        return f"{what}: {type(orig).__name__}{code}; run again with -vvv for details"
    return f"{what}: {type(exc).__name__}; run again with -vvv for details"


def _primary_message(orig: Any) -> str:
    """The driver's message without detail lines (PostgreSQL's DETAIL carries key values)."""
    if orig is None:
        return ""
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary if primary else str(orig)
    return text.splitlines()[0] if text else ""


def as_store_error(exc: BaseException, *, url: Any = None) -> StoreError:
    return StoreError(describe_db_error(exc, url=url))
