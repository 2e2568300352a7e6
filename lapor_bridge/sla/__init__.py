"""SLA clocks: policies, the working-day calendar, clock rules, stored clocks, views.

policy.py reads `mappings/sla.yaml` through lapor_bridge.yamlfiles (a broken
file: every problem with file:line, exit 3); clock.py computes one report's
clock from its ClockFacts (pure); refresh.py stores the clocks; views.py
derives the states in SQL.

Public entry points:
    load_policies(path) / default_policies(mappings_dir) -> SlaPolicies
    refresh_clocks(session, tracking_ids, *, now, policies) -> int
    views.state_expression(now, clock=SlaClock) -> SQL expression of the state
"""

from lapor_bridge.sla.calendar import WorkingCalendar
from lapor_bridge.sla.clock import Clock, ClockFacts, ClockState, StopReason, compute_clock
from lapor_bridge.sla.policy import Policy, SlaPolicies, default_policies, load_policies
from lapor_bridge.sla.refresh import refresh_clocks

__all__ = [
    "Clock",
    "ClockFacts",
    "ClockState",
    "Policy",
    "SlaPolicies",
    "StopReason",
    "WorkingCalendar",
    "compute_clock",
    "default_policies",
    "load_policies",
    "refresh_clocks",
]
