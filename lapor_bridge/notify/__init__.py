"""Notifications and escalation: tell each OPD liaison, its head, the
coordinator and the Regent's office, in time, exactly once, in Indonesian.

escalation.py reads mappings/escalation.yaml (who is told at which point),
channels.py handles apprise URLs (placeholders expanded only when sending,
secrets masked), events.py decides events from stored facts (in the
transaction of the change), compose.py turns each recipient's events into one
message, deliver.py sends it to each channel through apprise, service.py runs
the three after a pull and for `lapor-bridge notify`, commands.py prints for
the CLI, loopback.py is the demo's receiver.

`record_events` is imported from events.py at first use, so that importing
one module of the package (e.g. commands.py for `status`) loads only it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lapor_bridge.lazy import lazy_names

if TYPE_CHECKING:
    from lapor_bridge.notify.events import record_events

__all__ = ["record_events"]


__getattr__ = lazy_names(__name__, globals(), {"record_events": "events"})
