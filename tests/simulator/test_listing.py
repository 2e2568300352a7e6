"""Auth, topics and the keyset-paginated listing of the simulator, over real HTTP."""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest
import requests

from lapor_bridge.simulator import seed
from lapor_bridge.simulator.timefmt import parse, render

from .conftest import AUTH
from .helpers import EPOCH_START, FAR_FUTURE, flat, key, list_pages, listing_url, public


def test_every_api_endpoint_needs_the_token_and_never_echoes_it(start_sim):
    sim = start_sim(initial_reports=5, token="s3cret-token-xyz")
    tid = sim.truth()[0]["tracking_id"]
    calls = [
        ("GET", "/topics", None),
        ("GET", f"/instansi/{sim.config.instansi_id}/laporan?updated_from={EPOCH_START}", None),
        ("GET", f"/laporan/{tid}", None),
        ("GET", f"/laporan/{tid}/tindak-lanjut", None),
        ("POST", f"/laporan/{tid}/tindak-lanjut", {"content": "x", "status": "DIPROSES", "unit": "u", "external_ref": "r"}),
    ]  # fmt: skip
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic s3cret-token-xyz"},
    ):
        for method, path, body in calls:
            r = requests.request(method, sim.url + path, headers=headers, json=body, timeout=5)
            assert r.status_code == 401, (method, path, headers)
            assert "s3cret" not in r.text and "s3cret" not in str(r.headers)
    assert sim.followups(tid) == sim.followups(tid)  # nothing was posted
    assert all(fu["author"] != "INSTANSI" or fu["external_ref"] != "r" for fu in sim.followups(tid))
    ok = requests.get(
        sim.url + "/topics", headers={"Authorization": "Bearer s3cret-token-xyz"}, timeout=5
    )
    assert ok.status_code == 200
    assert [e["status"] for e in sim.request_log()] == [401] * 15 + [200]


def test_topics_are_the_seed_tree(start_sim, http):
    sim = start_sim(initial_reports=0)
    r = http.get(sim.url + "/topics", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"data": [{"id": i, "parent": p, "name": n} for i, p, n in seed.TOPICS]}


def test_paging_visits_every_report_exactly_once_in_order_with_ties_across_pages(start_sim, http):
    sim = start_sim(initial_reports=300)
    truth = sim.truth()
    assert len(truth) == 300
    pages = list_pages(http, sim, limit=7)
    items = flat(pages)
    assert len(pages) == 43 and all(len(p) == 7 for p in pages[:-1]) and len(pages[-1]) == 6
    ids = [i["tracking_id"] for i in items]
    assert len(ids) == len(set(ids)) == 300
    assert items == [public(t) for t in truth]  # same records, same order as truth
    keys = [key(i) for i in items]
    assert keys == sorted(keys)
    # one-second ties exist, and some straddle a page boundary
    assert max(Counter(i["updated_at"] for i in items).values()) >= 10
    straddling = [a for a, b in itertools.pairwise(pages) if key(a[-1])[0] == key(b[0])[0]]
    assert len(straddling) >= 3


def test_window_is_half_open_and_accepts_every_time_form(start_sim, http):
    sim = start_sim(initial_reports=300)
    truth = sim.truth()
    second = Counter(parse(t["updated_at"]) for t in truth).most_common(1)[0][0]  # a tied second
    expected = sorted(t["tracking_id"] for t in truth if parse(t["updated_at"]) >= second)
    forms = [
        render(second),
        render(second, "z"),
        render(second, "legacy"),
        render(second).replace("T", " "),
    ]
    for form in forms:
        got = flat(list_pages(http, sim, limit=500, start=form))
        assert sorted(i["tracking_id"] for i in got) == expected, form
    before = flat(list_pages(http, sim, limit=500, end=render(second)))
    assert all(parse(i["updated_at"]) < second for i in before)
    assert len(before) + len(expected) == 300
    # "+07:00" sent unencoded arrives as " 07:00": still understood
    raw = f"{listing_url(sim)}?limit=500&updated_from={render(second)}"
    assert sorted(i["tracking_id"] for i in http.get(raw, timeout=5).json()["data"]) == expected
    empty = http.get(listing_url(sim), params={"updated_from": FAR_FUTURE}, timeout=5).json()
    assert empty == {"data": [], "next_cursor": None}
    default = http.get(listing_url(sim), params={"updated_from": EPOCH_START}, timeout=5).json()
    assert len(default["data"]) == 100 and default["next_cursor"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "updated_from"),
        ({"updated_from": "kemarin"}, "updated_from"),
        ({"updated_from": EPOCH_START, "updated_to": "2024-13-45"}, "updated_to"),
        ({"updated_from": EPOCH_START, "limit": 0}, "limit"),
        ({"updated_from": EPOCH_START, "limit": 501}, "limit"),
        ({"updated_from": EPOCH_START, "limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_parameters_answer_400_with_an_error_body(start_sim, http, params, needle):
    sim = start_sim(initial_reports=3)
    r = http.get(listing_url(sim), params=params, timeout=5)
    assert r.status_code == 400
    body = r.json()
    assert body["message"] and any(needle in e for e in body["errors"])


def test_limit_bounds_and_other_instansi(start_sim, http):
    sim = start_sim(initial_reports=600)
    for limit in (1, 500):
        r = http.get(
            listing_url(sim), params={"updated_from": EPOCH_START, "limit": limit}, timeout=5
        )
        assert r.status_code == 200 and len(r.json()["data"]) == limit
    r = http.get(listing_url(sim, 3326), params={"updated_from": EPOCH_START}, timeout=5)
    assert r.status_code == 403


def test_cursor_carries_the_window_and_a_tampered_one_is_refused(start_sim, http):
    sim = start_sim(initial_reports=50)
    first = http.get(
        listing_url(sim), params={"updated_from": EPOCH_START, "limit": 10}, timeout=5
    ).json()
    cursor = first["next_cursor"]
    # with a cursor the other parameters are ignored
    r = http.get(
        listing_url(sim), params={"cursor": cursor, "limit": 999, "updated_from": "junk"}, timeout=5
    )
    assert r.status_code == 200 and len(r.json()["data"]) == 10
    assert key(r.json()["data"][0]) > key(first["data"][-1])
    payload, _, sig = cursor.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + sig
    assert http.get(listing_url(sim), params={"cursor": forged}, timeout=5).status_code == 400
    other = start_sim(initial_reports=50)  # another server's cursor is not ours
    assert http.get(listing_url(other), params={"cursor": cursor}, timeout=5).status_code == 400


def test_expired_cursor_answers_410(start_sim, http):
    sim = start_sim(initial_reports=30)
    sim.set_faults(cursor_ttl_s=0.3)
    first = http.get(
        listing_url(sim), params={"updated_from": EPOCH_START, "limit": 10}, timeout=5
    ).json()
    fresh = http.get(listing_url(sim), params={"cursor": first["next_cursor"]}, timeout=5)
    assert fresh.status_code == 200
    time.sleep(0.4)
    stale = http.get(listing_url(sim), params={"cursor": first["next_cursor"]}, timeout=5)
    assert stale.status_code == 410
    assert sim.request_log()[-1]["status"] == 410
    # each page's cursor is issued fresh: it expires relative to its own page
    again = http.get(listing_url(sim), params={"cursor": fresh.json()["next_cursor"]}, timeout=5)
    assert again.status_code == 410
    sim.set_faults(cursor_ttl_s=300)
    assert len(flat(list_pages(http, sim, limit=10))) == 30


def test_visibility_lag_hides_a_new_version_then_shows_it(start_sim, http):
    sim = start_sim(initial_reports=40, faults=None)
    sim.set_faults(visibility_lag_s=1.2)
    old = {t["tracking_id"]: t for t in sim.truth()}
    targets = list(old)[:12]
    t0 = time.time()
    new = {tid: sim.update_report(tid, title=f"Judul revisi {tid}") for tid in targets}
    assert all(t0 <= r["_visible_at"] <= time.time() + 1.2 for r in new.values())
    before_listing = time.time()
    seen = {i["tracking_id"]: i for i in flat(list_pages(http, sim, limit=500, end=FAR_FUTURE))}
    now = time.time()
    hidden = [tid for tid in targets if new[tid]["_visible_at"] > now + 0.05]
    shown = [tid for tid in targets if new[tid]["_visible_at"] < before_listing]
    assert hidden, "with a 1.2 s lag some of 12 changes must still be hidden"
    for tid in hidden:  # the older visible version still shows, at its own updated_at
        assert seen[tid]["version"] == old[tid]["version"]
        assert seen[tid]["updated_at"] == old[tid]["updated_at"]
    for tid in shown:
        assert seen[tid]["version"] == old[tid]["version"] + 1
    # GET of one report is not lagged
    one = http.get(f"{sim.url}/laporan/{hidden[0]}", timeout=5).json()
    assert one["version"] == old[hidden[0]]["version"] + 1 and one["title"].startswith(
        "Judul revisi"
    )
    time.sleep(max(0.0, max(r["_visible_at"] for r in new.values()) - time.time()) + 0.05)
    seen = {i["tracking_id"]: i for i in flat(list_pages(http, sim, limit=500, end=FAR_FUTURE))}
    assert len(seen) == 40
    for tid in targets:
        assert seen[tid]["version"] == old[tid]["version"] + 1
        assert seen[tid]["title"] == f"Judul revisi {tid}"


def test_a_change_while_paging_shows_up_again_later_with_a_higher_version(start_sim, http):
    sim = start_sim(initial_reports=120)
    url = listing_url(sim)
    page = http.get(
        url, params={"updated_from": EPOCH_START, "updated_to": FAR_FUTURE, "limit": 50}, timeout=5
    ).json()
    seen_tid = page["data"][3]["tracking_id"]
    unseen_tid = sim.truth()[100]["tracking_id"]  # not reached yet
    before = {t["tracking_id"]: t["version"] for t in sim.truth()}
    sim.update_report(seen_tid, status="DIPROSES")
    sim.update_report(unseen_tid, status="DIPROSES")
    items = list(page["data"])
    cursor = page["next_cursor"]
    while cursor:
        body = http.get(url, params={"cursor": cursor}, timeout=5).json()
        items += body["data"]
        cursor = body["next_cursor"]
    versions = [i["version"] for i in items if i["tracking_id"] == seen_tid]
    assert versions == [before[seen_tid], before[seen_tid] + 1]
    assert [i["version"] for i in items if i["tracking_id"] == unseen_tid] == [
        before[unseen_tid] + 1
    ]
    assert items[-1]["tracking_id"] in (seen_tid, unseen_tid) and len(items) == 121


def test_omitted_updated_to_is_fixed_at_the_first_request(start_sim, http):
    sim = start_sim(initial_reports=60)
    url = listing_url(sim)
    first = http.get(url, params={"updated_from": EPOCH_START, "limit": 20}, timeout=5).json()
    time.sleep(
        1.02 - time.time() % 1
    )  # the change below lands in a later second than the window's end
    tid = sim.add_report(title="Laporan baru saat paging")["tracking_id"]
    rest, cursor = [], first["next_cursor"]
    while cursor:
        body = http.get(url, params={"cursor": cursor}, timeout=5).json()
        rest += body["data"]
        cursor = body["next_cursor"]
    ids = [i["tracking_id"] for i in first["data"] + rest]
    assert len(ids) == 60 and tid not in ids
    later = http.get(url, params={"updated_from": render(time.time() - 1)}, timeout=5).json()
    assert [i["tracking_id"] for i in later["data"]] == [tid]


def test_listing_twenty_thousand_reports_is_quick(start_sim, http):
    t0 = time.process_time()  # CPU time: other processes on the machine do not count
    sim = start_sim(initial_reports=20_000)
    seeded = time.process_time() - t0
    assert seeded < 2.0
    t0 = time.perf_counter()
    pages = list_pages(http, sim, limit=500)
    listed = time.perf_counter() - t0
    assert len(pages) == 40 and len({i["tracking_id"] for i in flat(pages)}) == 20_000
    assert listed < 15.0  # generous for a loaded CI machine; about 3 s on a quiet one
    assert AUTH  # the session used the token of the fixture
