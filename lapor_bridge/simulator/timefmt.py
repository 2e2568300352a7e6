"""Rendering and parsing of the times the API speaks (RFC 3339, WIB, legacy)."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")

STYLE_WIB = "wib"  # 2024-05-01T10:15:00+07:00
STYLE_Z = "z"  # 2024-05-01T03:15:00Z
STYLE_LEGACY = "legacy"  # 2024-05-01 10:15:00 (no offset, meaning WIB)


_DAYS: dict[int, str] = {}  # day number -> "YYYY-MM-DD" (rendering is hot in listings)


def _day(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        y, mo, d = time.gmtime(day * 86400)[:3]
        text = _DAYS[day] = f"{y:04d}-{mo:02d}-{d:02d}"
    return text


def render(epoch: float | None, style: str = STYLE_WIB) -> str | None:
    """One-second precision rendering of an epoch time in the given style."""
    if epoch is None:
        return None
    sec = math.floor(epoch)
    if style != STYLE_Z:
        sec += 7 * 3600
    day, rest = divmod(sec, 86400)
    h, rest = divmod(rest, 3600)
    mi, s = divmod(rest, 60)
    if style == STYLE_Z:
        return f"{_day(day)}T{h:02d}:{mi:02d}:{s:02d}Z"
    if style == STYLE_LEGACY:
        return f"{_day(day)} {h:02d}:{mi:02d}:{s:02d}"
    return f"{_day(day)}T{h:02d}:{mi:02d}:{s:02d}+07:00"


# "+07:00" sent unencoded in a query string arrives as " 07:00": repair it.
_SPACE_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?) (\d{2}:?\d{2})$")


def parse(text: str) -> float:
    """Parse a query time: RFC 3339 with an offset or Z, or no offset (WIB).

    Raises ValueError for anything else.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty time")
    s = _SPACE_OFFSET.sub(r"\1+\2", s)
    if s[-1] in "zZ":
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=WIB)
    return dt.timestamp()


def to_epoch(value: object) -> float:
    """Accept a datetime (naive = WIB), an epoch number or a time string."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=WIB)
        return dt.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return parse(value)
    raise TypeError(f"not a time: {value!r}")
