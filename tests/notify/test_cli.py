"""The notification commands as an admin runs them: `cli.py` in a process,
real receivers on 127.0.0.1, secrets only in the environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from sqlalchemy import update

from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import NotifyMessage
from tests.conftest import REPO
from tests.notify.conftest import write_mappings
from tests.notify.receivers import JsonReceiver, SmtpReceiver

SECRET = "tg-bot-token-5d1e77"


def _cli(tmp_path, mappings, *args, **extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
    env |= {
        "LAPOR_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "LAPOR_BRIDGE_MAPPINGS_DIR": str(mappings),
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _line_of(path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_mappings_check_reports_bad_urls_and_escalation_with_file_and_line(tmp_path):
    mappings = write_mappings(
        tmp_path / "mappings",
        {"DPUPR": ["mailt://someone@example.go.id"], "DINKES": ["tgram://${TG_TOKEN}/-1001"]},
    )
    done = _cli(tmp_path, mappings, "mappings", "check")
    assert done.returncode == 3, done.stdout + done.stderr
    units = mappings / "units.yaml"
    line = _line_of(units, "mailt://")
    assert (
        f"{units}:{line}: notify URL scheme `mailt://` is not known to apprise. did you mean `mailto://`?"
        in done.stderr
    )

    mappings = write_mappings(
        tmp_path / "mappings",
        {"DPUPR": ["json://127.0.0.1:9/x"], "DINKES": ["tgram://${TG_TOKEN}/-1001"]},
    )
    done = _cli(tmp_path, mappings, "mappings", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    tg = _line_of(units, "tgram://")
    assert (
        f"warning: {units}:{tg}: notify URL `tgram://${{TG_TOKEN}}/-1001` uses ${{TG_TOKEN}}, which is not set here"
        in done.stdout
    )
    done = _cli(tmp_path, mappings, "mappings", "check", TG_TOKEN=SECRET)
    assert done.returncode == 0 and "TG_TOKEN" not in done.stdout and SECRET not in done.stdout

    admin = _cli(
        tmp_path, mappings, "mappings", "check", LAPOR_BRIDGE_ADMIN_NOTIFY="ntfyy://alerts"
    )
    assert admin.returncode == 2
    assert (
        "LAPOR_BRIDGE_ADMIN_NOTIFY: notify URL scheme `ntfyy://` is not known to apprise"
        in admin.stderr
    )

    escalation = mappings / "escalation.yaml"
    escalation.write_text(
        escalation.read_text().replace(
            "notify: [coordinator, bupati]", "notify: [coordinator, bupatti]"
        )
    )
    done = _cli(tmp_path, mappings, "mappings", "check")
    assert done.returncode == 3
    bad = _line_of(escalation, "bupatti")
    assert f"{escalation}:{bad}: unknown recipient `bupatti`. did you mean `bupati`?" in done.stderr


def test_notify_test_sends_and_says_what_happened_without_secrets(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with JsonReceiver() as rx, SmtpReceiver() as smtp:
        mappings = write_mappings(
            tmp_path / "mappings",
            {
                "DPUPR": [
                    smtp.url("pic.dpupr@pemalangkab.go.id", password="${SMTP_PASS}"),
                    rx.url("/hook/${HOOK_KEY}"),
                ],
                "DINKES": [f"json://127.0.0.1:{closed}/x?token=${{HOOK_KEY}}"],
            },
        )
        ok = _cli(
            tmp_path, mappings, "notify", "test", "dpupr", SMTP_PASS=SECRET, HOOK_KEY="k3y-abc"
        )
        failed = _cli(tmp_path, mappings, "notify", "test", "DINKES", HOOK_KEY="k3y-abc")
        missing = _cli(tmp_path, mappings, "notify", "test", "DPUPR", HOOK_KEY="k3y-abc")
        listed = _cli(tmp_path, mappings, "notifications", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"mailto://pengirim:***@127.0.0.1:{smtp.port}: sent" in ok.stdout
    assert "/hook/${HOOK_KEY}: sent" in ok.stdout
    # (the run without SMTP_PASS still reached the webhook)
    assert [r.path for r in rx.received] == ["/hook/k3y-abc", "/hook/k3y-abc"]
    assert "Pesan uji untuk DPUPR" in rx.received[0].body
    assert smtp.logins == [("pengirim", SECRET)]
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    assert missing.returncode == 1 and "SMTP_PASS is not set" in missing.stdout
    rows = json.loads(listed.stdout)
    assert {r["state"] for r in rows} == {"sent", "cancelled"}
    for done in (ok, failed, missing, listed):
        for secret in (SECRET, "k3y-abc"):
            assert secret not in done.stdout + done.stderr


def test_status_shows_dead_notifications_until_retried(tmp_path):
    mappings = write_mappings(tmp_path / "mappings", {"DPUPR": ["json://127.0.0.1:9/x"]})
    assert _cli(tmp_path, mappings, "notify").returncode == 0  # creates the store
    engine = open_store(f"sqlite:///{tmp_path / 'bridge.db'}")
    from sqlmodel import select

    from lapor_bridge.store import read_session
    from lapor_bridge.store.tables import NotifyBatch, SyncRun

    with read_session(engine) as session:
        (run,) = session.scalars(select(SyncRun).where(SyncRun.kind == "notify")).all()
    assert run.ok and run.finished_at and run.summary["sent"] == 0  # the run left a trace

    with write_session(engine) as session:
        batch = NotifyBatch(
            recipient="DPUPR", kind="update", title="t", body="b", created_at=_now()
        )
        session.add(batch)
        session.flush()
        session.add(
            NotifyMessage(
                batch_id=batch.id,
                recipient="DPUPR",
                channel="abc",
                channel_label="json://127.0.0.1:9/x",
                state="dead",
                attempts=10,
                last_error="connection refused",
                created_at=_now(),
            )
        )
    status = _cli(tmp_path, mappings, "status")
    assert (
        "attention: notification #1 to DPUPR via json://127.0.0.1:9/x is dead (connection refused)"
        in status.stdout
    )
    assert _cli(tmp_path, mappings, "notifications", "retry", "1").returncode == 0
    with write_session(engine) as session:
        session.execute(update(NotifyMessage).values(state="sent"))
    assert "notification #1" not in _cli(tmp_path, mappings, "status").stdout
    refused = _cli(tmp_path, mappings, "notifications", "retry", "1")
    assert refused.returncode == 2 and "is not dead, failed or cancelled" in refused.stderr


def _now():
    from lapor_bridge.timeutil import utcnow

    return utcnow()
