"""What the site and the recap show, read from the store in a few queries.

Counts come from `sla.views.summarize` (the same SQL as `sla summary`), lists
from `sla.views.list_report_clocks`, reasons from `mapping.explain`, the
outbox from `outbox.admin`. A RAHASIA report's title, content and replies are
replaced here, before any template sees them; reporter columns are never read.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from lapor_bridge.export import WITHHELD
from lapor_bridge.mapping.apply import MappingRequestError
from lapor_bridge.mapping.explain import Explanation, explanation_of, load_for_explanation
from lapor_bridge.mapping.model import DEFAULT, Mapping
from lapor_bridge.mapping.topics import load_topic_tree, topic_names
from lapor_bridge.outbox.admin import OutboxRow, list_outbox
from lapor_bridge.outbox.states import OutboxState
from lapor_bridge.sla.clock import ClockState
from lapor_bridge.sla.policy import SlaPolicies
from lapor_bridge.sla.views import (
    UNASSIGNED,
    OpdRanking,
    ReportClocks,
    Worklist,
    list_report_clocks,
    rank_opds,
    state_expression,
    summarize,
)
from lapor_bridge.store.tables import (
    Assignment,
    ReportRow,
    SlaClock,
    TindakLanjut,
    UpstreamFollowUpRow,
)

RECENT_DAYS = 30
PROGRAMME = "MASBUPSIAGA"  # Mas Bup Siaga's SMS and #masbupsiaga: the programme's own channel
CLOSED_STATUSES = ("SELESAI", "DITUTUP")


def channel_of(channel: str, masbupsiaga: bool) -> str:
    return PROGRAMME if masbupsiaga else channel


@dataclass(frozen=True)
class KecamatanRow:
    kecamatan: str  # "" when the report names none
    reports: int  # reports whose clocks started in the period
    open: int  # of them, still running on some clock
    breaches: dict[str, int]  # policy -> BREACHED + MET_LATE


@dataclass(frozen=True)
class UnmappedRow:
    tracking_id: int
    title: str  # WITHHELD for RAHASIA
    kecamatan: str | None
    channel: str
    disposed_at: datetime


@dataclass(frozen=True)
class Overview:
    now: datetime
    since: datetime | None
    until: datetime | None
    policies: list[str]
    ranking: list[OpdRanking]
    per_day: dict[date, Counter[str]]  # local day -> channel -> reports (last 30 days)
    channels: list[str]
    kecamatan: list[KecamatanRow]
    breached: list[ReportClocks]
    at_risk: list[ReportClocks]
    unmapped: list[UnmappedRow]
    dead: list[OutboxRow]
    reports: int
    open_reports: int
    open_list: Worklist


def _period(query: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        query = query.where(SlaClock.started_at >= since)
    if until is not None:
        query = query.where(SlaClock.started_at < until)
    return query


def overview(
    session: Session,
    *,
    now: datetime,
    policies: SlaPolicies,
    zone: tzinfo,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Overview:
    summary = summarize(session, now=now, policies=policies, since=since, until=until)
    open_list = list_report_clocks(session, now=now, policies=policies)
    per_day = reports_per_day(session, now=now, zone=zone)
    seen = {channel for counts in per_day.values() for channel in counts}
    channels = [PROGRAMME, *sorted(seen - {PROGRAMME})] if PROGRAMME in seen else sorted(seen)
    breached = [r for r in open_list.reports if r.state == ClockState.BREACHED]
    at_risk = [r for r in open_list.reports if r.state == ClockState.AT_RISK]
    return Overview(
        now=now,
        since=since,
        until=until,
        policies=list(policies.policies),
        ranking=rank_opds(summary, "breaches"),
        per_day=per_day,
        channels=channels,
        kecamatan=by_kecamatan(session, now=now, policies=policies, since=since, until=until),
        breached=breached,
        at_risk=at_risk,
        unmapped=unmapped(session),
        dead=list_outbox(session, state=OutboxState.DEAD, limit=1000),
        reports=session.execute(select(func.count()).select_from(ReportRow)).scalar_one(),
        open_reports=open_list.total,
        open_list=open_list,
    )


def reports_per_day(
    session: Session, *, now: datetime, zone: tzinfo, days: int = RECENT_DAYS
) -> dict[date, Counter[str]]:
    """Reports that reached the regency on each of the last `days` local days, by channel."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    reached = func.coalesce(ReportRow.disposed_at, ReportRow.created_at)
    out: dict[date, Counter[str]] = {first + timedelta(days=i): Counter() for i in range(days)}
    for at, channel, programme in session.execute(
        select(reached, ReportRow.channel, ReportRow.masbupsiaga).where(
            reached >= start, reached <= now
        )
    ):
        day = at.astimezone(zone).date()
        if day in out:
            out[day][channel_of(channel, bool(programme))] += 1
    return out


def by_kecamatan(
    session: Session,
    *,
    now: datetime,
    policies: SlaPolicies,
    since: datetime | None,
    until: datetime | None,
) -> list[KecamatanRow]:
    """Per kecamatan: reports (clocks of the first policy started in the period),
    open ones, and breaches (BREACHED + MET_LATE) per policy. Most breaches first."""
    state = state_expression(now).label("state")
    kec = func.coalesce(ReportRow.kecamatan, "").label("kecamatan")
    query = _period(
        select(kec, SlaClock.policy, state, func.count().label("n"))
        .join(ReportRow, ReportRow.tracking_id == SlaClock.tracking_id)
        .group_by(kec, SlaClock.policy, state),
        since,
        until,
    )
    first = next(iter(policies.policies))
    reports: Counter[str] = Counter()
    open_: Counter[str] = Counter()
    breaches: dict[str, Counter[str]] = defaultdict(Counter)
    for row in session.execute(query):
        if row.policy == first:
            reports[row.kecamatan] += row.n
            if row.state in (ClockState.ON_TRACK, ClockState.AT_RISK, ClockState.BREACHED):
                open_[row.kecamatan] += row.n
        if row.state in (ClockState.BREACHED, ClockState.MET_LATE):
            breaches[row.kecamatan][row.policy] += row.n
    rows = [
        KecamatanRow(k, reports[k], open_[k], {p: breaches[k][p] for p in policies.policies})
        for k in set(reports) | set(breaches)
    ]
    rows.sort(key=lambda r: (-sum(r.breaches.values()), -r.reports, r.kecamatan))
    return rows


def unmapped(session: Session, limit: int = 500) -> list[UnmappedRow]:
    """Open reports no rule matched (the default unit's triage queue), oldest first."""
    reached = func.coalesce(ReportRow.disposed_at, ReportRow.created_at).label("reached")
    query = (
        select(
            ReportRow.tracking_id,
            ReportRow.title,
            ReportRow.privacy,
            ReportRow.kecamatan,
            ReportRow.channel,
            ReportRow.masbupsiaga,
            reached,
        )
        .join(Assignment, Assignment.tracking_id == ReportRow.tracking_id)
        .where(
            Assignment.mapped_by == DEFAULT,
            ReportRow.transferred.is_(False),  # type: ignore[attr-defined]
            ReportRow.status.not_in(CLOSED_STATUSES),  # type: ignore[attr-defined]
        )
        .order_by(reached, ReportRow.tracking_id)
        .limit(limit)
    )
    return [
        UnmappedRow(
            tracking_id=r.tracking_id,
            title=WITHHELD if r.privacy == "RAHASIA" else r.title,
            kecamatan=r.kecamatan,
            channel=channel_of(r.channel, bool(r.masbupsiaga)),
            disposed_at=r.reached,
        )
        for r in session.execute(query)
    ]


# --- one OPD -----------------------------------------------------------------------


@dataclass(frozen=True)
class OpdPage:
    code: str
    name: str
    open: list[ReportClocks]
    late: list[ReportClocks]  # closed after a due time in the last 30 days
    record: OpdRanking | None  # the last 30 days' clocks


def opd_pages(
    session: Session,
    *,
    now: datetime,
    policies: SlaPolicies,
    mapping: Mapping,
    codes: list[str],
    open_list: Worklist | None = None,
) -> list[OpdPage]:
    """`open_list`: the open reports (overview's) when the caller has them."""
    open_list = open_list or list_report_clocks(session, now=now, policies=policies)
    cutoff = now - timedelta(days=RECENT_DAYS)
    late_list = list_report_clocks(
        session, now=now, policies=policies, state=ClockState.MET_LATE, stopped_since=cutoff
    )
    recent = rank_opds(summarize(session, now=now, policies=policies, since=cutoff), "name")
    by_opd_open: dict[str, list[ReportClocks]] = defaultdict(list)
    for r in open_list.reports:
        by_opd_open[r.opd].append(r)
    by_opd_late: dict[str, list[ReportClocks]] = defaultdict(list)
    for r in late_list.reports:
        if any(
            c.state == ClockState.MET_LATE and c.stopped_at is not None and c.stopped_at >= cutoff
            for c in r.clocks.values()
        ):
            by_opd_late[r.opd].append(r)
    records = {r.opd: r for r in recent}
    return [
        OpdPage(
            code=code,
            name=mapping.unit_names.get(code, code if code != UNASSIGNED else ""),
            open=by_opd_open.get(code, []),
            late=by_opd_late.get(code, []),
            record=records.get(code),
        )
        for code in codes
    ]


# --- one report ----------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadEntry:
    at: datetime
    who: str  # OPD | INSTANSI | PELAPOR | ADMIN
    unit: str | None
    status: str
    text: str  # WITHHELD for RAHASIA
    delivery: str | None  # ours: the outbox state


@dataclass(frozen=True)
class ReportDetail:
    tracking_id: int
    title: str
    content: str
    rahasia: bool
    status: str
    topic: str
    kecamatan: str | None
    desa: str | None
    channel: str
    classification: str
    created_at: datetime
    disposed_at: datetime | None
    transferred: bool
    clocks: ReportClocks | None
    thread: list[ThreadEntry]
    explanation: Explanation


@dataclass
class _Loaded:
    """What the store holds for one report page: the rows, before any text is built."""

    report: Any
    assignment: Any
    history: list[Any]
    thread: list[ThreadEntry]


@dataclass
class DetailReader:
    """Reads report details in bulk (500 per round of queries); the topic tree once.

    `fingerprints` reads the rows of many reports and tells, per report, a
    digest of everything its page is made from (the page itself also depends
    on the mapping files and the topic tree: see `topics_key`); `details` then
    builds the pages' facts, with the explanation, for the reports wanted
    (the site: only those whose digest changed), from the rows already read."""

    session: Session
    mapping: Mapping
    policies: SlaPolicies
    now: datetime
    earlier: bool = True  # also why each earlier rule did not match (`mappings explain`)
    _topics: tuple[dict[int, int], dict[int, str]] | None = field(default=None, init=False)
    _clocks: dict[int, ReportClocks] = field(default_factory=dict, init=False)
    _loaded: dict[int, _Loaded] = field(default_factory=dict, init=False)
    _verdicts: dict[Any, Any] = field(default_factory=dict, init=False)  # explain's cache

    def preload(self, reports: list[ReportClocks]) -> None:
        """Clocks the caller already read (the open reports), so they are not read again."""
        self._clocks.update({r.tracking_id: r for r in reports})

    @property
    def topics(self) -> tuple[dict[int, int], dict[int, str]]:
        if self._topics is None:
            self._topics = (load_topic_tree(self.session) or {}, topic_names(self.session))
        return self._topics

    def topics_key(self) -> str:
        """The topic tree and names, as text (what the report pages' topics come from)."""
        tree, names = self.topics
        return repr((sorted(tree.items()), sorted(names.items())))

    def detail(self, tracking_id: int) -> ReportDetail:
        found = list(self.details([tracking_id]))
        if not found:
            raise MappingRequestError(
                f"no report {tracking_id} in the store; check the tracking id or run "
                "`lapor-bridge sync` first"
            )
        return found[0]

    def _load(self, chunk: list[int]) -> None:
        session = self.session
        reports, assignments, history = load_for_explanation(session, chunk)
        secret = {tid for tid, r in reports.items() if r.privacy == "RAHASIA"}
        threads = threads_of(session, list(reports), secret)
        missing = [tid for tid in reports if tid not in self._clocks]
        if missing:
            self.preload(
                list_report_clocks(
                    session,
                    now=self.now,
                    policies=self.policies,
                    include_closed=True,
                    tracking_ids=missing,
                ).reports
            )
        for tid, report in reports.items():
            self._loaded[tid] = _Loaded(
                report, assignments.get(tid), history.get(tid, []), threads.get(tid, [])
            )
        session.expunge_all()

    def fingerprints(self, tracking_ids: Sequence[int]) -> dict[int, str]:
        """Per report found: a digest of the rows its page shows (clocks without
        their time left, which the page does not show and which changes every run)."""
        ids = list(tracking_ids)
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = [tid for tid in ids[start : start + 500] if tid not in self._loaded]
            if chunk:
                self._load(chunk)
            for tid in ids[start : start + 500]:
                loaded = self._loaded.get(tid)
                if loaded is None:
                    continue
                a, c = loaded.assignment, self._clocks.get(tid)
                r = loaded.report
                # a RAHASIA report's text stays out of the digest too (the digest is
                # kept beside the pages); its version tells when LAPOR! changed it
                text = (WITHHELD, WITHHELD) if r.privacy == "RAHASIA" else (r.title, r.content)
                key = (
                    text,
                    tuple(v for k, v in r._mapping.items() if k not in ("title", "content")),
                    None if a is None else (a.opd, a.mapped_by, a.reason, a.assigned_at, a.assigned_by),
                    [(h.id, h.at, h.actor, h.from_opd, h.to_opd, h.mapped_by, h.reason) for h in loaded.history],
                    loaded.thread,
                    None if c is None else (c.opd, [(p, k.state, k.cycle, k.started_at, k.due_at, k.stopped_at) for p, k in c.clocks.items()]),
                )  # fmt: skip
                out[tid] = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
        return out

    def forget(self, tracking_ids: Sequence[int]) -> None:
        """Drop the rows read for these reports (their pages need no building)."""
        for tid in tracking_ids:
            self._loaded.pop(tid, None)

    def details(self, tracking_ids: Sequence[int]) -> Iterator[ReportDetail]:
        ids = list(tracking_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            unread = [tid for tid in chunk if tid not in self._loaded]
            if unread:
                self._load(unread)
            for tid in chunk:
                loaded = self._loaded.pop(tid, None)
                if loaded is None:
                    continue
                report = loaded.report
                why = explanation_of(
                    self.mapping,
                    report,
                    loaded.assignment,
                    loaded.history,
                    self.topics,
                    self.earlier,
                    self._verdicts,
                )
                rahasia = report.privacy == "RAHASIA"
                yield ReportDetail(
                    tracking_id=tid,
                    title=WITHHELD if rahasia else report.title,
                    content=WITHHELD if rahasia else report.content,
                    rahasia=rahasia,
                    status=report.status,
                    topic=why.topic,
                    kecamatan=report.kecamatan,
                    desa=report.desa,
                    channel=channel_of(report.channel, report.masbupsiaga),
                    classification=report.classification,
                    created_at=report.created_at,
                    disposed_at=report.disposed_at,
                    transferred=report.transferred,
                    clocks=self._clocks.get(tid),
                    thread=loaded.thread,
                    explanation=why,
                )


def threads_of(
    session: Session, tracking_ids: Sequence[int], rahasia: set[int]
) -> dict[int, list[ThreadEntry]]:
    """Each report's thread: ours (tindak lanjut with their delivery state), the
    answers made on the LAPOR! site, the citizen's replies; oldest first. Echoes
    of ours are skipped; the text of a RAHASIA report's entries is withheld."""
    out: dict[int, list[ThreadEntry]] = defaultdict(list)
    for t in session.execute(
        select(
            TindakLanjut.tracking_id,
            TindakLanjut.created_at,
            TindakLanjut.opd,
            TindakLanjut.status,
            TindakLanjut.content,
            TindakLanjut.state,
        ).where(TindakLanjut.tracking_id.in_(tracking_ids))  # type: ignore[attr-defined]
    ):
        out[t.tracking_id].append(
            ThreadEntry(
                at=t.created_at,
                who="OPD",
                unit=t.opd,
                status=t.status,
                text=WITHHELD if t.tracking_id in rahasia else t.content,
                delivery=t.state,
            )
        )
    for f in session.execute(
        select(
            UpstreamFollowUpRow.tracking_id,
            UpstreamFollowUpRow.created_at,
            UpstreamFollowUpRow.author,
            UpstreamFollowUpRow.unit,
            UpstreamFollowUpRow.status,
            UpstreamFollowUpRow.content,
        ).where(
            UpstreamFollowUpRow.tracking_id.in_(tracking_ids),  # type: ignore[attr-defined]
            UpstreamFollowUpRow.is_echo.is_(False),  # type: ignore[attr-defined]
        )
    ):
        out[f.tracking_id].append(
            ThreadEntry(
                at=f.created_at,
                who=f.author,
                unit=f.unit,
                status=f.status,
                text=WITHHELD if f.tracking_id in rahasia else f.content,
                delivery=None,
            )
        )
    for entries in out.values():
        entries.sort(key=lambda e: e.at)
    return out
