"""What notifications cost a sync, and how fast messages go out, on loopback.

    python bench/bench_notify.py [--reports 10000] [--changes 2000] [--postgres URL]

Ratios in the same run: the time spent deciding events (`record_events`,
inside each page's transaction) against the whole sync, for the first sync
of a new store (quiet events) and for a later sync with changes; then the
delivery rate of composed messages to a loopback HTTP receiver (json://).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lapor_bridge.config import Settings  # noqa: E402
from lapor_bridge.mapping import load_mapping  # noqa: E402
from lapor_bridge.notify import events  # noqa: E402
from lapor_bridge.notify.loopback import LoopbackInbox  # noqa: E402
from lapor_bridge.runtime import Runtime  # noqa: E402
from lapor_bridge.simulator import Simulator, SimulatorConfig  # noqa: E402
from lapor_bridge.sync import engine as sync_engine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=10000)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite")
    args = parser.parse_args()
    spent = {"s": 0.0, "calls": 0}
    original = events.record_events

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            spent["s"] += time.perf_counter() - t
            spent["calls"] += 1

    sync_engine.record_events = timed  # the page transaction's call
    with tempfile.TemporaryDirectory() as tmp, LoopbackInbox() as inbox:
        config = SimulatorConfig(initial_reports=args.reports)
        with Simulator(config) as sim:
            url = args.postgres or f"sqlite:///{tmp}/bench.db"
            settings = Settings(
                api_url=sim.url,
                token=config.token,
                instansi_id=config.instansi_id,
                database_url=url,
                mappings_dir=inbox.mappings(REPO / "mappings"),
                rate_limit_per_s=1000,
                notify_budget_s=600,
            )
            rt = Runtime(settings)
            for label, changes in (("first sync (quiet)", 0), ("sync with changes", args.changes)):
                if changes:
                    sim.generate_changes(changes)
                    time.sleep(1.05 - time.time() % 1.0)
                spent.update(s=0.0, calls=0)
                before = len(inbox.received)
                t = time.perf_counter()
                summary = sync_engine.run_sync(rt, push=False)
                total = time.perf_counter() - t
                n = summary.notify or {}
                print(
                    f"{label}: {summary.fetched} reports in {total:.2f} s; deciding events "
                    f"{spent['s']:.2f} s in {spent['calls']} pages = {100 * spent['s'] / total:.1f} % "
                    f"of the sync; notify pass sent {n.get('sent')} messages "
                    f"({len(inbox.received) - before} arrived)"
                )
        # delivery rate: 1,000 one-event messages through the real apprise path
        from lapor_bridge.notify.compose import compose_pending
        from lapor_bridge.notify.deliver import deliver_pending
        from lapor_bridge.notify.escalation import load_escalation
        from lapor_bridge.store import write_session
        from lapor_bridge.store.tables import NotifyBatch, NotifyMessage
        from lapor_bridge.timeutil import utcnow

        mapping = load_mapping(settings.mappings_dir)
        escalation = load_escalation(settings.mappings_dir, mapping)
        compose_pending(
            rt.engine, now=utcnow(), mapping=mapping, escalation=escalation, settings=settings
        )
        from lapor_bridge.notify.compose import channels_of

        channel = channels_of("DPUPR", mapping, escalation, settings)[0]
        with write_session(rt.engine) as session:
            for i in range(1000):
                batch = NotifyBatch(
                    recipient="DPUPR",
                    kind="update",
                    title=f"bench {i}",
                    body="x",
                    created_at=utcnow(),
                )
                session.add(batch)
                session.flush()
                session.add(
                    NotifyMessage(
                        batch_id=batch.id,
                        recipient="DPUPR",
                        channel=channel.fingerprint,
                        channel_label=channel.label,
                        created_at=utcnow(),
                    )
                )
        t = time.perf_counter()
        result = deliver_pending(
            rt.engine, mapping=mapping, escalation=escalation, settings=settings, budget_s=600
        )
        took = time.perf_counter() - t
        print(
            f"delivery: {result.sent} messages in {took:.2f} s = {result.sent / took:.0f} messages/s"
        )


if __name__ == "__main__":
    main()
