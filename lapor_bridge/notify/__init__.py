"""Notifications and escalation: tell each OPD liaison, its head, the
coordinator and the Regent's office, in time, exactly once, in Indonesian.

escalation.py reads mappings/escalation.yaml (who is told at which point),
channels.py handles apprise URLs (placeholders expanded only when sending,
secrets masked), events.py decides events from stored facts (in the
transaction of the change), compose.py turns each recipient's events into one
message, deliver.py sends it to each channel through apprise, service.py runs
the three after a pull and for `lapor-bridge notify`, commands.py prints for
the CLI, loopback.py is the demo's receiver.
"""

from lapor_bridge.notify.events import record_events

__all__ = ["record_events"]
