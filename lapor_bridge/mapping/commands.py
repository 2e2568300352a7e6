"""What the mapping commands of the CLI do: load the mapping against the
synced topic tree, run one operation, print the result (rich tables, or
JSON). Output holds ids, unit codes, places and rule words only: never a
report's content, nor the title of a RAHASIA report.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lapor_bridge.mapping.apply import (
    AssignmentChange,
    RemapResult,
    assign_manual,
    assign_reports,
    unassign_manual,
)
from lapor_bridge.mapping.explain import Explanation, explain
from lapor_bridge.mapping.loader import load_mapping
from lapor_bridge.mapping.model import Mapping
from lapor_bridge.mapping.status import mapping_status
from lapor_bridge.mapping.topics import load_topic_tree
from lapor_bridge.notify import record_events
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla import default_policies, refresh_clocks
from lapor_bridge.sla.policy import SLA_FILE, read_policies
from lapor_bridge.store import read_session, write_session
from lapor_bridge.timeutil import human_time, utcnow
from lapor_bridge.yamlfiles import MappingFilesInvalid, MappingIssue, raise_if_errors

EXAMPLES_SHOWN = 3


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def load_for_store(rt: Runtime) -> Mapping:
    """The mapping of `rt`, checked against the store's topic tree (if synced;
    a read-only runtime without a store checks the files alone)."""
    from lapor_bridge.runtime import StoreMissing

    try:
        with read_session(rt.engine) as session:
            topics = load_topic_tree(session)
    except StoreMissing:
        topics = None
    return load_mapping(rt.settings.mappings_dir, topics=topics)


# --- mappings check ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckedFile:
    """A file of `mappings/` that `mappings check` reads besides units.yaml and
    rules.yaml: its reader (lapor_bridge.yamlfiles style: the model, or None and
    every problem; an optional file that is absent: None and no problem) and the
    line a good file prints."""

    name: str
    read: Callable[[Path], tuple[Any, list[MappingIssue]]]
    ok_line: Callable[[Any], str]


# A new file of mappings/ adds its line here.
CHECKED_FILES: tuple[CheckedFile, ...] = (
    CheckedFile(SLA_FILE, read_policies, lambda p: f"SLA policies OK: {', '.join(p.policies)}"),
)


def check(rt: Runtime) -> Mapping:
    """Check every file of `mappings/` (units, rules, then CHECKED_FILES): print
    warnings and notes; errors raise MappingFilesInvalid (exit status 3) listing
    the errors of all the files."""
    out = _console()
    directory = rt.settings.mappings_dir
    found: list[MappingIssue] = []
    mapping: Mapping | None = None
    try:
        mapping = load_for_store(rt)
        found.extend(mapping.warnings)
    except MappingFilesInvalid as exc:
        found.extend(exc.issues)
    models = []
    for checked in CHECKED_FILES:
        model, issues = checked.read(directory / checked.name)
        models.append(model)
        found.extend(issues)
    for issue in found:
        if issue.severity == "warning":
            out.print(f"warning: {issue}", markup=False)
    raise_if_errors(f"the files in {directory}", found)
    assert mapping is not None and models[0] is not None
    from lapor_bridge.notify.escalation import load_escalation

    escalation = load_escalation(directory, mapping, tuple(models[0].policies))  # raises too
    for issue in escalation.warnings:
        out.print(f"warning: {issue}", markup=False)
    _check_admin_notify(rt, out)
    for note in mapping.notes:
        out.print(f"note: {note}", markup=False)
    out.print(
        f"mapping OK: {len(mapping.units)} units, {len(mapping.rules)} rules, "
        f"default unit {mapping.default}, {len(mapping.warnings)} warnings",
        markup=False,
    )
    for checked, model in zip(CHECKED_FILES, models, strict=True):
        if model is not None:
            out.print(checked.ok_line(model), markup=False)
    return mapping


def _check_admin_notify(rt: Runtime, out: Console) -> None:
    """LAPOR_BRIDGE_ADMIN_NOTIFY is checked with the mapping's URLs (a setting: exit 2)."""
    from lapor_bridge.errors import ConfigError
    from lapor_bridge.notify.channels import url_problem

    for url in (rt.settings.admin_notify or "").split():
        problem = url_problem(url)
        if problem is None:
            continue
        severity, message, fix = problem
        if severity == "error":
            raise ConfigError(f"LAPOR_BRIDGE_ADMIN_NOTIFY: {message}. {fix}")
        out.print(f"warning: LAPOR_BRIDGE_ADMIN_NOTIFY: {message}. {fix}", markup=False)


# --- mappings explain ---------------------------------------------------------------


def show_explanation(rt: Runtime, tracking_id: int, *, fmt: str = "text") -> Explanation:
    mapping = load_for_store(rt)
    with read_session(rt.engine) as session:
        result = explain(session, mapping, tracking_id)
    if fmt == "json":
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
        return result
    out = _console()
    p = lambda text: out.print(text, markup=False)  # noqa: E731
    p(
        f"report {result.tracking_id}"
        + (f": {result.title}" if result.title else f" ({result.privacy})")
    )
    p(f"  topic:          {result.topic}")
    p(f"  kecamatan/desa: {result.kecamatan or '-'} / {result.desa or '-'}")
    programme = " (Mas Bup Siaga)" if result.masbupsiaga else ""
    p(f"  channel:        {result.channel}{programme}, classification {result.classification}")
    if result.assigned_opd:
        p(
            f"assigned to {result.assigned_opd} ({result.assigned_mapped_by}) "
            f"by {result.assigned_by or '?'} at {human_time(result.assigned_at)}: "
            f"{result.assigned_reason or ''}"
        )
    else:
        p("not assigned")
    if result.matched:
        p(f"rules say {result.rules_say}: rule {result.matched.rule_id} ({result.matched.where}) "
          f"matched on {result.matched.reason}")  # fmt: skip
    else:
        p(f"rules say {result.rules_say}: no rule matched, so the default unit (unmapped)")
    if result.earlier:
        p("rules before it that did not match:")
        for verdict in result.earlier:
            p(f"  {verdict.rule_id} ({verdict.where}, {verdict.opd}): {verdict.reason}")
    for note in result.notes:
        p(f"note: {note}")
    if result.history:
        p("history:")
        for h in result.history:
            p(
                f"  {human_time(h.at)} {h.actor}: {h.from_opd or '-'} -> {h.to_opd} "
                f"({h.mapped_by}) {h.reason or ''}"
            )
    return result


# --- mappings status --------------------------------------------------------------------


def show_status(rt: Runtime, *, opd: str | None, fmt: str = "table") -> dict[str, Any]:
    mapping = load_for_store(rt)
    with read_session(rt.engine) as session:
        data = mapping_status(session, mapping, opd=opd, now=utcnow())
    if fmt == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return data
    out = _console()
    statuses = sorted({s for e in data["per_opd"] for s in e["by_status"]})
    table = Table(title="Reports per OPD" + (f" ({opd})" if opd else ""))
    for name in ("OPD", "name", "total", *statuses, "transferred"):
        table.add_column(name, justify="left" if name in ("OPD", "name") else "right")
    for entry in data["per_opd"]:
        table.add_row(
            entry["opd"],
            entry["name"],
            str(entry["total"]),
            *(str(entry["by_status"].get(s, 0)) for s in statuses),
            str(entry["transferred"]),
        )
    out.print(table)
    if data["co_assigned"] is not None:
        co = data["co_assigned"]
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(co["by_status"].items())) or "none"
        out.print(
            f"co-assigned to {opd}: {co['total']} ({by_status}; {co['transferred']} transferred)",
            markup=False,
        )
    unmapped = data["unmapped"]
    examples = ", ".join(str(t) for t in unmapped["examples"])
    out.print(
        f"unmapped (no rule matched, in {unmapped['default_unit']}'s queue): {unmapped['count']}"
        + (f", e.g. {examples}" if examples else ""),
        markup=False,
    )
    if data["not_assigned"]:
        out.print(
            f"not assigned yet: {data['not_assigned']} reports; run `lapor-bridge remap`",
            markup=False,
        )
    topics = data["topics_without_rule"]
    out.print(f"topics seen in reports that no rule names: {len(topics) or 'none'}", markup=False)
    for t in topics:
        out.print(
            f"  {t['topic']} {t['name'] or '(not in the synced topic tree)'}: {t['reports']} reports",
            markup=False,
        )
    idle = data["idle_rules"]
    out.print(
        f"rules that matched nothing in the last {data['idle_window_days']} days: {len(idle) or 'none'}",
        markup=False,
    )
    for r in idle:
        out.print(f"  {r['rule']} ({r['where']}) -> {r['opd']}", markup=False)
    return data


# --- remap ---------------------------------------------------------------------------


def remap(rt: Runtime, *, dry_run: bool) -> RemapResult:
    """Apply the mapping to every stored report; print what moves where.
    A real remap runs as a job (lock, run record, metrics); a dry run only reads."""
    if dry_run:
        return _remap(rt, dry_run=True)
    from lapor_bridge.job import start_job

    with start_job(rt, "remap", precheck=lambda: load_mapping(rt.settings.mappings_dir)) as job:
        result = _remap(rt, dry_run=False)
        job.summary = {"changed": len(result.changes), "examined": result.examined}
    return result


def _remap(rt: Runtime, *, dry_run: bool) -> RemapResult:
    mapping = load_for_store(rt)
    session_of = read_session if dry_run else write_session
    now = utcnow()
    with session_of(rt.engine) as session:
        result = assign_reports(session, mapping, None, actor="remap", now=now, dry_run=dry_run)
        if not dry_run:  # a move can change the complex flag, hence due times
            _refresh_clocks(rt, session, [c.tracking_id for c in result.changes], now)
            record_events(
                session,
                now=now,
                mapping=mapping,
                tracking_ids=[c.tracking_id for c in result.changes],
            )
        _print_moves(result)
    return result


def _refresh_clocks(rt: Runtime, session: Any, tracking_ids: list[int], now: Any) -> None:
    """Clocks keep their start on reassignment, but `complex` changes the due time."""
    if tracking_ids:
        refresh_clocks(
            session, tracking_ids, now=now, policies=default_policies(rt.settings.mappings_dir)
        )


def _print_moves(result: RemapResult) -> None:
    out = _console()
    moves = result.moves(EXAMPLES_SHOWN)
    if moves:
        table = Table(title="would move (dry run)" if result.dry_run else "moved")
        for name in ("from", "to", "reports", "examples"):
            table.add_column(name, justify="right" if name == "reports" else "left")
        for move in moves:
            table.add_row(
                move.from_opd or "(new)",
                move.to_opd,
                str(move.count),
                ", ".join(str(t) for t in move.examples),
            )
        out.print(table)
    verb = "would change" if result.dry_run else "changed"
    out.print(
        f"{verb} {len(result.changes)} of {result.examined} routed reports "
        f"({result.unchanged} unchanged, {result.unmapped} unmapped); kept "
        f"{result.manual} manual and {result.transferred} transferred"
        + ("; nothing written (dry run)" if result.dry_run else ""),
        markup=False,
    )


# --- assign / unassign -------------------------------------------------------------------


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "admin"


def assign(
    rt: Runtime, tracking_id: int, opd: str, *, reason: str, by: str | None
) -> AssignmentChange:
    mapping = load_for_store(rt)
    now = utcnow()
    with write_session(rt.engine) as session:
        change = assign_manual(
            session,
            mapping,
            tracking_id,
            opd,
            reason=reason,
            actor=by or default_actor(),
            now=now,
        )
        _refresh_clocks(rt, session, [tracking_id], now)
        record_events(session, now=now, mapping=mapping, tracking_ids=[tracking_id])
    _console().print(
        f"report {tracking_id}: {change.from_opd or '(unassigned)'} -> {change.to_opd} (manual; "
        "the rules will not move it until `lapor-bridge unassign`)",
        markup=False,
    )
    return change


def unassign(rt: Runtime, tracking_id: int, *, reason: str, by: str | None) -> AssignmentChange:
    mapping = load_for_store(rt)
    now = utcnow()
    with write_session(rt.engine) as session:
        change = unassign_manual(
            session, mapping, tracking_id, reason=reason, actor=by or default_actor(), now=now
        )
        _refresh_clocks(rt, session, [tracking_id], now)
        record_events(session, now=now, mapping=mapping, tracking_ids=[tracking_id])
    _console().print(
        f"report {tracking_id}: {change.from_opd} -> {change.to_opd} ({change.mapped_by}): {change.reason}",
        markup=False,
    )
    return change
