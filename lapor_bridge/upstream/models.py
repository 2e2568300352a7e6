"""Pydantic models of the upstream records (openapi.yaml `components/schemas`).

Lenient where the contract says so: times with `+07:00`, `Z` or no offset
(WIB), unknown fields ignored here (the raw record is stored beside the
model). Strict elsewhere: enums, integers that must be integers, required
fields. A record that fails here is quarantined by the sync, not fixed up.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    model_validator,
)

from lapor_bridge.timeutil import parse_upstream_time

UpstreamTime = Annotated[datetime, BeforeValidator(parse_upstream_time)]


class Status(StrEnum):
    DISPOSISI = "DISPOSISI"
    DIPROSES = "DIPROSES"
    SELESAI = "SELESAI"
    DITUTUP = "DITUTUP"
    DIALIHKAN = "DIALIHKAN"


class Privacy(StrEnum):
    PUBLIK = "PUBLIK"
    ANONIM = "ANONIM"
    RAHASIA = "RAHASIA"


class Channel(StrEnum):
    WEB = "WEB"
    SMS = "SMS"
    TWITTER = "TWITTER"
    APP = "APP"
    INTEGRASI = "INTEGRASI"


class Classification(StrEnum):
    PENGADUAN = "PENGADUAN"
    ASPIRASI = "ASPIRASI"
    PERMINTAAN_INFORMASI = "PERMINTAAN_INFORMASI"


class FollowUpStatus(StrEnum):
    DIPROSES = "DIPROSES"
    SELESAI = "SELESAI"


class Author(StrEnum):
    INSTANSI = "INSTANSI"
    PELAPOR = "PELAPOR"
    ADMIN = "ADMIN"


class _Upstream(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def undecodable_text(value: Any, path: str = "") -> str | None:
    """The path of the first string holding bytes that were not UTF-8 (the client
    keeps them as lone surrogates), a lone surrogate escape or a NUL character
    (which PostgreSQL cannot store), else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "record"
        return (path or "record") if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = undecodable_text(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


# Validation context of a record whose JSON text as received was found clean
# (`clean_text`): the walk over every string is not needed then.
TEXT_CHECKED = {"text_checked": True}
# What in a record's JSON text can decode to a lone surrogate or a NUL: a
# `\uD800`-`\uDFFF` or `\u0000` escape (raw control characters are not JSON).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def clean_text(text: str) -> bool:
    """True when a record's JSON text, decoded from valid UTF-8, surely holds no
    lone surrogate and no NUL (so `undecodable_text` would find nothing); False
    when it might (then the record is walked)."""
    return "\\u" not in text or _SUSPECT_ESCAPE.search(text) is None


class _Record(_Upstream):
    """A top-level record: text that is not UTF-8 makes it malformed (quarantined),
    never silently replaced."""

    @model_validator(mode="before")
    @classmethod
    def _utf8_only(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context is TEXT_CHECKED:
            return data
        where = undecodable_text(data)
        if where is not None:
            raise ValueError(f"{where}: text is not valid UTF-8 (or holds a NUL character)")
        return data


class ApiTopic(_Record):
    id: StrictInt
    parent: StrictInt
    name: str


class Reporter(_Upstream):
    name: str
    phone: str | None = None
    email: str | None = None


class Location(_Upstream):
    kecamatan: str | None = None
    desa: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


class Attachment(_Upstream):
    url: str
    name: str | None = None
    mime: str | None = None


class ApiFollowUp(_Record):
    id: StrictInt
    tracking_id: StrictInt
    content: str
    status: FollowUpStatus
    created_at: UpstreamTime
    unit: str | None = None
    external_ref: str | None = None
    author: Author = Author.INSTANSI


# Not in the contract; far beyond any real report, and a bound on what is stored.
MAX_TITLE_CHARS = 10_000
MAX_CONTENT_CHARS = 1_000_000


class ApiReport(_Record):
    tracking_id: StrictInt
    title: str = Field(max_length=MAX_TITLE_CHARS)
    content: str = Field(max_length=MAX_CONTENT_CHARS)
    classification: Classification
    privacy: Privacy
    channel: Channel
    created_at: UpstreamTime
    instansi_id: StrictInt
    status: Status
    updated_at: UpstreamTime
    version: StrictInt = Field(ge=1)
    topic_id: StrictInt | None = None
    reporter: Reporter | None = None
    location: Location | None = None
    tags: list[str] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    disposed_at: UpstreamTime | None = None
    followups: list[ApiFollowUp] = Field(default_factory=list)


class FollowUpIn(BaseModel):
    """The body of `POST /laporan/{tracking_id}/tindak-lanjut`."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=5000)
    status: FollowUpStatus
    unit: str
    external_ref: str = Field(max_length=64)
    attachments: list[Attachment] = Field(default_factory=list)
