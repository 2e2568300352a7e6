"""The node_exporter textfile: written on every run, last_success moves only on success."""

from __future__ import annotations

import re

import pytest

from lapor_bridge.errors import MappingInvalid, Unavailable
from lapor_bridge.runtime import Runtime
from lapor_bridge.status import bridge_status
from lapor_bridge.sync.engine import run_sync
from tests.sync.helpers import next_second


def gauge(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_metrics_file_tracks_success_and_failure(
    make_simulator, make_runtime, sqlite_url, tmp_path
):
    sim = make_simulator(initial_reports=30)
    path = tmp_path / "textfile" / "lapor_bridge.prom"
    rt = make_runtime(sim, sqlite_url, metrics_file=path)
    run_sync(rt, push=False)
    text = path.read_text()
    first_success = gauge(text, "lapor_bridge_last_success_timestamp_seconds", '{kind="sync"}')
    assert first_success is not None
    assert gauge(text, "lapor_bridge_reports", '{transferred="false"}') == 30
    assert gauge(text, "lapor_bridge_checkpoint_timestamp_seconds") is not None

    next_second()
    failing = FailingListing(rt.settings)
    with pytest.raises(Unavailable):
        run_sync(failing, push=False)
    text = path.read_text()
    assert (
        gauge(text, "lapor_bridge_last_success_timestamp_seconds", '{kind="sync"}') == first_success
    )
    assert (
        gauge(text, "lapor_bridge_last_failure_timestamp_seconds", '{kind="sync"}') >= first_success
    )
    status = bridge_status(rt.engine)
    assert status["last_sync"]["ok"] is False and "did not answer" in status["last_sync"]["error"]
    assert status["last_sync"]["outcome"] == "failed" and status["last_sync"]["exit_status"] == 4
    assert status["last_success"]["ok"] is True

    # a report LAPOR! transfers away is counted as transferred (through its
    # transferred_at, which the partial index of 0006 counts)
    moved = sim.truth()[0]["tracking_id"]
    sim.update_report(moved, status="DIALIHKAN")
    next_second()
    run_sync(rt, push=False)
    text = path.read_text()
    assert gauge(text, "lapor_bridge_reports", '{transferred="true"}') == 1
    assert gauge(text, "lapor_bridge_reports", '{transferred="false"}') == 29
    assert bridge_status(rt.engine)["transferred"] == 1


class FailingListing(Runtime):
    """The real client, except that listing fails once topics were read: a run
    that fails half-way, after the store was opened."""

    def client(self):
        real = super().client()

        def fail(*args, **kwargs):
            raise Unavailable("LAPOR! API did not answer (test)")

        real.list_reports = fail
        return real


def test_a_refused_run_moves_only_the_failure_timestamp(
    make_simulator, make_runtime, sqlite_url, tmp_path
):
    sim = make_simulator(initial_reports=30)
    path = tmp_path / "lapor_bridge.prom"
    rt = make_runtime(sim, sqlite_url, metrics_file=path)
    run_sync(rt, push=False)
    before = gauge(path.read_text(), "lapor_bridge_last_success_timestamp_seconds", '{kind="sync"}')

    broken = tmp_path / "mappings"
    broken.mkdir()
    (broken / "units.yaml").write_text("default: NOPE\nunits: []\n")
    (broken / "rules.yaml").write_text("rules: []\n")
    (broken / "sla.yaml").write_text((rt.settings.mappings_dir / "sla.yaml").read_text())
    bad = make_runtime(sim, sqlite_url, metrics_file=path, mappings_dir=broken)
    with pytest.raises(MappingInvalid):
        run_sync(bad, push=False)
    text = path.read_text()
    assert gauge(text, "lapor_bridge_last_success_timestamp_seconds", '{kind="sync"}') == before
    assert gauge(text, "lapor_bridge_last_failure_timestamp_seconds", '{kind="sync"}') >= before
    assert gauge(text, "lapor_bridge_last_run_timestamp_seconds", '{kind="sync",outcome="refused"}')
