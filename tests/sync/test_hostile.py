"""Hostile answers over real HTTP (simulator fault switches): each ends in a
bounded, one-line outcome, and nothing but valid records is stored."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from lapor_bridge.errors import ContractViolation, Unavailable
from lapor_bridge.simulator import Faults
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import Quarantine, ReportRow
from lapor_bridge.sync.engine import run_sync
from tests.sync.helpers import store_versions, truth_versions
from tests.sync.test_cli_process import REPO, bridge_env

MiB = 1024 * 1024


def quarantined(engine) -> list[Quarantine]:
    with read_session(engine) as session:
        return list(session.scalars(select(Quarantine)))


def report_count(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(ReportRow)) or 0


def test_null_records_are_quarantined(make_simulator, make_runtime, store_url):
    sim = make_simulator(initial_reports=30, faults=Faults(null_records=True))
    rt = make_runtime(sim, store_url, page_limit=8)  # the last page has room for a null
    summary = run_sync(rt, push=False)
    assert summary.quarantined >= 1
    assert store_versions(rt.engine) == truth_versions(sim)
    assert any("JSON object" in q.reason for q in quarantined(rt.engine))
    run_sync(rt, push=False)  # every run again: counted, not crashing, not duplicated
    assert len(quarantined(rt.engine)) == 1


def test_wrongly_typed_updated_at_is_quarantined(make_simulator, make_runtime, store_url):
    sim = make_simulator(initial_reports=30, faults=Faults(bad_updated_at=True))
    rt = make_runtime(sim, store_url, page_limit=10)
    summary = run_sync(rt, push=False)
    bad = {q.tracking_id for q in quarantined(rt.engine)}
    assert summary.quarantined >= 2 and len(bad) >= 2
    assert all("updated_at" in q.reason for q in quarantined(rt.engine))
    truth = {t: v for t, v in truth_versions(sim).items() if t not in bad}
    assert store_versions(rt.engine) == truth


def test_text_that_is_not_utf8_is_quarantined_not_replaced(make_simulator, make_runtime, store_url):
    sim = make_simulator(initial_reports=12, faults=Faults(non_utf8=True))
    rt = make_runtime(sim, store_url, page_limit=5)
    summary = run_sync(rt, push=False)
    rows = quarantined(rt.engine)
    assert summary.quarantined >= 1 and rows
    assert all("not valid UTF-8" in q.reason for q in rows)
    assert all("\\udce9" in q.raw["title"] for q in rows)  # flagged as received, not replaced
    with read_session(rt.engine) as session:
        titles = session.scalars(select(ReportRow.title)).all()
    assert not any("\ufffd" in t or "caf" in t for t in titles)
    assert report_count(rt.engine) == 12 - len({q.tracking_id for q in rows})


def test_a_title_beyond_any_real_report_is_quarantined(make_simulator, make_runtime, sqlite_url):
    sim = make_simulator(initial_reports=5, faults=Faults(huge_title_bytes=50_000))
    rt = make_runtime(sim, sqlite_url)
    summary = run_sync(rt, push=False)
    assert summary.quarantined == 1 and report_count(rt.engine) == 4
    assert "title" in quarantined(rt.engine)[0].reason


def one_line_failure(run, exc_type, match: str) -> str:
    with pytest.raises(exc_type, match=match) as info:
        run()
    message = info.value.message
    assert "\n" not in message and len(message) < 400
    return message


def test_an_answer_too_large_is_refused_and_nothing_stored(
    make_simulator, make_runtime, sqlite_url
):
    sim = make_simulator(initial_reports=5, faults=Faults(huge_title_bytes=20 * MiB))
    rt = make_runtime(sim, sqlite_url)
    one_line_failure(lambda: run_sync(rt, push=False), ContractViolation, "more than the 16 MiB")
    assert report_count(rt.engine) == 0


def test_a_page_larger_than_its_limit_is_a_contract_violation(
    make_simulator, make_runtime, sqlite_url
):
    sim = make_simulator(initial_reports=20, faults=Faults(oversized_page=60))
    rt = make_runtime(sim, sqlite_url, page_limit=50)
    one_line_failure(
        lambda: run_sync(rt, push=False), ContractViolation, "a page of limit 50 holds 60 records"
    )
    assert report_count(rt.engine) == 0


def test_an_endless_chain_of_cursors_stops(make_simulator, make_runtime, sqlite_url):
    sim = make_simulator(initial_reports=20, faults=Faults(endless_cursors=True))
    rt = make_runtime(sim, sqlite_url, page_limit=500)
    one_line_failure(lambda: run_sync(rt, push=False), ContractViolation, "new cursors")
    listings = [r for r in sim.request_log() if "/laporan" in r["path"]]
    assert len(listings) <= 45  # 20,000 records without progress, at 500 a page
    assert store_versions(rt.engine) == truth_versions(sim)  # what was read is kept


def test_an_answer_trickling_one_byte_at_a_time_hits_the_deadline(
    make_simulator, make_runtime, sqlite_url
):
    sim = make_simulator(initial_reports=3, faults=Faults(trickle_s=0.5))
    rt = make_runtime(
        sim, sqlite_url, connect_timeout_s=0.5, read_timeout_s=1.5, max_retry_elapsed_s=1
    )
    started = time.monotonic()
    one_line_failure(lambda: run_sync(rt, push=False), Unavailable, "took longer than 2 s")
    # The body is thousands of bytes: unbounded, it would take an hour at 2 bytes/s.
    assert time.monotonic() - started < 30
    assert report_count(rt.engine) == 0


PEAK_RSS = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(done.returncode)
"""


@pytest.mark.slow
def test_a_gzip_bomb_is_refused_in_bounded_memory(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=5, faults=Faults(gzip_bomb=True))
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, str(REPO / "cli.py"), "sync"],
        env=bridge_env(sim, url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    *lines, peak_kib = done.stderr.strip().splitlines()
    assert done.returncode == 4, done.stderr
    assert len(lines) == 1 and "more than the 16 MiB" in lines[0], lines
    assert int(peak_kib) * 1024 < 200 * MiB, f"peak RSS {int(peak_kib) // 1024} MiB"
    from lapor_bridge.store import open_store

    assert report_count(open_store(url)) == 0
