"""`report` and `recap` go through the job lifecycle: one run of a kind at a
time (exit 75 when held), never blocked by `sync`, every run recorded."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from filelock import FileLock
from sqlalchemy import select

from lapor_bridge.store import open_store, read_session
from lapor_bridge.store.tables import SyncRun
from tests.ops.helpers import bridge_env, cli

from .conftest import LINK_TEMPLATE, REPO, Seeded


@pytest.fixture
def store(seeded: Seeded, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the seeded store (its runs stay here) and the environment of a cron job."""
    db = tmp_path / "bridge.db"
    with sqlite3.connect(seeded.url.removeprefix("sqlite:///")) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    env = bridge_env(
        None,
        f"sqlite:///{db}",
        LAPOR_BRIDGE_LAPOR_URL_TEMPLATE=LINK_TEMPLATE,
        LAPOR_BRIDGE_MAPPINGS_DIR=str(REPO / "mappings"),
        LAPOR_BRIDGE_API_URL=str(seeded.rt.settings.api_url),
        LAPOR_BRIDGE_INSTANSI_ID=str(seeded.rt.settings.instansi_id),
    )
    return db, env


def runs(db: Path, kind: str) -> list[tuple[str | None, int | None]]:
    engine = open_store(f"sqlite:///{db}")
    with read_session(engine) as session:
        found = session.execute(
            select(SyncRun.outcome, SyncRun.exit_status)
            .where(SyncRun.kind == kind)
            .order_by(SyncRun.id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in found]


def test_a_second_report_exits_75_and_writes_nothing_while_sync_does_not_block(
    store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    db, env = store
    site = tmp_path / "situs"
    with FileLock(str(db) + ".report.lock", timeout=0):  # a report run holding its lock
        proc = cli("report", "--out", str(site), env=env)
        assert proc.returncode == 75, proc.stderr
        assert "another 'report' job is running" in proc.stderr
        assert not site.exists()
        recap = cli("recap", "--month", "2026-11", "--out", str(tmp_path / "r.xlsx"), env=env)
        assert recap.returncode == 0, recap.stderr  # its own kind: not held
    with FileLock(str(db) + ".sync.lock", timeout=0):  # a sync running meanwhile
        proc = cli("report", "--out", str(site), env=env)
        assert proc.returncode == 0, proc.stderr
        assert (site / "index.html").is_file()
    assert runs(db, "report") == [("ok", 0)]  # the refused-by-lock run did nothing: no record
    assert runs(db, "recap") == [("ok", 0)]
    status = json.loads(cli("status", "--json", env=env).stdout)
    assert status["last_runs"]["report"]["outcome"] == "ok"
    assert status["last_runs"]["recap"]["outcome"] == "ok"
    text = cli("status", env=env).stdout
    assert "last report:" in text and "last recap:" in text


def test_refused_and_failed_report_runs_leave_a_trace(
    store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    db, env = store
    broken = tmp_path / "broken-mappings"
    broken.mkdir()
    (broken / "units.yaml").write_text("default: NOPE\nunits: []\n")
    (broken / "rules.yaml").write_text("rules: []\n")
    (broken / "sla.yaml").write_text((REPO / "mappings" / "sla.yaml").read_text())
    proc = cli(
        "report", "--out", str(tmp_path / "a"), env=dict(env, LAPOR_BRIDGE_MAPPINGS_DIR=str(broken))
    )
    assert proc.returncode == 3, proc.stderr
    assert not (tmp_path / "a").exists()
    status = json.loads(cli("status", "--json", env=env).stdout)
    refused = status["last_runs"]["report"]
    assert (refused["outcome"], refused["exit_status"]) == ("refused", 3)
    assert "last report:" in cli("status", env=env).stdout

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    proc = cli("report", "--out", str(a_file), env=env)
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr
    proc = cli("recap", "--month", "2026-13", "--out", str(tmp_path / "r.xlsx"), env=env)
    assert proc.returncode == 2 and "YYYY-MM" in proc.stderr
    assert cli("report", "--out", str(tmp_path / "b"), env=env).returncode == 0
    # the refusals kept beside the lock are folded into the store by the next run
    assert runs(db, "report") == [("refused", 3), ("refused", 2), ("ok", 0)]
    assert runs(db, "recap") == [("refused", 2)]
    assert json.loads(cli("status", "--json", env=env).stdout)["last_runs"]["recap"]["outcome"] == (
        "refused"
    )


def test_a_report_without_a_store_creates_none_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    env = bridge_env(None, f"sqlite:///{db}", LAPOR_BRIDGE_MAPPINGS_DIR=str(REPO / "mappings"))
    proc = cli("report", "--out", str(tmp_path / "situs"), env=env)
    assert proc.returncode == 1 and "no store at" in proc.stderr
    assert not db.exists() and not (tmp_path / "situs").exists()
    kept = (tmp_path / "none.db.runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in kept] == ["report"]
