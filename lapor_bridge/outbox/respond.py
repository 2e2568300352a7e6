"""Capturing follow-ups: writing a tindak lanjut IS queueing it for LAPOR!.

`record_tindak_lanjut` adds one row to `tindak_lanjut` (the follow-up and its
outbox entry at once) inside the caller's transaction, so the follow-up and
its delivery can never be separated. The SLA clocks of the report are
refreshed in the same transaction: they stop at the local follow-up time, not
at the delivery time.

`import_csv` does the same for a spreadsheet of answers. The CSV format:

* UTF-8 (a byte-order mark, as Excel writes it, is fine); separator `,` or
  `;` (detected from the header line); quoting as Excel does it.
* The first line is the header. Columns, in any order, names not case
  sensitive: `tracking_id`, `status` (DIPROSES or SELESAI), `text` (1 to 5000
  characters) are required; `opd` (the OPD code; default: the report's
  assigned OPD) and `attach` (attachment URLs separated by spaces or new
  lines) are optional. Any other column makes the whole file invalid
  (probably a typo), and nothing is recorded.
* Blank lines are ignored. A bad row is reported with its line number and
  reason and skipped; the good rows are recorded. A row repeating a follow-up
  already recorded (same report, status, OPD and text) is reported and
  skipped, so importing the same file twice sends nothing twice.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from lapor_bridge.outbox.errors import InvalidCsv, InvalidFollowUp
from lapor_bridge.outbox.states import OutboxState
from lapor_bridge.sla import SlaPolicies, refresh_clocks
from lapor_bridge.store import write_session
from lapor_bridge.store.tables import Assignment, ReportRow, TindakLanjut
from lapor_bridge.timeutil import rfc3339
from lapor_bridge.upstream.models import Attachment, FollowUpIn, FollowUpStatus, Status

MAX_CONTENT = 5000


def new_external_ref(instansi_id: int) -> str:
    """A stable, unique reference LAPOR! stores with the follow-up (<= 64 chars)."""
    return f"lb-{instansi_id}-{uuid.uuid4().hex}"


def record_tindak_lanjut(
    session: Session,
    tracking_id: int,
    *,
    status: str,
    content: str,
    opd: str | None = None,
    attachments: Iterable[str] = (),
    created_by: str | None = None,
    now: datetime,
    policies: SlaPolicies | None = None,
    units: dict[str, str] | None = None,
) -> TindakLanjut:
    """Record an OPD's follow-up of a report and queue it for LAPOR! (same row).

    The report's SLA clocks are refreshed in the same transaction (`policies`:
    the SLA policies to use, default those of the configured mappings folder).
    `units` (OPD code -> official name, from mappings/units.yaml) checks the OPD
    code and gives the name LAPOR! shows as the answering unit; without it the
    code is sent.

    Raises InvalidFollowUp, changing nothing, when the report is unknown,
    transferred or closed, when no OPD is given or assigned, or when the
    status, text or an attachment URL is invalid.
    """
    item = _insert(
        session,
        tracking_id,
        status=status,
        content=content,
        opd=opd,
        attachments=attachments,
        created_by=created_by,
        now=now,
        units=units,
    )
    refresh_clocks(session, [tracking_id], now=now, policies=policies)
    return item


def _insert(
    session: Session,
    tracking_id: int,
    *,
    status: str,
    content: str,
    opd: str | None,
    attachments: Iterable[str],
    created_by: str | None,
    now: datetime,
    units: dict[str, str] | None,
) -> TindakLanjut:
    """The checks and the row of record_tindak_lanjut, without the SLA refresh."""
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
    opd = (opd or "").strip() or _assigned_opd(session, tracking_id)
    unit = _unit_name(opd, units)
    external_ref = new_external_ref(report.instansi_id)
    body = _validated_body(
        tracking_id,
        status=status,
        content=content,
        unit=unit or opd,
        attachments=attachments,
        ref=external_ref,
    )
    item = TindakLanjut(
        tracking_id=tracking_id,
        external_ref=external_ref,
        opd=opd,
        unit=unit,
        status=body.status.value,
        content=body.content,
        attachments=[a.model_dump(exclude_none=True) for a in body.attachments] or None,
        created_at=now,
        created_by=created_by,
        state=OutboxState.PENDING,
    )
    session.add(item)
    session.flush()
    return item


def _assigned_opd(session: Session, tracking_id: int) -> str:
    assignment = session.get(Assignment, tracking_id)
    if assignment is None or not assignment.opd:
        raise InvalidFollowUp(
            f"report {tracking_id} has no OPD assigned yet: name the answering OPD "
            "with --opd CODE (or the `opd` column of the CSV)."
        )
    return assignment.opd


def _unit_name(opd: str, units: dict[str, str] | None) -> str | None:
    if units is None:
        return None
    if opd not in units:
        known = ", ".join(sorted(units)[:12]) + (", ..." if len(units) > 12 else "")
        raise InvalidFollowUp(
            f"OPD code {opd!r} is not in mappings/units.yaml (known: {known}); "
            "use a listed code, or add the unit there first."
        )
    return units[opd]


def _validated_body(
    tracking_id: int,
    *,
    status: str,
    content: str,
    unit: str,
    attachments: Iterable[str],
    ref: str,
) -> FollowUpIn:
    """The body that will be posted, checked now so LAPOR! has no reason for a 422."""
    wanted = (status or "").strip().upper()
    if wanted not in FollowUpStatus.__members__:
        raise InvalidFollowUp(
            f"status {status!r} for report {tracking_id} is not DIPROSES or SELESAI."
        )
    text = (content or "").strip()
    if not text:
        raise InvalidFollowUp(f"the follow-up text for report {tracking_id} is empty.")
    if len(text) > MAX_CONTENT:
        raise InvalidFollowUp(
            f"the follow-up text for report {tracking_id} has {len(text)} characters; "
            f"LAPOR! takes at most {MAX_CONTENT}: shorten it or split it in two follow-ups."
        )
    urls = [u.strip() for u in attachments if u and u.strip()]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
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


def record_follow_up(
    engine: Engine,
    tracking_id: int,
    *,
    status: str,
    content: str,
    opd: str | None = None,
    attachments: Sequence[str] = (),
    created_by: str | None = None,
    now: datetime,
    policies: SlaPolicies | None = None,
    units: dict[str, str] | None = None,
) -> TindakLanjut:
    """`record_tindak_lanjut` in its own transaction (the `respond` command)."""
    with write_session(engine) as session:
        return record_tindak_lanjut(
            session,
            tracking_id,
            status=status,
            content=content,
            opd=opd,
            attachments=attachments,
            created_by=created_by,
            now=now,
            policies=policies,
            units=units,
        )


# --- CSV ----------------------------------------------------------------------

REQUIRED_COLUMNS = ("tracking_id", "status", "text")
OPTIONAL_COLUMNS = ("opd", "attach")


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line the row starts on (the header is line 1)
    cells: dict[str, str]


@dataclass
class CsvImport:
    recorded: list[tuple[int, TindakLanjut]] = field(default_factory=list)  # (line, item)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    @property
    def ok(self) -> bool:
        return not self.bad


def read_csv(path: Path) -> list[CsvRow]:
    """The data rows of a follow-up CSV, or InvalidCsv when the file as a whole is unusable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidCsv(f"cannot read {path}: {exc.strerror or exc}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidCsv(
            f"{path} is not UTF-8 (byte {exc.start}): save it as 'CSV UTF-8'; nothing was recorded."
        ) from None
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidCsv(
                f"{path} is empty: it needs a header line {','.join(REQUIRED_COLUMNS)}."
            )
        columns = _columns(path, header)
        rows: list[CsvRow] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(columns):
                rows.append(
                    CsvRow(
                        line, {"__error__": f"{len(cells)} cells, the header has {len(columns)}"}
                    )
                )
                continue
            rows.append(CsvRow(line, dict(zip(columns, cells, strict=False))))
    except csv.Error as exc:
        raise InvalidCsv(
            f"{path} line {reader.line_num}: {exc}; fix the quoting, nothing was recorded."
        ) from None
    return rows


def _columns(path: Path, header: list[str]) -> list[str]:
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(c) for c in unknown)}")
    if duplicated:
        problems.append(f"repeated column(s) {', '.join(duplicated)}")
    if problems:
        raise InvalidCsv(
            f"{path} header: {'; '.join(problems)}. The columns are tracking_id, status, text "
            "and optionally opd, attach; nothing was recorded."
        )
    return columns


def import_csv(
    engine: Engine,
    path: Path,
    *,
    created_by: str | None = None,
    now: datetime,
    policies: SlaPolicies | None = None,
    units: dict[str, str] | None = None,
) -> CsvImport:
    """Record every good row of a follow-up CSV in one transaction; report the bad ones."""
    rows = read_csv(path)
    result = CsvImport()
    with write_session(engine) as session:
        for row in rows:
            try:
                with session.begin_nested():
                    item = _record_row(session, row, created_by=created_by, now=now, units=units)
            except InvalidFollowUp as exc:
                result.bad.append((row.line, exc.message))
            else:
                result.recorded.append((row.line, item))
        answered = sorted({item.tracking_id for _, item in result.recorded})
        if answered:
            refresh_clocks(session, answered, now=now, policies=policies)
    return result


def _record_row(
    session: Session,
    row: CsvRow,
    *,
    created_by: str | None,
    now: datetime,
    units: dict[str, str] | None,
) -> TindakLanjut:
    if "__error__" in row.cells:
        raise InvalidFollowUp(row.cells["__error__"])
    cells = {k: (v or "").strip() for k, v in row.cells.items()}
    raw_id = cells.get("tracking_id", "")
    if not raw_id.isdigit():
        raise InvalidFollowUp(f"tracking_id {raw_id!r} is not a number.")
    tracking_id = int(raw_id)
    opd = cells.get("opd") or None
    duplicate = _same_follow_up(
        session,
        tracking_id,
        status=cells.get("status", "").upper(),
        content=cells.get("text", ""),
        opd=opd,
    )
    if duplicate is not None:
        raise InvalidFollowUp(
            f"report {tracking_id} already has this follow-up (outbox #{duplicate.id}, "
            f"recorded {rfc3339(duplicate.created_at)}); remove the row if it is a repeat."
        )
    return _insert(
        session,
        tracking_id,
        status=cells.get("status", ""),
        content=row.cells.get("text", ""),
        opd=opd,
        attachments=cells.get("attach", "").split(),
        created_by=created_by,
        now=now,
        units=units,
    )


def _same_follow_up(
    session: Session, tracking_id: int, *, status: str, content: str, opd: str | None
) -> TindakLanjut | None:
    query = select(TindakLanjut).where(
        TindakLanjut.tracking_id == tracking_id,
        TindakLanjut.status == status,
        TindakLanjut.content == content,
        TindakLanjut.state != OutboxState.CANCELLED,
    )
    if opd is not None:
        query = query.where(TindakLanjut.opd == opd)
    return session.exec(query.order_by(TindakLanjut.id)).first()
