"""Times and durations as liaisons read them."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from lapor_bridge.i18n import (
    format_duration,
    format_local_date,
    format_local_time,
    format_time_left,
    translations,
)


def test_local_time_is_wib_written_the_indonesian_way():
    moment = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    assert format_local_time(moment) == "3 Des 2026 10.00 WIB"
    assert format_local_time(moment, "en") == "3 Dec 2026 10.00 WIB"
    assert format_local_time(datetime(2026, 12, 3, 3, 0)) == "3 Des 2026 10.00 WIB"  # naive = UTC
    assert format_local_time(moment, zone=ZoneInfo("Asia/Makassar")) == "3 Des 2026 11.00 WITA"


def test_dates_and_durations():
    assert format_local_date(date(2026, 5, 3)) == "3 Mei 2026"
    assert format_duration(8100) == "2 jam 15 menit"
    assert format_duration(90000 + 59) == "1 hari 1 jam"
    assert format_duration(30) == "0 menit"
    assert format_time_left(8100) == "sisa 2 jam 15 menit"
    assert format_time_left(-3 * 3600, "en") == "3 hours overdue"


def test_missing_catalog_falls_back_to_source_text():
    assert translations("no-such-domain", "id").gettext("Open reports") == "Open reports"


def test_local_time_is_babels_pattern_for_every_month_and_language():
    from babel.dates import format_datetime

    zone = ZoneInfo("Asia/Jakarta")
    for lang in ("id", "en"):
        for month in range(1, 13):
            moment = datetime(2026, month, 9, 23, 7, tzinfo=UTC)
            expected = format_datetime(moment, "d MMM y HH.mm", tzinfo=zone, locale=lang)
            assert format_local_time(moment, lang, zone) == f"{expected} WIB"
