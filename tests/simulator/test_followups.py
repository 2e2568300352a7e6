"""GET one report, its follow-ups, and POST tindak-lanjut (not idempotent) over real HTTP."""

from __future__ import annotations

import pytest
import requests

from .helpers import EPOCH_START, FAR_FUTURE, flat, list_pages, public


def body(**over):
    b = {
        "content": "Sudah ditangani oleh tim.",
        "status": "DIPROSES",
        "unit": "DPUPR",
        "external_ref": "ob-1",
    }
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


def ours_open(sim):
    """A report of ours that accepts follow-ups."""
    return next(
        t for t in sim.truth() if t["status"] in ("DISPOSISI", "DIPROSES") and not t["_malformed"]
    )


def test_get_report_404_403_and_its_followups(start_sim, http):
    sim = start_sim(initial_reports=50)
    rec = next(t for t in sim.truth() if t["followups"])
    got = http.get(f"{sim.url}/laporan/{rec['tracking_id']}", timeout=5)
    assert got.status_code == 200 and got.json() == public(rec)
    fus = http.get(f"{sim.url}/laporan/{rec['tracking_id']}/tindak-lanjut", timeout=5)
    assert fus.json() == {"data": rec["followups"]} == {"data": sim.followups(rec["tracking_id"])}
    assert [f["created_at"] for f in rec["followups"]] == sorted(
        f["created_at"] for f in rec["followups"]
    )
    for path in ("/laporan/1", "/laporan/1/tindak-lanjut", "/laporan/abc"):
        assert http.get(sim.url + path, timeout=5).status_code == 404
    foreign = sim.add_report(instansi_id=3326)
    assert not foreign["_listed"]
    for path in ("", "/tindak-lanjut"):
        assert (
            http.get(f"{sim.url}/laporan/{foreign['tracking_id']}{path}", timeout=5).status_code
            == 403
        )
    r = http.post(
        f"{sim.url}/laporan/{foreign['tracking_id']}/tindak-lanjut", json=body(), timeout=5
    )
    assert r.status_code == 403
    assert foreign["tracking_id"] not in {
        i["tracking_id"] for i in flat(list_pages(http, sim, limit=500))
    }


def test_post_creates_a_followup_and_a_new_version_and_is_not_idempotent(start_sim, http):
    sim = start_sim(initial_reports=30)
    rec = ours_open(sim)
    tid = rec["tracking_id"]
    url = f"{sim.url}/laporan/{tid}/tindak-lanjut"
    r1 = http.post(url, json=body(external_ref="ob-77"), timeout=5)
    r2 = http.post(
        url, json=body(external_ref="ob-77", status="SELESAI", content="Selesai."), timeout=5
    )
    assert r1.status_code == r2.status_code == 201
    a, b = r1.json(), r2.json()
    assert a["id"] != b["id"]
    for fu, status in ((a, "DIPROSES"), (b, "SELESAI")):
        assert fu["tracking_id"] == tid and fu["status"] == status and fu["unit"] == "DPUPR"
        assert fu["external_ref"] == "ob-77" and fu["author"] == "INSTANSI" and fu["created_at"]
    stored = http.get(url, timeout=5).json()["data"]
    assert [f["external_ref"] for f in stored].count("ob-77") == 2 and stored[-2:] == [a, b]
    assert sim.followups(tid)[-2:] == [a, b] and sim.followups()[-2:] == [a, b]
    # the report got two new versions, its status is the follow-up's, and it comes back in pulls
    truth = next(t for t in sim.truth() if t["tracking_id"] == tid)
    assert truth["version"] == rec["version"] + 2 and truth["status"] == "SELESAI"
    pulled = [
        i for i in flat(list_pages(http, sim, limit=500, end=FAR_FUTURE)) if i["tracking_id"] == tid
    ]
    assert len(pulled) == 1 and pulled[0]["version"] == truth["version"]
    assert pulled[0]["followups"][-2:] == [a, b]


def test_boundaries_of_a_valid_body(start_sim, http):
    sim = start_sim(initial_reports=10)
    tid = ours_open(sim)["tracking_id"]
    ok = body(
        content="x" * 5000, external_ref="r" * 64, unit="", attachments=[{"url": "https://x/1.jpg"}]
    )
    r = http.post(f"{sim.url}/laporan/{tid}/tindak-lanjut", json=ok, timeout=5)
    assert r.status_code == 201 and r.json()["attachments"] == [{"url": "https://x/1.jpg"}]
    extra = http.post(
        f"{sim.url}/laporan/{tid}/tindak-lanjut", json=body(unknown_field=1), timeout=5
    )
    assert extra.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(content=...), "content"),
        (body(content=""), "content"),
        (body(content="x" * 5001), "content"),
        (body(content=12), "content"),
        (body(status="DITUTUP"), "status"),
        (body(status=...), "status"),
        (body(unit=...), "unit"),
        (body(unit=None), "unit"),
        (body(external_ref=...), "external_ref"),
        (body(external_ref="r" * 65), "external_ref"),
        (body(attachments="foto.jpg"), "attachments"),
        (body(attachments=[{"name": "no url"}]), "attachments[0].url"),
        ([body()], "body"),
        ("not json", "body"),
    ],
)
def test_invalid_bodies_answer_422_and_store_nothing(start_sim, http, payload, field):
    sim = start_sim(initial_reports=10)
    tid = ours_open(sim)["tracking_id"]
    before = sim.followups(tid)
    url = f"{sim.url}/laporan/{tid}/tindak-lanjut"
    if isinstance(payload, str):
        r = http.post(url, data=payload, headers={"Content-Type": "application/json"}, timeout=5)
    else:
        r = http.post(url, json=payload, timeout=5)
    assert r.status_code == 422
    err = r.json()
    assert err["message"] and any(e.startswith(field) for e in err["errors"]), err
    assert sim.followups(tid) == before


def test_closed_and_transferred_reports_answer_409(start_sim, http):
    sim = start_sim(initial_reports=30)
    closed = sim.add_report(status="DITUTUP")["tracking_id"]
    r = http.post(f"{sim.url}/laporan/{closed}/tindak-lanjut", json=body(), timeout=5)
    assert r.status_code == 409 and "DITUTUP" in r.json()["message"]
    moved = ours_open(sim)["tracking_id"]
    rec = sim.update_report(moved, instansi_id=3328)
    assert rec["status"] == "DIALIHKAN" and rec["_listed"] and rec["_transferred"]
    r = http.post(f"{sim.url}/laporan/{moved}/tindak-lanjut", json=body(), timeout=5)
    assert r.status_code == 409 and "DIALIHKAN" in r.json()["message"]
    assert http.get(f"{sim.url}/laporan/{moved}", timeout=5).status_code == 403
    assert all(f["external_ref"] != "ob-1" for f in sim.followups(closed) + sim.followups(moved))


def test_drop_after_apply_stores_the_followup_then_closes_without_answer(start_sim, http):
    sim = start_sim(initial_reports=10)
    tid = ours_open(sim)["tracking_id"]
    sim.set_faults(drop_after_apply_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        http.post(
            f"{sim.url}/laporan/{tid}/tindak-lanjut", json=body(external_ref="lost-1"), timeout=5
        )
    assert [f["external_ref"] for f in sim.followups(tid)].count("lost-1") == 1
    assert sim.request_log()[-1] | {"t": 0} == {
        "t": 0, "method": "POST", "path": f"/api/v1/laporan/{tid}/tindak-lanjut", "query": "",
        "status": None, "fault": "drop_after_apply",
    }  # fmt: skip
    # reads are not dropped by it; the client can look the follow-up up
    listed = http.get(f"{sim.url}/laporan/{tid}/tindak-lanjut", timeout=5).json()["data"]
    assert listed[-1]["external_ref"] == "lost-1"
    # a plain drop happens before anything is applied
    sim.set_faults(drop_after_apply_rate=0.0, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        http.post(
            f"{sim.url}/laporan/{tid}/tindak-lanjut", json=body(external_ref="lost-2"), timeout=5
        )
    assert "lost-2" not in [f["external_ref"] for f in sim.followups(tid)]


def test_citizen_and_admin_followups_come_from_generated_changes(start_sim, http):
    sim = start_sim(initial_reports=100)
    before = {f["id"] for f in sim.followups()}
    sim.generate_changes(300)
    new = [f for f in sim.followups() if f["id"] not in before]
    authors = {f["author"] for f in new}
    assert {"PELAPOR", "ADMIN", "INSTANSI"} <= authors
    assert all(f["external_ref"] is None for f in new if f["author"] != "INSTANSI")
    assert all(f["status"] in ("DIPROSES", "SELESAI") for f in new)
    listed = {
        i["tracking_id"]: i for i in flat(list_pages(http, sim, limit=500, start=EPOCH_START))
    }
    reply = next(f for f in new if f["author"] == "PELAPOR" and f["tracking_id"] in listed)
    assert reply in listed[reply["tracking_id"]]["followups"]
