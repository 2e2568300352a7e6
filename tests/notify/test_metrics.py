"""The notification outbox in the Prometheus textfile: messages by state,
what waits and how long the oldest has waited, what died, what was delivered,
read from a real store after real deliveries (a json:// receiver, a closed
port) and in the file every sync run writes."""

from __future__ import annotations

import socket
from datetime import timedelta

from lapor_bridge.config import Settings
from lapor_bridge.mapping import load_mapping
from lapor_bridge.metrics import write_metrics
from lapor_bridge.notify import record_events
from lapor_bridge.notify.compose import compose_pending
from lapor_bridge.notify.deliver import deliver_pending
from lapor_bridge.notify.escalation import load_escalation
from lapor_bridge.store import write_session
from lapor_bridge.sync.engine import run_sync
from tests.conftest import REPO
from tests.notify.conftest import write_mappings
from tests.notify.receivers import JsonReceiver
from tests.notify.test_decisions import NOW, _assign
from tests.sync.test_metrics import gauge


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_notification_figures_follow_the_outbox(engine, tmp_path):
    path = tmp_path / "lapor_bridge.prom"
    with JsonReceiver() as rx:
        mappings = write_mappings(
            tmp_path / "mappings",
            {
                "DINKES": [rx.url("/DINKES")],
                "DPUPR": [f"json://127.0.0.1:{_closed_port()}/x"],
            },
            digest_at="23:59",
        )
        mapping = load_mapping(mappings)
        escalation = load_escalation(mappings, mapping)
        settings = Settings(mappings_dir=mappings, notify_max_attempts=2)

        def deliver(at):
            compose_pending(
                engine, now=at, mapping=mapping, escalation=escalation, settings=settings
            )
            return deliver_pending(
                engine,
                mapping=mapping,
                escalation=escalation,
                settings=settings,
                now_fn=lambda: at,
            )

        write_metrics(engine, path, now=NOW)
        empty = path.read_text()
        with write_session(engine) as session:
            _assign(session, 1001, "DINKES", NOW)
            _assign(session, 1002, "DPUPR", NOW)
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        deliver(NOW)
        write_metrics(engine, path, now=NOW + timedelta(minutes=10))
        waiting = path.read_text()
        deliver(NOW + timedelta(hours=3))  # past the backoff: the second attempt, dead
        write_metrics(engine, path, now=NOW + timedelta(hours=3))
        given_up = path.read_text()

    assert gauge(empty, "lapor_bridge_notify_pending") == 0
    assert gauge(empty, "lapor_bridge_notify_delivered_total") == 0
    assert gauge(empty, "lapor_bridge_notify_oldest_pending_age_seconds") == 0

    assert gauge(waiting, "lapor_bridge_notify_messages", '{state="sent"}') == 1
    assert gauge(waiting, "lapor_bridge_notify_messages", '{state="failed"}') == 1
    assert gauge(waiting, "lapor_bridge_notify_pending") == 1
    assert gauge(waiting, "lapor_bridge_notify_dead") == 0
    assert gauge(waiting, "lapor_bridge_notify_delivered_total") == 1
    assert gauge(waiting, "lapor_bridge_notify_oldest_pending_age_seconds") == 600
    assert "# TYPE lapor_bridge_notify_delivered_total counter" in waiting

    assert gauge(given_up, "lapor_bridge_notify_pending") == 0
    assert gauge(given_up, "lapor_bridge_notify_dead") == 1
    assert gauge(given_up, "lapor_bridge_notify_messages", '{state="dead"}') == 1
    assert gauge(given_up, "lapor_bridge_notify_oldest_pending_age_seconds") == 0
    assert gauge(given_up, "lapor_bridge_notify_delivered_total") == 1


def test_every_sync_run_writes_the_notification_figures(
    make_simulator, make_runtime, sqlite_url, tmp_path, mappings_dir
):
    from sqlalchemy import func, select

    from lapor_bridge.store import read_session
    from lapor_bridge.store.tables import NotifyMessage

    path = tmp_path / "textfile" / "lapor_bridge.prom"
    units = list(load_mapping(REPO / "mappings").units)
    with JsonReceiver() as rx:
        write_mappings(mappings_dir, {code: [rx.url(f"/{code}")] for code in units})
        sim = make_simulator(initial_reports=40, seed=2)
        rt = make_runtime(sim, sqlite_url, metrics_file=path, mappings_dir=mappings_dir)
        run_sync(rt)
        text = path.read_text()
    with read_session(rt.engine) as session:
        sent = session.scalar(
            select(func.count()).select_from(NotifyMessage).where(NotifyMessage.state == "sent")
        )
    assert sent == len(rx.received) > 0
    assert gauge(text, "lapor_bridge_notify_delivered_total") == sent
    assert gauge(text, "lapor_bridge_notify_pending") == 0
