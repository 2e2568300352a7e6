"""The simulator's state: reports with all their versions, follow-ups, the listing index.

Not thread-safe by itself: the server holds one lock around every call.
Every report keeps all its versions. A version is *listed* to our instansi when
it is ours, or when it is the change that transferred the report away from us.
The listing index is a sorted list of (updated_at, tracking_id, version) over
the listed versions; a page shows, for each report, only the latest listed
version that is already visible (visibility lag), at its own updated_at.
"""

from __future__ import annotations

import _random
import gc
import json
import math
import random
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import textgen as tg
from . import timefmt
from .config import Faults
from .seed import OTHER_INSTANSI_IDS

STATUSES = ("DISPOSISI", "DIPROSES", "SELESAI", "DITUTUP", "DIALIHKAN")
CHANNELS = ("WEB", "APP", "SMS", "TWITTER", "INTEGRASI")
CHANNEL_CUM = (0.30, 0.55, 0.75, 0.90, 1.0)
PRIVACIES = ("PUBLIK", "ANONIM", "RAHASIA")
PRIVACY_CUM = (0.70, 0.88, 1.0)
CLASSIFICATIONS = ("PENGADUAN", "ASPIRASI", "PERMINTAAN_INFORMASI")
CLASSIFICATION_CUM = (0.75, 0.90, 1.0)

# How a malformed version is broken in listings (one per malformed version).
MALFORMATIONS = ("missing_title", "bad_status", "tracking_id_string", "created_at_garbage")
GARBAGE_TIMES = (
    "32/13/2021 25:61",
    "kemarin sore",
    "0000-00-00 00:00:00",
    "",
    "2021-02-30T10:00:00",
)

# Fields of a report the user may set through add_report/update_report.
REPORT_FIELDS = (
    "title", "content", "topic_id", "classification", "privacy", "channel", "reporter",
    "location", "tags", "attachments", "created_at", "disposed_at", "instansi_id", "status",
)  # fmt: skip
TIME_FIELDS = ("created_at", "disposed_at")
INF = float("inf")
FOLLOWUP_KEYS = ("id", "tracking_id", "content", "status", "unit", "external_ref", "author")
SEED_TRANSFER_SHARE = 0.1  # seeded reports transferred away: transfer_rate x this
DAY = 86400


class FastRandom(random.Random):
    """random.Random with cheaper choice/randint (seeding 20k reports must be fast).

    Deterministic for a seed like its base class; the sequences differ from it.
    """

    def choice(self, seq: Any) -> Any:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def weighted(self, items: tuple[str, ...], cum: tuple[float, ...]) -> str:
        return items[bisect_right(cum, self.random() * cum[-1])]


@dataclass(slots=True)
class Version:
    tid: int
    version: int
    updated_at: int  # epoch seconds
    visible_at: float  # epoch; listings show this version from then on
    fields: dict[str, Any]  # report fields; created_at/disposed_at as epoch
    n_followups: int  # the follow-ups of the report this snapshot shows
    listed: bool  # appears in our instansi's listing
    style: str  # time rendering style (timefmt.STYLE_*)
    malformed: str | None = None  # one of MALFORMATIONS
    extra: dict[str, Any] | None = None  # unknown fields clients must ignore
    cache: str | None = None  # JSON of the listing rendering


@dataclass(slots=True)
class SimFollowUp:
    t: float
    raw: dict[str, Any]  # everything but created_at
    _data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        """As rendered (rendered once, then immutable)."""
        if self._data is None:
            raw = self.raw
            d = {k: raw[k] for k in FOLLOWUP_KEYS}
            d["created_at"] = timefmt.render(self.t)
            if len(raw) > len(FOLLOWUP_KEYS):  # attachments, unknown fields
                d.update((k, v) for k, v in raw.items() if k not in d)
            self._data = d
        return self._data


@dataclass(slots=True)
class SimReport:
    tracking_id: int
    versions: list[Version] = field(default_factory=list)
    listed: list[Version] = field(default_factory=list)  # listed versions, ascending
    followups: list[SimFollowUp] = field(default_factory=list)
    legacy: bool = False  # once legacy, always rendered with no offset

    @property
    def latest(self) -> Version:
        return self.versions[-1]


class World:
    def __init__(self, seed: int, instansi_id: int, faults: Callable[[], Faults]) -> None:
        self.seed_value = seed
        self.rng = FastRandom(seed)
        self._content_rng = FastRandom(0)  # reseeded per report: texts are per-report stable
        self.instansi_id = instansi_id
        self.faults = faults
        self.reports: dict[int, SimReport] = {}
        self.index: list[tuple[int, int, int]] = []
        self.ours: list[int] = []  # reports that have been ours, in creation order
        self.transferred: list[int] = []  # reports transferred away from us
        self.next_tid = 1_400_000
        self.next_fid = 500_001
        self._bulk = False  # while seeding: append to the index, sort once at the end

    # --- generation of report content ------------------------------------

    def _pick_topic(self) -> int | None:
        r = self.rng.random()
        if r < 0.07:
            return None
        leaf = self.rng.choice(tg.LEAF_TOPICS)
        if r < 0.13:
            return tg.TOPIC_PARENT.get(leaf) or leaf
        return leaf

    def _new_fields(self, tid: int, created: float, disposed: float | None) -> dict[str, Any]:
        """A new report's fields. The text-heavy part is made on first use (see `fields`)."""
        return {
            "topic_id": self._pick_topic(),
            "created_at": created,
            "disposed_at": disposed,
            "instansi_id": self.instansi_id,
            "status": "DISPOSISI",
            "_lazy": True,
        }

    def fields(self, v: Version) -> dict[str, Any]:
        """The version's fields, its content materialised (deterministic per report)."""
        f = v.fields
        if "_lazy" in f:
            del f["_lazy"]
            tid = v.tid
            content = self._content(tid, f["topic_id"], f.get("channel"), f.get("privacy"))
            content.update(f)  # fields already set (add_report) win
            f.update(content)
        return f

    def _content(
        self, tid: int, topic_id: int | None, channel: str | None = None, privacy: str | None = None
    ) -> dict[str, Any]:
        rng = self._content_rng
        _random.Random.seed(rng, self.seed_value * 10_000_019 + tid)  # C seeding, no wrapper
        kec, desa = tg.place(rng)
        title, content = tg.report_text(rng, topic_id, kec, desa)
        drawn_channel = rng.weighted(CHANNELS, CHANNEL_CUM)
        drawn_privacy = rng.weighted(PRIVACIES, PRIVACY_CUM)
        channel = channel if channel in CHANNELS else drawn_channel
        privacy = privacy if privacy in PRIVACIES else drawn_privacy
        programme = rng.random() < 0.7
        tags: list[str] = []
        if channel == "SMS":
            content = tg.sms_text(rng, content, programme)
            title = content[:60].rsplit(" ", 1)[0] if len(content) > 60 else content
        elif channel == "TWITTER":
            content = tg.tweet_text(rng, content, programme)
            tags = list(rng.choice(tg.TWEET_TAGS)) if programme else ["pemalang"]
        elif channel == "INTEGRASI":
            content = f"[Pemalang Command Center 112] {content}"
        if not tags and rng.random() < 0.3:
            tags = [title.split()[0].lower(), kec.lower()]
        reporter = None
        if privacy != "ANONIM":
            name = tg.person(rng)
            phone = f"08{rng.randint(11, 99)}{rng.randint(10_000_000, 99_999_999)}"
            if channel == "TWITTER":
                reporter = {
                    "name": "@" + name.lower().replace(" ", "_"),
                    "phone": None,
                    "email": None,
                }
            else:
                email = None
                if channel in ("WEB", "APP") and rng.random() < 0.6:
                    email = name.lower().replace(" ", ".") + rng.choice(
                        ("@gmail.com", "@yahoo.co.id")
                    )
                reporter = {
                    "name": name,
                    "phone": phone if channel == "SMS" or rng.random() < 0.5 else None,
                    "email": email,
                }
        location = None
        if rng.random() > (0.3 if channel == "SMS" else 0.08):
            lat, lon = tg.KECAMATAN_LATLON[kec]
            has_point = channel in ("APP", "WEB") and rng.random() < 0.6
            location = {
                "kecamatan": kec,
                "desa": desa if rng.random() > 0.15 else None,
                "address": (
                    f"{rng.choice(tg.JALAN)}, RT 0{rng.randint(1, 9)}/RW 0{rng.randint(1, 9)}"
                    if rng.random() < 0.5
                    else None
                ),
                "lat": round(lat + rng.uniform(-0.03, 0.03), 6) if has_point else None,
                "lon": round(lon + rng.uniform(-0.03, 0.03), 6) if has_point else None,
            }
            if rng.random() < 0.05:  # unknown nested fields: clients must ignore them
                location["kode_wilayah"] = f"33.27.{rng.randint(1, 14):02d}"
        if reporter is not None and rng.random() < 0.05:
            reporter["terverifikasi"] = rng.random() < 0.5
        attachments = []
        if channel in ("WEB", "APP", "TWITTER") and rng.random() < 0.45:
            for i in range(rng.randint(1, 3)):
                if rng.random() < 0.8:
                    attachments.append(
                        {
                            "url": f"https://www.lapor.go.id/storage/lampiran/{tid}/foto_{i + 1}.jpg",
                            "name": f"foto_{i + 1}.jpg" if rng.random() < 0.7 else None,
                            "mime": "image/jpeg",
                        }
                    )
                else:
                    attachments.append(
                        {
                            "url": f"https://www.lapor.go.id/storage/lampiran/{tid}/dokumen.pdf",
                            "name": "dokumen.pdf",
                            "mime": "application/pdf" if rng.random() < 0.7 else None,
                        }
                    )
        return {
            "title": title,
            "content": content,
            "classification": rng.weighted(CLASSIFICATIONS, CLASSIFICATION_CUM),
            "privacy": privacy,
            "channel": channel,
            "reporter": reporter,
            "location": location,
            "tags": tags,
            "attachments": attachments,
        }

    def _new_extra(self) -> dict[str, Any] | None:
        r = self.rng.random()
        if r < 0.06:
            return {"sumber_legacy": self.rng.choice(("SIMPEL-2021", "LAPOR-V2", "SMS-GATEWAY"))}
        if r < 0.12:
            return {"skor": round(self.rng.uniform(0, 5), 2)}
        if r < 0.15:
            return {"skor": self.rng.randint(1, 100), "kanal_detail": {"operator": "Telkomsel"}}
        return None

    def _time_style(self) -> str:
        return timefmt.STYLE_Z if self.rng.random() < 0.12 else timefmt.STYLE_WIB

    def _fault_draws(
        self, rep: SimReport, generated: bool, seeding: bool
    ) -> tuple[str | None, float]:
        """(malformation, lag fraction). Always draws the same number of numbers."""
        f = self.faults()
        r_mal, kind, r_leg, r_lag = (
            self.rng.random(),
            self.rng.choice(MALFORMATIONS),
            self.rng.random(),
            self.rng.random(),
        )
        if generated and not seeding and r_leg < f.legacy_time_rate:
            rep.legacy = True
        malformed = kind if generated and r_mal < f.malformed_rate else None
        return malformed, r_lag

    # --- versions ----------------------------------------------------------

    def _append_version(
        self,
        rep: SimReport,
        fields: dict[str, Any],
        change_t: float,
        *,
        generated: bool,
        updated_at: float | None = None,
        malformed: str | bool | None = None,
        style: str | None = None,
        visible_after: float | None = None,
        extra: dict[str, Any] | None = None,
        seeding: bool = False,
    ) -> Version:
        prev = rep.versions[-1] if rep.versions else None
        drawn_mal, r_lag = self._fault_draws(rep, generated, seeding)
        if malformed is True:
            malformed = drawn_mal or self.rng.choice(MALFORMATIONS)
        elif malformed is None or malformed is False:
            malformed = drawn_mal if malformed is None else None
        elif malformed not in MALFORMATIONS:
            raise ValueError(f"unknown malformation {malformed!r}; one of {MALFORMATIONS}")
        if style is None:
            style = (
                timefmt.STYLE_LEGACY
                if rep.legacy
                else (prev.style if prev and prev.style != timefmt.STYLE_LEGACY else None)
            ) or self._time_style()
        if updated_at is None:
            upd = math.floor(change_t)
            if prev is not None:
                upd = max(upd, prev.updated_at)
            base = change_t
        else:
            upd = math.floor(updated_at)
            base = updated_at
        lag = self.faults().visibility_lag_s
        visible = time.time() + visible_after if visible_after is not None else base + lag * r_lag
        was_ours = prev is not None and prev.fields["instansi_id"] == self.instansi_id
        is_ours = fields["instansi_id"] == self.instansi_id
        if extra is None and prev is not None:
            extra = prev.extra
        v = Version(
            tid=rep.tracking_id,
            version=(prev.version + 1) if prev else fields.pop("_version", 1),
            updated_at=upd,
            visible_at=visible,
            fields=fields,
            n_followups=len(rep.followups),
            listed=is_ours or was_ours,
            style=style,
            malformed=malformed,
            extra=extra,
        )
        fields.pop("_version", None)
        rep.versions.append(v)
        if v.listed:
            rep.listed.append(v)
            if self._bulk:
                self.index.append((v.updated_at, rep.tracking_id, v.version))
            else:
                insort(self.index, (v.updated_at, rep.tracking_id, v.version))
            if is_ours and not rep.listed[:-1]:
                self.ours.append(rep.tracking_id)
            if was_ours and not is_ours:
                self.transferred.append(rep.tracking_id)
        return v

    def _add_followup(
        self, rep: SimReport, t: float, author: str, status: str, content: str,
        unit: str | None = None, external_ref: str | None = None,
        attachments: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None,
    ) -> SimFollowUp:  # fmt: skip
        data: dict[str, Any] = {
            "id": self.next_fid,
            "tracking_id": rep.tracking_id,
            "content": content,
            "status": status,
            "unit": unit,
            "external_ref": external_ref,
            "author": author,
        }
        if attachments is not None:
            data["attachments"] = attachments
        if extra:
            data.update(extra)
        self.next_fid += 1
        fu = SimFollowUp(t, data)
        rep.followups.append(fu)
        return fu

    def _alloc_tid(self) -> int:
        self.next_tid += self.rng.randint(1, 40)
        return self.next_tid

    # --- seeding -----------------------------------------------------------

    def seed(self, n: int, now: float) -> None:
        """n reports disposed to us, updated over the past 400 days, with ties."""
        rng = self.rng
        start, end = now - 400 * DAY, now - 120
        times = sorted(rng.uniform(start, end) for _ in range(n))
        # Reports imported or processed in batches share one updated_at second.
        i = 0
        while i < n:
            size = rng.randint(2, 25) if rng.random() < 0.25 else 1
            for j in range(i + 1, min(n, i + size)):
                times[j] = times[i]
            i += size
        if n >= 2:  # one large import batch, larger than a small page, always
            k = n // 2
            for j in range(k, min(n, k + 40)):
                times[j] = times[k]
        plans = []
        for upd in times:
            legacy = rng.random() < self.faults().legacy_time_rate
            if legacy and rng.random() < 0.7:
                created = rng.uniform(1609459200, 1672502400)  # 2021-2022
                created = min(created, upd)
            else:
                created = upd - rng.uniform(0, min(60 * DAY, upd - start + 30 * DAY))
            plans.append((created, upd, legacy))
        plans.sort(key=lambda p: p[0])
        tid = self.next_tid
        self._bulk = True
        gc_was_on = gc.isenabled()
        gc.disable()  # many small long-lived objects: the collector would rescan them all
        try:
            for created, upd, legacy in plans:
                tid += rng.randint(2, 40)
                if rng.random() < 0.03:  # a report that was never ours
                    self._seed_foreign(tid - 1, created)
                self._seed_one(tid, created, upd, legacy)
        finally:
            if gc_was_on:
                gc.enable()
            self._bulk = False
            self.index.sort()
        self.next_tid = tid

    def _seed_foreign(self, tid: int, created: float) -> None:
        rep = SimReport(tid)
        self.reports[tid] = rep
        fields = self._new_fields(tid, created, created + DAY)
        fields["instansi_id"] = self.rng.choice(OTHER_INSTANSI_IDS)
        self._append_version(rep, fields, created + DAY, generated=False)

    def _seed_one(self, tid: int, created: float, upd: float, legacy: bool) -> None:
        rng = self.rng
        rep = SimReport(tid, legacy=legacy)
        self.reports[tid] = rep
        age = upd - created
        disposed = None if rng.random() < 0.05 else created + min(age, rng.uniform(0.2, 3) * DAY)
        fields = self._new_fields(tid, created, disposed)
        r, r_transfer = rng.random(), rng.random()
        # Seeded history holds transfers only when the trap is on: a tenth of transfer_rate.
        if r_transfer < self.faults().transfer_rate * SEED_TRANSFER_SHARE:
            status = "DIALIHKAN"
        elif age < 3 * DAY or r < 0.2:
            status = "DISPOSISI"
        elif r < 0.45:
            status = "DIPROSES"
        elif r < 0.75:
            status = "SELESAI"
        else:
            status = "DITUTUP"
        unit = tg.unit_for(fields["topic_id"])
        t0 = disposed or created
        edits = rng.randint(0, 2)
        if status in ("DIPROSES", "SELESAI", "DITUTUP"):
            t1 = t0 + (upd - t0) * rng.uniform(0.1, 0.6)
            self._add_followup(
                rep,
                t1,
                "INSTANSI",
                "DIPROSES",
                rng.choice(tg.FOLLOWUP_DIPROSES).format(unit=unit),
                unit,
            )
            if rng.random() < 0.3:
                t2 = t1 + (upd - t1) * rng.uniform(0.1, 0.5)
                self._add_followup(rep, t2, "PELAPOR", "DIPROSES", rng.choice(tg.REPLIES_PELAPOR))
            if status != "DIPROSES":
                t3 = upd if status == "SELESAI" else t0 + (upd - t0) * 0.8
                self._add_followup(
                    rep,
                    t3,
                    "INSTANSI",
                    "SELESAI",
                    rng.choice(tg.FOLLOWUP_SELESAI).format(unit=unit),
                    unit,
                )
        fields["status"] = status
        fields["_version"] = 1 + len(rep.followups) + edits + (status in ("DITUTUP", "DIALIHKAN"))
        later = False
        if status == "DIALIHKAN":
            # Seed the last version that was ours, then the transfer (listed to us).
            mine = dict(fields, status="DISPOSISI")
            mine["_version"] = fields["_version"] - 1
            self._append_version(
                rep, mine, t0, generated=True, updated_at=t0, extra=self._new_extra(), seeding=True
            )
            fields = dict(fields, instansi_id=rng.choice(OTHER_INSTANSI_IDS), disposed_at=upd)
            fields.pop("_version")
            later = rng.random() < 0.3
            self._append_version(rep, fields, upd, generated=True, updated_at=upd, seeding=True)
        else:
            self._append_version(
                rep,
                fields,
                upd,
                generated=True,
                updated_at=upd,
                extra=self._new_extra(),
                seeding=True,
            )
        if later:  # the new body worked on it since: not listed to us
            t = upd + rng.uniform(60, 5 * DAY)
            if t < time.time() - 60:
                self._append_version(
                    rep,
                    dict(fields, status="DIPROSES"),
                    t,
                    generated=True,
                    updated_at=t,
                    seeding=True,
                )

    # --- generated changes -------------------------------------------------

    def _pick(self, pool: list[int], ok: Callable[[SimReport], bool]) -> SimReport | None:
        if not pool:
            return None
        for _ in range(25):
            rep = self.reports[self.rng.choice(pool)]
            if ok(rep):
                return rep
        return None

    def _is_ours(self, rep: SimReport) -> bool:
        return rep.latest.fields["instansi_id"] == self.instansi_id

    def new_report(self, t: float, *, generated: bool = True) -> SimReport:
        tid = self._alloc_tid()
        rep = SimReport(tid)
        self.reports[tid] = rep
        fields = self._new_fields(tid, t - self.rng.uniform(3600, 3 * DAY), t)
        self._append_version(rep, fields, t, generated=generated, extra=self._new_extra())
        return rep

    def generate_change(self, t: float) -> int:
        rng = self.rng
        f = self.faults()
        r_transfer, r_kind = rng.random(), rng.random()
        if r_transfer < f.transfer_rate:
            rep = self._pick(
                self.ours,
                lambda r: (
                    self._is_ours(r) and r.latest.fields["status"] in ("DISPOSISI", "DIPROSES")
                ),
            )
            if rep is not None:
                fields = dict(
                    rep.latest.fields, status="DIALIHKAN",
                    instansi_id=rng.choice(OTHER_INSTANSI_IDS), disposed_at=t,
                )  # fmt: skip
                self._append_version(rep, fields, t, generated=True)
                return rep.tracking_id
        if r_kind < 0.25:
            return self.new_report(t).tracking_id
        if r_kind < 0.55:  # status progression DISPOSISI -> DIPROSES -> SELESAI -> DITUTUP
            rep = self._pick(
                self.ours,
                lambda r: (
                    self._is_ours(r)
                    and r.latest.fields["status"] in ("DISPOSISI", "DIPROSES", "SELESAI")
                ),
            )
            if rep is not None:
                cur = rep.latest.fields
                unit = tg.unit_for(cur["topic_id"])
                nxt = {"DISPOSISI": "DIPROSES", "DIPROSES": "SELESAI", "SELESAI": "DITUTUP"}[
                    cur["status"]
                ]
                if nxt == "DIPROSES":
                    self._add_followup(
                        rep,
                        t,
                        "INSTANSI",
                        "DIPROSES",
                        rng.choice(tg.FOLLOWUP_DIPROSES).format(unit=unit),
                        unit,
                    )
                elif nxt == "SELESAI":
                    self._add_followup(
                        rep,
                        t,
                        "INSTANSI",
                        "SELESAI",
                        rng.choice(tg.FOLLOWUP_SELESAI).format(unit=unit),
                        unit,
                    )
                self._append_version(rep, dict(cur, status=nxt), t, generated=True)
                return rep.tracking_id
        elif r_kind < 0.77:  # citizen reply (PELAPOR), sometimes the national admin
            rep = self._pick(
                self.ours, lambda r: self._is_ours(r) and r.latest.fields["status"] != "DITUTUP"
            )
            if rep is not None:
                cur = rep.latest.fields
                st = cur["status"] if cur["status"] in ("DIPROSES", "SELESAI") else "DIPROSES"
                if rng.random() < 0.2:
                    self._add_followup(
                        rep,
                        t,
                        "ADMIN",
                        st,
                        rng.choice(tg.NOTES_ADMIN),
                        "Admin SP4N-LAPOR!",
                        extra={"visibilitas": "PUBLIK"},
                    )
                else:
                    self._add_followup(rep, t, "PELAPOR", st, rng.choice(tg.REPLIES_PELAPOR))
                self._append_version(rep, dict(cur), t, generated=True)
                return rep.tracking_id
        elif r_kind < 0.96:  # an edit
            rep = self._pick(
                self.ours, lambda r: self._is_ours(r) and r.latest.fields["status"] != "DITUTUP"
            )
            if rep is not None:
                self._append_version(rep, self._edit(rep), t, generated=True)
                return rep.tracking_id
        else:  # the new body of a transferred report works on it: not listed to us
            rep = self._pick(self.transferred, lambda r: not self._is_ours(r))
            if rep is not None:
                self._append_version(
                    rep, dict(rep.latest.fields, status="DIPROSES"), t, generated=True
                )
                return rep.tracking_id
        return self.new_report(t).tracking_id

    def _edit(self, rep: SimReport) -> dict[str, Any]:
        rng = self.rng
        fields = dict(self.fields(rep.latest))
        what = rng.randrange(5)
        if what == 0:
            fields["content"] = fields["content"] + rng.choice(tg.EDIT_SUFFIXES)
        elif what == 1:
            fields["topic_id"] = rng.choice(tg.LEAF_TOPICS)  # recategorised by the admin
        elif what == 2:
            kec, desa = tg.place(rng)
            fields["location"] = {
                "kecamatan": kec,
                "desa": desa,
                "address": None,
                "lat": None,
                "lon": None,
            }
        elif what == 3:
            n = len(fields["attachments"]) + 1
            fields["attachments"] = [
                *fields["attachments"],
                {
                    "url": f"https://www.lapor.go.id/storage/lampiran/{rep.tracking_id}/tambahan_{n}.jpg",
                    "name": f"tambahan_{n}.jpg",
                    "mime": "image/jpeg",
                },
            ]
        else:
            fields["classification"] = rng.choice(CLASSIFICATIONS)
            fields["title"] = fields["title"].strip() + " (revisi)"
        return fields

    # --- explicit changes (tests) -------------------------------------------

    def add_report(self, t: float, fields: dict[str, Any]) -> SimReport:
        opts = _pop_options(fields)
        tid = fields.pop("tracking_id", None)
        if tid is None:
            tid = self._alloc_tid()
        elif not isinstance(tid, int) or tid in self.reports:
            raise ValueError(f"tracking_id {tid!r} is not a new integer id")
        self.next_tid = max(self.next_tid, tid)
        rep = SimReport(tid)
        self.reports[tid] = rep
        base = self._new_fields(tid, t - self.rng.uniform(3600, 3 * DAY), t)
        if "followups" in fields:
            for fu in fields.pop("followups"):
                fu = dict(fu)
                ft = timefmt.to_epoch(fu.pop("created_at", t))
                self._add_followup(
                    rep, ft, fu.pop("author", "INSTANSI"), fu.pop("status", "DIPROSES"),
                    fu.pop("content", "Tindak lanjut."), fu.pop("unit", None), fu.pop("external_ref", None),
                )  # fmt: skip
        if "version" in fields:
            base["_version"] = int(fields.pop("version"))
        _apply_fields(base, fields, opts)
        if opts["legacy"]:
            rep.legacy = True
        self._append_version(rep, base, t, generated=False, **opts["version_kw"])
        return rep

    def update_report(self, t: float, tid: int, fields: dict[str, Any]) -> SimReport:
        rep = self.reports.get(tid)
        if rep is None:
            raise KeyError(f"no report {tid}")
        opts = _pop_options(fields)
        for bad in ("tracking_id", "version", "followups"):
            if bad in fields:
                raise ValueError(f"{bad} cannot be set by update_report")
        new = dict(self.fields(rep.latest))
        _apply_fields(new, fields, opts)
        was_ours = rep.latest.fields["instansi_id"] == self.instansi_id
        if was_ours and new["instansi_id"] != self.instansi_id:
            if "status" not in fields:
                new["status"] = "DIALIHKAN"
            if "disposed_at" not in fields:
                new["disposed_at"] = t
        if opts["legacy"]:
            rep.legacy = True
        self._append_version(rep, new, t, generated=False, **opts["version_kw"])
        return rep

    # --- follow-ups from the API -------------------------------------------

    def post_followup(self, t: float, rep: SimReport, body: dict[str, Any]) -> dict[str, Any]:
        fu = self._add_followup(
            rep, t, "INSTANSI", body["status"], body["content"], body["unit"], body["external_ref"],
            body.get("attachments"),
        )  # fmt: skip
        self._append_version(
            rep, dict(rep.latest.fields, status=body["status"]), t, generated=False
        )
        return fu.data

    # --- reading -----------------------------------------------------------

    def visible_listed(self, rep: SimReport, now: float) -> Version | None:
        for v in reversed(rep.listed):
            if v.visible_at <= now:
                return v
        return None

    def page(
        self, frm: float, to: float, after: tuple[int, int] | None, limit: int, now: float
    ) -> tuple[list[str], tuple[int, int] | None, bool]:
        """(rendered items, key of the last item, whether more items follow)."""
        idx = self.index
        if after is None:
            i = bisect_left(idx, (math.ceil(frm),)) if frm > -INF else 0
        else:
            i = bisect_right(idx, (after[0], after[1], INF))
        items: list[str] = []
        last: tuple[int, int] | None = None
        more = False
        n = len(idx)
        while i < n:
            u, tid, ver = idx[i]
            i += 1
            if u >= to:
                break
            if u < frm:
                continue
            rep = self.reports[tid]
            cur = self.visible_listed(rep, now)
            if cur is None or cur.version != ver:
                continue
            if len(items) == limit:
                more = True
                break
            items.append(self.render_listing(rep, cur))
            last = (u, tid)
        return items, last, more

    def render_listing(self, rep: SimReport, v: Version) -> str:
        if v.cache is None:
            v.cache = json.dumps(
                self._render(rep, v, listing=True), ensure_ascii=False, separators=(",", ":")
            )
        return v.cache

    def render_current(self, rep: SimReport) -> dict[str, Any]:
        """GET /laporan/{id}: the latest version, well-formed, all follow-ups."""
        return self._render(rep, rep.latest, listing=False)

    def _render(self, rep: SimReport, v: Version, listing: bool) -> dict[str, Any]:
        f = self.fields(v)
        style = v.style
        d: dict[str, Any] = {
            "tracking_id": rep.tracking_id,
            "title": f["title"],
            "content": f["content"],
            "topic_id": f["topic_id"],
            "classification": f["classification"],
            "privacy": f["privacy"],
            "channel": f["channel"],
            "reporter": f["reporter"],
            "location": f["location"],
            "tags": f["tags"],
            "attachments": f["attachments"],
            "created_at": timefmt.render(f["created_at"], style),
            "disposed_at": timefmt.render(f["disposed_at"], style),
            "instansi_id": f["instansi_id"],
            "status": f["status"],
            "updated_at": timefmt.render(v.updated_at, style),
            "version": v.version,
            "followups": [fu.data for fu in rep.followups[: v.n_followups]],
        }
        if len(f) > len(REPORT_FIELDS):  # fields set by tests that the schema does not know
            d.update((k, val) for k, val in f.items() if k not in d)
        if v.extra:
            d.update(v.extra)
        if listing and v.malformed:
            kind = v.malformed
            if kind == "missing_title":
                del d["title"]
            elif kind == "bad_status":
                d["status"] = "BOGUS"
            elif kind == "tracking_id_string":
                d["tracking_id"] = f"LPR-{rep.tracking_id}"
            elif kind == "created_at_garbage":
                d["created_at"] = GARBAGE_TIMES[(rep.tracking_id + v.version) % len(GARBAGE_TIMES)]
        return d

    def record(self, rep: SimReport, v: Version | None = None) -> dict[str, Any]:
        """A version as listings render it, with the simulator's `_` keys."""
        v = v or rep.latest
        d = json.loads(self.render_listing(rep, v))
        d["_malformed"] = v.malformed is not None
        d["_malformation"] = v.malformed
        d["_tracking_id"] = rep.tracking_id
        d["_transferred"] = v.fields["instansi_id"] != self.instansi_id
        d["_listed"] = v.listed
        d["_visible_at"] = v.visible_at
        return d

    def truth(self) -> list[dict[str, Any]]:
        """Latest listed version of every report our listing shows, in listing order."""
        latest = [(rep.listed[-1], rep) for rep in self.reports.values() if rep.listed]
        latest.sort(key=lambda x: (x[0].updated_at, x[1].tracking_id))
        return [self.record(rep, v) for v, rep in latest]

    def all_followups(self, tid: int | None) -> list[dict[str, Any]]:
        if tid is not None:
            rep = self.reports.get(tid)
            return [dict(fu.data) for fu in rep.followups] if rep else []
        fus = [fu for rep in self.reports.values() for fu in rep.followups]
        fus.sort(key=lambda fu: (fu.t, fu.data["id"]))
        return [dict(fu.data) for fu in fus]


def _pop_options(fields: dict[str, Any]) -> dict[str, Any]:
    """Take the simulator-only `_options` out of add_report/update_report fields."""
    kw: dict[str, Any] = {}
    if "_malformed" in fields:
        kw["malformed"] = fields.pop("_malformed")
    else:
        kw["malformed"] = False  # explicit changes are well-formed unless asked
    style = fields.pop("_time_style", None)
    legacy = bool(fields.pop("_legacy_time", False)) or style == timefmt.STYLE_LEGACY
    if style is not None:
        if style not in (timefmt.STYLE_WIB, timefmt.STYLE_Z, timefmt.STYLE_LEGACY):
            raise ValueError("_time_style is one of 'wib', 'z', 'legacy'")
        kw["style"] = style
    elif legacy:
        kw["style"] = timefmt.STYLE_LEGACY
    if "_visible_after" in fields:
        kw["visible_after"] = float(fields.pop("_visible_after"))
    if "_extra" in fields:
        kw["extra"] = dict(fields.pop("_extra"))
    if "updated_at" in fields:
        kw["updated_at"] = timefmt.to_epoch(fields.pop("updated_at"))
    unknown = [k for k in fields if k.startswith("_")]
    if unknown:
        raise ValueError(f"unknown simulator options {unknown}")
    return {"version_kw": kw, "legacy": legacy}


def _apply_fields(target: dict[str, Any], fields: dict[str, Any], opts: dict[str, Any]) -> None:
    for k, val in fields.items():
        if k in TIME_FIELDS and val is not None:
            val = timefmt.to_epoch(val)
        target[k] = val
