"""The loaded mapping: units, ordered rules, the default unit, and the
problems found while loading. Plain frozen dataclasses, built only by the
loader; every unit, rule and field knows the file and line it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lapor_bridge.yamlfiles import MappingIssue

# The dimensions a rule can match on, in the order they are checked and shown.
DIMENSIONS: tuple[str, ...] = (
    "topic",
    "kecamatan",
    "desa",
    "channel",
    "classification",
    "keyword",
)

CHANNELS: tuple[str, ...] = ("WEB", "SMS", "TWITTER", "APP", "INTEGRASI", "MASBUPSIAGA")
CLASSIFICATIONS: tuple[str, ...] = ("PENGADUAN", "ASPIRASI", "PERMINTAAN_INFORMASI")

MANUAL = "manual"
DEFAULT = "default"
RULE_PREFIX = "rule:"


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str | None
    email: str | None
    role: str | None


@dataclass(frozen=True)
class Unit:
    """An OPD, a kecamatan office, or the coordinator's triage queue."""

    code: str
    name: str
    kind: str  # opd | kecamatan | koordinator
    kecamatan: str | None  # the kecamatan a kecamatan office serves (as written)
    liaison: tuple[Contact, ...]
    file: str
    line: int
    # apprise URLs as written, each with its line: the liaison's, and the head's
    notify: tuple[tuple[str, int], ...] = ()
    notify_head: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Rule:
    """One routing rule. Values are normalised for matching: kecamatan/desa
    and keywords folded (see text.py), channel/classification upper case.

    An empty set means the rule does not look at that dimension. Different
    dimensions are AND-ed, the values of one dimension OR-ed.
    """

    id: str
    position: int  # 1-based order in rules.yaml
    opd: str
    complex: bool
    co_opd: tuple[str, ...]
    topic: frozenset[int]
    kecamatan: frozenset[str]
    desa: frozenset[str]
    channel: frozenset[str]
    classification: frozenset[str]
    keyword: tuple[str, ...]  # folded phrases, as written order
    keyword_words: tuple[str, ...]  # the one-word keywords, in order (fast path)
    keyword_phrases: tuple[str, ...]  # the multi-word keywords
    note: str | None
    file: str
    line: int
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # "when.topic.0" -> line
    # each dimension's values (and co_opd) as written in the file, with their lines
    sources: dict[str, tuple[tuple[Any, int], ...]] = field(default_factory=dict, compare=False)

    @property
    def mapped_by(self) -> str:
        return f"{RULE_PREFIX}{self.id}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def conditions(self) -> dict[str, tuple[str | int, ...]]:
        """The dimensions this rule looks at, with their values (for display)."""
        values: dict[str, tuple[str | int, ...]] = {
            "topic": tuple(sorted(self.topic)),
            "kecamatan": tuple(sorted(self.kecamatan)),
            "desa": tuple(sorted(self.desa)),
            "channel": tuple(sorted(self.channel)),
            "classification": tuple(sorted(self.classification)),
            "keyword": self.keyword,
        }
        return {dim: values[dim] for dim in DIMENSIONS if values[dim]}


@dataclass(frozen=True)
class Mapping:
    """A valid mapping (load_mapping raises instead of returning an invalid one)."""

    directory: str
    units: dict[str, Unit]
    rules: tuple[Rule, ...]
    default: str  # the unit code that takes what no rule matches
    warnings: tuple[MappingIssue, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "topic check skipped: no topics synced yet"

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    @property
    def unit_names(self) -> dict[str, str]:
        """Unit code -> official name (what LAPOR! shows as the answering unit)."""
        return {code: unit.name for code, unit in self.units.items()}
