"""What the push commands of the CLI do: one function per command.

Each opens its own session(s) on the runtime's store and prints: a rich table
or one line per fact on stdout, JSON with `fmt="json"`, problems on stderr.
The text of a follow-up or reply on a RAHASIA report is never printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from lapor_bridge.mapping import load_mapping
from lapor_bridge.outbox.admin import (
    cancel_item,
    list_outbox,
    list_replies,
    retry_items,
    stuck_items,
)
from lapor_bridge.outbox.csv_import import CsvImport, import_csv
from lapor_bridge.outbox.push import PushSummary, run_push
from lapor_bridge.outbox.respond import TindakLanjutDraft, record_follow_up
from lapor_bridge.outbox.states import OutboxState
from lapor_bridge.outbox.views import outbox_table, replies_table
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla import default_policies
from lapor_bridge.store import read_session, write_session
from lapor_bridge.timeutil import utcnow


def _units(rt: Runtime) -> dict[str, str]:
    """OPD code -> official name from mappings/units.yaml (MappingInvalid if broken)."""
    return load_mapping(rt.settings.mappings_dir).unit_names


def _opd_code(rt: Runtime, opd: str | None) -> str | None:
    """The unit code `opd` names (any case), or an error with a "did you mean"."""
    from lapor_bridge.mapping.apply import unit_code

    return unit_code(rt.settings.mappings_dir, opd)


def _out(out: IO[str] | None) -> IO[str]:
    return out or sys.stdout


def _json(data: Any, out: IO[str] | None) -> None:
    json.dump(data, _out(out), ensure_ascii=False, indent=2)
    _out(out).write("\n")


def respond(rt: Runtime, draft: TindakLanjutDraft, *, out: IO[str] | None = None) -> int:
    """`lapor-bridge respond TRACKING_ID ...`: record one follow-up; its outbox id."""
    item = record_follow_up(
        rt.engine,
        draft,
        now=utcnow(),
        units=_units(rt),
        policies=default_policies(rt.settings.mappings_dir),
    )
    print(
        f"recorded outbox #{item.id}: {item.status} for report {item.tracking_id} from "
        f"{item.opd}; it goes to LAPOR! with the next `lapor-bridge push` (or sync).",
        file=_out(out),
    )
    assert item.id is not None
    return item.id


def respond_csv(
    rt: Runtime,
    path: Path,
    *,
    by: str | None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> CsvImport:
    """`lapor-bridge respond --from-csv FILE`: the good rows in, each bad row on stderr."""
    result = import_csv(
        rt.engine,
        path,
        created_by=by,
        now=utcnow(),
        units=_units(rt),
        policies=default_policies(rt.settings.mappings_dir),
    )
    for line, item in result.recorded:
        print(
            f"{path.name}:{line}: recorded outbox #{item.id} ({item.status}, report "
            f"{item.tracking_id}, {item.opd})",
            file=_out(out),
        )
    for line, reason in result.bad:
        print(f"{path.name}:{line}: skipped: {reason}", file=err or sys.stderr)
    print(
        f"{len(result.recorded)} follow-up(s) recorded, {len(result.bad)} row(s) skipped.",
        file=_out(out),
    )
    return result


def push(
    rt: Runtime, *, fmt: str = "text", out: IO[str] | None = None, err: IO[str] | None = None
) -> PushSummary:
    """`lapor-bridge push`: deliver the outbox; the summary, then stuck items on stderr."""
    summary = run_push(rt)
    with read_session(rt.engine) as session:
        stuck = stuck_items(session, now=utcnow())
    if fmt == "json":
        _json({**summary.to_dict(), "stuck": stuck}, out)
    else:
        line = (
            f"push: {summary.delivered} delivered ({summary.sent} posted, "
            f"{summary.found_upstream} already on LAPOR!), {summary.failed} to retry, "
            f"{summary.dead} dead, {summary.due_left} still due"
        )
        if summary.stopped:
            line += f"; stopped: {summary.stopped}"
        print(line, file=_out(out))
    for text in stuck:
        print(f"attention: {text}", file=err or sys.stderr)
    return summary


def show_outbox(
    rt: Runtime,
    *,
    state: str | None,
    opd: str | None,
    tracking_id: int | None,
    limit: int,
    fmt: str,
    out: IO[str] | None = None,
) -> int:
    """`lapor-bridge outbox`: the items, as a table or JSON. Returns the row count."""
    opd = _opd_code(rt, opd)
    with read_session(rt.engine) as session:
        rows = list_outbox(
            session,
            state=OutboxState(state) if state else None,
            opd=opd,
            tracking_id=tracking_id,
            limit=limit,
        )
    if fmt == "json":
        _json([r.to_dict() for r in rows], out)
    elif rows:
        Console(file=_out(out), width=160).print(outbox_table(rows))
    else:
        print("the outbox holds no such item.", file=_out(out))
    return len(rows)


def retry(
    rt: Runtime, ids: Sequence[int], *, all_dead: bool, by: str | None, out: IO[str] | None = None
) -> list[int]:
    """`lapor-bridge outbox retry ID... | --all-dead`."""
    with write_session(rt.engine) as session:
        done = retry_items(session, ids, all_dead=all_dead, now=utcnow(), by=by)
    if done:
        listed = ", ".join(f"#{i}" for i in done)
        print(f"requeued {listed}: sent with the next push.", file=_out(out))
    else:
        print("no dead item to retry.", file=_out(out))
    return done


def cancel(
    rt: Runtime, item_id: int, *, reason: str, by: str | None, out: IO[str] | None = None
) -> None:
    """`lapor-bridge outbox cancel ID`: withdraw an unsent item."""
    with write_session(rt.engine) as session:
        item = cancel_item(
            session,
            item_id,
            now=utcnow(),
            by=by,
            reason=reason,
            policies=default_policies(rt.settings.mappings_dir),
        )
    print(
        f"cancelled outbox #{item.id} (report {item.tracking_id}); it will not be sent and "
        "later follow-ups of the report go ahead.",
        file=_out(out),
    )


def show_replies(
    rt: Runtime,
    *,
    opd: str | None,
    since: datetime | None,
    limit: int,
    fmt: str,
    out: IO[str] | None = None,
) -> int:
    """`lapor-bridge replies`: the citizens' replies pulled from LAPOR!, newest first."""
    opd = _opd_code(rt, opd)
    with read_session(rt.engine) as session:
        rows = list_replies(session, opd=opd, since=since, limit=limit)
    if fmt == "json":
        _json([r.to_dict() for r in rows], out)
    elif rows:
        Console(file=_out(out), width=160, highlight=False).print(
            replies_table(rows, lang=rt.settings.language, zone=rt.settings.zone)
        )
    else:
        from lapor_bridge.i18n import format_local_time, translations

        lang = rt.settings.language
        _ = translations("terminal", lang).gettext
        when = format_local_time(since, lang, rt.settings.zone) if since else None
        text = (
            _("no citizen replies since %(when)s.") % {"when": when}
            if when
            else _("no citizen replies.")
        )
        print(text, file=_out(out))
    return len(rows)
