"""Listing helpers of the simulator tests."""

from __future__ import annotations

from typing import Any

import requests

from lapor_bridge.simulator import Simulator
from lapor_bridge.simulator.timefmt import parse

EPOCH_START = "2000-01-01T00:00:00+07:00"
FAR_FUTURE = "2100-01-01T00:00:00+07:00"


def listing_url(sim: Simulator, instansi_id: int | None = None) -> str:
    return f"{sim.url}/instansi/{instansi_id or sim.config.instansi_id}/laporan"


def list_pages(
    http: requests.Session, sim: Simulator, *, limit: int = 100, start: str = EPOCH_START,
    end: str | None = None,
) -> list[list[dict[str, Any]]]:  # fmt: skip
    """Every page of one listing, following the cursor to the end."""
    params: dict[str, Any] = {"updated_from": start, "limit": limit}
    if end is not None:
        params["updated_to"] = end
    pages = []
    while True:
        r = http.get(listing_url(sim), params=params, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["data"])
        if body["next_cursor"] is None:
            return pages
        params = {"cursor": body["next_cursor"]}


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


def key(item: dict[str, Any]) -> tuple[float, int]:
    return parse(item["updated_at"]), item["tracking_id"]


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A truth record without the simulator's own `_` keys."""
    return {k: v for k, v in record.items() if not k.startswith("_")}
