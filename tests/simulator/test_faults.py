"""The trap switches: rate limit, 5xx bursts, drops, slowness, malformed and legacy
records, transfers, equal timestamps, the background generator."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import requests

from lapor_bridge.simulator import Faults
from lapor_bridge.simulator.timefmt import parse

from .helpers import FAR_FUTURE, flat, list_pages, public

LEGACY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def test_rate_limit_answers_429_with_integer_retry_after_and_recovers(start_sim, http):
    sim = start_sim(initial_reports=5, faults=Faults(rate_limit_per_s=5))
    answers = [http.get(sim.url + "/topics", timeout=5) for _ in range(12)]
    codes = [r.status_code for r in answers]
    assert codes[0] == 200 and 429 in codes
    limited = [r for r in answers if r.status_code == 429]
    assert all(
        r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1 for r in limited
    )
    time.sleep(int(limited[-1].headers["Retry-After"]))
    assert http.get(sim.url + "/topics", timeout=5).status_code == 200
    # paced under the limit, nothing is refused
    sim.set_faults(rate_limit_per_s=40)
    time.sleep(0.1)  # the bucket refills
    paced = []
    for _ in range(8):
        paced.append(http.get(sim.url + "/topics", timeout=5).status_code)
        time.sleep(0.03)
    assert paced == [200] * 8
    assert Counter(e["fault"] for e in sim.request_log())["rate_limit"] == len(limited)


def test_error_bursts_are_5xx_runs_of_the_burst_length(start_sim, http):
    sim = start_sim(initial_reports=5, faults=Faults(error_rate=0.15, error_burst_len=4))
    answers = [http.get(sim.url + "/topics", timeout=5) for _ in range(120)]
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 500, 502, 503, 504} and {500, 502, 503, 504} <= set(codes)
    runs = [
        len(m.group()) for m in re.finditer(r"E+", "".join("E" if c >= 500 else "." for c in codes))
    ]
    assert runs and all(n >= 4 for n in runs[:-1])  # the last run may be cut by the test's end
    assert all(r.headers.get("Retry-After", "1").isdigit() for r in answers if r.status_code == 503)
    sim.set_faults(error_rate=0.0)
    assert http.get(sim.url + "/topics", timeout=5).status_code == 200


def test_a_503_sometimes_carries_retry_after(start_sim, http):
    sim = start_sim(initial_reports=0, faults=Faults(error_rate=1.0, error_burst_len=1))
    answers = [http.get(sim.url + "/topics", timeout=5) for _ in range(80)]
    unavailable = [r for r in answers if r.status_code == 503]
    assert any("Retry-After" in r.headers for r in unavailable)
    assert any("Retry-After" not in r.headers for r in unavailable)


def test_dropped_connections_and_slow_answers(start_sim, http):
    sim = start_sim(initial_reports=5, faults=Faults(drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        http.get(sim.url + "/topics", timeout=5)
    assert sim.request_log()[-1]["status"] is None and sim.request_log()[-1]["fault"] == "drop"
    sim.set_faults(drop_rate=0.0, slow_rate=1.0, slow_s=0.4)
    t0 = time.perf_counter()
    assert http.get(sim.url + "/topics", timeout=5).status_code == 200
    assert time.perf_counter() - t0 >= 0.4
    tid = next(t["tracking_id"] for t in sim.truth() if t["status"] in ("DISPOSISI", "DIPROSES"))
    post = {"content": "x", "status": "DIPROSES", "unit": "u", "external_ref": "slow-1"}
    with pytest.raises(requests.ReadTimeout):  # the client gives up, but the server applied it
        http.post(f"{sim.url}/laporan/{tid}/tindak-lanjut", json=post, timeout=0.2)
    assert sim.followups(tid)[-1]["external_ref"] == "slow-1"  # applied before the delay


def test_malformed_records_appear_in_listings_and_truth_says_so(start_sim, http):
    sim = start_sim(initial_reports=300, faults=Faults(malformed_rate=0.2))
    truth = sim.truth()
    listed = flat(list_pages(http, sim, limit=500))
    assert listed == [public(t) for t in truth]
    bad = [t for t in truth if t["_malformed"]]
    assert 30 <= len(bad) <= 100
    kinds = Counter(t["_malformation"] for t in bad)
    assert set(kinds) == {"missing_title", "bad_status", "tracking_id_string", "created_at_garbage"}
    for t in bad:
        kind = t["_malformation"]
        assert ("title" not in t) == (kind == "missing_title")
        assert (t["status"] == "BOGUS") == (kind == "bad_status")
        assert (not isinstance(t["tracking_id"], int)) == (kind == "tracking_id_string")
        if kind == "tracking_id_string":
            assert not t["tracking_id"].isdigit() and t["tracking_id"].endswith(
                str(t["_tracking_id"])
            )
        if kind == "created_at_garbage":
            with pytest.raises(ValueError):
                parse(t["created_at"])
    # GET of one report renders it well-formed
    one = next(t for t in bad if t["_malformation"] == "bad_status")
    assert (
        http.get(f"{sim.url}/laporan/{one['_tracking_id']}", timeout=5).json()["status"] != "BOGUS"
    )
    # switched on later, generated changes are malformed; explicit updates never are
    sim.set_faults(malformed_rate=1.0)
    touched = set(sim.generate_changes(10))
    latest = {t["_tracking_id"]: t for t in sim.truth()}
    assert all(
        latest[tid]["_malformed"] for tid in touched if tid in latest and latest[tid]["_listed"]
    )
    fixed = sim.update_report(one["_tracking_id"], status="DIPROSES")
    assert fixed["_malformed"] is False and fixed["status"] == "DIPROSES"


def test_legacy_times_have_no_offset_and_mean_wib(start_sim, http):
    sim = start_sim(initial_reports=200, faults=Faults(legacy_time_rate=0.3))
    truth = sim.truth()
    legacy = [t for t in truth if LEGACY.match(t["updated_at"])]
    assert 30 <= len(legacy) <= 100
    assert all(LEGACY.match(t["created_at"]) for t in legacy)
    assert any(t["created_at"][:4] in ("2021", "2022") for t in legacy)
    offsets = Counter("Z" if t["updated_at"].endswith("Z") else t["updated_at"][19:] for t in truth)
    assert offsets["+07:00"] > offsets["Z"] > 0 and offsets[""] == len(legacy)
    # the no-offset value is WIB: it is the same instant as the window arithmetic uses
    one = legacy[0]
    page = http.get(
        f"{sim.url}/instansi/{sim.config.instansi_id}/laporan",
        params={"updated_from": one["updated_at"], "updated_to": FAR_FUTURE, "limit": 500},
        timeout=5,
    ).json()
    assert page["data"][0]["updated_at"] == one["updated_at"] or parse(
        page["data"][0]["updated_at"]
    ) == parse(one["updated_at"])
    sim.set_faults(legacy_time_rate=1.0)
    touched = set(sim.generate_changes(10))
    latest = {t["tracking_id"]: t for t in sim.truth()}
    assert all(LEGACY.match(latest[tid]["updated_at"]) for tid in touched if tid in latest)


def test_transfers_show_as_dialihkan_then_the_report_is_not_ours(start_sim, http):
    sim = start_sim(initial_reports=100, faults=Faults(transfer_rate=1.0))
    assert sum(t["status"] == "DIALIHKAN" for t in sim.truth()) < 25  # seeded: a tenth
    touched = sim.generate_changes(5)
    assert len(set(touched)) == 5
    listed = {i["tracking_id"]: i for i in flat(list_pages(http, sim, limit=500, end=FAR_FUTURE))}
    for tid in touched:
        item = listed[tid]
        assert item["status"] == "DIALIHKAN" and item["instansi_id"] != sim.config.instansi_id
        assert http.get(f"{sim.url}/laporan/{tid}", timeout=5).status_code == 403
        assert http.get(f"{sim.url}/laporan/{tid}/tindak-lanjut", timeout=5).status_code == 403
    # later changes by the new body are not listed to us; truth keeps the transfer
    moved = touched[0]
    sim.update_report(moved, status="SELESAI")
    again = {i["tracking_id"]: i for i in flat(list_pages(http, sim, limit=500, end=FAR_FUTURE))}
    assert again[moved] == listed[moved]
    rec = next(t for t in sim.truth() if t["tracking_id"] == moved)
    assert (
        rec["status"] == "DIALIHKAN"
        and rec["_transferred"]
        and rec["version"] == listed[moved]["version"]
    )


def test_equal_timestamps_and_the_background_generator(start_sim, http):
    sim = start_sim(initial_reports=50, faults=Faults(equal_timestamps=True))
    before = {t["tracking_id"]: t["version"] for t in sim.truth()}
    touched = set(sim.generate_changes(40))
    changed = [
        t
        for t in sim.truth()
        if t["tracking_id"] in touched and t["version"] != before.get(t["tracking_id"])
    ]
    assert len(changed) >= 30
    assert len({parse(t["updated_at"]) for t in changed}) == 1  # one burst, one second
    busy = start_sim(initial_reports=20, change_rate_per_s=40.0)
    before = sum(t["version"] for t in busy.truth())
    time.sleep(0.6)
    after = busy.truth()
    assert len(after) >= 20 and sum(t["version"] for t in after) > before
