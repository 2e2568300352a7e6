"""The one reader of the YAML files in `mappings/` (units, rules, SLA, and any
file added later): every problem becomes a MappingIssue `file:line: what is
wrong. how to fix it`, and all of them are collected before anything refuses.

    model, issues = read_yaml_model(path, SlaPolicies, start="policies: ...", examples=EXAMPLES)
    raise_if_errors("the SLA policies in mappings/sla.yaml", issues)   # exit status 3

Order of work: read the file (missing, unreadable, not UTF-8), parse it with
ruamel.yaml's round-trip loader (it keeps the line of every key and item;
dates stay text so pydantic checks them and their line is known), check that
the top level is keys and values, then validate with a pydantic model and
turn each of pydantic's errors into an issue. The message and fix of an
error come from `DESCRIBE`, a table keyed by pydantic's error type; a
validator that knows better raises `PydanticCustomError("mapping_value",
message, {"fix": ...})`. A file reader that has a rule of its own (e.g. the
rules file's "conditions go under `when:`") passes `special`, asked first.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from lapor_bridge.errors import MappingInvalid

Severity = Literal["error", "warning"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class MappingIssue:
    """One problem in a file of `mappings/`, with where it is and how to fix it."""

    file: str
    line: int  # 1-based; 0 when the problem is the whole file (e.g. it is missing)
    severity: Severity
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}. {self.fix}"


class MappingFilesInvalid(MappingInvalid):
    """Files of `mappings/` have errors (exit status 3); nothing was changed.
    `issues` holds every error and warning found, in file and line order."""

    def __init__(self, message: str, issues: list[MappingIssue]) -> None:
        super().__init__(message)
        self.issues = issues

    @property
    def errors(self) -> list[MappingIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[MappingIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]


def issue_order(issue: MappingIssue) -> tuple[str, int, str]:
    return (issue.file, issue.line, issue.message)


def raise_if_errors(subject: str, issues: list[MappingIssue]) -> None:
    """Raise MappingFilesInvalid listing every error when there is one.
    `subject` names what was read, e.g. "the mapping in mappings"."""
    errors = sorted((i for i in issues if i.severity == "error"), key=issue_order)
    if not errors:
        return
    count = f"{len(errors)} error" + ("s" if len(errors) != 1 else "")
    lines = "\n".join(f"  {issue}" for issue in errors)
    raise MappingFilesInvalid(
        f"{subject} has {count}; nothing was changed:\n{lines}", sorted(issues, key=issue_order)
    )


def did_you_mean(value: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest choice to a mistyped value, if one is close enough."""
    by_fold = {choice.casefold(): choice for choice in choices}
    if value.casefold() in by_fold:
        return by_fold[value.casefold()]
    close = difflib.get_close_matches(value.casefold(), list(by_fold), n=1, cutoff=0.6)
    if close:
        return by_fold[close[0]]
    # "RSUD_ASHARI" for RSUD, "KEC_MOG" for KEC_MOGA: one is the start of the other
    folded = value.casefold()
    starts = [c for c in by_fold if len(c) >= 3 and (folded.startswith(c) or c.startswith(folded))]
    return by_fold[max(starts, key=len)] if starts and len(folded) >= 3 else None


# --- reading and parsing ------------------------------------------------------------


@dataclass(frozen=True)
class YamlDocument:
    """A parsed file: its top-level mapping, and the line of anything in it."""

    file: str
    root: CommentedMap

    def line_at(self, loc: tuple[Any, ...]) -> int:
        """The line of the deepest node along `loc` that exists in the file."""
        line = _start(self.root)
        node: Any = self.root
        for part in _data_loc(loc):
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line

    def lines_under(self, loc: tuple[Any, ...] = ()) -> dict[str, int]:
        """Line of every key and list item under `loc`, by dotted path ("when.topic.0")."""
        node: Any = self.root
        for part in loc:
            node = node[part]
        return _all_lines(node)

    def plain(self) -> dict[str, Any]:
        """The document as plain dicts and lists (what pydantic validates)."""
        return _plain(self.root)


def read_yaml(path: Path, *, start: str) -> tuple[YamlDocument | None, list[MappingIssue]]:
    """Read and parse one file. `start` is how the file begins (for the fix of a
    missing or empty file), in YAML's one-line form, e.g. "rules: [{id: a, ...}]"."""
    file = str(path)
    if not path.is_file():
        return None, [
            _error(
                file,
                0,
                "the file is missing",
                f"create it (it starts with `{start}`), or set LAPOR_BRIDGE_MAPPINGS_DIR "
                "to the folder that holds it",
            )
        ]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            _error(file, 0, f"the file is not UTF-8 text ({exc.reason})", "save it as UTF-8 text")
        ]
    except OSError as exc:
        return None, [
            _error(file, 0, f"cannot read the file ({exc.strerror})", "check its permissions")
        ]
    return parse_yaml(text, file=file, start=start)


def parse_yaml(
    text: str, *, file: str, start: str
) -> tuple[YamlDocument | None, list[MappingIssue]]:
    """Parse the text of one file (see read_yaml)."""
    yaml = YAML(typ="rt")
    # dates stay text: pydantic checks them, and an error keeps its line
    yaml.constructor.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        return None, [
            _error(file, line, f"YAML syntax error: {problem}", _syntax_fix(problem, text))
        ]
    except YAMLError as exc:
        return None, [
            _error(file, 0, f"YAML syntax error: {exc}", "check the indentation and quotes")
        ]
    if document is None:
        return None, [_error(file, 1, "the file is empty", f"start it with `{start}`")]
    if not isinstance(document, CommentedMap):
        return None, [
            _error(
                file,
                _start(document),
                "the file must be keys and values at the top level",
                f"start it with `{start}`",
            )
        ]
    return YamlDocument(file, document), []


def read_yaml_model(
    path: Path,
    model: type[M],
    *,
    start: str,
    examples: Mapping[str, str] | None = None,
    special: Special | None = None,
) -> tuple[M | None, list[MappingIssue]]:
    """Read a file and validate it whole with `model`: the model, or None and
    every problem found (the public entry point for a new file in `mappings/`)."""
    document, issues = read_yaml(path, start=start)
    if document is None:
        return None, issues
    return validate(document, model, examples=examples, special=special)


def validate(
    document: YamlDocument,
    model: type[M],
    value: Any = None,
    *,
    loc: tuple[Any, ...] = (),
    examples: Mapping[str, str] | None = None,
    special: Special | None = None,
) -> tuple[M | None, list[MappingIssue]]:
    """Validate `value` (default: the whole document) found at `loc` in the
    document with `model`; each error becomes an issue at its line."""
    data = document.plain() if value is None else _plain(value)
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, schema_issues(
            exc, document, model, loc=loc, examples=examples, special=special
        )


# --- pydantic errors as issues ------------------------------------------------------


@dataclass(frozen=True)
class SchemaError:
    """One pydantic error, with what a message needs: the key's name, how to
    refer to it, the value as written and an example of the key."""

    type: str
    loc: tuple[Any, ...]  # within the validated value; data keys only
    msg: str
    ctx: dict[str, Any]
    input: Any
    model: type[BaseModel]  # the model whose field (or unknown key) this is
    examples: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        names = [part for part in self.loc if isinstance(part, str)]
        return names[-1] if names else ""

    @property
    def where(self) -> str:
        name = self.name
        if not name:
            return "the file"
        after = self.loc[self.loc.index(name) + 1 :]
        return f"an item of `{name}`" if any(isinstance(p, int) for p in after) else f"`{name}`"

    @property
    def example(self) -> str:
        return self.examples.get(self.name, "")

    @property
    def shown(self) -> str:
        value = self.input
        if value is None:
            return "empty"
        return type(value).__name__ if isinstance(value, (dict, list)) else repr(value)

    def like(self, otherwise: str) -> str:
        return f"write it like `{self.example}`" if self.example else otherwise


Described = tuple[str, str]  # (message, fix)
Special = Callable[[SchemaError], Described | None]


def _mapping_value(e: SchemaError) -> Described:
    return e.msg, str(e.ctx.get("fix", "correct the value"))


def _extra(e: SchemaError) -> Described:
    # a field marked exclude=True is filled by the model itself, never written in a file
    allowed = [name for name, info in e.model.model_fields.items() if not info.exclude]
    hint = did_you_mean(e.name, allowed)
    fix = f"did you mean `{hint}`?" if hint else f"remove it; allowed here: {', '.join(allowed)}"
    return f"unknown key `{e.name}`", fix


def _missing(e: SchemaError) -> Described:
    return f"`{e.name}` is missing", f"add it, e.g. `{e.example}`" if e.example else "add it"


def _not_keys(e: SchemaError) -> Described:
    if e.input is None:
        return (
            f"`{e.name}` is empty",
            f"put its keys under it, indented two spaces more than `{e.name}:`"
            + (f", e.g. `{e.example}`" if e.example else ""),
        )
    return f"{e.where} must be keys and values, not {e.shown}", e.like("write keys and values")


def _choice(e: SchemaError) -> Described:
    expected = e.ctx.get("expected", "")
    return f"{e.where} must be one of {expected}, not {e.shown}", e.like(f"write one of {expected}")


def _bound(word: str) -> Callable[[SchemaError], Described]:
    def describe(e: SchemaError) -> Described:
        limit = next(iter(e.ctx.values()), "")
        return f"{e.where} must be {word} {limit}, not {e.shown}", e.like("correct the number")

    return describe


def _kind(what: str, fix: Callable[[SchemaError], str]) -> Callable[[SchemaError], Described]:
    return lambda e: (f"{e.where} must be {what}, not {e.shown}", fix(e))


def _value_error(e: SchemaError) -> Described:
    """A validator's own words: "give exactly one of ..." or "is not an IANA zone"."""
    said = e.msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if said.startswith("is "):
        return f"{e.where} {e.shown} {said}", e.like("correct the value")
    return f"{e.where}: {said}", e.like("correct the value")


# How each of pydantic's error types is told (keyed by pydantic's `type`).
DESCRIBE: dict[str, Callable[[SchemaError], Described]] = {
    "mapping_value": _mapping_value,
    "extra_forbidden": _extra,
    "missing": _missing,
    "model_type": _not_keys,
    "dict_type": _not_keys,
    "model_attributes_type": _not_keys,
    "list_type": _kind("a list", lambda e: e.like("write a list")),
    "int_type": _kind("a whole number", lambda e: f"write it without quotes, like `{e.example}`"),
    "int_parsing": _kind(
        "a whole number", lambda e: f"write it without quotes, like `{e.example}`"
    ),
    "int_from_float": _kind("a whole number", lambda e: e.like("write it without a fraction")),
    "float_type": _kind("a number", lambda e: e.like("write it without quotes")),
    "float_parsing": _kind("a number", lambda e: e.like("write it without quotes")),
    "string_type": _kind("text", lambda e: f'put it in quotes, like `{e.name}: "{e.input}"`'),
    "bool_type": _kind("true or false", lambda e: f"write `{e.name}: true` or `{e.name}: false`"),
    "bool_parsing": _kind(
        "true or false", lambda e: f"write `{e.name}: true` or `{e.name}: false`"
    ),
    "date_type": _kind("a date", lambda e: e.like("write it as year-month-day, e.g. 2026-01-02")),
    "date_parsing": _kind(
        "a date", lambda e: e.like("write it as year-month-day, e.g. 2026-01-02")
    ),
    "date_from_datetime_parsing": _kind(
        "a date", lambda e: e.like("write it as year-month-day, e.g. 2026-01-02")
    ),
    "literal_error": _choice,
    "enum": _choice,
    "string_too_short": lambda e: (f"{e.where} is empty", e.like("write a value")),
    "too_short": lambda e: (f"{e.where} has no items", e.like("give at least one")),
    "string_pattern_mismatch": lambda e: (
        f"{e.where} {e.shown} is not written as expected",
        e.like(f"it must match {e.ctx.get('pattern', '')}"),
    ),
    "greater_than": _bound("more than"),
    "greater_than_equal": _bound("at least"),
    "less_than": _bound("less than"),
    "less_than_equal": _bound("at most"),
    "value_error": _value_error,
    "assertion_error": _value_error,
}


def schema_issues(
    exc: ValidationError,
    document: YamlDocument,
    model: type[BaseModel],
    *,
    loc: tuple[Any, ...] = (),
    examples: Mapping[str, str] | None = None,
    special: Special | None = None,
) -> list[MappingIssue]:
    """Every error of `exc` (raised by `model` on the value at `loc`) as an issue."""
    errors = [(error, _data_loc(tuple(error["loc"]))) for error in exc.errors()]
    # A misspelt key ("nama") also makes its field missing ("name"): say it once.
    explained: set[tuple[Any, ...]] = set()
    for error, where in errors:
        if error["type"] == "extra_forbidden":
            fields = list(model_at(model, where[:-1]).model_fields)
            hint = did_you_mean(str(where[-1]), fields)
            if hint:
                explained.add((*where[:-1], hint))
    issues = []
    for error, where in errors:
        if error["type"] == "missing" and where in explained:
            continue
        detail = SchemaError(
            type=error["type"],
            loc=where,
            msg=error["msg"],
            ctx=dict(error.get("ctx") or {}),
            input=error.get("input"),
            model=model_at(model, where[:-1]),
            examples=examples or {},
        )
        described = special(detail) if special is not None else None
        if described is None:
            describe = DESCRIBE.get(detail.type)
            described = (
                describe(detail)
                if describe is not None
                else (f"{detail.where}: {detail.msg}", detail.like("correct the value"))
            )
        issues.append(_error(document.file, document.line_at(loc + where), *described))
    return issues


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model that validates the value at `loc` (nested models, lists of them,
    dicts of them), for the keys allowed there."""
    found: type[BaseModel] = model
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            break
        inner = _model_of(current)
        if inner is not None:
            found = inner
    return found


def _step(annotation: Any, part: Any) -> Any:
    for tp in _members(annotation):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(part) if isinstance(part, str) else None
            if info is not None:
                return info.annotation
        elif get_origin(tp) in (list, tuple, set, frozenset) and isinstance(part, int):
            return get_args(tp)[0] if get_args(tp) else None
        elif get_origin(tp) is dict:
            return get_args(tp)[1] if len(get_args(tp)) == 2 else None
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for tp in _members(annotation):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


def _members(annotation: Any) -> list[Any]:
    """`X | None`, `Annotated[X, ...]`: the types it may be."""
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg) if m is not type(None)]
    return [annotation]


_TAG = re.compile(r"^(\[key\]|[\w-]+\[.*\])$")


def _data_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic's loc without the validator tags it adds (`function-after[...]`, `[key]`)."""
    return tuple(p for p in loc if not (isinstance(p, str) and _TAG.match(p)))


# --- helpers -----------------------------------------------------------------------


def _error(file: str, line: int, message: str, fix: str) -> MappingIssue:
    return MappingIssue(file, line, "error", message, fix)


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


def _as_text(constructor: Any, node: Any) -> str:
    return str(node.value)


def _start(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else 1


def _all_lines(node: Any, prefix: str = "") -> dict[str, int]:
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


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (for pydantic)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
