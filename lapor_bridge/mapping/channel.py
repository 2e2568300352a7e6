"""The regency's own complaint programme, Mas Bup Siaga, inside LAPOR! reports.

Citizens reach the programme through two LAPOR! channels:

- SMS 1708 whose text starts with the keyword `masbupsiaga` (any case),
  e.g. `masbupsiaga jalan rusak di desa ...`, `MASBUPSIAGA#pju mati`;
- the hashtag `#masbupsiaga` (any case) in a tweet/report text or in its tags.

`is_masbupsiaga` tells whether a report belongs to the programme (the sync
stores it in `ReportRow.masbupsiaga`); `strip_keyword` removes the leading SMS
keyword so that display and keyword matching see only the citizen's words.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KEYWORD = "masbupsiaga"

# The keyword at the very start of the text, as a whole word ("masbupsiaga2024"
# or "masbupsiagaku" are not the keyword), then any separators citizens type.
_LEADING_KEYWORD = re.compile(rf"^\s*{KEYWORD}(?![0-9a-z_])[\s#:;,.\-]*", re.IGNORECASE)
# The hashtag anywhere, as a whole tag ("#masbupsiaga2024" is another tag).
_HASHTAG = re.compile(rf"(?<![\w#])#{KEYWORD}(?!\w)", re.IGNORECASE)


def is_masbupsiaga(channel: str, content: str, tags: Iterable[str]) -> bool:
    """True when the report came through the Mas Bup Siaga programme.

    `channel` is the upstream channel (`SMS`, `TWITTER`, ...); the SMS keyword
    counts only on SMS. The hashtag counts on any channel, in the content or
    as a tag (tags may be given with or without the leading `#`).
    """
    if str(channel).upper() == "SMS" and _LEADING_KEYWORD.match(content or ""):
        return True
    if _HASHTAG.search(content or ""):
        return True
    return any(tag.strip().lstrip("#").casefold() == KEYWORD for tag in tags or ())


def strip_keyword(text: str) -> str:
    """The text without its leading `masbupsiaga` SMS keyword and separators.

    Text that does not start with the keyword is returned unchanged.
    `strip_keyword("MasBupSiaga  jalan rusak")` -> `"jalan rusak"`.
    """
    match = _LEADING_KEYWORD.match(text)
    if match is None:
        return text
    return text[match.end() :]
