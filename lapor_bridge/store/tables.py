"""Every table of the local store, one section per concern.

Times are aware UTC in Python and naive UTC in the database (UTCDateTime).
`raw` columns keep the upstream record as received (unknown fields too),
except what the bridge must not keep: an ANONIM reporter is removed before
anything is stored. RAHASIA content stays here and never leaves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from lapor_bridge.store.types import JSONText, UTCDateTime


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONText(), nullable=nullable))


def _partial_index(name: str, column: str, *, where: str) -> Index:
    """An index of the rows matching `where`, on both engines."""
    return Index(name, column, sqlite_where=text(where), postgresql_where=text(where))


class _Table(SQLModel):
    """The base of every table: pydantic builds a table's validator and serializer
    at its first use (a table row is made without validation), not at import."""

    model_config = SQLModelConfig(defer_build=True)


# --- the store itself --------------------------------------------------------


class StoreMeta(_Table, table=True):
    """One row: what this store is and whom it serves. Its presence marks a
    lapor-bridge store; the instansi and API are recorded by the first command
    that talks to LAPOR!, and another instansi or API is refused afterwards."""

    __tablename__ = "store_meta"
    __table_args__ = (CheckConstraint("id = 1", name="ck_store_meta_one_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    instansi_id: int | None = None
    api_url: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _time()
    bound_at: datetime | None = _time(nullable=True)


# --- pull ------------------------------------------------------------------


class TopicRow(_Table, table=True):
    __tablename__ = "topic"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    parent: int = Field(index=True)
    name: str
    synced_at: datetime = _time()


class ReportRow(_Table, table=True):
    """The newest version of each report that was ever disposed to the regency."""

    __tablename__ = "report"
    # every sync's time pass asks which reports left the regency lately (0006)
    __table_args__ = (
        Index("ix_report_updated_at", "updated_at"),
        Index("ix_report_status", "status"),
        _partial_index(
            "ix_report_transferred_at", "transferred_at", where="transferred_at IS NOT NULL"
        ),
    )

    tracking_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int
    title: str = Field(sa_column=Column(Text, nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    topic_id: int | None = Field(default=None, index=True)
    classification: str
    privacy: str
    channel: str
    status: str
    instansi_id: int
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    kecamatan: str | None = None
    desa: str | None = None
    tags: list[str] | None = _json()
    masbupsiaga: bool = False
    created_at: datetime = _time()
    disposed_at: datetime | None = _time(nullable=True)
    updated_at: datetime = _time()
    transferred: bool = False
    transferred_at: datetime | None = _time(nullable=True)
    raw: dict[str, Any] = _json(nullable=False)
    first_seen_at: datetime = _time()
    last_synced_at: datetime = _time()


class UpstreamFollowUpRow(_Table, table=True):
    """A follow-up as LAPOR! lists it: the regency's (echoes), the citizen's, the admin's."""

    __tablename__ = "upstream_followup"
    # every sync's time pass asks which citizens replied lately (0006)
    __table_args__ = (
        _partial_index(
            "ix_upstream_followup_pelapor_seen", "first_seen_at", where="author = 'PELAPOR'"
        ),
    )

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    tracking_id: int = Field(index=True)
    author: str
    status: str
    content: str = Field(sa_column=Column(Text, nullable=False))
    unit: str | None = None
    external_ref: str | None = Field(default=None, index=True)
    is_echo: bool = False  # external_ref is one of ours: our own pushed answer coming back
    created_at: datetime = _time()
    first_seen_at: datetime = _time()


class SyncCheckpoint(_Table, table=True):
    """High-water mark of a pull stream of one instansi: every change with
    updated_at < high_water that was visible when read is stored. Written in the
    same transaction as the page it covers."""

    __tablename__ = "sync_checkpoint"

    instansi_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(primary_key=True)  # "incremental"
    high_water: datetime = _time()
    window_to: datetime | None = _time(nullable=True)  # end of the window in progress
    updated_at: datetime = _time()


class BackfillRun(_Table, table=True):
    """A bounded backfill of [since, until), walked in windows, resumable."""

    __tablename__ = "backfill_run"

    id: int | None = Field(default=None, primary_key=True)
    since: datetime = _time()
    until: datetime = _time()
    position: datetime = _time()  # everything in [since, position) is done
    window_s: int
    done: bool = False
    fetched: int = 0
    started_at: datetime = _time()
    finished_at: datetime | None = _time(nullable=True)


class Quarantine(_Table, table=True):
    """A record that failed validation: kept with its raw JSON and the reason."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("digest", name="uq_quarantine_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: str  # sha256 of the raw record, so a replay counts instead of duplicating
    tracking_id: int | None = Field(default=None, index=True)
    version: int | None = None
    source: str  # "listing", "topics", ...
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: Any = _json(nullable=False)
    first_seen_at: datetime = _time()
    last_seen_at: datetime = _time()
    times_seen: int = 1
    resolved_at: datetime | None = _time(nullable=True)  # a later valid version arrived


class SyncRun(_Table, table=True):
    """One run of a job (sync, backfill, push, remap, notify), written by
    lapor_bridge.job whatever ended it, refusals included."""

    __tablename__ = "sync_run"
    __table_args__ = (Index("ix_sync_run_kind_started", "kind", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # the job: sync | backfill | push | remap | notify
    started_at: datetime = _time()
    finished_at: datetime | None = _time(nullable=True)
    ok: bool | None = None  # the work was done (outcome ok or partial); None while running
    outcome: str | None = None  # ok | partial | failed | refused | interrupted; None while running
    exit_status: int | None = None  # the process exit status it ended with
    host: str | None = None
    summary: dict[str, Any] | None = _json()
    error: str | None = Field(default=None, sa_column=Column(Text))  # one line, never data


# --- mapping ---------------------------------------------------------------


class Assignment(_Table, table=True):
    """Which OPD answers a report now, and why (written by lapor_bridge.mapping only).

    A manual assignment (mapped_by "manual") is never changed by the rules;
    a transferred report keeps its last assignment and is not remapped.
    """

    __tablename__ = "assignment"

    tracking_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    opd: str = Field(index=True)
    co_opd: list[str] | None = _json()
    complex: bool = False
    mapped_by: str = Field(index=True)  # "rule:<id>", "manual" or "default"
    reason: str | None = Field(default=None, sa_column=Column(Text))
    assigned_at: datetime = _time()
    assigned_by: str | None = None  # "sync", "remap", or the admin's name


class AssignmentHistory(_Table, table=True):
    """Every change of assignment: who or what, when, from, to, why."""

    __tablename__ = "assignment_history"

    id: int | None = Field(default=None, primary_key=True)
    tracking_id: int = Field(index=True)
    at: datetime = _time()
    actor: str  # "sync", "remap", or the admin's name for manual assignments
    from_opd: str | None = None
    from_mapped_by: str | None = None
    to_opd: str
    mapped_by: str
    co_opd: list[str] | None = _json()
    complex: bool = False
    reason: str | None = Field(default=None, sa_column=Column(Text))


# --- SLA -------------------------------------------------------------------


class SlaClock(_Table, table=True):
    """One clock of one report under one policy (the current cycle).

    No state is stored: ON_TRACK/AT_RISK/BREACHED change with time, so the
    state is derived at query time from now, due_at, at_risk_at, stopped_at
    and stop_reason (lapor_bridge.sla.views.state_expression).
    """

    __tablename__ = "sla_clock"
    # the views scan and group (states are CASE expressions); `--since` uses the
    # first; every sync's time pass reads open clocks by due / at-risk time (0005)
    __table_args__ = (
        Index("ix_sla_clock_started", "started_at"),
        _partial_index("ix_sla_clock_open_due", "due_at", where="stopped_at IS NULL"),
        _partial_index("ix_sla_clock_open_at_risk", "at_risk_at", where="stopped_at IS NULL"),
    )

    tracking_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    policy: str = Field(primary_key=True)
    cycle: int = 1  # grows when a citizen's reply reopens a settled report
    started_at: datetime = _time()
    due_at: datetime = _time()
    at_risk_at: datetime = _time()
    stopped_at: datetime | None = _time(nullable=True)
    stop_reason: str | None = None  # FOLLOWUP SETTLED SEEN_CLOSED TRANSFERRED; None while running
    elapsed_s: int | None = None  # stopped_at - started_at in seconds (for medians in SQL)
    computed_at: datetime = _time()


# --- push (transactional outbox) -------------------------------------------


class TindakLanjut(_Table, table=True):
    """A local follow-up written by an OPD, and its delivery state upstream.

    The row is the follow-up and its outbox entry at once, so writing one is
    queueing it (one transaction). Items of one report are delivered in `id`
    order; see lapor_bridge/outbox/states.py for the state machine.
    """

    __tablename__ = "tindak_lanjut"
    __table_args__ = (
        UniqueConstraint("external_ref", name="uq_tindak_lanjut_external_ref"),
        Index("ix_tindak_lanjut_state_next", "state", "next_attempt_at"),
        Index("ix_tindak_lanjut_report_order", "tracking_id", "id"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')",
            name="ck_tindak_lanjut_state",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tracking_id: int
    external_ref: str  # lb-<instansi>-<uuid4 hex>, fixed at write time
    opd: str
    unit: str | None = None  # the OPD's name sent to LAPOR! as `unit` (None: the code)
    status: str  # DIPROSES | SELESAI
    content: str = Field(sa_column=Column(Text, nullable=False))
    attachments: list[dict[str, Any]] | None = _json()
    created_at: datetime = _time()  # the local follow-up time: SLA clocks stop here
    created_by: str | None = None
    state: str = "pending"  # pending sending sent failed dead cancelled
    attempts: int = 0  # delivery attempts since it was written or last retried by an admin
    next_attempt_at: datetime | None = _time(nullable=True)
    lease_until: datetime | None = _time(nullable=True)  # while `sending`
    lease_owner: str | None = None  # the push worker holding the lease
    last_attempt_at: datetime | None = _time(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_status: int | None = None  # HTTP status of a final refusal (409, 422, ...)
    errors: list[str] | None = _json()  # the server's `errors` of a final refusal
    uncertain: bool = False  # the last attempt may have reached the server: reconcile first
    upstream_id: int | None = None
    sent_at: datetime | None = _time(nullable=True)
    note: str | None = Field(default=None, sa_column=Column(Text))  # admin retries/cancels


# --- notifications (transactional outbox of messages) -------------------------


class NotifyEvent(_Table, table=True):
    """Something one recipient must be told, decided from stored facts.

    The natural key (kind, ref, recipient) makes an event for one recipient
    exist once: deciding it again (a replayed page, a crash) inserts nothing.
    `ref` names the fact: an assignment_history id, an upstream follow-up id,
    `policy:cycle:level` of a clock, ... `quiet` events (backfill, the first
    sync of a new store) are only counted in a summary, never listed.
    """

    __tablename__ = "notify_event"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "recipient", name="uq_notify_event_key"),
        Index("ix_notify_event_unbatched", "batch_id", "recipient"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # assigned moved_away at_risk breached escalated reply reopened transferred admin_*
    recipient: str  # a unit code, "<CODE>/head", or "@<name>" (escalation.yaml, "@admin")
    ref: str
    tracking_id: int | None = Field(default=None, index=True)
    policy: str | None = None
    detail: dict[str, Any] | None = _json()  # codes and numbers only, never report text
    occurred_at: datetime = _time()
    created_at: datetime = _time()
    quiet: bool = False
    batch_id: int | None = None  # the message that told it (None: not yet composed)


class NotifyBatch(_Table, table=True):
    """One message for one recipient, composed once (text fixed at composition),
    delivered to each of the recipient's channels by a NotifyMessage."""

    __tablename__ = "notify_batch"
    __table_args__ = (UniqueConstraint("key", name="uq_notify_batch_key"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(index=True)
    kind: str  # update | digest | test | admin
    key: str | None = None  # digest:<unit>:<local date>: one digest a day
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    tracking_ids: list[int] | None = _json()
    events: int = 0
    created_at: datetime = _time()


class NotifyMessage(_Table, table=True):
    """The delivery of one batch to one channel (an apprise URL), with its state.

    `channel` is a fingerprint of the URL as written (placeholders unexpanded);
    `channel_label` is the URL with secrets masked. Expanded URLs are never stored.
    """

    __tablename__ = "notify_message"
    __table_args__ = (
        UniqueConstraint("batch_id", "channel", name="uq_notify_message_channel"),
        Index("ix_notify_message_state_next", "state", "next_attempt_at"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')",
            name="ck_notify_message_state",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(index=True)
    recipient: str = Field(index=True)
    channel: str
    channel_label: str
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = _time(nullable=True)
    lease_owner: str | None = None
    lease_until: datetime | None = _time(nullable=True)
    last_attempt_at: datetime | None = _time(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    uncertain: bool = False  # the last attempt may have been handed over
    repeats: int = 0  # times sent again after an uncertain outcome (each recorded in note)
    created_at: datetime = _time()
    sent_at: datetime | None = _time(nullable=True)
    note: str | None = Field(default=None, sa_column=Column(Text))


class NotifyWatermark(_Table, table=True):
    """How far the event decisions have read a growing table (e.g. assignment_history)."""

    __tablename__ = "notify_watermark"

    name: str = Field(primary_key=True)
    last_id: int = 0
    last_at: datetime | None = _time(nullable=True)
