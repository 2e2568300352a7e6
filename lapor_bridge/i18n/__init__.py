"""What people read: language, local times written the Indonesian way, catalogs.

Everything made for liaisons and the Regent's office (pages, messages,
spreadsheets) is Indonesian by default (`LAPOR_BRIDGE_LANGUAGE=id`), English
by setting (`en`). Source strings in code and templates are English; the
Indonesian text lives in Babel catalogs beside this file, one per domain
(`<domain>.id.po`: `notify`, `reports`, ...), compiled in memory on first use.

Times: `3 Des 2026 10.00 WIB` (Indonesian) / `3 Dec 2026 10.00 WIB` (English),
always in the regency's zone with the zone written.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime, tzinfo
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")
CATALOG_DIR = Path(__file__).parent
WIB = ZoneInfo("Asia/Jakarta")

# Indonesia's three zones have names of their own; anything else shows its tzname.
_ZONE_NAMES = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}


def zone_name(zone: tzinfo, moment: datetime) -> str:
    key = getattr(zone, "key", None)
    if key in _ZONE_NAMES:
        return _ZONE_NAMES[key]
    return moment.astimezone(zone).tzname() or "UTC"


@cache
def _months(lang: str) -> dict[int, str]:
    """The locale's abbreviated month names (Babel's `MMM`), read once."""
    from babel.dates import get_month_names

    return dict(get_month_names("abbreviated", locale=lang))


def format_local_time(moment: datetime, lang: Language = "id", zone: tzinfo = WIB) -> str:
    """`3 Des 2026 10.00 WIB`: an aware (or naive UTC) time in the regency's zone.

    Babel's `d MMM y HH.mm` written out from the locale's month names (the same
    text, without parsing the pattern and the locale on every call: the site
    writes this some hundred thousand times)."""
    from lapor_bridge.timeutil import to_utc

    local = to_utc(moment).astimezone(zone)
    month = _months(lang)[local.month]
    text = f"{local.day} {month} {local.year} {local.hour:02d}.{local.minute:02d}"
    return f"{text} {zone_name(zone, local)}"


def format_local_date(day: date, lang: Language = "id") -> str:
    """`3 Des 2026`."""
    from babel.dates import format_date

    return format_date(day, "d MMM y", locale=lang)


_UNITS = {
    "id": (("hari", "hari"), ("jam", "jam"), ("menit", "menit")),
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes")),
}


def format_duration(seconds: float, lang: Language = "id") -> str:
    """`1 hari 3 jam`, `2 jam 15 menit`, `15 menit` (the two largest units)."""
    total = int(abs(seconds)) // 60
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    for value, (one, many) in zip((days, hours, minutes), _UNITS[lang], strict=True):
        if value:
            parts.append(f"{value} {one if value == 1 else many}")
    if not parts:
        return f"0 {_UNITS[lang][2][1]}"
    return " ".join(parts[:2])


def format_time_left(seconds: float, lang: Language = "id") -> str:
    """Time left before a due time: `sisa 2 jam 15 menit` / `terlambat 3 jam`."""
    span = format_duration(seconds, lang)
    if seconds >= 0:
        return f"sisa {span}" if lang == "id" else f"{span} left"
    return f"terlambat {span}" if lang == "id" else f"{span} overdue"


@cache
def translations(domain: str, lang: Language = "id") -> gettext.NullTranslations:
    """The catalog `<domain>.<lang>.po` beside this module; English is the source."""
    path = CATALOG_DIR / f"{domain}.{lang}.po"
    if lang == "en" or not path.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=domain)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
