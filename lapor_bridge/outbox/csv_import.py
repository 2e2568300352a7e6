"""Many follow-ups at once from a spreadsheet (`respond --from-csv FILE`).

The CSV format:

* UTF-8 (a byte-order mark, as Excel writes it, is fine); separator `,` or
  `;` (detected from the header line); quoting as Excel does it.
* The first line is the header. Columns, in any order, names not case
  sensitive: `tracking_id`, `status` (DIPROSES or SELESAI), `text` (1 to 5000
  characters) are required; `opd` (the OPD code; default: the report's
  assigned OPD) and `attach` (attachment URLs separated by spaces or new
  lines) are optional. Any other column makes the whole file invalid
  (probably a typo), and nothing is recorded.
* Blank lines are ignored. A bad row is reported with its line number and
  reason and skipped; the good rows are recorded. Bad rows include those with
  more cells than the header, a NUL byte in a cell, a follow-up that
  `record_tindak_lanjut` refuses, and text the database refuses (e.g. a
  character PostgreSQL cannot store): each row is written in its own savepoint,
  so one refused row changes nothing else. A row repeating a follow-up already
  recorded (same report, status, OPD and text) is reported and skipped, so
  importing the same file twice sends nothing twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from lapor_bridge.outbox.errors import InvalidCsv, InvalidFollowUp
from lapor_bridge.outbox.respond import (
    TEXT_REFUSED,
    TindakLanjutDraft,
    queue_tindak_lanjut,
    refused_text,
)
from lapor_bridge.outbox.states import OutboxState
from lapor_bridge.sla import SlaPolicies, refresh_clocks
from lapor_bridge.store import write_session
from lapor_bridge.store.tables import TindakLanjut
from lapor_bridge.timeutil import rfc3339

REQUIRED_COLUMNS = ("tracking_id", "status", "text")
OPTIONAL_COLUMNS = ("opd", "attach")


@dataclass(frozen=True)
class CsvRow:
    """A data row as read: its cells by column name."""

    line: int  # the line the row starts on (the header is line 1)
    cells: dict[str, str]


@dataclass(frozen=True)
class CsvBadRow:
    """A data row that cannot be read as a follow-up at all."""

    line: int
    reason: str


@dataclass
class CsvImport:
    recorded: list[tuple[int, TindakLanjut]] = field(default_factory=list)  # (line, item)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    @property
    def ok(self) -> bool:
        return not self.bad


def import_csv(
    engine: Engine,
    path: Path,
    *,
    created_by: str | None = None,
    now: datetime,
    units: Mapping[str, str],
    policies: SlaPolicies,
) -> CsvImport:
    """Record every good row of a follow-up CSV in one transaction; report the bad ones.
    Raises InvalidCsv, recording nothing, when the file as a whole is unusable."""
    rows = read_csv(path)
    result = CsvImport()
    with write_session(engine) as session:
        for row in rows:
            if isinstance(row, CsvBadRow):
                result.bad.append((row.line, row.reason))
                continue
            try:
                with session.begin_nested():
                    draft = draft_of(row, created_by=created_by)
                    _refuse_repeat(session, draft)
                    item = queue_tindak_lanjut(session, draft, now=now, units=units)
            except InvalidFollowUp as exc:  # also text the store refused: the savepoint undid it
                result.bad.append((row.line, exc.message))
            else:
                result.recorded.append((row.line, item))
        answered = sorted({item.tracking_id for _, item in result.recorded})
        if answered:
            refresh_clocks(session, answered, now=now, policies=policies)
    return result


def read_csv(path: Path) -> list[CsvRow | CsvBadRow]:
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
        rows: list[CsvRow | CsvBadRow] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if any(c.strip() for c in cells):
                rows.append(_row(line, columns, cells))
    except csv.Error as exc:
        raise InvalidCsv(
            f"{path} line {reader.line_num}: {exc}; fix the quoting, nothing was recorded."
        ) from None
    return rows


def draft_of(row: CsvRow, *, created_by: str | None) -> TindakLanjutDraft:
    """The follow-up a row stands for (InvalidFollowUp when its tracking_id is no number)."""
    cells = {k: (v or "").strip() for k, v in row.cells.items()}
    raw_id = cells.get("tracking_id", "")
    if not raw_id.isdigit():
        raise InvalidFollowUp(f"tracking_id {raw_id!r} is not a number.")
    return TindakLanjutDraft(
        tracking_id=int(raw_id),
        status=cells.get("status", ""),
        content=cells.get("text", ""),
        opd=cells.get("opd") or None,
        attachments=tuple(cells.get("attach", "").split()),
        created_by=created_by,
    )


def _row(line: int, columns: list[str], cells: list[str]) -> CsvRow | CsvBadRow:
    if len(cells) > len(columns):
        return CsvBadRow(line, f"{len(cells)} cells, the header has {len(columns)}")
    named = dict(zip(columns, cells, strict=False))
    with_nul = [column for column, cell in named.items() if "\x00" in cell]
    if with_nul:
        return CsvBadRow(
            line,
            f"column {', '.join(with_nul)} contains a NUL byte (\\0), which is not text: "
            "remove it (a file saved as UTF-16 or by a binary tool has them)",
        )
    return CsvRow(line, named)


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


def _refuse_repeat(session: Session, draft: TindakLanjutDraft) -> None:
    """A row repeating a follow-up already recorded (importing a file twice) is refused."""
    query = select(TindakLanjut).where(
        TindakLanjut.tracking_id == draft.tracking_id,
        TindakLanjut.status == draft.status.upper(),
        TindakLanjut.content == draft.content,
        TindakLanjut.state != OutboxState.CANCELLED,
    )
    if draft.opd is not None:
        query = query.where(TindakLanjut.opd == draft.opd)
    try:
        duplicate = session.exec(query.order_by(TindakLanjut.id)).first()
    except TEXT_REFUSED as exc:  # the text is compared in the store, which may refuse it
        raise refused_text(draft.tracking_id, exc) from None
    if duplicate is not None:
        raise InvalidFollowUp(
            f"report {draft.tracking_id} already has this follow-up (outbox #{duplicate.id}, "
            f"recorded {rfc3339(duplicate.created_at)}); remove the row if it is a repeat."
        )
