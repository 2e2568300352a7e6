"""Validating and storing one page of upstream reports (inside the caller's
transaction).

Each raw record is validated on its own. A bad one is quarantined with its
raw JSON and the reason, and the rest of the page goes on. A good one is
upserted by `tracking_id`, guarded by `version` in SQL itself
(`ON CONFLICT ... DO UPDATE ... WHERE excluded.version > report.version`), so
a replayed or older version never overwrites a newer one, even when a
backfill and a sync write at once. How rows reach each engine is
lapor_bridge.store.bulk's concern; which pulled follow-ups are the bridge's
own answers is the outbox's (the engine asks it, then calls `mark_echoes`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from lapor_bridge.mapping.channel import is_masbupsiaga
from lapor_bridge.store.bulk import Add, BulkWriter, KeepWhile, Upsert, writer
from lapor_bridge.upstream.models import (
    TEXT_CHECKED,
    ApiFollowUp,
    ApiReport,
    ApiTopic,
    Privacy,
    Status,
    clean_text,
)


@dataclass
class PageResult:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    tracking_ids: list[int] = field(default_factory=list)  # stored (new or newer version)
    # follow-ups of the stored reports that carry an external_ref: the outbox
    # reads these for echoes of its own answers (see lapor_bridge.outbox.echoes)
    referenced: list[ApiFollowUp] = field(default_factory=list)
    last_updated_at: datetime | None = None  # of the last valid record, for the checkpoint


def store_page(
    session: Session,
    records: Sequence[Any],
    *,
    instansi_id: int,
    now: datetime,
    texts: Sequence[str] | None = None,
) -> PageResult:
    """Validate and store one listing page. Returns what happened.

    `texts`, when given, are the records' JSON texts as received (the
    client's `ListingPage.texts`): a record's text is stored as it came
    (an ANONIM one is serialised again without its reporter) and spares the
    walk over its strings when it holds no escape that could hide a lone
    surrogate or NUL.

    Follow-ups are stored with `is_echo` false; which of them are the
    bridge's own answers is the outbox's to say (`result.referenced`, then
    `mark_echoes`), so the pull does not depend on the outbox.
    """
    result = PageResult(fetched=len(records))
    if texts is not None and len(texts) != len(records):
        texts = None
    newest: dict[int, tuple[ApiReport, dict[str, Any], str | None]] = {}
    for index, raw in enumerate(records):
        text = texts[index] if texts is not None else None
        report = _validate(session, raw, now=now, checked=text is not None and clean_text(text))
        if report is None:
            result.quarantined += 1
            continue
        result.last_updated_at = report.updated_at
        held = newest.get(report.tracking_id)
        if held is None or report.version > held[0].version:
            if report.privacy == Privacy.ANONIM:
                newest[report.tracking_id] = (report, _redact_anonymous(raw), None)
            else:
                newest[report.tracking_id] = (report, raw, text)
    if not newest:
        return result

    bulk = writer(session)
    stored = _stored_versions(bulk, list(newest))
    rows = []
    tags: dict[tuple[str, ...], str | None] = {}  # tags as stored JSON: most lists repeat ([])
    for tracking_id, (report, raw, text) in newest.items():
        before = stored.get(tracking_id)
        if before is not None and before >= report.version:
            result.unchanged += 1
            continue
        if before is None:
            result.inserted += 1
        else:
            result.updated += 1
        stored_raw = text if text is not None else bulk.raw_json(raw)
        rows.append(_row(bulk, report, stored_raw, instansi_id=instansi_id, now=now, tags=tags))
        result.tracking_ids.append(tracking_id)
    if rows:
        bulk.insert("report", _REPORT_COLUMNS, rows, on_conflict=_REPORT_UPSERT)
        followups = [f for tid in result.tracking_ids for f in newest[tid][0].followups]
        _store_followups(bulk, followups, now=now)
        result.referenced = [f for f in followups if f.external_ref]
        _resolve_quarantine(bulk, {tid: newest[tid][0].version for tid in result.tracking_ids}, now)
    return result


# --- validation and quarantine ---------------------------------------------


def _validate(
    session: Session, raw: Any, *, now: datetime, checked: bool = False
) -> ApiReport | None:
    """The record as a report, or None once it is quarantined. `checked`: its
    text was found free of lone surrogates and NUL (`clean_text`)."""
    try:
        if not isinstance(raw, dict):
            raise TypeError(f"a report must be a JSON object, got {type(raw).__name__}")
        return ApiReport.model_validate(raw, context=TEXT_CHECKED if checked else None)
    except (ValidationError, TypeError) as exc:
        quarantine(session, raw, reason=_reason(exc), source="listing", now=now)
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}"
            for err in exc.errors()[:5]
        ]
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return str(exc)


def _redact_anonymous(raw: Any) -> Any:
    """ANONIM reporters stay unknown: the reporter never reaches the store."""
    if (
        isinstance(raw, dict)
        and raw.get("privacy") == Privacy.ANONIM
        and raw.get("reporter") is not None
    ):
        return {**raw, "reporter": None}
    return raw


_QUARANTINE_COLUMNS = (
    "digest", "tracking_id", "version", "source", "reason", "raw",
    "first_seen_at", "last_seen_at", "times_seen",
)  # fmt: skip
# a replay of the same record counts, it does not duplicate
_QUARANTINE_UPSERT = Upsert(
    key=("digest",),
    keep=frozenset(_QUARANTINE_COLUMNS) - {"last_seen_at", "times_seen"},
    rules={"times_seen": Add(1)},
)


def storable(value: Any) -> Any:
    """`value` with every string the store could not hold (bytes that were not UTF-8,
    lone surrogates, NUL) written out as escapes: a quarantined record is kept, flagged."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\\u0000")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def quarantine(session: Session, raw: Any, *, reason: str, source: str, now: datetime) -> None:
    """Keep a record that failed validation; a replay of the same record counts, not duplicates."""
    raw = storable(_redact_anonymous(raw))
    if raw is None:  # `null` in a listing: kept as what it was
        raw = {"_not_an_object": None}
    digest = hashlib.sha256(
        json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    tracking_id = raw.get("tracking_id") if isinstance(raw, dict) else None
    version = raw.get("version") if isinstance(raw, dict) else None
    bulk = writer(session)
    stamp = bulk.time(now)
    row = (
        digest,
        tracking_id if type(tracking_id) is int else None,
        version if type(version) is int else None,
        source,
        reason,
        json.dumps(raw, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str),
        stamp,
        stamp,
        1,
    )
    bulk.insert("quarantine", _QUARANTINE_COLUMNS, [row], on_conflict=_QUARANTINE_UPSERT)


def _resolve_quarantine(bulk: BulkWriter, versions: dict[int, int], now: datetime) -> None:
    """A valid version of a report settles its older quarantined versions."""
    open_rows = bulk.select_in(
        "quarantine", ("id", "tracking_id", "version"), "tracking_id", versions,
        where="resolved_at IS NULL",
    )  # fmt: skip
    settled = [
        (qid, bulk.time(now))
        for qid, tracking_id, version in open_rows
        if (version or 0) <= versions[tracking_id]
    ]
    bulk.update("quarantine", ("id", "resolved_at"), settled)


# --- reports -----------------------------------------------------------------

_REPORT_COLUMNS = (
    "tracking_id", "version", "title", "content", "topic_id", "classification", "privacy",
    "channel", "status", "instansi_id", "reporter_name", "reporter_phone", "reporter_email",
    "kecamatan", "desa", "tags", "masbupsiaga", "created_at", "disposed_at", "updated_at",
    "transferred", "transferred_at", "raw", "first_seen_at", "last_synced_at",
)  # fmt: skip
# version-guarded in SQL itself, so a replayed or older version never
# overwrites a newer one, even when a backfill and a sync write at once;
# transferred_at is when we first saw the report leave, cleared if it is
# disposed back to us
_REPORT_UPSERT = Upsert(
    key=("tracking_id",),
    keep=frozenset({"first_seen_at"}),
    rules={"transferred_at": KeepWhile("transferred")},
    newer="version",
)


def _row(
    bulk: BulkWriter,
    report: ApiReport,
    raw: str,
    *,
    instansi_id: int,
    now: datetime,
    tags: dict[tuple[str, ...], str | None],
) -> tuple[Any, ...]:
    """The report's row in `_REPORT_COLUMNS` order, values in stored form
    (`raw` the record's JSON text as it is stored; `tags` the stored JSON of
    the tag lists already seen, kept across the rows of a page)."""
    reporter = None if report.privacy == Privacy.ANONIM else report.reporter
    location = report.location
    transferred = report.status == Status.DIALIHKAN or report.instansi_id != instansi_id
    listed = tuple(report.tags)
    stored_tags = tags.get(listed)
    if stored_tags is None:
        stored_tags = tags[listed] = BulkWriter.json(list(listed))
    channel = report.channel.value
    updated_at = bulk.time(report.updated_at)
    stamp = bulk.time(now)
    return (
        report.tracking_id,
        report.version,
        report.title,
        report.content,
        report.topic_id,
        report.classification.value,
        report.privacy.value,
        channel,
        report.status.value,
        report.instansi_id,
        reporter.name if reporter else None,
        reporter.phone if reporter else None,
        reporter.email if reporter else None,
        location.kecamatan if location else None,
        location.desa if location else None,
        stored_tags,
        is_masbupsiaga(channel, report.content, listed),
        bulk.time(report.created_at),
        bulk.time(report.disposed_at),
        updated_at,
        transferred,
        updated_at if transferred else None,
        raw,
        stamp,
        stamp,
    )


def _stored_versions(bulk: BulkWriter, tracking_ids: list[int]) -> dict[int, int]:
    return dict(bulk.select_in("report", ("tracking_id", "version"), "tracking_id", tracking_ids))


# --- follow-ups --------------------------------------------------------------

_FOLLOWUP_COLUMNS = (
    "id", "tracking_id", "author", "status", "content", "unit", "external_ref", "is_echo",
    "created_at", "first_seen_at",
)  # fmt: skip
_FOLLOWUP_ONCE = Upsert(key=("id",), ignore=True)  # a follow-up is stored once, as first seen


def _store_followups(bulk: BulkWriter, followups: Sequence[ApiFollowUp], *, now: datetime) -> None:
    stamp = bulk.time(now)
    fresh = {
        f.id: (
            f.id,
            f.tracking_id,
            f.author.value,
            f.status.value,
            f.content,
            f.unit,
            f.external_ref,
            False,
            bulk.time(f.created_at),
            stamp,
        )
        for f in followups
    }
    bulk.insert(
        "upstream_followup", _FOLLOWUP_COLUMNS, list(fresh.values()), on_conflict=_FOLLOWUP_ONCE
    )


def mark_echoes(session: Session, external_refs: Iterable[str]) -> None:
    """Mark the stored follow-ups with these external_refs as echoes: the
    bridge's own answers coming back (the outbox says which refs are ours)."""
    refs = sorted(set(external_refs))
    if not refs:
        return
    bulk = writer(session)
    ids = [
        (fid, True)
        for fid, is_echo in bulk.select_in(
            "upstream_followup", ("id", "is_echo"), "external_ref", refs
        )
        if not is_echo
    ]
    bulk.update("upstream_followup", ("id", "is_echo"), ids)


# --- topics ------------------------------------------------------------------


def parse_topics(records: Sequence[Any]) -> tuple[list[ApiTopic], list[tuple[Any, str]]]:
    """The valid topics of a `/topics` answer, and the invalid ones with why."""
    topics: list[ApiTopic] = []
    bad: list[tuple[Any, str]] = []
    for raw in records:
        try:
            topics.append(ApiTopic.model_validate(raw))
        except ValidationError as exc:
            bad.append((raw, _reason(exc)))
    return topics, bad


_TOPIC_UPSERT = Upsert(key=("id",))


def store_topics(
    session: Session,
    topics: Sequence[ApiTopic],
    bad: Sequence[tuple[Any, str]] = (),
    *,
    now: datetime,
) -> int:
    """Upsert the topic tree (topics no longer listed are kept: old reports name
    them) and quarantine the invalid ones."""
    for raw, reason in bad:
        quarantine(session, raw, reason=reason, source="topics", now=now)
    if not topics:
        return 0
    bulk = writer(session)
    stamp = bulk.time(now)
    rows = [(t.id, t.parent, t.name, stamp) for t in topics]
    bulk.insert("topic", ("id", "parent", "name", "synced_at"), rows, on_conflict=_TOPIC_UPSERT)
    return len(rows)
