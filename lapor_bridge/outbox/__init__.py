"""Push: local follow-ups (tindak lanjut) delivered to LAPOR! exactly once,
in order per report, through a transactional outbox.

respond.py  capture: writing a follow-up is queueing it (one row, one transaction)
states.py   the pure state machine and backoff
claim.py    claiming with a lease (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite)
push.py     delivery: reconcile uncertain items, post, record the outcome
echoes.py   our own follow-ups coming back in pulls
admin.py    the outbox view, retry/cancel, stuck items, citizens' replies
"""

from lapor_bridge.outbox.admin import (
    OutboxRow,
    ReplyRow,
    cancel_item,
    list_outbox,
    list_replies,
    retry_items,
    stuck_items,
)
from lapor_bridge.outbox.echoes import reconcile_echoes
from lapor_bridge.outbox.push import PushSummary, push_outbox, run_push
from lapor_bridge.outbox.respond import (
    CsvImport,
    import_csv,
    record_follow_up,
    record_tindak_lanjut,
)
from lapor_bridge.outbox.states import OutboxState

__all__ = [
    "CsvImport",
    "OutboxRow",
    "OutboxState",
    "PushSummary",
    "ReplyRow",
    "cancel_item",
    "import_csv",
    "list_outbox",
    "list_replies",
    "push_outbox",
    "reconcile_echoes",
    "record_follow_up",
    "record_tindak_lanjut",
    "retry_items",
    "run_push",
    "stuck_items",
]
