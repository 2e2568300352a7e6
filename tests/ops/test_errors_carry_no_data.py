"""A full disk during a sync: one line, no report text anywhere, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from lapor_bridge.store import open_store
from tests.ops.helpers import bridge_env, cli
from tests.sync.helpers import next_second, store_versions, truth_versions


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (we are root in the test machine; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk, leave_bytes: int) -> None:
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(disk / "filler", "wb") as out:
        out.write(b"\0" * max(0, free - leave_bytes))


def test_full_disk_during_sync_is_one_line_without_report_text(make_simulator, small_disk):
    sim = make_simulator(initial_reports=20)
    url = f"sqlite:///{small_disk / 'bridge.db'}"
    log_file = small_disk.parent / "bridge.log"
    env = bridge_env(sim, url)
    assert cli("sync", env=env).returncode == 0

    secrets = []
    for _ in range(40):  # RAHASIA reports with text that must never leave the store
        marker = f"RAHASIA-{uuid.uuid4().hex}"
        secrets.append(marker)
        sim.add_report(privacy="RAHASIA", title=marker, content=(marker + " ") * 400)
    next_second()
    fill(small_disk, leave_bytes=96 * 1024)
    proc = cli("sync", "--log-file", str(log_file), "-vv", env=env)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "disk full: free space in" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr

    (small_disk / "filler").unlink()
    status_text = cli("status", env=env).stdout
    status_json = cli("status", "--json", env=env).stdout
    assert json.loads(status_json)["last_sync"]["outcome"] == "failed"
    assert "disk full" in json.loads(status_json)["last_sync"]["error"]
    everything = proc.stdout + proc.stderr + log_file.read_text() + status_text + status_json
    for marker in secrets:
        assert marker not in everything

    assert cli("sync", env=env).returncode == 0  # the store survived: the next run converges
    assert store_versions(open_store(url)) == truth_versions(sim)


def test_a_driver_error_is_described_without_its_parameters_or_detail(engine):
    """PostgreSQL's DETAIL line and SQLAlchemy's [parameters: ...] carry row data."""
    from sqlalchemy.exc import IntegrityError

    from lapor_bridge.job import describe_error
    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import TindakLanjut
    from lapor_bridge.timeutil import utcnow

    marker = f"RAHASIA-{uuid.uuid4().hex}"

    def item() -> TindakLanjut:
        return TindakLanjut(tracking_id=1, external_ref=marker, opd="DINKES", status="DIPROSES",
                            content=marker, created_at=utcnow())  # fmt: skip

    with write_session(engine) as session:
        session.add(item())
    with pytest.raises(IntegrityError) as caught, write_session(engine) as session:
        session.add(item())
    # the engine hides the statement's parameters; the driver's own DETAIL line may still
    # carry the key's value, which is why only describe_error's line is ever shown
    assert "parameters hidden" in str(caught.value)
    line = describe_error(caught.value, url=engine.url)
    assert marker not in line and "\n" not in line
    assert ("tindak_lanjut" in line and "IntegrityError" in line) or "insert" in line
