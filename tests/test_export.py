"""`export` after a real sync: columns, RAHASIA withheld, no reporter identity."""

from __future__ import annotations

import csv
import io
import json

from lapor_bridge.export import BASE_COLUMNS, write_export
from lapor_bridge.sla import default_policies
from lapor_bridge.sync.engine import run_sync
from tests.sync.helpers import next_second


def test_export_jsonl_and_csv(make_simulator, make_runtime, sqlite_url):
    sim = make_simulator(initial_reports=150)
    secret = sim.add_report(
        privacy="RAHASIA", title="Pungli di kantor desa", content="Kepala desa X meminta uang"
    )
    next_second()  # the sync window ends at the current whole second
    rt = make_runtime(sim, sqlite_url)
    run_sync(rt, push=False)
    policies = list(default_policies(rt.settings.mappings_dir).policies)
    assert policies

    out = io.StringIO()
    assert write_export(rt.engine, out, fmt="jsonl", policies=policies) == 151
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert set(BASE_COLUMNS) <= set(rows[0])
    for policy in policies:
        stem = policy.replace("-", "_")
        assert {f"{stem}_due_at", f"{stem}_sla_state"} <= set(rows[0])
    assert all(r["opd"] for r in rows)  # every report is routed, if only to the triage unit
    by_id = {r["tracking_id"]: r for r in rows}
    confidential = by_id[secret["tracking_id"]]
    assert confidential["title"] == "[RAHASIA]"
    text = out.getvalue()
    assert "Pungli" not in text and "Kepala desa X" not in text
    assert "reporter" not in text
    identities = {
        value
        for r in sim.truth()
        if r.get("reporter")
        for value in (r["reporter"].get("email"), r["reporter"].get("phone"))
        if value
    }
    assert identities and not any(value in text for value in identities)  # no reporter identity

    out = io.StringIO()
    write_export(rt.engine, out, fmt="csv", policies=policies)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(table) == 151
    assert {r["tracking_id"] for r in table} == {str(t) for t in by_id}


def test_export_filters_mas_bup_siaga_reports(make_simulator, make_runtime, sqlite_url):
    sim = make_simulator(initial_reports=200)
    next_second()
    rt = make_runtime(sim, sqlite_url)
    run_sync(rt, push=False)
    out = io.StringIO()
    count = write_export(rt.engine, out, fmt="jsonl", masbupsiaga_only=True)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    programme = {
        r["tracking_id"]
        for r in sim.truth()
        if (r["channel"] == "SMS" and r["content"].lower().startswith("masbupsiaga"))
        or "#masbupsiaga" in r["content"].lower()
        or any("masbupsiaga" in t.lower() for t in r.get("tags", []))
    }
    assert programme and 0 < count < 200
    assert {r["tracking_id"] for r in rows} == programme
    assert all(r["masbupsiaga"] for r in rows)
