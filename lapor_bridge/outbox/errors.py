"""Errors of the outbox commands: each says what went wrong and what to do."""

from __future__ import annotations

from lapor_bridge.errors import BridgeError


class InvalidFollowUp(BridgeError):
    """A follow-up cannot be recorded (bad input, or the report cannot take one)."""


class InvalidCsv(BridgeError):
    """The CSV file as a whole cannot be read; nothing was recorded."""


class OutboxCommandError(BridgeError):
    """An admin command on the outbox cannot be done (no such item, wrong state)."""
