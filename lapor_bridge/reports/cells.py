"""Text that goes into spreadsheets and CSV files people open in Excel.

A cell starting with `=`, `+`, `-` or `@` (or a tab/carriage return) is read
by Excel and LibreOffice as a formula: citizen text such as `=HYPERLINK(...)`
must stay text. `safe_text` prefixes such a value with an apostrophe, the
convention spreadsheets show as plain text (OWASP "CSV injection").
"""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """`value` unchanged unless it is a string a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
