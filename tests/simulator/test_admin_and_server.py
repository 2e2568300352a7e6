"""The /_sim admin endpoints, the server's lifecycle, concurrency and `serve` in a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from lapor_bridge.simulator import Faults, Simulator, SimulatorConfig

from .conftest import AUTH
from .helpers import flat, list_pages, public

REPO = Path(__file__).resolve().parents[2]


def test_admin_endpoints_drive_the_simulator_over_http(start_sim, http):
    sim = start_sim(initial_reports=40)
    admin = sim.url.removesuffix("/api/v1") + "/_sim"
    assert requests.get(admin + "/truth", timeout=5).status_code == 401
    assert http.get(sim.url + "/topics", timeout=5).status_code == 200
    truth = http.get(admin + "/truth", timeout=5).json()["data"]
    assert truth == sim.truth() and len(truth) == 40
    gen = http.post(admin + "/generate", json={"n": 7}, timeout=5)
    assert gen.status_code == 200 and len(gen.json()["tracking_ids"]) == 7
    assert http.post(admin + "/generate", json={"n": "many"}, timeout=5).status_code == 422
    tid = truth[-1]["tracking_id"]
    assert http.get(admin + "/followups", params={"tracking_id": tid}, timeout=5).json()[
        "data"
    ] == sim.followups(tid)
    assert http.get(admin + "/followups", timeout=5).json()["data"] == sim.followups()
    # faults: set, read back, refuse unknown names; admin calls are never faulted
    r = http.post(
        admin + "/faults",
        json={"error_rate": 1.0, "drop_rate": 1.0, "rate_limit_per_s": 1},
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["error_rate"] == 1.0
    assert sim.faults.drop_rate == 1.0 and sim.config.faults.drop_rate == 1.0
    bad = http.post(admin + "/faults", json={"no_such_fault": 1}, timeout=5)
    assert bad.status_code == 422 and "no_such_fault" in bad.text
    assert http.post(admin + "/faults", json={"error_rate": 2}, timeout=5).status_code == 422
    for _ in range(5):
        assert http.get(admin + "/truth", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        http.get(sim.url + "/topics", timeout=5)
    http.post(
        admin + "/faults",
        json={"error_rate": 0, "drop_rate": 0, "rate_limit_per_s": None},
        timeout=5,
    )
    # reports can be added and changed from another process too
    added = http.post(
        admin + "/reports", json={"title": "Dari admin", "status": "DIPROSES"}, timeout=5
    )
    assert added.status_code == 201 and added.json()["title"] == "Dari admin"
    new_tid = added.json()["tracking_id"]
    changed = http.post(f"{admin}/reports/{new_tid}", json={"instansi_id": 9001}, timeout=5)
    assert changed.json()["status"] == "DIALIHKAN" and changed.json()["version"] == 2
    assert http.post(f"{admin}/reports/1", json={}, timeout=5).status_code == 404
    # the request log holds API requests only, admin calls excluded
    log = http.get(admin + "/requests", timeout=5).json()["data"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/api/v1/topics", 200),
        ("GET", "/api/v1/topics", None),
    ]
    assert all(isinstance(e["t"], float) for e in log) and log == sim.request_log()


def test_stop_closes_keep_alive_connections_and_start_stop_are_safe():
    sim = Simulator(SimulatorConfig(initial_reports=3))
    with sim, requests.Session() as s:
        s.headers.update(AUTH)
        assert s.get(sim.url + "/topics", timeout=5).status_code == 200
        url = sim.url
        assert sim.start() == url  # already running: same server
    assert sim.url == url and sim.port == int(url.split(":")[2].split("/")[0])
    with requests.Session() as s, pytest.raises(requests.ConnectionError):
        s.get(url + "/topics", headers=AUTH, timeout=2)
    sim.stop()  # twice is fine


def test_concurrent_clients_at_tens_of_requests_per_second(start_sim):
    sim = start_sim(initial_reports=500)
    tids = [t["tracking_id"] for t in sim.truth() if t["status"] in ("DISPOSISI", "DIPROSES")][:8]
    errors: list[str] = []
    counts = [0] * 4

    def client(n: int) -> None:
        with requests.Session() as s:
            s.headers.update(AUTH)
            for i in range(25):
                try:
                    if i % 5 == 0:
                        r = s.post(f"{sim.url}/laporan/{tids[n]}/tindak-lanjut", timeout=10, json={
                            "content": f"c{n}-{i}", "status": "DIPROSES", "unit": "u", "external_ref": f"{n}-{i}"})  # fmt: skip
                        ok = r.status_code == 201
                    elif i % 2:
                        r = s.get(f"{sim.url}/laporan/{tids[n]}", timeout=10)
                        ok = r.status_code == 200
                    else:
                        r = s.get(f"{sim.url}/instansi/3327/laporan", timeout=10,
                                  params={"updated_from": "2000-01-01", "limit": 50})  # fmt: skip
                        ok = r.status_code == 200 and len(r.json()["data"]) == 50
                    if not ok:
                        errors.append(f"{r.status_code} {r.text[:80]}")
                    counts[n] += 1
                except requests.RequestException as exc:
                    errors.append(repr(exc))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert errors == [] and sum(counts) == 100
    assert 100 / elapsed > 10, f"only {100 / elapsed:.1f} requests/s"
    assert len(sim.request_log()) == 100
    for n in range(4):
        assert [f["external_ref"] for f in sim.followups(tids[n])][-5:] == [
            f"{n}-{i}" for i in range(0, 25, 5)
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_in_a_process_logs_each_request_and_stops_on_ctrl_c():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "lapor_bridge.simulator", "--port", str(port), "--reports", "20"]
    cmd += ["--faults", '{"cursor_ttl_s": 60}']
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.time() + 15
        while True:
            try:
                r = requests.get(url + "/topics", headers=AUTH, timeout=1)
                break
            except requests.ConnectionError:
                assert time.time() < deadline and proc.poll() is None, (
                    "the simulator did not come up"
                )
                time.sleep(0.05)
        assert r.status_code == 200
        assert (
            requests.get(
                url + "/laporan/1", headers={"Authorization": "Bearer nope"}, timeout=2
            ).status_code
            == 401
        )
        truth = requests.get(f"http://127.0.0.1:{port}/_sim/truth", headers=AUTH, timeout=5).json()[
            "data"
        ]
        assert len(truth) == 20
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert f"http://127.0.0.1:{port}/api/v1" in err
    assert " GET /api/v1/topics 200 " in err and " GET /api/v1/laporan/1 401 " in err
    assert " GET /_sim/truth 200 " in err
    assert "sim-token" not in err and "nope" not in err


def test_listing_matches_truth_after_many_changes(start_sim, http):
    sim = start_sim(initial_reports=150, faults=Faults(transfer_rate=0.1))
    sim.generate_changes(150)  # the default window ends at "now": every change is in it
    assert flat(list_pages(http, sim, limit=13)) == [public(t) for t in sim.truth()]
