"""`mappings/escalation.yaml`: who is told at which point of which SLA policy.

Read with lapor_bridge.yamlfiles like every file of `mappings/` (line numbers,
strict schema, one `file:line: what. fix` per problem) and checked against the
units and the SLA policies. A missing file means the shipped defaults (DEFAULT_LEVELS).

    recipients:                  # named recipients beyond the units
      bupati: {name: Kantor Bupati, notify: ["mailtos://..."]}
    levels:                      # each: a point of a clock and who is told
      - {id: hampir-terlambat, at: at_risk, notify: [unit]}
      - {id: terlambat, at: breached, notify: [unit, head]}
      - {id: terlambat-24-jam, at: breached, after_hours: 24, notify: [coordinator, bupati]}
    digest_at: "07:00"           # the daily digest per unit, local time

Targets: `unit` (the report's assigned unit), `head` (that unit's
`notify_head:`), `coordinator` (the default unit of units.yaml), a unit code,
or a name under `recipients:`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from lapor_bridge.mapping import loader
from lapor_bridge.mapping.model import Mapping, MappingIssue
from lapor_bridge.mapping.schema import EXAMPLES, RULE_ID, StrList, _Strict, did_you_mean
from lapor_bridge.yamlfiles import raise_if_errors, read_yaml, validate

ESCALATION_FILE = "escalation.yaml"
TARGETS = ("unit", "head", "coordinator")
_TIME = re.compile(r"^([01]?[0-9]|2[0-3])[:.]([0-5][0-9])$")

EXAMPLES.update(
    {
        "levels": "levels: followed by items `- id: terlambat`",
        "at": "at: breached (or at_risk)",
        "after_hours": "after_hours: 24",
        "policy": "policy: [bupati-24h]",
        "recipients": "recipients: {bupati: {name: Kantor Bupati, notify: [...]}}",
        "digest_at": 'digest_at: "07:00"',
    }
)


class RecipientSpec(_Strict):
    name: StrictStr = Field(min_length=1)
    notify: StrList = None


class LevelSpec(_Strict):
    id: StrictStr
    at: Literal["at_risk", "breached"]
    after_hours: StrictInt | StrictFloat = 0
    policy: StrList = None
    notify: list[StrictStr] = Field(min_length=1)
    note: StrictStr | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise PydanticCustomError(
                "mapping_value",
                "level id `{value}` has spaces or other signs",
                {"value": value, "fix": "use letters, digits, - _ . only, e.g. `terlambat-24-jam`"},
            )
        return value

    @field_validator("after_hours")
    @classmethod
    def _after(cls, value: float) -> float:
        if value < 0:
            raise PydanticCustomError(
                "mapping_value",
                "after_hours {value} is negative",
                {"value": value, "fix": "write hours after the point, e.g. `after_hours: 24`"},
            )
        return value


class EscalationFile(_Strict):
    recipients: dict[StrictStr, Any] | None = None
    levels: list[Any] = Field(min_length=1)
    digest_at: StrictStr = "07:00"


@dataclass(frozen=True)
class Recipient:
    name: str  # the key under recipients:
    title: str
    notify: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Level:
    id: str
    at: str  # at_risk | breached
    after_hours: float
    policies: frozenset[str] | None  # None: every policy
    notify: tuple[str, ...]
    line: int = 0

    def applies_to(self, policy: str) -> bool:
        return self.policies is None or policy in self.policies


@dataclass(frozen=True)
class Escalation:
    levels: tuple[Level, ...]
    recipients: dict[str, Recipient]
    digest_at: time
    file: str | None  # None: the built-in defaults
    warnings: tuple[MappingIssue, ...] = ()


DEFAULT_LEVELS = (
    Level("hampir-terlambat", "at_risk", 0, None, ("unit",)),
    Level("terlambat", "breached", 0, None, ("unit", "head")),
    Level("terlambat-24-jam", "breached", 24, None, ("coordinator",)),
)

_cache: dict[tuple[str, int, int, str], Escalation] = {}


def load_escalation(
    mappings_dir: Path, mapping: Mapping, policies: tuple[str, ...] | None = None
) -> Escalation:
    """The escalation of `mappings_dir`, checked against the mapping's units and
    the policy names. Raises MappingFilesInvalid listing every error."""
    path = Path(mappings_dir) / ESCALATION_FILE
    if not path.is_file():
        return Escalation(DEFAULT_LEVELS, {}, time(7, 0), None)
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, ",".join(sorted(mapping.units)))
    cached = _cache.get(key)
    if cached is not None and policies is None:
        return cached
    sink = loader._Issues()
    result = _read(path, mapping, policies, sink)
    raise_if_errors(f"the escalation file {path}", sink.issues)
    assert result is not None
    _cache[key] = result
    return result


def _read(
    path: Path, mapping: Mapping, policies: tuple[str, ...] | None, sink: Any
) -> Escalation | None:
    file = str(path)
    document, issues = read_yaml(path, start=EXAMPLES["levels"])
    sink.issues.extend(issues)
    if document is None:
        return None
    top, issues = validate(document, EscalationFile, examples=EXAMPLES)
    sink.issues.extend(issues)
    if top is None:
        return None
    recipients: dict[str, Recipient] = {}
    for name in top.recipients or {}:
        loc = ("recipients", name)
        spec, issues = validate(
            document, RecipientSpec, document.root["recipients"][name], loc=loc, examples=EXAMPLES
        )
        sink.issues.extend(issues)
        if spec is None:
            continue
        lines = document.lines_under(loc)
        written = loader._written(spec.notify, "notify", lines, document.line_at(loc))
        for url, line in written:
            _url_issue(url, file, line, sink)
        recipients[name] = Recipient(name, spec.name, written)
    levels: list[Level] = []
    seen: set[str] = set()
    for index, item in enumerate(document.root["levels"]):
        loc = ("levels", index)
        line = document.line_at(loc)
        spec_level, issues = validate(document, LevelSpec, item, loc=loc, examples=EXAMPLES)
        sink.issues.extend(issues)
        if spec_level is None:
            continue
        lines = document.lines_under(loc)
        if spec_level.id in seen:
            sink.error(file, line, f"level id `{spec_level.id}` is used twice", "rename one")
        seen.add(spec_level.id)
        for i, target in enumerate(spec_level.notify):
            if target in TARGETS or target in mapping.units or target in recipients:
                continue
            choices = [*TARGETS, *mapping.units, *recipients]
            hint = did_you_mean(target, choices)
            sink.error(
                file,
                lines.get(f"notify.{i}", line),
                f"unknown recipient `{target}`",
                f"did you mean `{hint}`?"
                if hint
                else f"use unit, head, coordinator, a unit code or a name under recipients: ({', '.join(recipients) or 'none yet'})",
            )
        for i, name in enumerate(spec_level.policy or ()):
            if policies is not None and name not in policies:
                hint = did_you_mean(name, list(policies))
                sink.error(
                    file,
                    lines.get(f"policy.{i}", line),
                    f"unknown SLA policy `{name}`",
                    f"did you mean `{hint}`?" if hint else f"use one of {', '.join(policies)}",
                )
        levels.append(
            Level(
                spec_level.id,
                spec_level.at,
                float(spec_level.after_hours),
                frozenset(spec_level.policy) if spec_level.policy else None,
                tuple(spec_level.notify),
                line,
            )
        )
    match = _TIME.match(top.digest_at.strip())
    if match is None:
        sink.error(
            file,
            document.line_at(("digest_at",)),
            f"digest_at `{top.digest_at}` is not a time of day",
            'write it like `digest_at: "07:00"` (local time, 24 h)',
        )
        return None
    warnings = tuple(i for i in sink.issues if i.severity == "warning")
    return Escalation(
        tuple(levels),
        recipients,
        time(int(match.group(1)), int(match.group(2))),
        file,
        warnings,
    )


def _url_issue(url: str, file: str, line: int, sink: Any) -> None:
    from lapor_bridge.notify.channels import url_problem

    problem = url_problem(url, os.environ)
    if problem is not None:
        severity, message, fix = problem
        sink.add(MappingIssue(file, line, severity, message, fix))  # type: ignore[arg-type]
