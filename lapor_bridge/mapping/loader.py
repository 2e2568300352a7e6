"""Reading `units.yaml` and `rules.yaml` into a Mapping, with every problem
reported as `file:line: message. fix`.

Order of work: parse each file (lapor_bridge.yamlfiles: keeps line numbers), validate
the top level and then each unit and rule on its own with the pydantic schema
(so one bad rule does not hide the others), build the plain domain objects
from what is valid, then run the checks across files (see checks.py). Any
error raises MappingFilesInvalid (a MappingInvalid) listing all of them;
warnings are kept on the returned Mapping. The files are read first with the
fast parser; when anything is wrong they are read again, whole, with
ruamel.yaml's round-trip loader, which tells every error (as it always has).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from lapor_bridge.mapping import checks
from lapor_bridge.mapping.model import Contact, Mapping, MappingIssue, Rule, Unit
from lapor_bridge.mapping.schema import (
    CONDITION_KEYS,
    EXAMPLES,
    RulesFile,
    RuleSpec,
    UnitsFile,
    UnitSpec,
)
from lapor_bridge.mapping.text import phrase, place_name
from lapor_bridge.yamlfiles import (
    SchemaError,
    YamlDocument,
    issue_order,
    raise_if_errors,
    read_yaml,
    validate,
)

UNITS_FILE = "units.yaml"
RULES_FILE = "rules.yaml"


S = TypeVar("S", bound=BaseModel)


def load_mapping(mappings_dir: Path, *, topics: dict[int, int] | None = None) -> Mapping:
    """Load and check the mapping in `mappings_dir`.

    `topics` is the synced topic tree (id -> parent, 0 for a root); None skips
    the topic checks. Raises MappingFilesInvalid (exit status 3) listing every
    error; warnings are on the result's `warnings`.
    """
    directory = Path(mappings_dir)
    sink = _collect(directory, topics, exact=False)
    if any(issue.severity == "error" for issue in sink.issues):
        sink = _collect(directory, topics, exact=True)
    notes: tuple[str, ...] = ()
    if topics is None:
        notes = ("topic ids were not checked: the LAPOR! topic tree is not synced yet",)
    raise_if_errors(f"the mapping in {directory}", sink.issues)
    assert sink.units is not None and sink.default is not None
    return Mapping(
        directory=str(directory),
        units={unit.code: unit for unit in sink.units},
        rules=tuple(sink.rules),
        default=sink.default,
        warnings=tuple(sorted(sink.issues, key=issue_order)),
        notes=notes,
    )


def _collect(directory: Path, topics: dict[int, int] | None, *, exact: bool) -> _Issues:
    """Read both files and run every check; what was read is kept on the sink."""
    sink = _Issues(exact=exact)
    units, default, default_line = _load_units(directory / UNITS_FILE, sink)
    rules = _load_rules(directory / RULES_FILE, sink)
    units_file = str(directory / UNITS_FILE)
    if units is not None:
        checks.check_units(units, default, default_line, units_file, sink.add)
        checks.check_notify_urls(units, sink.add)
        checks.check_rule_references(rules, units, sink.add)
    checks.check_rules(rules, topics, sink.add)
    sink.units, sink.default, sink.rules = units, default, rules
    return sink


def read_rules(path: Path) -> tuple[list[Rule], list[MappingIssue]]:
    """The well-formed rules of one rules file and the problems of the others,
    without the checks across rules and units (for tools and tests)."""
    rules, issues = _read_rules(Path(path), exact=False)
    if any(issue.severity == "error" for issue in issues):
        rules, issues = _read_rules(Path(path), exact=True)
    return rules, issues


def _read_rules(path: Path, *, exact: bool) -> tuple[list[Rule], list[MappingIssue]]:
    sink = _Issues(exact=exact)
    rules = _load_rules(path, sink)
    return rules, sink.issues


@dataclass
class _Issues:
    issues: list[MappingIssue] = field(default_factory=list)
    exact: bool = False  # read with ruamel.yaml's round-trip loader, not the fast parser
    units: list[Unit] | None = None
    default: str | None = None
    rules: list[Rule] = field(default_factory=list)

    def add(self, issue: MappingIssue) -> None:
        self.issues.append(issue)

    def error(self, file: str, line: int, message: str, fix: str) -> None:
        self.add(MappingIssue(file, line, "error", message, fix))


# --- files ---------------------------------------------------------------------


def _read(path: Path, sink: _Issues, first_key: str) -> YamlDocument | None:
    document, issues = read_yaml(path, start=EXAMPLES[first_key], exact=sink.exact)
    sink.issues.extend(issues)
    return document


def _check(
    document: YamlDocument, model: type[S], value: Any, loc: tuple[Any, ...], sink: _Issues
) -> S | None:
    spec, issues = validate(document, model, value, loc=loc, examples=EXAMPLES, special=_special)
    sink.issues.extend(issues)
    return spec


def _each(
    document: YamlDocument, key: str, model: type[S], sink: _Issues
) -> Iterator[tuple[tuple[str, int], S]]:
    """Each item of the top-level list `key` validated on its own, so that one bad
    unit or rule does not hide the others: (its loc, its spec) for the good ones."""
    for index, item in enumerate(document.root[key]):
        loc = (key, index)
        spec = _check(document, model, item, loc, sink)
        if spec is not None:
            yield loc, spec


def _special(error: SchemaError) -> tuple[str, str] | None:
    """What the rules file says better than the general table."""
    if error.type == "extra_forbidden" and error.model is RuleSpec and error.name in CONDITION_KEYS:
        return (
            f"`{error.name}` is not a key of a rule",
            f"conditions go under `when:`; indent `{error.name}:` two spaces more than `when:`",
        )
    if error.type == "missing" and error.name == "when":
        return (
            "the rule has no `when:`",
            "add `when:` with the conditions indented under it, e.g. `when: {topic: [101]}`",
        )
    return None


def _load_units(path: Path, sink: _Issues) -> tuple[list[Unit] | None, str | None, int]:
    file = str(path)
    document = _read(path, sink, "default")
    if document is None:
        return None, None, 0
    root = document.root
    _check(document, UnitsFile, root, (), sink)
    if not isinstance(root.get("units"), list):
        return None, None, 0
    default = root.get("default") if isinstance(root.get("default"), str) else None
    default_line = document.line_at(("default",))

    units: list[Unit] = []
    for loc, spec in _each(document, "units", UnitSpec, sink):
        lines = document.lines_under(loc)
        units.append(
            Unit(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                kecamatan=spec.kecamatan,
                liaison=tuple(Contact(c.name, c.phone, c.email, c.role) for c in spec.liaison),
                file=file,
                line=document.line_at(loc),
                notify=_written(spec.notify, "notify", lines, document.line_at(loc)),
                notify_head=_written(spec.notify_head, "notify_head", lines, document.line_at(loc)),
            )
        )
    return units, default, default_line


def _load_rules(path: Path, sink: _Issues) -> list[Rule]:
    file = str(path)
    document = _read(path, sink, "rules")
    if document is None:
        return []
    root = document.root
    _check(document, RulesFile, root, (), sink)
    if not isinstance(root.get("rules"), list):
        return []
    rules: list[Rule] = []
    for loc, spec in _each(document, "rules", RuleSpec, sink):
        lines = document.lines_under(loc)
        rule = _build_rule(spec, loc[1] + 1, lines, file, document.line_at(loc), sink)
        if rule is not None:
            rules.append(rule)
    return rules


def _build_rule(
    spec: RuleSpec, position: int, lines: dict[str, int], file: str, line: int, sink: _Issues
) -> Rule | None:
    ok = True

    def normalised(key: str, values: list[str] | None, norm: Any, what: str) -> frozenset[str]:
        nonlocal ok
        result: set[str] = set()
        for index, value in enumerate(values or ()):
            folded = norm(value)
            if not folded:
                ok = False
                sink.error(
                    file,
                    lines.get(f"when.{key}.{index}", lines.get(f"when.{key}", line)),
                    f"{what} `{value}` has no letters or digits",
                    f"write a word, e.g. `{EXAMPLES[key]}`",
                )
            result.add(folded)
        return frozenset(result)

    when = spec.when
    normalised("keyword", when.keyword, phrase, "keyword")  # reports empty keywords
    ordered_keywords = tuple(dict.fromkeys(phrase(k) for k in when.keyword or ()))
    kecamatan = normalised(
        "kecamatan", when.kecamatan, lambda v: place_name(v, kind="kecamatan"), "kecamatan"
    )
    desa = normalised("desa", when.desa, lambda v: place_name(v, kind="desa"), "desa")
    if not ok:
        return None
    sources: dict[str, tuple[tuple[Any, int], ...]] = {}
    for key in CONDITION_KEYS:
        sources[key] = _written(getattr(when, key), f"when.{key}", lines, line)
    sources["co_opd"] = _written(spec.co_opd, "co_opd", lines, line)
    return Rule(
        id=spec.id,
        position=position,
        opd=spec.opd,
        complex=spec.complex,
        co_opd=tuple(dict.fromkeys(spec.co_opd or ())),
        topic=frozenset(when.topic or ()),
        kecamatan=kecamatan,
        desa=desa,
        channel=frozenset(when.channel or ()),
        classification=frozenset(when.classification or ()),
        keyword=ordered_keywords,
        keyword_words=tuple(k for k in ordered_keywords if " " not in k),
        keyword_phrases=tuple(k for k in ordered_keywords if " " in k),
        note=spec.note,
        file=file,
        line=line,
        lines=lines,
        sources=sources,
    )


def _written(
    values: list[Any] | None, path: str, lines: dict[str, int], fallback: int
) -> tuple[tuple[Any, int], ...]:
    """Each value as written, with its line (a single value sits on its key's line)."""
    key_line = lines.get(path, fallback)
    return tuple(
        (value, lines.get(f"{path}.{i}", key_line)) for i, value in enumerate(values or ())
    )
