"""Bulk reads and writes for SQLite and PostgreSQL: the one place that knows
how each engine takes many rows at once.

The domain packages (sync/ingest.py, mapping/apply.py, sla/refresh.py) say
*what* to write: a table, its columns, rows as tuples in the columns' order
with values already in their stored form (`BulkWriter.time`, `.json`), and
what a conflict means (`Upsert`). This module says *how*:

- SQLite: one prepared statement (`INSERT ... ON CONFLICT ... DO UPDATE`)
  through the driver's `executemany`;
- PostgreSQL: small batches the same way through psycopg, larger ones by
  `COPY` into a temporary staging table and one `INSERT ... SELECT ... ON
  CONFLICT` (or `UPDATE ... FROM`).

Statements are built once per (engine, table, columns, rule) and cached.
SQLAlchemy's per-value bind processing is bypassed, which is why values must
arrive stored: times naive UTC (on SQLite the text SQLAlchemy's DATETIME
writes, `YYYY-MM-DD HH:MM:SS.ffffff`, so comparisons and reads stay the
same), JSON as compact text, booleans as bool. Everything runs inside the
caller's transaction; nothing here begins or commits. Another engine gets one
answer: `UnsupportedStore`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from lapor_bridge.errors import ConfigError

CHUNK = 900  # values per IN (...) list: under SQLite's 999 host-parameter floor
COPY_FROM = 200  # PostgreSQL: batches this large go through COPY + staging
ENGINES = ("sqlite", "postgresql")

Row = tuple[Any, ...]


class UnsupportedStore(ConfigError):
    """The store is neither SQLite nor PostgreSQL."""


@dataclass(frozen=True)
class Add:
    """On conflict: the stored value plus `amount` (a counter of sightings)."""

    amount: int = 1


@dataclass(frozen=True)
class KeepWhile:
    """On conflict: while the new row's boolean `flag` is true, keep the stored
    value (or take the new one if none is stored); when it is false, clear it.
    (When we first saw a report leave, cleared when it comes back.)"""

    flag: str


@dataclass(frozen=True)
class Upsert:
    """What a conflict on `key` does: every non-key column takes the new value,
    except those in `keep` (never updated) and those with a rule in `rules`;
    with `newer`, only when the new row's `newer` column is greater than the
    stored one (a version guard); `ignore` leaves the stored row as it is."""

    key: tuple[str, ...]
    keep: frozenset[str] = frozenset()
    rules: Mapping[str, Add | KeepWhile] = field(default_factory=dict)
    newer: str | None = None
    ignore: bool = False

    def __hash__(self) -> int:
        return hash(
            (self.key, self.keep, tuple(sorted(self.rules.items())), self.newer, self.ignore)
        )


_WRITER = "lapor_bridge.bulk_writer"  # the key of a session's writer in Session.info


def writer(session: Session) -> BulkWriter:
    """The bulk writer of the session's current connection (and transaction).

    One writer per connection of the session, so the stored forms of times
    (`BulkWriter.time`) are shared by every step of a page: the page's stamp,
    the due times the clocks were written with and the events told of them are
    formatted once."""
    connection = session.connection()
    found = session.info.get(_WRITER)
    if found is None or found.connection is not connection:
        found = session.info[_WRITER] = BulkWriter(connection)
    return found


_AWARE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def _aware_from_naive_utc(value: datetime) -> datetime:
    return _AWARE_EPOCH + (value - _NAIVE_EPOCH)


class BulkWriter:
    """Bulk statements on one connection, inside its transaction."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.engine: str = connection.dialect.name
        if self.engine not in ENGINES:
            raise UnsupportedStore(
                f"the store must be SQLite or PostgreSQL, not {self.engine}; "
                "set LAPOR_BRIDGE_DATABASE_URL to sqlite:///path.db or postgresql+psycopg://..."
            )
        self._sqlite = self.engine == "sqlite"
        self._mark = "?" if self._sqlite else "%s"
        self._times: dict[datetime, Any] = {}
        # a time column selected with `time_column`, back to aware UTC in one call
        # (equal to `read_time`; NULL stays NULL and is not passed): SQLite's text
        # with the offset appended in SQL goes to datetime.fromisoformat (C);
        # PostgreSQL's naive UTC moved onto the aware epoch is exactly
        # replace(tzinfo=UTC), at a fraction of its cost
        self.read_time_column: Callable[[Any], datetime] = (
            datetime.fromisoformat if self._sqlite else _aware_from_naive_utc
        )

    # --- values in stored form ---------------------------------------------------

    def time_column(self, column: str) -> str:
        """The SQL that selects the stored time `column` for `read_time_column`."""
        return f"{column} || '+00:00'" if self._sqlite else column

    def time(self, value: datetime | None) -> Any:
        """An aware datetime as the store keeps it (see store.types.UTCDateTime)."""
        if value is None:
            return None
        found = self._times.get(value)
        if found is None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store: make it aware UTC first")
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            if self._sqlite:  # "YYYY-MM-DD HH:MM:SS.ffffff" without the "+00:00"
                found = value.isoformat(" ", "microseconds")[:26]
            else:
                found = value.replace(tzinfo=None)
            if len(self._times) < 100_000:  # due times and page stamps repeat a lot
                self._times[value] = found
        return found

    @staticmethod
    def json(value: Any) -> str | None:
        """JSON as the store keeps it (see store.types.JSONText)."""
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def raw_json(value: Any) -> str:
        """A record received from upstream, as JSON text in the order received
        (no sorting: the cheapest faithful form, read back as the same object)."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def read_time(value: Any) -> datetime | None:
        """A stored time read through `select_in` back to aware UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value + "+00:00")
        return value.replace(tzinfo=UTC)

    # --- reads ---------------------------------------------------------------------

    def select_in(
        self,
        table: str,
        columns: Sequence[str],
        key: str,
        ids: Iterable[Any],
        *,
        where: str = "",
    ) -> Iterator[Row]:
        """Rows (plain tuples, stored values) of `table` whose `key` is in `ids`,
        in chunks of one IN list each; `where` adds a fixed SQL condition."""
        ids = list(ids)
        if not self._sqlite:  # one array parameter: `key = ANY(%s)`, parsed once
            sql = _select_sql(self.engine, table, tuple(columns), key, 0, where)
            for start in range(0, len(ids), 50 * CHUNK):
                yield from self._fetch(sql, (ids[start : start + 50 * CHUNK],))
            return
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sql = _select_sql(self.engine, table, tuple(columns), key, len(chunk), where)
            yield from self._fetch(sql, tuple(chunk))

    def select_all(
        self, table: str, columns: Sequence[str], *, order_by: str = "", where: str = ""
    ) -> Iterator[Row]:
        """Every row of `table` (plain tuples, stored values)."""
        sql = f"SELECT {', '.join(columns)} FROM {table}"
        sql += f" WHERE {where}" if where else ""
        sql += f" ORDER BY {order_by}" if order_by else ""
        yield from self._fetch(sql, ())

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows (plain tuples, stored values) of a query with positional `?` marks."""
        return self._fetch(_marks(self.engine, sql), tuple(params))

    def query_in(
        self, sql: str, params: Sequence[Any], column: str, ids: Sequence[Any] | None
    ) -> Iterator[Row]:
        """Rows of a query with positional `?` marks whose `{ids}` (after every
        mark) becomes `column IN (ids)`, run once for each chunk of `ids`; with
        `ids` None, `{ids}` holds for every row."""
        params = tuple(params)
        if ids is None:
            yield from self._fetch(_in_sql(self.engine, sql, f"{column} IS NOT NULL", 0), params)
            return
        ids = list(ids)
        if not self._sqlite:  # one array parameter, as select_in
            statement = _in_sql(self.engine, sql, column, -1)
            for start in range(0, len(ids), 50 * CHUNK):
                yield from self._fetch(statement, (*params, ids[start : start + 50 * CHUNK]))
            return
        size = max(CHUNK - len(params), 1)
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            yield from self._fetch(_in_sql(self.engine, sql, column, len(chunk)), (*params, *chunk))

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Rows straight from the driver's cursor (SQLAlchemy's per-row result
        machinery cost more than the query), in the connection's transaction."""
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()

    # --- locks ---------------------------------------------------------------------

    def lock_writers(self, key: int) -> None:
        """Serialise the writers of one concern until the transaction ends: a
        transaction-level advisory lock on PostgreSQL; on SQLite `BEGIN
        IMMEDIATE` already serialises every writer."""
        if not self._sqlite:
            self.connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (key,))

    # --- writes --------------------------------------------------------------------

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Row],
        *,
        on_conflict: Upsert | None = None,
    ) -> None:
        """Insert `rows`; with `on_conflict`, an upsert by its rule."""
        if not rows:
            return
        columns = tuple(columns)
        if self._sqlite or len(rows) < COPY_FROM:
            sql = _insert_sql(self.engine, table, columns, on_conflict)
            self.connection.exec_driver_sql(sql, list(rows))
            return
        if on_conflict is None:
            self._copy(table, columns, rows)
            return
        staging = self._staging(table, columns, rows)
        self._from_staging(_insert_select_sql(table, columns, staging, on_conflict), staging)

    def insert_new(
        self, table: str, columns: Sequence[str], rows: Sequence[Row], *, key: Sequence[str]
    ) -> int:
        """Insert the `rows` whose `key` is not stored yet (`ON CONFLICT (key) DO
        NOTHING`), in the order given; returns how many were new.

        The count is exact on both engines: on SQLite the driver sums each
        statement's `changes()` (a skipped row changes nothing); on PostgreSQL
        a small batch runs as one pipelined `executemany` with `RETURNING`
        (an executemany's rowcount is not to be trusted there), a large one by
        `COPY` into staging and one `INSERT ... SELECT` whose rowcount is its own.
        """
        if not rows:
            return 0
        columns = tuple(columns)
        rule = Upsert(key=tuple(key), ignore=True)
        if self._sqlite:
            cursor = self.connection.connection.cursor()
            try:
                cursor.executemany(_insert_sql(self.engine, table, columns, rule), rows)
                return int(cursor.rowcount)
            finally:
                cursor.close()
        if len(rows) < COPY_FROM:
            sql = f"{_insert_sql(self.engine, table, columns, rule)} RETURNING 1"
            raw = self.connection.connection.driver_connection
            new = 0
            with raw.cursor() as cursor:
                cursor.executemany(sql, rows, returning=True)
                while True:
                    new += len(cursor.fetchall())
                    if not cursor.nextset():
                        break
            return new
        # staging is scanned in the order COPY wrote it: the rows go in as given
        staging = self._staging(table, columns, rows)
        return self._from_staging(_insert_select_sql(table, columns, staging, rule), staging)

    def update(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """UPDATE the rows whose first column (the key) matches, setting the others."""
        if not rows:
            return
        columns = tuple(columns)
        key, rest = columns[0], columns[1:]
        if self._sqlite or len(rows) < COPY_FROM:
            sets = ", ".join(f"{c} = {self._mark}" for c in rest)
            self.connection.exec_driver_sql(
                f"UPDATE {table} SET {sets} WHERE {key} = {self._mark}",
                [(*row[1:], row[0]) for row in rows],
            )
            return
        staging = self._staging(table, columns, rows)
        sets = ", ".join(f"{c} = s.{c}" for c in rest)
        self._from_staging(
            f"UPDATE {table} AS t SET {sets} FROM {staging} AS s WHERE t.{key} = s.{key}", staging
        )

    def delete(self, table: str, key: Sequence[str], keys: Sequence[Row]) -> None:
        """DELETE the rows whose `key` columns equal one of `keys`."""
        if not keys:
            return
        where = " AND ".join(f"{c} = {self._mark}" for c in key)
        self.connection.exec_driver_sql(f"DELETE FROM {table} WHERE {where}", list(keys))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A plain statement with positional `?` marks (rewritten for the engine)."""
        if not self._sqlite:
            sql = sql.replace("?", "%s")
        return self.connection.exec_driver_sql(sql, tuple(params))

    # --- PostgreSQL ---------------------------------------------------------------

    def _staging(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> str:
        """COPY `rows` into this transaction's staging table for (table, columns)."""
        staging = f"_bulk_{table}_{zlib.crc32(','.join(columns).encode()):08x}"
        self.connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
        )
        self._copy(staging, columns, rows)
        return staging

    def _from_staging(self, sql: str, staging: str) -> int:
        """Run `sql` (which reads `staging`) and empty `staging` for the next batch
        of this transaction, in one round trip; returns the rows `sql` changed.
        (No parameters: psycopg sends both statements as one simple query.)"""
        raw = self.connection.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute(f"{sql}; DELETE FROM {staging}")
            return int(cursor.rowcount)  # the first statement's

    def _copy(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        raw = self.connection.connection.driver_connection
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


# --- statements, built once ----------------------------------------------------------


@lru_cache(maxsize=256)
def _select_sql(
    engine: str, table: str, columns: tuple[str, ...], key: str, count: int, where: str
) -> str:
    extra = f" AND ({where})" if where else ""
    test = f"IN ({', '.join(['?'] * count)})" if engine == "sqlite" else "= ANY(%s)"
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {key} {test}{extra}"


@lru_cache(maxsize=256)
def _marks(engine: str, sql: str) -> str:
    return sql if engine == "sqlite" else sql.replace("?", "%s")


@lru_cache(maxsize=512)
def _in_sql(engine: str, sql: str, column: str, count: int) -> str:
    """`sql` with `{ids}` as `column IN (count marks)` (count -1: PostgreSQL's
    `= ANY(array)`; 0: `column` is already the whole condition)."""
    if count == 0:
        test = column
    elif count < 0:
        test = f"{column} = ANY(?)"
    else:
        test = f"{column} IN ({', '.join(['?'] * count)})"
    return _marks(engine, sql.replace("{ids}", test))


def _conflict_sql(table: str, columns: tuple[str, ...], rule: Upsert) -> str:
    target = f"ON CONFLICT ({', '.join(rule.key)})"
    if rule.ignore:
        return f"{target} DO NOTHING"
    sets = []
    for column in columns:
        if column in rule.key or column in rule.keep:
            continue
        action = rule.rules.get(column)
        if isinstance(action, Add):
            sets.append(f"{column} = {table}.{column} + {int(action.amount)}")
        elif isinstance(action, KeepWhile):
            sets.append(
                f"{column} = CASE WHEN excluded.{action.flag} "
                f"THEN COALESCE({table}.{column}, excluded.{column}) ELSE NULL END"
            )
        else:
            sets.append(f"{column} = excluded.{column}")
    guard = f" WHERE excluded.{rule.newer} > {table}.{rule.newer}" if rule.newer else ""
    return f"{target} DO UPDATE SET {', '.join(sets)}{guard}"


@lru_cache(maxsize=64)
def _insert_sql(engine: str, table: str, columns: tuple[str, ...], rule: Upsert | None) -> str:
    mark = "?" if engine == "sqlite" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    return sql if rule is None else f"{sql} {_conflict_sql(table, columns, rule)}"


@lru_cache(maxsize=64)
def _insert_select_sql(table: str, columns: tuple[str, ...], staging: str, rule: Upsert) -> str:
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "
        f"{_conflict_sql(table, columns, rule)}"
    )
