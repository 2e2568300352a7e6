"""What people read: the static SLA site, the monthly recap, one report in full.

- `site.build_site(rt, out_dir, since=, until=)`: `lapor-bridge report --out DIR`,
  an Indonesian (by default) self-contained HTML site: the overview for the
  Regent's office, one page per OPD for its liaison, one per open report.
- `recap.write_recap(rt, month, out_path)`: `lapor-bridge recap --month 2026-11`,
  an xlsx workbook (ranking, one sheet per OPD, kecamatan) and the ranking as CSV.
- `detail.show_report(rt, tracking_id)`: `lapor-bridge show`, one report with its
  thread, clocks and assignment (the same facts as its page: data.DetailReader).

Data flows one way: `data` reads the store (through sla.views, mapping.explain
and outbox.admin), `site`/`recap`/`detail` format it. Everything here only
reads the store. RAHASIA content shows as `[RAHASIA]`; reporter columns are
never read (mapping.explain reads named columns only), so no identity can be shown.
"""
