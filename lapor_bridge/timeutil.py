"""Time at the borders: LAPOR!'s mixed offsets in, aware UTC everywhere inside.

Upstream times carry `+07:00` (WIB), sometimes `Z`, and legacy records carry no
offset at all, which the contract says is WIB. Inside the bridge every time is
an aware UTC datetime; the store keeps naive UTC (see store.types).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

WIB = ZoneInfo("Asia/Jakarta")


def check_zone(name: str) -> str:
    """`name` if it is an IANA time zone, else ValueError (for pydantic validators)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not an IANA time zone such as Asia/Jakarta") from None
    return name


IanaZone = Annotated[str, AfterValidator(check_zone)]
"""A setting that names a time zone (pydantic checks it)."""


def parse_upstream_time(value: str | datetime) -> datetime:
    """Parse an upstream time; no offset means WIB. Returns aware UTC.

    Accepts RFC 3339 (`T` or space separator, `Z` or `±hh:mm`, fractions).
    Raises ValueError with the offending text otherwise.
    """
    if isinstance(value, datetime):
        parsed = value
    elif not isinstance(value, str):
        raise ValueError(f"a time must be an RFC 3339 string, got {type(value).__name__}")
    elif (parsed := _iso(value)) is not None:  # the common case, one C call
        pass
    else:
        text = value.strip()
        if not text:
            raise ValueError("empty time")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=WIB)
    return parsed.astimezone(UTC)


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (ValueError, TypeError):
        return None


def utcnow() -> datetime:
    """Now, aware UTC, truncated to microseconds (what the store keeps)."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC (store values)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_cli_time(value: str, *, zone: ZoneInfo = WIB) -> datetime:
    """A date or time typed by an admin: `2026-01-31`, `2026-01-31T08:00`, with
    or without offset. No offset means the regency's zone. Returns aware UTC."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(
            f"cannot read {value!r} as a date or time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[+07:00]"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


# --- output: the one rule for times people and machines read -----------------
# Machine output (JSON, CSV, metrics labels): RFC 3339, UTC, whole seconds, `Z`.
# Human output of the admin CLI: the regency's zone with the zone written
# (`2026-12-03 10:00:05 WIB`); what liaisons read uses lapor_bridge.i18n.


def rfc3339(value: datetime) -> str:
    """Machine output: RFC 3339 in UTC, whole seconds, `Z` (`2026-12-03T03:00:05Z`)."""
    return to_utc(value).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def human_time(value: datetime | None, *, zone: ZoneInfo = WIB, missing: str = "-") -> str:
    """Admin CLI output: `2026-12-03 10:00:05 WIB` (the zone's name written)."""
    if value is None:
        return missing
    local = to_utc(value).astimezone(zone)
    name = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(
        zone.key, local.tzname() or zone.key
    )
    return f"{local:%Y-%m-%d %H:%M:%S} {name}"


def json_default(value: object) -> object:
    """`json.dumps(..., default=json_default)`: times as `rfc3339`, the rest as text."""
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)


def jsonable(value: object) -> object:
    """`value` with every datetime inside (dicts, lists) rendered by `rfc3339`."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
