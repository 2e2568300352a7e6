"""Mas Bup Siaga detection and keyword stripping."""

from __future__ import annotations

import pytest

from lapor_bridge.mapping.channel import is_masbupsiaga, strip_keyword


@pytest.mark.parametrize(
    "content",
    [
        "masbupsiaga jalan rusak di desa moga",
        "MASBUPSIAGA jalan rusak",
        "MasBupSiaga  pju mati",
        "masbupsiaga#pju mati",
        "  Masbupsiaga: air pdam mati",
        "masbupsiaga",
    ],
)
def test_sms_with_leading_keyword_is_programme(content: str) -> None:
    assert is_masbupsiaga("SMS", content, [])


@pytest.mark.parametrize(
    "content",
    [
        "jalan rusak masbupsiaga",  # not at the start
        "masbupsiaga2024 jalan rusak",  # another word
        "masbupsiagaku jalan rusak",
        "mas bup siaga jalan rusak",
        "",
    ],
)
def test_sms_without_leading_keyword_is_not_programme(content: str) -> None:
    assert not is_masbupsiaga("SMS", content, [])


def test_sms_keyword_counts_only_on_sms() -> None:
    assert not is_masbupsiaga("WEB", "masbupsiaga jalan rusak", [])
    assert not is_masbupsiaga("APP", "masbupsiaga jalan rusak", [])


@pytest.mark.parametrize(
    "content",
    [
        "@LAPOR1708 jalan rusak #masbupsiaga #pemalang",
        "@LAPOR1708 jalan rusak #MasBupSiaga",
        "#MASBUPSIAGA jalan rusak",
        "jalan rusak (#masbupsiaga).",
    ],
)
def test_hashtag_in_content_on_any_channel(content: str) -> None:
    assert is_masbupsiaga("TWITTER", content, [])
    assert is_masbupsiaga("WEB", content, [])


@pytest.mark.parametrize(
    "content",
    [
        "jalan rusak #masbupsiaga2024",
        "jalan rusak ##masbupsiagaX",
        "jalan masbupsiaga",
        "a#masbupsiaga",
    ],
)
def test_other_hashtags_do_not_count(content: str) -> None:
    assert not is_masbupsiaga("TWITTER", content, [])


def test_tags_with_or_without_hash_any_case() -> None:
    assert is_masbupsiaga("TWITTER", "jalan rusak", ["pemalang", "MasBupSiaga"])
    assert is_masbupsiaga("TWITTER", "jalan rusak", ["#masbupsiaga"])
    assert not is_masbupsiaga("TWITTER", "jalan rusak", ["masbupsiaga2024", "lapor1708"])
    assert not is_masbupsiaga("TWITTER", "jalan rusak", [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("masbupsiaga jalan rusak", "jalan rusak"),
        ("MasBupSiaga  jalan rusak", "jalan rusak"),
        ("MASBUPSIAGA#pju mati", "pju mati"),
        ("  masbupsiaga: air mati", "air mati"),
        ("masbupsiaga", ""),
        ("masbupsiaga2024 jalan", "masbupsiaga2024 jalan"),
        ("jalan rusak masbupsiaga", "jalan rusak masbupsiaga"),
        ("Jalan rusak", "Jalan rusak"),
    ],
)
def test_strip_keyword(text: str, expected: str) -> None:
    assert strip_keyword(text) == expected
