"""Text as the rules see it: case- and accent-insensitive words.

Keywords match whole words of the report's title and content, so `jalan`
matches "Jalan rusak" and "JALAN-jalan" but not "perjalanan", and `air`
does not match "Airlangga". A keyword may be a phrase ("banjir rob"): its
words must follow each other in the text (punctuation between them is
ignored, a line break too). Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters and digits of any script; everything else separates words.
_WORD = re.compile(r"[^\W_]+")

_KECAMATAN_PREFIXES = frozenset({"kecamatan", "kec"})
_DESA_PREFIXES = frozenset({"desa", "kelurahan", "kel", "ds"})


def fold(text: str) -> str:
    """Lower case without accents: "Désa ÉMPAT" -> "desa empat"."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return _WORD.findall(fold(text))


def phrase(text: str) -> str:
    """A keyword as matched: its folded words joined by single spaces ("" if none)."""
    return " ".join(words(text))


def searchable(*parts: str) -> str:
    """Texts prepared for `contains_phrase`: words joined by one space, each
    part padded and kept apart by two spaces so a phrase never spans parts."""
    return "".join(f" {' '.join(words(part))} " for part in parts)


def contains_phrase(prepared: str, folded_phrase: str) -> bool:
    """Whether a prepared text (see `searchable`) contains the phrase as whole words."""
    return f" {folded_phrase} " in prepared


@lru_cache(maxsize=8192)
def place_name(name: str | None, *, kind: str) -> str:
    """A kecamatan or desa name as compared: folded words, without a leading
    "Kecamatan"/"Kec." or "Desa"/"Kelurahan"/"Kel." ("" when empty)."""
    if not name:
        return ""
    tokens = words(name)
    prefixes = _KECAMATAN_PREFIXES if kind == "kecamatan" else _DESA_PREFIXES
    if len(tokens) > 1 and tokens[0] in prefixes:
        tokens = tokens[1:]
    return " ".join(tokens)
