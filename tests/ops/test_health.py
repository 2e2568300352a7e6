"""`health`: 0 when all is well, a distinct status per problem class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from lapor_bridge.config import Settings
from lapor_bridge.health import EXIT_STATUS, check_health
from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import Quarantine, SyncRun, TindakLanjut
from tests.ops.helpers import bridge_env, cli

NOW = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)


def _settings(url: str) -> Settings:
    return Settings(database_url=url)


def _healthy(engine) -> None:
    with write_session(engine) as session:
        session.add(
            SyncRun(
                kind="sync",
                started_at=NOW - timedelta(minutes=6),
                finished_at=NOW - timedelta(minutes=5),
                ok=True,
                outcome="ok",
            )
        )


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_each_problem_class_has_its_own_status(store_url):
    settings = _settings(store_url)
    assert codes(check_health(None, settings, NOW)) == ["store"]
    engine = open_store(store_url)
    _healthy(engine)
    assert check_health(engine, settings, NOW) == []

    stale = check_health(engine, settings, NOW + timedelta(hours=2))
    assert codes(stale) == ["stale"] and "no successful sync since" in stale[0].message

    with write_session(engine) as session:
        session.add(
            TindakLanjut(
                tracking_id=1,
                external_ref="lb-3327-x",
                opd="DINKES",
                status="DIPROSES",
                content="...",
                created_at=NOW,
                state="dead",
                attempts=1,
                last_error="LAPOR! refused (409)",
                last_status=409,
            )
        )
    assert codes(check_health(engine, settings, NOW)) == ["outbox"]
    with write_session(engine) as session:
        session.add(
            Quarantine(
                digest="d1",
                source="listing",
                reason="bad",
                raw={},
                first_seen_at=NOW,
                last_seen_at=NOW,
            )
        )
    problems = check_health(engine, settings, NOW)
    assert codes(problems) == ["outbox", "quarantine"]
    assert [p.exit_status for p in problems] == [EXIT_STATUS["outbox"], EXIT_STATUS["quarantine"]]

    late = datetime(2028, 3, 1, tzinfo=UTC)  # holidays has no cuti bersama for 2028
    assert "holidays" in codes(check_health(engine, settings, late))
    assert "holidays" in codes(check_health(engine, settings, datetime(2027, 12, 1, tzinfo=UTC)))

    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert codes(check_health(engine, settings, NOW)) == ["schema"]
    assert len(set(EXIT_STATUS.values())) == len(EXIT_STATUS)
    assert all(code not in (0, 1, 2, 3, 4, 5, 6, 75) for code in EXIT_STATUS.values())


def test_health_command_exit_statuses(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=5)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    proc = cli("health", env=env)
    assert proc.returncode == EXIT_STATUS["store"] and proc.stdout.startswith("store: ")
    assert not (tmp_path / "b.db").exists()
    assert cli("sync", env=env).returncode == 0
    proc = cli("health", env=env)
    assert (proc.returncode, proc.stdout) == (0, "ok\n")
    proc = cli("health", env=dict(env, LAPOR_BRIDGE_STALE_AFTER_S="1"), timeout=30)
    # right after a sync it is fresh; a failed run later does not count as a success
    down = dict(
        env, LAPOR_BRIDGE_API_URL="http://127.0.0.1:9/api/v1", LAPOR_BRIDGE_MAX_ATTEMPTS="1"
    )
    assert cli("sync", env=down).returncode == 4
    import time

    time.sleep(1.1)
    proc = cli("health", env=dict(env, LAPOR_BRIDGE_STALE_AFTER_S="1"))
    assert proc.returncode == EXIT_STATUS["stale"]
    assert (
        proc.stdout.startswith("stale: no successful sync since")
        and "did not answer" in proc.stdout
    )
