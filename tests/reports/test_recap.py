"""The monthly recap opened with openpyxl: ranking, real cell types, formats, CSV."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest
from openpyxl import load_workbook

from lapor_bridge.errors import ConfigError
from lapor_bridge.reports.recap import month_bounds, write_recap
from lapor_bridge.sla.policy import default_policies
from lapor_bridge.sla.views import rank_opds, summarize
from lapor_bridge.store import read_session
from lapor_bridge.timeutil import WIB

from .conftest import FORMULA, SECRET, Seeded


def test_recap_ranks_opd_with_real_numbers_and_dates(seeded: Seeded, tmp_path) -> None:
    month = seeded.now.astimezone(WIB).strftime("%Y-%m")
    since, until = month_bounds(month, WIB)
    out = tmp_path / "rekap.xlsx"
    result = write_recap(seeded.rt, month, out, now=seeded.now)
    assert result.xlsx == out and result.csv == tmp_path / "rekap.csv"

    wb = load_workbook(out)
    assert wb.sheetnames[0] == "Peringkat" and wb.sheetnames[-1] == "Kecamatan"
    ws = wb["Peringkat"]
    header = [c.value for c in ws[4]]
    assert header[:6] == [
        "Peringkat",
        "OPD",
        "Nama OPD",
        "Jumlah tenggat",
        "Pelanggaran (melewati tenggat + selesai terlambat)",
        "Persentase tepat waktu",
    ]
    rows = [[c for c in row] for row in ws.iter_rows(min_row=5) if row[0].value is not None]
    with read_session(seeded.rt.engine) as session:
        ranked = rank_opds(
            summarize(
                session,
                now=seeded.now,
                policies=default_policies(seeded.rt.settings.mappings_dir),
                since=since,
                until=until,
            )
        )
    assert ranked, "the seeded month has clocks"
    assert [r[1].value for r in rows] == [r.opd for r in ranked]
    assert [r[4].value for r in rows] == [r.breaches for r in ranked]
    assert [r[0].value for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert row[0].data_type == "n" and isinstance(row[3].value, int)
        assert row[5].value is None or (row[5].data_type == "n" and row[5].number_format == "0%")

    # one sheet per OPD with its reports: ids as numbers, times as real WIB date-times
    found = {}
    for name in wb.sheetnames[1:-1]:
        for row in wb[name].iter_rows(min_row=4):
            if row[0].value is not None:
                found[row[0].value] = row
    formula = found[seeded.formula_id]
    assert formula[0].data_type == "n"
    assert formula[1].value == FORMULA and formula[1].data_type == "s"  # text, not a formula
    assert isinstance(formula[6].value, datetime) and formula[6].number_format == "dd/mm/yyyy hh:mm"
    assert since.replace(tzinfo=None) <= formula[6].value < until.replace(tzinfo=None)
    assert found[seeded.rahasia_id][1].value == "[RAHASIA]"
    for name in wb.sheetnames:
        for row in wb[name].iter_rows():
            for cell in row:
                assert SECRET not in str(cell.value or "")
                assert cell.data_type != "f"

    # the same ranking as CSV for scripts
    with result.csv.open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert [r["opd"] for r in listed] == [r.opd for r in ranked]
    assert [int(r["breaches"]) for r in listed] == [r.breaches for r in ranked]


def test_month_must_be_written_as_yyyy_mm() -> None:
    assert month_bounds("2026-12", WIB) == (
        datetime(2026, 12, 1, tzinfo=WIB),
        datetime(2027, 1, 1, tzinfo=WIB),
    )
    with pytest.raises(ConfigError, match="YYYY-MM"):
        month_bounds("November", WIB)
