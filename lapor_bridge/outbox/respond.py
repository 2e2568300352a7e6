"""Capturing follow-ups: writing a tindak lanjut IS queueing it for LAPOR!.

A follow-up travels as one `TindakLanjutDraft` (what the OPD wrote: report,
status, text, OPD, attachments, who) from the command line, a CSV row
(csv_import.py) or the demo to `record_tindak_lanjut`, which checks it and
adds one row to `tindak_lanjut` (the follow-up and its outbox entry at once)
inside the caller's transaction, so the follow-up and its delivery can never
be separated. The SLA clocks of the report are refreshed in the same
transaction: they stop at the local follow-up time, not at the delivery time.
The OPD codes (`units`, from mappings/units.yaml) and the SLA policies are
always passed in: nothing here reads settings or files.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from sqlmodel import Session

from lapor_bridge.outbox.errors import InvalidFollowUp
from lapor_bridge.outbox.states import OutboxState
from lapor_bridge.sla import SlaPolicies, refresh_clocks
from lapor_bridge.store import write_session
from lapor_bridge.store.tables import Assignment, ReportRow, TindakLanjut
from lapor_bridge.upstream.models import Attachment, FollowUpIn, FollowUpStatus, Status

MAX_CONTENT = 5000


@dataclass(frozen=True)
class TindakLanjutDraft:
    """A follow-up as an OPD wrote it, before it is checked and queued."""

    tracking_id: int
    status: str  # DIPROSES or SELESAI, in any case
    content: str  # 1..5000 characters once trimmed
    opd: str | None = None  # the answering OPD code; default: the report's assigned OPD
    attachments: tuple[str, ...] = ()  # http(s) URLs
    created_by: str | None = None  # who wrote it (OS user, --by, "demo")


def new_external_ref(instansi_id: int) -> str:
    """A stable, unique reference LAPOR! stores with the follow-up (<= 64 chars)."""
    return f"lb-{instansi_id}-{uuid.uuid4().hex}"


def record_tindak_lanjut(
    session: Session,
    draft: TindakLanjutDraft,
    *,
    now: datetime,
    units: Mapping[str, str],
    policies: SlaPolicies,
) -> TindakLanjut:
    """Record an OPD's follow-up of a report and queue it for LAPOR! (same row).

    `units` (OPD code -> official name, from mappings/units.yaml) checks the OPD
    code and gives the name LAPOR! shows as the answering unit; the report's
    SLA clocks are refreshed with `policies` in the same transaction.

    Raises InvalidFollowUp, changing nothing, when the report is unknown,
    transferred or closed, when no OPD is given or assigned, the OPD code is
    not in `units`, or the status, text or an attachment URL is invalid.
    """
    item = queue_tindak_lanjut(session, draft, now=now, units=units)
    refresh_clocks(session, [draft.tracking_id], now=now, policies=policies)
    return item


def record_follow_up(
    engine: Engine,
    draft: TindakLanjutDraft,
    *,
    now: datetime,
    units: Mapping[str, str],
    policies: SlaPolicies,
) -> TindakLanjut:
    """`record_tindak_lanjut` in its own transaction (the `respond` command)."""
    with write_session(engine) as session:
        return record_tindak_lanjut(session, draft, now=now, units=units, policies=policies)


def queue_tindak_lanjut(
    session: Session, draft: TindakLanjutDraft, *, now: datetime, units: Mapping[str, str]
) -> TindakLanjut:
    """The checks and the row of record_tindak_lanjut, without the SLA refresh
    (a CSV import refreshes the clocks of all its reports at once)."""
    tracking_id = draft.tracking_id
    report = session.get(ReportRow, tracking_id)
    if report is None:
        raise InvalidFollowUp(
            f"report {tracking_id} is not in the local store: check the tracking ID, "
            "or run `lapor-bridge sync` to fetch it first."
        )
    if report.transferred or report.status == Status.DIALIHKAN:
        raise InvalidFollowUp(
            f"report {tracking_id} was transferred to another body (instansi "
            f"{report.instansi_id}); it can no longer be answered from here."
        )
    if report.status == Status.DITUTUP:
        raise InvalidFollowUp(
            f"report {tracking_id} is closed (DITUTUP) on LAPOR! and takes no more "
            "follow-ups; nothing was recorded."
        )
    opd = (draft.opd or "").strip() or _assigned_opd(session, tracking_id)
    unit = _unit_name(opd, units)
    external_ref = new_external_ref(report.instansi_id)
    body = _validated_body(draft, unit=unit, ref=external_ref)
    item = TindakLanjut(
        tracking_id=tracking_id,
        external_ref=external_ref,
        opd=opd,
        unit=unit,
        status=body.status.value,
        content=body.content,
        attachments=[a.model_dump(exclude_none=True) for a in body.attachments] or None,
        created_at=now,
        created_by=draft.created_by,
        state=OutboxState.PENDING,
    )
    session.add(item)
    try:
        session.flush()
    except TEXT_REFUSED as exc:  # the store cannot hold its text
        raise refused_text(tracking_id, exc) from None
    return item


def _assigned_opd(session: Session, tracking_id: int) -> str:
    assignment = session.get(Assignment, tracking_id)
    if assignment is None or not assignment.opd:
        raise InvalidFollowUp(
            f"report {tracking_id} has no OPD assigned yet: name the answering OPD "
            "with --opd CODE (or the `opd` column of the CSV)."
        )
    return assignment.opd


def _unit_name(opd: str, units: Mapping[str, str]) -> str:
    if opd not in units:
        known = ", ".join(sorted(units)[:12]) + (", ..." if len(units) > 12 else "")
        raise InvalidFollowUp(
            f"OPD code {opd!r} is not in mappings/units.yaml (known: {known}); "
            "use a listed code, or add the unit there first."
        )
    return units[opd]


def _validated_body(draft: TindakLanjutDraft, *, unit: str, ref: str) -> FollowUpIn:
    """The body that will be posted, checked now so LAPOR! has no reason for a 422."""
    tracking_id = draft.tracking_id
    wanted = (draft.status or "").strip().upper()
    if wanted not in FollowUpStatus.__members__:
        raise InvalidFollowUp(
            f"status {draft.status!r} for report {tracking_id} is not DIPROSES or SELESAI."
        )
    text = (draft.content or "").strip()
    if not text:
        raise InvalidFollowUp(f"the follow-up text for report {tracking_id} is empty.")
    if "\x00" in text:
        raise InvalidFollowUp(
            f"the follow-up text for report {tracking_id} contains a NUL byte (\\0), which "
            "is not text: remove it (a file saved as UTF-16 or by a binary tool has them)."
        )
    if len(text) > MAX_CONTENT:
        raise InvalidFollowUp(
            f"the follow-up text for report {tracking_id} has {len(text)} characters; "
            f"LAPOR! takes at most {MAX_CONTENT}: shorten it or split it in two follow-ups."
        )
    urls = [u.strip() for u in draft.attachments if u and u.strip()]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or "\x00" in url:
            raise InvalidFollowUp(
                f"attachment {url!r} for report {tracking_id} is not an http(s) URL."
            )
    try:
        return FollowUpIn(
            content=text,
            status=FollowUpStatus(wanted),
            unit=unit,
            external_ref=ref,
            attachments=[Attachment(url=u) for u in urls],
        )
    except ValidationError as exc:  # a limit of the contract not checked above
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidFollowUp(
            f"follow-up for report {tracking_id} is invalid: {problems}"
        ) from None


# What a store raises for text it cannot hold (PostgreSQL: a NUL byte, or a
# character its encoding lacks, refused by the driver or by the server).
TEXT_REFUSED = (DataError, UnicodeEncodeError)


def refused_text(tracking_id: int, exc: DataError | UnicodeEncodeError) -> InvalidFollowUp:
    """Why the database refused the row, without the statement or its values: a
    PostgreSQL store in an encoding such as LATIN1 has no place for some
    characters, and says so in the driver or on the server."""
    if isinstance(exc, UnicodeEncodeError):
        char = exc.object[exc.start : exc.start + 1]
        said = f"character U+{ord(char):04X} cannot be stored in the database's {exc.encoding}"
    else:
        diag = getattr(exc.orig, "diag", None)
        said = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    return InvalidFollowUp(
        f"the database refused the text of the follow-up for report {tracking_id} ({said}); "
        "remove or replace that character."
    )
