"""What people read: the static SLA site, the monthly recap, one report in full.

- `build_site(rt, out_dir, since=, until=)`: `lapor-bridge report --out DIR`,
  an Indonesian (by default) self-contained HTML site: the overview for the
  Regent's office, one page per OPD for its liaison, one per open report.
- `write_recap(rt, month, out_path)`: `lapor-bridge recap --month 2026-11`,
  an xlsx workbook (ranking, one sheet per OPD, kecamatan) and the ranking as CSV.
- `report_detail(...)`: one report with its thread, clocks and assignment
  (the report page and `lapor-bridge show`).

Everything here only reads the store. RAHASIA content shows as `[RAHASIA]`,
and no reporter identity is ever read.
"""
