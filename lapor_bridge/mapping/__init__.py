"""Routing reports to the responsible OPD from the YAML files in `mappings/`.

Load and check the mapping with `load_mapping` (units.yaml and rules.yaml,
read through lapor_bridge.yamlfiles like every file of `mappings/`; the
schema is in schema.py, the checks across files in checks.py, the plain
objects in model.py, routing one report in match.py); route stored reports with
`assign_reports` (the sync, per page) or a full remap; override by hand with
`assign_manual`; see why with `explain`; watch coverage with `mapping_status`.

Each name below is imported from its module at first use (`from
lapor_bridge.mapping import load_mapping` loads the loader, not the routing
and the store's tables), so a command loads only what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lapor_bridge.lazy import lazy_names

if TYPE_CHECKING:
    from lapor_bridge.mapping.apply import (
        AssignmentChange,
        MappingRequestError,
        Move,
        RemapResult,
        assign_manual,
        assign_reports,
        unassign_manual,
    )
    from lapor_bridge.mapping.channel import is_masbupsiaga, strip_keyword
    from lapor_bridge.mapping.loader import load_mapping
    from lapor_bridge.mapping.model import Mapping, MappingIssue, Rule, Unit
    from lapor_bridge.mapping.topics import load_topic_tree
    from lapor_bridge.yamlfiles import MappingFilesInvalid

_MODULE_OF = {
    "AssignmentChange": "lapor_bridge.mapping.apply",
    "MappingRequestError": "lapor_bridge.mapping.apply",
    "Move": "lapor_bridge.mapping.apply",
    "RemapResult": "lapor_bridge.mapping.apply",
    "assign_manual": "lapor_bridge.mapping.apply",
    "assign_reports": "lapor_bridge.mapping.apply",
    "unassign_manual": "lapor_bridge.mapping.apply",
    "is_masbupsiaga": "lapor_bridge.mapping.channel",
    "strip_keyword": "lapor_bridge.mapping.channel",
    "load_mapping": "lapor_bridge.mapping.loader",
    "Mapping": "lapor_bridge.mapping.model",
    "MappingIssue": "lapor_bridge.mapping.model",
    "Rule": "lapor_bridge.mapping.model",
    "Unit": "lapor_bridge.mapping.model",
    "load_topic_tree": "lapor_bridge.mapping.topics",
    "MappingFilesInvalid": "lapor_bridge.yamlfiles",
}


__getattr__ = lazy_names(__name__, globals(), _MODULE_OF)


__all__ = [
    "AssignmentChange",
    "Mapping",
    "MappingFilesInvalid",
    "MappingIssue",
    "MappingRequestError",
    "Move",
    "RemapResult",
    "Rule",
    "Unit",
    "assign_manual",
    "assign_reports",
    "is_masbupsiaga",
    "load_mapping",
    "load_topic_tree",
    "strip_keyword",
    "unassign_manual",
]
