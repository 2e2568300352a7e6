"""Fixtures shared by the whole suite: real SQLite files, a real PostgreSQL,
a real simulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from lapor_bridge.config import Settings
from lapor_bridge.runtime import Runtime
from lapor_bridge.simulator import Faults, Simulator, SimulatorConfig
from lapor_bridge.store import open_store

PG_URL = os.environ.get("LAPOR_BRIDGE_TEST_PG_URL")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'bridge.db'}"


@contextmanager
def fresh_pg_database(options: str = "") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards;
    `options` go to CREATE DATABASE (e.g. "ENCODING 'LATIN1' ...")."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("LAPOR_BRIDGE_TEST_PG_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip('no PostgreSQL: run `eval "$(scripts/test-postgres start)"` first')
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" {options}'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str:
    """Each test using it runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(store_url) -> Iterator[Engine]:
    engine = open_store(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url) -> Iterator[Engine]:
    engine = open_store(sqlite_url)
    yield engine
    engine.dispose()


# --- the simulator and a bridge pointed at it ----------------------------------

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Simulator]]:
    """Start real simulators on free ports of 127.0.0.1; all stopped at teardown."""
    started: list[Simulator] = []

    def make(*, faults: Faults | None = None, **config: Any) -> Simulator:
        sim = Simulator(SimulatorConfig(faults=faults or Faults(), **config))
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def bridge_settings(sim: Simulator, database_url: str, **overrides: Any) -> Settings:
    """Settings of a bridge talking to `sim`, with the shipped mappings and fast retries."""
    values: dict[str, Any] = {
        "api_url": sim.url,
        "token": sim.config.token,
        "instansi_id": sim.config.instansi_id,
        "database_url": database_url,
        "mappings_dir": REPO / "mappings",
        "lookback_s": 300,
        "max_retry_elapsed_s": 20,
        "rate_limit_per_s": 1000,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def make_runtime() -> Callable[..., Runtime]:
    def make(sim: Simulator, database_url: str, **overrides: Any) -> Runtime:
        return Runtime(bridge_settings(sim, database_url, **overrides))

    return make


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch) -> None:
    """A developer's own LAPOR_BRIDGE_* settings never leak into a test."""
    for name in list(os.environ):
        if name.startswith("LAPOR_BRIDGE_") and name != "LAPOR_BRIDGE_TEST_PG_URL":
            monkeypatch.delenv(name)
