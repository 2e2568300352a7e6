"""Reading `units.yaml` and `rules.yaml` into a Mapping, with every problem
reported as `file:line: message. fix`.

Order of work: parse each file with ruamel.yaml (keeps line numbers), validate
the top level and then each unit and rule on its own with the pydantic schema
(so one bad rule does not hide the others), build the plain domain objects
from what is valid, then run the checks across files (see checks.py). Any
error raises MappingFilesInvalid (a MappingInvalid) listing all of them;
warnings are kept on the returned Mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from lapor_bridge.errors import MappingInvalid
from lapor_bridge.mapping import checks
from lapor_bridge.mapping.model import Contact, Mapping, MappingIssue, Rule, Unit
from lapor_bridge.mapping.schema import (
    CONDITION_KEYS,
    EXAMPLES,
    ContactSpec,
    RulesFile,
    RuleSpec,
    UnitsFile,
    UnitSpec,
    WhenSpec,
    did_you_mean,
)
from lapor_bridge.mapping.text import phrase, place_name

UNITS_FILE = "units.yaml"
RULES_FILE = "rules.yaml"


class MappingFilesInvalid(MappingInvalid):
    """The mapping has errors. `issues` holds every error and warning found."""

    def __init__(self, message: str, issues: list[MappingIssue]) -> None:
        super().__init__(message)
        self.issues = issues

    @property
    def errors(self) -> list[MappingIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[MappingIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]


def load_mapping(mappings_dir: Path, *, topics: dict[int, int] | None = None) -> Mapping:
    """Load and check the mapping in `mappings_dir`.

    `topics` is the synced topic tree (id -> parent, 0 for a root); None skips
    the topic checks. Raises MappingFilesInvalid (exit status 3) listing every
    error; warnings are on the result's `warnings`.
    """
    directory = Path(mappings_dir)
    sink = _Issues()
    units, default, default_line = _load_units(directory / UNITS_FILE, sink)
    rules = _load_rules(directory / RULES_FILE, sink)
    units_file = str(directory / UNITS_FILE)
    if units is not None:
        checks.check_units(units, default, default_line, units_file, sink.add)
        checks.check_notify_urls(units, sink.add)
        checks.check_rule_references(rules, units, sink.add)
    checks.check_rules(rules, topics, sink.add)

    notes: tuple[str, ...] = ()
    if topics is None:
        notes = ("topic ids were not checked: the LAPOR! topic tree is not synced yet",)
    errors = [issue for issue in sink.issues if issue.severity == "error"]
    if errors:
        raise MappingFilesInvalid(_message(directory, errors), sorted(sink.issues, key=_order))
    assert units is not None and default is not None
    return Mapping(
        directory=str(directory),
        units={unit.code: unit for unit in units},
        rules=tuple(rules),
        default=default,
        warnings=tuple(sorted(sink.issues, key=_order)),
        notes=notes,
    )


def read_rules(path: Path) -> tuple[list[Rule], list[MappingIssue]]:
    """The well-formed rules of one rules file and the problems of the others,
    without the checks across rules and units (for tools and tests)."""
    sink = _Issues()
    rules = _load_rules(Path(path), sink)
    return rules, sink.issues


def _message(directory: Path, errors: list[MappingIssue]) -> str:
    count = f"{len(errors)} error" + ("s" if len(errors) != 1 else "")
    lines = "\n".join(f"  {issue}" for issue in sorted(errors, key=_order))
    return f"the mapping in {directory} has {count}; nothing was changed:\n{lines}"


def _order(issue: MappingIssue) -> tuple[str, int, str]:
    return (issue.file, issue.line, issue.message)


@dataclass
class _Issues:
    issues: list[MappingIssue] = field(default_factory=list)

    def add(self, issue: MappingIssue) -> None:
        self.issues.append(issue)

    def error(self, file: str, line: int, message: str, fix: str) -> None:
        self.add(MappingIssue(file, line, "error", message, fix))


# --- files ---------------------------------------------------------------------


def _read_yaml(path: Path, sink: _Issues, first_key: str) -> CommentedMap | None:
    """The parsed top-level mapping of a file, or None after reporting why not."""
    file = str(path)
    if not path.is_file():
        sink.error(
            file, 0, "the file is missing", f"create it; it starts with `{EXAMPLES[first_key]}`"
        )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sink.error(file, 0, f"cannot read the file ({exc})", "save it as UTF-8 text")
        return None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        sink.error(file, line, f"YAML syntax error: {problem}", _syntax_fix(problem, text))
        return None
    except YAMLError as exc:
        sink.error(file, 0, f"YAML syntax error: {exc}", "check the indentation and quotes")
        return None
    if document is None:
        sink.error(file, 1, "the file is empty", f"start it with `{EXAMPLES[first_key]}`")
        return None
    if not isinstance(document, CommentedMap):
        sink.error(
            file,
            _start(document),
            "the file must be keys and values at the top level",
            f"start it with `{EXAMPLES[first_key]}`",
        )
        return None
    return document


def _syntax_fix(problem: str, text: str) -> str:
    if "\t" in text and ("tab" in problem or "found character" in problem):
        return "indent with spaces, not tabs"
    if "duplicate key" in problem:
        return "a key may appear once per item; remove or rename the second one"
    if "mapping values are not allowed" in problem or "expected <block end>" in problem:
        return (
            "check the indentation: keys of one item start in the same column, "
            "and a value containing `: ` must be quoted"
        )
    return "check the indentation (spaces only, keys of one item in the same column) and the quotes"


def _load_units(path: Path, sink: _Issues) -> tuple[list[Unit] | None, str | None, int]:
    file = str(path)
    document = _read_yaml(path, sink, "default")
    if document is None:
        return None, None, 0
    try:
        top = UnitsFile.model_validate(document)
    except ValidationError as exc:
        _schema_issues(exc, document, (), file, UnitsFile, sink)
        if not isinstance(document.get("units"), list):
            return None, None, 0
        items: list[Any] = list(document["units"])
        default = document.get("default") if isinstance(document.get("default"), str) else None
    else:
        items, default = top.units, top.default
    default_line = _line_at(document, ("default",))

    units: list[Unit] = []
    for index, item in enumerate(items):
        loc = ("units", index)
        try:
            spec = UnitSpec.model_validate(item)
        except ValidationError as exc:
            _schema_issues(exc, document, loc, file, UnitSpec, sink)
            continue
        units.append(
            Unit(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                kecamatan=spec.kecamatan,
                liaison=tuple(Contact(c.name, c.phone, c.email, c.role) for c in spec.liaison),
                file=file,
                line=_line_at(document, loc),
                notify=_written(spec.notify, "notify", _all_lines(item), _line_at(document, loc)),
                notify_head=_written(
                    spec.notify_head, "notify_head", _all_lines(item), _line_at(document, loc)
                ),
            )
        )
    return units, default, default_line


def _load_rules(path: Path, sink: _Issues) -> list[Rule]:
    file = str(path)
    document = _read_yaml(path, sink, "rules")
    if document is None:
        return []
    try:
        RulesFile.model_validate(document)
    except ValidationError as exc:
        _schema_issues(exc, document, (), file, RulesFile, sink)
        if not isinstance(document.get("rules"), list):
            return []
    rules: list[Rule] = []
    for index, item in enumerate(document["rules"]):
        loc = ("rules", index)
        try:
            spec = RuleSpec.model_validate(item)
        except ValidationError as exc:
            _schema_issues(exc, document, loc, file, RuleSpec, sink)
            continue
        rule = _build_rule(spec, index + 1, item, file, _line_at(document, loc), sink)
        if rule is not None:
            rules.append(rule)
    return rules


def _build_rule(
    spec: RuleSpec, position: int, item: CommentedMap, file: str, line: int, sink: _Issues
) -> Rule | None:
    lines = _all_lines(item)
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


# --- line numbers ----------------------------------------------------------------


def _start(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else 1


def _line_at(root: Any, loc: tuple[Any, ...]) -> int:
    """The line of the deepest node along `loc` that exists in the YAML."""
    line = _start(root)
    node = root
    for part in loc:
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _all_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Line of every key and list item under `node`, by dotted path ("when.topic.0")."""
    lines: dict[str, int] = {}
    if isinstance(node, CommentedMap):
        for key in node:
            path = f"{prefix}{key}"
            lines[path] = node.lc.key(key)[0] + 1
            lines.update(_all_lines(node[key], f"{path}."))
    elif isinstance(node, CommentedSeq):
        for index, child in enumerate(node):
            path = f"{prefix}{index}"
            lines[path] = node.lc.item(index)[0] + 1
            lines.update(_all_lines(child, f"{path}."))
    return lines


# --- schema errors -------------------------------------------------------------------

_NESTED: dict[str, type[BaseModel]] = {"when": WhenSpec, "liaison": ContactSpec}


def _schema_issues(
    exc: ValidationError,
    document: CommentedMap,
    prefix: tuple[Any, ...],
    file: str,
    model: type[BaseModel],
    sink: _Issues,
) -> None:
    errors = exc.errors()
    # A misspelt key ("nama") also makes its field missing ("name"): say it once.
    explained: set[tuple[Any, ...]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            hint = did_you_mean(str(loc[-1]), list(_model_at(model, loc[:-1]).model_fields))
            if hint:
                explained.add((*loc[:-1], hint))
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "missing" and loc in explained:
            continue
        line = _line_at(document, prefix + loc)
        message, fix = _describe(error, loc, model)
        sink.error(file, line, message, fix)


def _describe(error: Any, loc: tuple[Any, ...], model: type[BaseModel]) -> tuple[str, str]:
    kind: str = error["type"]
    names = [part for part in loc if isinstance(part, str)]
    name = names[-1] if names else ""
    after = loc[loc.index(name) + 1 :] if name else ()
    where = f"an item of `{name}`" if any(isinstance(p, int) for p in after) else f"`{name}`"
    example = EXAMPLES.get(name, "")
    value = error.get("input")
    shown = (
        "empty"
        if value is None
        else repr(value)
        if not isinstance(value, (dict, list))
        else type(value).__name__
    )

    if kind == "mapping_value":
        return error["msg"], error["ctx"]["fix"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = list(parent.model_fields)
        if parent is RuleSpec and name in CONDITION_KEYS:
            return (
                f"`{name}` is not a key of a rule",
                f"conditions go under `when:`; indent `{name}:` two spaces more than `when:`",
            )
        hint = did_you_mean(name, allowed)
        fix = (
            f"did you mean `{hint}`?" if hint else f"remove it; allowed here: {', '.join(allowed)}"
        )
        return f"unknown key `{name}`", fix
    if kind == "missing":
        if name == "when":
            return (
                "the rule has no `when:`",
                "add `when:` with the conditions indented under it, e.g. `when: {topic: [101]}`",
            )
        return f"`{name}` is missing", f"add it, e.g. `{example}`" if example else "add it"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if value is None:
            return (
                f"`{name}` is empty",
                f"put its keys under it, indented two spaces more than `{name}:`"
                + (f", e.g. `{example}`" if example else ""),
            )
        return (
            f"{where} must be keys and values, not {shown}",
            f"write it like `{example}`" if example else "write keys and values",
        )
    if kind == "list_type":
        return (
            f"{where} must be a list, not {shown}",
            f"write it like `{example}`" if example else "write a list",
        )
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return (
            f"{where} must be a whole number, not {shown}",
            f"write it without quotes, like `{example}`",
        )
    if kind == "string_type":
        return f"{where} must be text, not {shown}", f'put it in quotes, like `{name}: "{value}"`'
    if kind == "bool_type":
        return (
            f"{where} must be true or false, not {shown}",
            f"write `{name}: true` or `{name}: false`",
        )
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{where} must be one of {expected}, not {shown}", f"write it like `{example}`"
    if kind == "string_too_short":
        return f"{where} is empty", f"write it like `{example}`"
    if kind == "too_short":
        return f"{where} has no items", f"write it like `{example}`"
    return (
        f"{where}: {error['msg']}",
        f"write it like `{example}`" if example else "correct the value",
    )


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The schema model that validates the mapping at `loc` (for allowed keys)."""
    current = model
    for part in loc:
        if isinstance(part, str) and part in _NESTED:
            current = _NESTED[part]
    return current
