"""Reading what arrived: the sections of a message and the reports each lists."""

from __future__ import annotations

import re
from collections import defaultdict

ITEM = re.compile(r"^- #(\d+) ")
POLICY = re.compile(r"^\s+(?:Batas waktu|Due) \(([^)]+)\):")

NEW = "Laporan baru untuk Anda:"
NEARLY_DUE = "Hampir terlambat:"
OVERDUE = "Terlambat:"
STILL_OVERDUE = "Masih terlambat (dieskalasi):"
MOVED_AWAY = "Dipindahkan ke unit lain (bukan tugas Anda lagi):"


def sections(body: str) -> dict[str, list[tuple[int, str | None]]]:
    """heading -> [(tracking_id, policy shown)] in the order listed."""
    out: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    heading: str | None = None
    for line in body.splitlines():
        if line.endswith(":") and not line.startswith((" ", "-")):
            heading = line
            continue
        item = ITEM.match(line)
        if item and heading:
            out[heading].append((int(item.group(1)), None))
            continue
        policy = POLICY.match(line)
        if policy and heading and out[heading] and out[heading][-1][1] is None:
            tid, _ = out[heading][-1]
            out[heading][-1] = (tid, policy.group(1))
    return out
