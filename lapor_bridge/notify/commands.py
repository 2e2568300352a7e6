"""What the notification commands of the CLI do, and how their results read.

Output names messages by id, recipient, masked channel and title; never an
expanded URL, a password or a token, never a report's content.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import col, select

from lapor_bridge.errors import BridgeError, ConfigError
from lapor_bridge.runtime import Runtime
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import NotifyBatch, NotifyMessage
from lapor_bridge.timeutil import rfc3339, utcnow

if TYPE_CHECKING:  # rich is imported where it prints (`status` uses dead_messages only)
    from rich.console import Console

STATES = ("pending", "sending", "sent", "failed", "dead", "cancelled")


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _mapping(rt: Runtime) -> Any:
    from lapor_bridge.mapping.commands import load_for_store

    return load_for_store(rt)


# --- notify ---------------------------------------------------------------------------


def notify(rt: Runtime, *, fmt: str = "text") -> dict[str, Any]:
    """`lapor-bridge notify`: decide what time made due, compose, deliver."""
    from lapor_bridge.notify.service import run_notifications
    from lapor_bridge.store.tables import SyncRun

    mapping = _mapping(rt)  # an invalid mapping refuses the run before anything is written
    with write_session(rt.engine) as session:  # every run leaves a trace in sync_run
        run = SyncRun(kind="notify", started_at=utcnow())
        session.add(run)
        session.flush()
        run_id = run.id
    try:
        summary = run_notifications(rt.engine, mapping=mapping, settings=rt.settings)
    except BaseException as exc:
        _finish_run(
            rt, run_id, ok=False, error=f"{type(exc).__name__}: {getattr(exc, 'message', '')}"
        )
        raise
    _finish_run(rt, run_id, ok=True, summary=summary)
    if fmt == "json":
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(format_notify(summary))
    return summary


def _finish_run(rt: Runtime, run_id: int | None, *, ok: bool, **values: Any) -> None:
    from lapor_bridge.store.tables import SyncRun

    with write_session(rt.engine) as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            run.finished_at, run.ok = utcnow(), ok
            run.summary, run.error = values.get("summary"), values.get("error")


def format_notify(s: dict[str, Any]) -> str:
    line = (
        f"notify: {s['events']} new events, {s['batches']} messages composed "
        f"({s['digests']} digests); sent {s['sent']} (repeated after uncertain {s['repeated']}), "
        f"failed {s['failed']} (uncertain {s['uncertain']}), dead {s['dead']}"
    )
    if s.get("waiting_channels"):
        line += f"; {s['waiting_channels']} channel(s) failing: their messages wait"
    if s.get("stopped"):
        line += f"; stopped: {s['stopped']}"
    return line


def send_test(rt: Runtime, unit: str) -> list[dict[str, Any]]:
    """`notify test UNIT`: one test message to each of the unit's channels, now."""
    from lapor_bridge.notify.channels import ChannelError, scrub
    from lapor_bridge.notify.compose import channels_of, compose_test
    from lapor_bridge.notify.deliver import apprise_send
    from lapor_bridge.notify.escalation import load_escalation

    mapping = _mapping(rt)
    code = unit.upper()
    if code not in mapping.units:
        from lapor_bridge.mapping.schema import did_you_mean

        hint = did_you_mean(unit, list(mapping.units))
        raise ConfigError(
            f"unknown unit `{unit}`" + (f"; did you mean {hint}?" if hint else "; see units.yaml")
        )
    escalation = load_escalation(mapping.directory, mapping)
    channels = channels_of(code, mapping, escalation, rt.settings)
    if not channels:
        raise NoChannel(
            f"unit {code} has no `notify:` URLs in units.yaml: add one, e.g. "
            '`notify: ["mailtos://user:${SMTP_PASS}@mail.example.go.id?to=pic@example.go.id"]`'
        )
    now = utcnow()
    with write_session(rt.engine) as session:
        batch = compose_test(session, code, now=now, mapping=mapping, settings=rt.settings)
        title, body, batch_id = batch.title, batch.body, batch.id
    results = []
    for channel in channels:
        try:
            outcome = apprise_send(channel.expand(), title, body)
            ok, error = outcome.ok, outcome.error
        except ChannelError as exc:
            ok, error = False, str(exc)
        error = scrub(error, channel.secrets()) if error else None
        with write_session(rt.engine) as session:
            session.add(
                NotifyMessage(
                    batch_id=batch_id,  # type: ignore[arg-type]
                    recipient=code,
                    channel=channel.fingerprint,
                    channel_label=channel.label,
                    state="sent" if ok else "cancelled",
                    attempts=1,
                    created_at=now,
                    last_attempt_at=now,
                    sent_at=now if ok else None,
                    last_error=error,
                    note=None if ok else "test message: not retried",
                )
            )
        results.append({"channel": channel.label, "sent": ok, "error": error})
    out = _console()
    for r in results:
        out.print(
            f"{r['channel']}: " + ("sent" if r["sent"] else f"FAILED: {r['error']}"), markup=False
        )
    if not all(r["sent"] for r in results):
        raise TestFailed(
            f"{sum(not r['sent'] for r in results)} of {len(results)} channel(s) failed"
        )
    return results


class NoChannel(BridgeError):
    exit_code = 2


class TestFailed(BridgeError):
    exit_code = 1


# --- notifications --------------------------------------------------------------------


def list_messages(
    rt: Runtime,
    *,
    state: str | None = None,
    unit: str | None = None,
    limit: int = 200,
    fmt: str = "table",
) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise ConfigError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
    query = (
        select(NotifyMessage, NotifyBatch.title, NotifyBatch.kind)
        .join(NotifyBatch, NotifyBatch.id == NotifyMessage.batch_id)
        .order_by(col(NotifyMessage.id).desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(NotifyMessage.state == state)
    if unit is not None:
        code = unit.upper()
        query = query.where(
            (NotifyMessage.recipient == code) | (NotifyMessage.recipient == f"{code}/head")
        )
    with read_session(rt.engine) as session:
        rows = [_row(m, title, kind) for m, title, kind in session.execute(query)]
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return rows
    from rich.table import Table

    table = Table(title=f"notifications ({len(rows)})")
    for name in ("id", "state", "to", "channel", "message", "tries", "next / sent", "last error"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["state"] + (" (uncertain)" if r["uncertain"] else ""),
            r["recipient"],
            r["channel"],
            r["title"][:60],
            f"{r['attempts']}" + (f" +{r['repeats']} repeat" if r["repeats"] else ""),
            r["sent_at"] or r["next_attempt_at"] or "",
            (r["last_error"] or "")[:80],
        )
    _console().print(table)
    return rows


def _time(value: datetime | None) -> str | None:
    return rfc3339(value) if value else None


def _row(m: NotifyMessage, title: str, kind: str) -> dict[str, Any]:
    return {
        "id": m.id,
        "batch": m.batch_id,
        "kind": kind,
        "state": m.state,
        "recipient": m.recipient,
        "channel": m.channel_label,
        "title": title,
        "attempts": m.attempts,
        "uncertain": m.uncertain,
        "repeats": m.repeats,
        "created_at": _time(m.created_at),
        "next_attempt_at": _time(m.next_attempt_at),
        "sent_at": _time(m.sent_at),
        "last_error": m.last_error,
        "note": m.note,
    }


def retry(rt: Runtime, ids: list[int], *, by: str | None = None) -> int:
    """Dead or failed messages become due now (attempts reset; the note keeps why)."""
    now = utcnow()
    line = f"{now.strftime('%Y-%m-%d %H:%M:%SZ')} retried by {by or 'admin'}"
    note = col(NotifyMessage.note)
    from sqlalchemy import case

    with write_session(rt.engine) as session:
        found = {
            m.id: m.state
            for m in session.scalars(select(NotifyMessage).where(col(NotifyMessage.id).in_(ids)))
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise ConfigError(
                f"no notification message {', '.join(map(str, missing))}: see `lapor-bridge notifications`"
            )
        wrong = [i for i in ids if found[i] not in ("dead", "failed", "cancelled")]
        if wrong:
            raise ConfigError(
                f"message {', '.join(map(str, wrong))} is not dead, failed or cancelled; nothing changed"
            )
        session.execute(
            update(NotifyMessage)
            .where(col(NotifyMessage.id).in_(ids))
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=None,
                note=case((note.is_(None), line), else_=note + "\n" + line),
            )
        )
    _console().print(
        f"requeued {len(ids)} message(s); `lapor-bridge notify` sends them", markup=False
    )
    return len(ids)


def dead_messages(session: Any) -> list[str]:
    """One line per dead message, for `status` (repeated until retried)."""
    rows = session.execute(
        select(
            NotifyMessage.id,
            NotifyMessage.recipient,
            NotifyMessage.channel_label,
            NotifyMessage.last_error,
        )
        .where(NotifyMessage.state == "dead")
        .order_by(col(NotifyMessage.id))
        .limit(50)
    )
    return [
        f"notification #{i} to {to} via {label} is dead ({err or 'no reason kept'}): "
        f"fix the channel, then `lapor-bridge notifications retry {i}`"
        for i, to, label, err in rows
    ]
