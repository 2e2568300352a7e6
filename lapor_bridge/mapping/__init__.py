"""Routing reports to the responsible OPD from the YAML files in `mappings/`.

Load and check the mapping with `load_mapping` (units.yaml and rules.yaml,
read through lapor_bridge.yamlfiles like every file of `mappings/`; the
schema is in schema.py, the checks across files in checks.py, the plain
objects in model.py, routing one report in match.py); route stored reports with
`assign_reports` (the sync, per page) or a full remap; override by hand with
`assign_manual`; see why with `explain`; watch coverage with `mapping_status`.
"""

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
