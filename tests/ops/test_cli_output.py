"""Quiet under cron, a JSON log with the run id and never the token, global options anywhere."""

from __future__ import annotations

import json
import re

from tests.ops.helpers import bridge_env, cli, json_lines
from tests.sync.helpers import next_second


def test_successful_cron_sync_writes_nothing_to_stdout(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=30)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    proc = cli("sync", env=env)  # cron: no terminal
    assert proc.returncode == 0
    assert proc.stdout == "" and proc.stderr == ""
    asked = cli("sync", "--summary", env=env)
    line = asked.stdout.strip()
    assert asked.returncode == 0 and "\n" not in line
    assert re.match(r"sync \d{4}-\d\d-\d\d \d\d:\d\d:\d\d WIB \.\. .* WIB: fetched \d+", line)
    assert "; push: 0 delivered" in line and "worker" not in line and "None" not in line


def test_json_log_lines_carry_the_run_id_and_never_the_token(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=30, token="tok-3f9a-very-secret-0001")
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    log_file = tmp_path / "bridge.log"
    proc = cli("sync", "-vvv", "--log-format", "json", "--log-file", str(log_file), env=env)
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stderr, log_file.read_text()):
        assert "tok-3f9a-very-secret-0001" not in text
        events = json_lines(text)
        assert events and all(set(e) >= {"ts", "level", "job", "run_id", "event"} for e in events)
    file_events = json_lines(log_file.read_text())
    finished = [e for e in file_events if e["event"] == "job finished"]
    assert finished and finished[0]["run_id"] == 1 and finished[0]["job"] == "sync"
    assert finished[0]["outcome"] == "ok"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["ts"]) for e in file_events)
    assert any(
        e["logger"].startswith(("urllib3", "alembic", "filelock")) for e in json_lines(proc.stderr)
    )


def test_third_party_loggers_only_at_vvv(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=10)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    proc = cli("sync", "-vv", "--log-format", "json", env=env)
    loggers = {e["logger"] for e in json_lines(proc.stderr)}
    assert loggers and all(name.startswith("lapor_bridge") for name in loggers), loggers


def test_global_options_after_the_subcommand_and_version(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=10)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    assert cli("sync", "-q", env=env).returncode == 0
    next_second()
    proc = cli("sync", "--no-push", "-vv", env=env)
    assert proc.returncode == 0 and "job finished" in proc.stderr
    version = cli("--version", env=env)
    assert version.returncode == 0 and re.fullmatch(r"lapor-bridge \d+\.\d+\.\d+\n", version.stdout)
    assert cli("status", "--version", env=env).stdout == version.stdout


def test_status_times_are_wib_and_json_is_rfc3339_whole_seconds(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=10)
    env = bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}")
    assert cli("sync", env=env).returncode == 0
    text = cli("status", env=env).stdout
    assert re.search(r"checkpoint: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WIB", text)
    assert "+00:00" not in text and not re.search(r"\d\d:\d\d:\d\d\.\d", text)
    data = json.loads(cli("status", "--json", env=env).stdout)
    stamps = [data["checkpoint"], data["last_sync"]["started_at"], data["last_sync"]["finished_at"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s) for s in stamps), stamps
    csv = cli("export", "--format", "csv", env=env).stdout
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", csv) and "+00:00" not in csv


def test_unwritable_log_file_and_metrics_file_are_one_line_before_the_run(make_simulator, tmp_path):
    sim = make_simulator(initial_reports=5)
    db = tmp_path / "b.db"
    env = bridge_env(sim, f"sqlite:///{db}")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n")  # fails for root too
    proc = cli("sync", "--log-file", str(blocker / "x.log"), env=env)
    assert proc.returncode == 2 and str(blocker) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = cli("sync", env=dict(env, LAPOR_BRIDGE_METRICS_FILE=str(blocker / "m.prom")))
    assert proc.returncode == 2 and "LAPOR_BRIDGE_METRICS_FILE" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert len(sim.request_log()) == 0  # checked before any request
    assert not db.exists()
