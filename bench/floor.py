"""The floor of a backfill: the least any client could do with the same listing.

    python bench/floor.py URL INSTANSI_ID STORE [--limit 500]

It walks `GET /instansi/{id}/laporan` with `requests` page by page (cursor,
limit 500, the same token), decodes each page with `json`, and stores per
record only tracking_id, version, updated_at and the raw JSON text, one
transaction a page, version-guarded like the bridge:

- SQLite (STORE is a file path): `sqlite3.executemany` of one INSERT ... ON
  CONFLICT, in WAL mode with synchronous=FULL (the bridge's durability);
- PostgreSQL (STORE is a postgresql:// URL): psycopg COPY into a temporary
  table and one INSERT ... SELECT ... ON CONFLICT.

No validation, no mapping, no SLA: bench/run.py divides the bridge's CPU by
this one's, both measured from outside with wait4.
"""

from __future__ import annotations

import argparse
import json
import sqlite3

import requests

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS floor_report (tracking_id BIGINT PRIMARY KEY, "
    "version INTEGER NOT NULL, updated_at TEXT NOT NULL, raw TEXT NOT NULL)"
)
UPSERT = (
    "INSERT INTO floor_report (tracking_id, version, updated_at, raw) {source} "
    "ON CONFLICT (tracking_id) DO UPDATE SET version = excluded.version, "
    "updated_at = excluded.updated_at, raw = excluded.raw "
    "WHERE excluded.version > floor_report.version"
)


def pages(url: str, instansi_id: int, limit: int, token: str):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    params: dict[str, object] = {"updated_from": "2000-01-01T00:00:00Z", "limit": limit}
    while True:
        body = session.get(f"{url}/instansi/{instansi_id}/laporan", params=params, timeout=30)
        body.raise_for_status()
        page = body.json()
        yield [
            (r["tracking_id"], r["version"], r["updated_at"], json.dumps(r, ensure_ascii=False))
            for r in page["data"]
        ]
        if page["next_cursor"] is None:
            return
        params = {"cursor": page["next_cursor"], "limit": limit}


def into_sqlite(path: str, source) -> int:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(SCHEMA)
    sql = UPSERT.format(source="VALUES (?, ?, ?, ?)")
    n = 0
    for rows in source:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows)
        db.execute("COMMIT")
        n += len(rows)
    db.close()
    return n


def into_postgres(url: str, source) -> int:
    import psycopg

    n = 0
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db:
        db.execute(SCHEMA)
        db.commit()
        sql = UPSERT.format(source="SELECT * FROM floor_staging")
        for rows in source:
            with db.transaction():
                db.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS floor_staging "
                    "(tracking_id BIGINT, version INTEGER, updated_at TEXT, raw TEXT) "
                    "ON COMMIT DELETE ROWS"
                )
                with db.cursor().copy(
                    "COPY floor_staging (tracking_id, version, updated_at, raw) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
                db.execute(sql)
            n += len(rows)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("instansi_id", type=int)
    parser.add_argument("store")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--token", default="sim-token")
    args = parser.parse_args()
    source = pages(args.url, args.instansi_id, args.limit, args.token)
    if args.store.startswith("postgresql"):
        n = into_postgres(args.store, source)
    else:
        n = into_sqlite(args.store, source)
    print(json.dumps({"fetched": n}))


if __name__ == "__main__":
    main()
