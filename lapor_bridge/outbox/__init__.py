"""Push: local follow-ups (tindak lanjut) delivered to LAPOR! exactly once,
in order per report, through a transactional outbox.

respond.py  capture: a TindakLanjutDraft checked and queued (one row, one transaction)
csv_import.py  many follow-ups from a spreadsheet, each bad row reported with its line
states.py   the pure state machine and backoff
claim.py    claiming with a lease (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite)
push.py     delivery: reconcile uncertain items, post, record the outcome
echoes.py   our own follow-ups coming back in pulls
admin.py    the outbox view, retry/cancel, stuck items, citizens' replies

Each name below is imported from its module at first use (`from
lapor_bridge.outbox import stuck_items` loads admin.py, not the push and its
client models), so a command loads only what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lapor_bridge.lazy import lazy_names

if TYPE_CHECKING:
    from lapor_bridge.outbox.admin import (
        OutboxRow,
        ReplyRow,
        cancel_item,
        list_outbox,
        list_replies,
        retry_items,
        stuck_items,
    )
    from lapor_bridge.outbox.csv_import import CsvImport, import_csv
    from lapor_bridge.outbox.echoes import reconcile_echoes
    from lapor_bridge.outbox.push import PushSummary, push_outbox, run_push
    from lapor_bridge.outbox.respond import (
        TindakLanjutDraft,
        record_follow_up,
        record_tindak_lanjut,
    )
    from lapor_bridge.outbox.states import OutboxState

_MODULE_OF = {
    "OutboxRow": "admin",
    "ReplyRow": "admin",
    "cancel_item": "admin",
    "list_outbox": "admin",
    "list_replies": "admin",
    "retry_items": "admin",
    "stuck_items": "admin",
    "CsvImport": "csv_import",
    "import_csv": "csv_import",
    "reconcile_echoes": "echoes",
    "PushSummary": "push",
    "push_outbox": "push",
    "run_push": "push",
    "TindakLanjutDraft": "respond",
    "record_follow_up": "respond",
    "record_tindak_lanjut": "respond",
    "OutboxState": "states",
}


__getattr__ = lazy_names(__name__, globals(), _MODULE_OF)


__all__ = [
    "CsvImport",
    "OutboxRow",
    "OutboxState",
    "PushSummary",
    "ReplyRow",
    "TindakLanjutDraft",
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
