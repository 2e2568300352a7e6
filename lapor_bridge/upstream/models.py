"""Pydantic models of the upstream records (openapi.yaml `components/schemas`).

Lenient where the contract says so: times with `+07:00`, `Z` or no offset
(WIB), unknown fields ignored here (the raw record is stored beside the
model). Strict elsewhere: enums, integers that must be integers, required
fields. A record that fails here is quarantined by the sync, not fixed up.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

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


class ApiTopic(_Upstream):
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


class ApiFollowUp(_Upstream):
    id: StrictInt
    tracking_id: StrictInt
    content: str
    status: FollowUpStatus
    created_at: UpstreamTime
    unit: str | None = None
    external_ref: str | None = None
    author: Author = Author.INSTANSI


class ApiReport(_Upstream):
    tracking_id: StrictInt
    title: str
    content: str
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
