"""`lapor-bridge demo`: the main job end to end on the embedded defaults.

Starts the simulator on a free port of 127.0.0.1, syncs into a SQLite file
with the shipped mappings, records one OPD follow-up and pushes it, syncs
again (the answer comes back as an echo), and shows what arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from lapor_bridge.config import load_settings
from lapor_bridge.runtime import Runtime
from lapor_bridge.simulator import Simulator, SimulatorConfig
from lapor_bridge.sla import default_policies
from lapor_bridge.sla.views import state_expression
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import Assignment, ReportRow, SlaClock, UpstreamFollowUpRow
from lapor_bridge.sync.engine import run_sync
from lapor_bridge.timeutil import utcnow


def _next_second() -> None:
    """Windows end at the current whole second; step past it so the changes just made are in."""
    time.sleep(1.05 - time.time() % 1.0)


def _answer_one_report(runtime: Runtime) -> int | None:
    """A liaison answers the oldest open report (written locally, queued for LAPOR!)."""
    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.outbox import record_tindak_lanjut

    units = load_mapping(runtime.settings.mappings_dir).unit_names

    with write_session(runtime.engine) as session:
        tracking_id = session.scalars(
            select(ReportRow.tracking_id)
            .where(ReportRow.status == "DISPOSISI", ReportRow.transferred.is_(False))
            .order_by(ReportRow.tracking_id)
        ).first()
        if tracking_id is not None:
            record_tindak_lanjut(
                session,
                tracking_id,
                status="DIPROSES",
                content="Laporan sudah kami terima dan sedang ditindaklanjuti oleh petugas lapangan.",
                created_by="demo",
                now=utcnow(),
                units=units,
                policies=default_policies(runtime.settings.mappings_dir),
            )
    return tracking_id


def state_counts(session: Session, *, now: datetime) -> dict[str, dict[str, int]]:
    """SLA clocks per policy and state, as of `now`."""
    state = state_expression(now)
    rows = session.execute(
        select(SlaClock.policy, state, func.count()).group_by(SlaClock.policy, state)
    )
    out: dict[str, dict[str, int]] = {}
    for policy, name, count in rows:
        out.setdefault(policy, {})[name] = count
    return out


def run_demo(database: Path, *, reports: int = 300, echo: Callable[[str], None] = print) -> None:
    config = SimulatorConfig(initial_reports=reports)
    with Simulator(config) as sim:
        settings = load_settings(
            api_url=sim.url,
            token=config.token,
            instansi_id=config.instansi_id,
            database_url=f"sqlite:///{database}",
        )
        runtime = Runtime(settings)
        echo(f"simulator: {sim.url} ({reports} reports of instansi {config.instansi_id})")
        echo(f"store:     {database}")

        first = run_sync(runtime)
        echo(
            f"sync 1:    fetched {first.fetched}, new {first.inserted}, quarantined {first.quarantined}, "
            f"{first.requests} requests in {first.duration_s} s"
        )
        sim.generate_changes(20)  # citizens and LAPOR! keep working meanwhile
        tracking_id = _answer_one_report(runtime)
        _next_second()
        second = run_sync(runtime)
        pushed = second.push or {}
        echo(
            f"sync 2:    fetched {second.fetched} changes (new {second.inserted}, updated {second.updated}); "
            f"pushed {pushed.get('delivered', 0)} follow-up(s)"
        )
        _next_second()
        third = run_sync(runtime)
        with read_session(runtime.engine) as session:
            echoes = session.scalar(
                select(func.count())
                .select_from(UpstreamFollowUpRow)
                .where(UpstreamFollowUpRow.is_echo.is_(True))
            )
        echo(
            f"sync 3:    fetched {third.fetched} (the look-back re-reads; updated {third.updated}); "
            f"{echoes} of our answers came back as echoes"
        )
        with read_session(runtime.engine) as session:
            per_opd = session.execute(
                select(Assignment.opd, func.count())
                .group_by(Assignment.opd)
                .order_by(func.count().desc())
            ).all()
            total = session.scalar(select(func.count()).select_from(ReportRow))
        echo(f"stored:    {total} reports; per OPD:")
        for opd, count in per_opd[:12]:
            echo(f"           {opd:<22} {count}")
        if tracking_id is not None:
            upstream = sim.followups(tracking_id)
            echo(f"pushed:    report {tracking_id} now has {len(upstream)} follow-up(s) on LAPOR!")
        with read_session(runtime.engine) as session:
            states = state_counts(session, now=utcnow())
        for policy, by_state in states.items():
            echo(
                f"SLA {policy}: "
                + ", ".join(f"{state} {n}" for state, n in sorted(by_state.items()))
            )
        echo("next:      lapor-bridge sla summary / mappings status / export, with")
        echo(f"           LAPOR_BRIDGE_DATABASE_URL=sqlite:///{database}")
