"""`lapor-bridge recap --month 2026-11 --out FILE.xlsx`: the monthly recap for
the Regent's office, and the same ranking as CSV for scripts.

Sheets: the OPD ranking (by breaches, as the site and `sla summary --sort
breaches`), one per OPD with its reports, one by kecamatan. The month is the
clocks started in it (WIB); states are as of the run. Headers are Indonesian
by default; numbers are numbers and times are real Excel date-times in WIB
with a number format, so Excel can sort and filter. Text cells are always
stored as text: citizen text starting with `=` never becomes a formula.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from lapor_bridge.errors import ConfigError
from lapor_bridge.i18n import format_local_date, format_local_time, translations
from lapor_bridge.mapping import load_mapping
from lapor_bridge.reports import data
from lapor_bridge.reports.site import STATE_LABELS
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla.clock import ClockState
from lapor_bridge.sla.policy import default_policies
from lapor_bridge.sla.views import OpdRanking, list_report_clocks, rank_opds, summarize
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import SlaClock
from lapor_bridge.timeutil import to_utc, utcnow

TIME_FORMAT = "dd/mm/yyyy hh:mm"
SHARE_FORMAT = "0%"
HOURS_FORMAT = "0.0"
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
COUNTED = (
    ClockState.MET,
    ClockState.MET_LATE,
    ClockState.BREACHED,
    ClockState.AT_RISK,
    ClockState.ON_TRACK,
    ClockState.STOPPED,
)


@dataclass(frozen=True)
class RecapResult:
    xlsx: Path
    csv: Path
    opd: int
    reports: int

    def describe(self) -> str:
        return f"wrote {self.xlsx} ({self.opd} OPD, {self.reports} reports) and {self.csv}"


def month_bounds(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """`2026-11` -> [1 Nov 2026 00:00, 1 Dec 2026 00:00) in the regency's zone."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ConfigError(f"--month {month!r}: write the month as YYYY-MM, e.g. 2026-11")
    year, mon = int(match[1]), int(match[2])
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start, end


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A naive local time for Excel (which has no zones; the header says WIB)."""
    return None if moment is None else to_utc(moment).astimezone(zone).replace(tzinfo=None)


def _sheet_name(code: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "_", code)[:31] or "OPD"
    while name in used:
        name = name[:28] + f"_{len(used)}"
    used.add(name)
    return name


def _header(ws: Worksheet, row: int, names: list[str]) -> None:
    for col, name in enumerate(names, 1):
        cell = ws.cell(row=row, column=col, value=name)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(row=row + 1, column=1)


def _put(ws: Worksheet, row: int, values: list[Any], formats: dict[int, str] | None = None) -> None:
    for col, value in enumerate(values, 1):
        cell = ws.cell(row=row, column=col, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with
        if formats and col in formats and value is not None:
            cell.number_format = formats[col]


def _widths(ws: Worksheet, widths: list[int]) -> None:
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width


def write_recap(
    rt: Runtime,
    month: str,
    out: Path,
    *,
    csv_path: Path | None = None,
    now: datetime | None = None,
) -> RecapResult:
    settings = rt.settings
    lang, zone = settings.language, settings.zone
    t = translations("reports", lang).gettext  # type: ignore[arg-type]
    now = now or utcnow()
    since, until = month_bounds(month, zone)
    policies = default_policies(settings.mappings_dir)
    names = load_mapping(settings.mappings_dir).unit_names
    policy_names = list(policies.policies)
    with read_session(rt.engine) as session:
        ranking = rank_opds(
            summarize(session, now=now, policies=policies, since=since, until=until), "breaches"
        )
        ids = list(
            session.execute(
                select(SlaClock.tracking_id)
                .where(SlaClock.started_at >= since, SlaClock.started_at < until)
                .distinct()
            ).scalars()
        )
        reports = list_report_clocks(
            session, now=now, policies=policies, include_closed=True, tracking_ids=ids
        ).reports
        kecamatan = data.by_kecamatan(session, now=now, policies=policies, since=since, until=until)

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = t("Ranking")
    month_text = format_local_date(date(since.year, since.month, 1), lang).split(" ", 1)[1]
    ws["A1"] = t("Recap of complaints (SP4N-LAPOR!), Pemalang Regency, %(month)s") % {
        "month": month_text
    }
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = t("Clocks started in the month; states as of %(now)s.") % {
        "now": format_local_time(now, lang, zone)
    }
    state_label = {s: t(STATE_LABELS[s.value]) for s in COUNTED}
    header = [
        t("Rank"),
        t("OPD"),
        t("OPD name"),
        t("Clocks"),
        t("Breaches (breached + met late)"),
        t("Share on time"),
    ]
    for p in policy_names:
        header += [f"{p}: {state_label[s]}" for s in COUNTED]
        header += [f"{p}: {t('Share on time')}", f"{p}: {t('Median time (hours)')}"]
    _header(ws, 4, header)
    formats = {6: SHARE_FORMAT}
    per_policy = len(COUNTED) + 2
    for i in range(len(policy_names)):
        base = 7 + i * per_policy
        formats[base + len(COUNTED)] = SHARE_FORMAT
        formats[base + len(COUNTED) + 1] = HOURS_FORMAT
    for rank, r in enumerate(ranking, 1):
        _put(ws, 4 + rank, _ranking_values(rank, r, names, policy_names), formats)
    ws.auto_filter.ref = f"A4:{get_column_letter(len(header))}{4 + len(ranking)}"
    _widths(ws, [10, 18, 40, 10, 16, 12] + [12] * (len(header) - 6))

    used = {ws.title}
    by_opd: dict[str, list[Any]] = {}
    for r in reports:
        by_opd.setdefault(r.opd, []).append(r)
    report_header = [
        t("Tracking ID"), t("Title"), t("Kecamatan"), t("Desa"), t("Channel"), t("Status"),
        t("Reached the regency (WIB)"),
    ]  # fmt: skip
    for p in policy_names:
        report_header += [
            f"{p}: {t('State')}",
            f"{p}: {t('Due (WIB)')}",
            f"{p}: {t('Stopped (WIB)')}",
        ]
    time_cols = {7: TIME_FORMAT}
    for i in range(len(policy_names)):
        time_cols[9 + 3 * i] = TIME_FORMAT
        time_cols[10 + 3 * i] = TIME_FORMAT
    for r in ranking:
        rows = by_opd.get(r.opd, [])
        sheet = wb.create_sheet(_sheet_name(r.opd, used))
        sheet["A1"] = f"{r.opd}: {names.get(r.opd, '')}"
        sheet["A1"].font = Font(bold=True, size=12)
        _header(sheet, 3, report_header)
        for n, rep in enumerate(rows, 4):
            values: list[Any] = [
                rep.tracking_id,
                rep.title if rep.title is not None else data.WITHHELD,
                rep.kecamatan,
                rep.desa,
                "Mas Bup Siaga" if rep.masbupsiaga else rep.channel,
                rep.status,
                _local(min(c.started_at for c in rep.clocks.values()), zone),
            ]
            for p in policy_names:
                c = rep.clocks.get(p)
                values += (
                    [None, None, None]
                    if c is None
                    else [
                        state_label[ClockState(c.state)],
                        _local(c.due_at, zone),
                        _local(c.stopped_at, zone),
                    ]
                )
            _put(sheet, n, values, time_cols)
        sheet.auto_filter.ref = f"A3:{get_column_letter(len(report_header))}{3 + max(len(rows), 1)}"
        _widths(sheet, [12, 50, 16, 16, 14, 12, 18] + [18] * (len(report_header) - 7))

    ks = wb.create_sheet(_sheet_name(t("Kecamatan"), used))
    k_header = [t("Kecamatan"), t("Reports"), t("Open")] + [
        f"{t('Breaches')} {p}" for p in policy_names
    ]
    _header(ks, 1, k_header)
    for n, k in enumerate(kecamatan, 2):
        _put(
            ks,
            n,
            [k.kecamatan or t("(none given)"), k.reports, k.open]
            + [k.breaches[p] for p in policy_names],
        )
    ks.auto_filter.ref = f"A1:{get_column_letter(len(k_header))}{1 + max(len(kecamatan), 1)}"
    _widths(ks, [24, 10, 10] + [16] * len(policy_names))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    wb.save(tmp)
    os.replace(tmp, out)
    csv_path = csv_path or out.with_suffix(".csv")
    write_ranking_csv(ranking, names, policy_names, csv_path)
    return RecapResult(xlsx=out, csv=csv_path, opd=len(ranking), reports=len(reports))


def _ranking_values(
    rank: int, r: OpdRanking, names: dict[str, str], policy_names: list[str]
) -> list[Any]:
    values: list[Any] = [rank, r.opd, names.get(r.opd, ""), r.total, r.breaches, r.on_time_share]
    for p in policy_names:
        s = r.policies.get(p)
        values += [r.count(p, st) for st in COUNTED]
        values += [
            None if s is None else s.on_time_share,
            None if s is None or s.median_s is None else round(s.median_s / 3600, 2),
        ]
    return values


def write_ranking_csv(
    ranking: list[OpdRanking], names: dict[str, str], policy_names: list[str], path: Path
) -> None:
    """The ranking for scripts: UTF-8, `,`, machine column names, plain numbers."""
    header = ["rank", "opd", "name", "clocks", "breaches", "on_time_share"]
    for p in policy_names:
        stem = p.replace("-", "_")
        header += [f"{stem}_{st.value.lower()}" for st in COUNTED]
        header += [f"{stem}_on_time_share", f"{stem}_median_hours"]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for rank, r in enumerate(ranking, 1):
            values = _ranking_values(rank, r, names, policy_names)
            writer.writerow(["" if v is None else v for v in values])
    os.replace(tmp, path)
