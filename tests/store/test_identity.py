"""A store that knows itself: a newer, damaged or foreign database is refused in one
line and left untouched; a store serves one instansi and API and refuses another."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from lapor_bridge.errors import ConfigError
from lapor_bridge.outbox import push_outbox
from lapor_bridge.outbox.respond import new_external_ref
from lapor_bridge.store import open_store, read_session, write_session
from lapor_bridge.store.db import MIGRATIONS_DIR, _alembic_config, create_store_engine
from lapor_bridge.store.tables import StoreMeta, SyncCheckpoint, TindakLanjut
from lapor_bridge.sync.engine import run_sync
from tests.outbox.helpers import items, make_client, seed_from_simulator

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)

HEAD = ScriptDirectory(
    str(MIGRATIONS_DIR)
).get_current_head()  # the newest revision this code knows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def tables(url: str) -> set[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def refused(url: str, match: str) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        open_store(url)
    assert "\n" not in info.value.message
    return info.value.message


def test_a_store_newer_than_the_code_is_refused_untouched(store_url):
    open_store(store_url).dispose()
    engine = create_store_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    before = tables(store_url)
    refused(
        store_url,
        r"written by a newer lapor-bridge \(schema 9999; this one knows up to " + HEAD + r"\)",
    )
    assert tables(store_url) == before


def test_a_damaged_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "bridge.db"
    path.write_bytes(b"this is not a database\n" * 200)
    before = digest(path)
    refused(f"sqlite:///{path}", "is not a SQLite database or is damaged")
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bridge.db"]  # no -wal, no -shm


def test_a_sqlite_file_that_is_not_ours_is_refused_untouched(tmp_path):
    path = tmp_path / "someone-else.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = digest(path)
    refused(f"sqlite:///{path}", "not a lapor-bridge store")
    assert digest(path) == before  # not even its journal mode changed
    assert tables(f"sqlite:///{path}") == {"users"}


@pytest.mark.postgres
def test_a_postgres_database_that_is_not_ours_is_refused_untouched(pg_url):
    engine = create_store_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE users (id integer primary key)"))
    engine.dispose()
    refused(pg_url, "not a lapor-bridge store")
    assert tables(pg_url) == {"users"}


def test_a_database_of_another_alembic_application_is_refused(sqlite_url):
    path = sqlite_path(sqlite_url)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    conn.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    refused(sqlite_url, "managed by another application")
    assert tables(sqlite_url) == {"alembic_version", "invoices"}


def test_cli_refuses_in_one_line_without_a_traceback(tmp_path):
    path = tmp_path / "someone-else.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
    env["LAPOR_BRIDGE_DATABASE_URL"] = f"sqlite:///{path}"
    for args in (["status"], ["db", "current"], ["db", "upgrade"]):
        done = subprocess.run(
            [sys.executable, str(REPO / "cli.py"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "not a lapor-bridge store" in done.stderr
    assert tables(f"sqlite:///{path}") == {"users"}


def test_db_current_and_upgrade(tmp_path, make_simulator, make_runtime):
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
    env["LAPOR_BRIDGE_DATABASE_URL"] = url

    def db(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(REPO / "cli.py"), "db", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "no store yet" in db("current")
    assert not (tmp_path / "bridge.db").exists()  # `current` changes nothing
    engine = create_store_engine(url)
    command.upgrade(_alembic_config(engine), "0001")  # a store of the previous bridge
    engine.dispose()
    assert f"schema 0001 (this bridge upgrades it to {HEAD})" in db("current")
    assert f"upgraded from schema 0001 to {HEAD}" in db("upgrade")
    assert f"already at schema {HEAD}" in db("upgrade")
    assert "serves no instansi yet" in db("current")
    sim = make_simulator(initial_reports=3)
    run_sync(make_runtime(sim, url), push=False)
    assert f"serves instansi 3327 at {sim.url}" in db("current")


def test_an_upgraded_store_keeps_its_checkpoint_for_its_instansi(
    tmp_path, make_simulator, make_runtime
):
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    engine = create_store_engine(url)
    command.upgrade(_alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sync_checkpoint (name, high_water, updated_at) "
                "VALUES ('incremental', '2026-03-02 03:00:00', '2026-03-02 03:00:00')"
            )
        )
    engine.dispose()
    sim = make_simulator(initial_reports=3)
    rt = make_runtime(sim, url)
    with read_session(rt.engine) as session:
        row = session.get(SyncCheckpoint, (3327, "incremental"))
    assert row is not None and row.high_water == NOW


def test_a_second_instansi_on_one_store_is_refused(make_simulator, make_runtime, store_url):
    first = make_simulator(initial_reports=20, instansi_id=3327)
    second = make_simulator(initial_reports=20, instansi_id=3328, token="other-token")
    run_sync(make_runtime(first, store_url), push=False)
    with pytest.raises(
        ConfigError, match=r"this store serves instansi 3327 at .*, not instansi 3328"
    ):
        run_sync(make_runtime(second, store_url), push=False)
    assert not [r for r in second.request_log() if "/laporan" in r["path"]]  # nothing fetched
    moved = make_simulator(initial_reports=1)  # the same instansi, another API
    with pytest.raises(ConfigError, match="not instansi 3327 at"):
        make_runtime(moved, store_url).engine  # noqa: B018
    with read_session(open_store(store_url)) as session:
        meta = session.get(StoreMeta, 1)
    assert (meta.instansi_id, meta.api_url) == (3327, first.url)


def test_claims_are_keyed_by_instansi(make_simulator, sqlite_url):
    sim = make_simulator(initial_reports=20)
    engine = open_store(sqlite_url)
    reports = seed_from_simulator(engine, sim)
    with write_session(engine) as session:
        for instansi_id in (3328, 3327):
            session.add(
                TindakLanjut(
                    tracking_id=reports[0] if instansi_id == 3327 else reports[1],
                    external_ref=new_external_ref(instansi_id),
                    opd="DINKES",
                    status="DIPROSES",
                    content=f"Tindak lanjut dari instansi {instansi_id}.",
                    created_at=NOW,
                )
            )
    summary = push_outbox(engine, make_client(sim), instansi_id=3327)
    assert summary.sent == 1 and summary.due_left == 0
    states = {i.external_ref.split("-")[1]: i.state for i in items(engine)}
    assert states == {"3327": "sent", "3328": "pending"}  # never posted to the wrong server
