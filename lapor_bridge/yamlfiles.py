"""The one reader of the YAML files in `mappings/` (units, rules, SLA, and any
file added later): every problem becomes a MappingIssue `file:line: what is
wrong. how to fix it`, and all of them are collected before anything refuses.

    model, issues = read_yaml_model(path, SlaPolicies, start="policies: ...", examples=EXAMPLES)
    raise_if_errors("the SLA policies in mappings/sla.yaml", issues)   # exit status 3

Order of work: read the file (missing, unreadable, not UTF-8), parse it (it
keeps the line of every key and item; dates stay text so pydantic checks
them and their line is known), check that
the top level is keys and values, then validate with a pydantic model and
turn each of pydantic's errors into an issue. The message and fix of an
error come from `DESCRIBE`, a table keyed by pydantic's error type; a
validator that knows better raises `PydanticCustomError("mapping_value",
message, {"fix": ...})`. A file reader that has a rule of its own (e.g. the
rules file's "conditions go under `when:`") passes `special`, asked first.

Two parsers give the same document. The fast one is libyaml's C parser
(PyYAML's CParser), read by `_fast_document` with YAML 1.2's rules for plain
scalars (as ruamel.yaml reads them): it takes only what it can read exactly
as ruamel does (text, null, true/false, plain whole numbers and decimals)
and gives up on anything else (a duplicate key, a key that is not text, a
tag, an alias, a `<<` merge, a block scalar, an octal or hex or `1_000` or
`1e3` number, a `%YAML` directive, any syntax error). The exact one is
ruamel.yaml's round-trip loader, used when the fast one gives up and, by
`validate`, for every error: so every error message is what ruamel's lines
and values say.
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


class YamlMap(dict):  # type: ignore[type-arg]
    """A mapping read by the fast parser: its own line and the line of each key."""

    __slots__ = ("line", "lines")
    line: int
    lines: dict[str, int]


class YamlSeq(list):  # type: ignore[type-arg]
    """A list read by the fast parser: its own line and the line of each item."""

    __slots__ = ("line", "lines")
    line: int
    lines: list[int]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed file: its top-level mapping, and the line of anything in it.

    `root` is a YamlMap when the fast parser read the file (then `text` is
    kept, for `exact`), else ruamel.yaml's CommentedMap."""

    file: str
    root: Any
    text: str | None = field(default=None, repr=False, compare=False)
    _exact: list[YamlDocument | None] = field(default_factory=list, repr=False, compare=False)

    @property
    def fast(self) -> bool:
        return isinstance(self.root, YamlMap)

    def exact(self) -> YamlDocument | None:
        """The same file read by ruamel.yaml's round-trip loader (itself when it
        was); None if that loader refuses a file the fast one read."""
        if not self.fast or self.text is None:
            return self
        if not self._exact:
            self._exact.append(_parse_exact(self.text, file=self.file, start="")[0])
        return self._exact[0]

    def line_at(self, loc: tuple[Any, ...]) -> int:
        """The line of the deepest node along `loc` that exists in the file."""
        if not self.fast:
            return _exact_line_at(self.root, loc)
        line = self.root.line
        node: Any = self.root
        for part in _data_loc(loc):
            in_map = isinstance(node, YamlMap) and part in node
            in_seq = isinstance(node, YamlSeq) and isinstance(part, int) and 0 <= part < len(node)
            if not (in_map or in_seq):
                break
            line = node.lines[part]
            node = node[part]
        return line

    def lines_under(self, loc: tuple[Any, ...] = ()) -> dict[str, int]:
        """Line of every key and list item under `loc`, by dotted path ("when.topic.0")."""
        node: Any = self.root
        for part in loc:
            node = node[part]
        return _fast_lines(node) if self.fast else _all_lines(node)

    def plain(self) -> dict[str, Any]:
        """The document as plain dicts and lists (what pydantic validates)."""
        return _plain(self.root)


def read_yaml(
    path: Path, *, start: str, exact: bool = False
) -> tuple[YamlDocument | None, list[MappingIssue]]:
    """Read and parse one file. `start` is how the file begins (for the fix of a
    missing or empty file), in YAML's one-line form, e.g. "rules: [{id: a, ...}]".
    `exact`: parse with ruamel.yaml's round-trip loader, never the fast parser."""
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
    return parse_yaml(text, file=file, start=start, exact=exact)


def parse_yaml(
    text: str, *, file: str, start: str, exact: bool = False
) -> tuple[YamlDocument | None, list[MappingIssue]]:
    """Parse the text of one file (see read_yaml): with the fast parser when it
    can read the file exactly as ruamel.yaml does, else with ruamel.yaml."""
    if not exact:
        root = _fast_root(text)
        if root is not None:
            return YamlDocument(file, root, text), []
    return _parse_exact(text, file=file, start=start)


def _parse_exact(
    text: str, *, file: str, start: str
) -> tuple[YamlDocument | None, list[MappingIssue]]:
    """Parse with ruamel.yaml's round-trip loader (the line of every key; the
    message and line of every syntax error)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

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
    document with `model`; each error becomes an issue at its line. A file the
    fast parser read is validated again as ruamel.yaml reads it before an
    error is told (its values and lines, as they always were)."""
    data = document.plain() if value is None else _plain(value)
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        again = _exact_value(document, value, loc)
        if again is not None:
            exact, exact_value = again
            return validate(exact, model, exact_value, loc=loc, examples=examples, special=special)
        return None, schema_issues(
            exc, document, model, loc=loc, examples=examples, special=special
        )


def _exact_value(
    document: YamlDocument, value: Any, loc: tuple[Any, ...]
) -> tuple[YamlDocument, Any] | None:
    """The ruamel.yaml document of a file the fast parser read, and the node at
    `loc` in it (`value` is the node at `loc` of the fast one); None when the
    document is already ruamel's, or the node cannot be found."""
    if not document.fast:
        return None
    exact = document.exact()
    if exact is None:
        return None
    if value is None:
        return exact, None
    fast_node: Any = document.root
    exact_node: Any = exact.root
    try:
        for part in loc:
            fast_node = fast_node[part]
            exact_node = exact_node[part]
    except (KeyError, IndexError, TypeError):
        return None
    return (exact, exact_node) if fast_node is value else None


# --- the fast parser: libyaml, read as ruamel.yaml reads YAML 1.2 ------------------


class _GiveUp(Exception):
    """The fast parser cannot promise ruamel.yaml's value: let ruamel read the file."""


_PLAIN, _QUOTED, _MAP, _SEQ, _TAGGED = "?plain", "?quoted", "?map", "?seq", "?tagged"

# YAML 1.2 as ruamel.yaml resolves a plain scalar (ruamel/yaml/resolver.py)
_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NUMERIC_START = frozenset("-+0123456789.")
_FLOAT_12 = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_12 = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
# the numbers read here; any other int or float (0o17, 0777, 1_000, 1e3, .5, .inf) gives up
_SIMPLE_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_SIMPLE_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_DIRECTIVE = re.compile(r"^%", re.M)


def _fast_root(text: str) -> YamlMap | None:
    """The top-level mapping of `text` read by libyaml, or None when the fast
    parser gives up (see the module's docstring)."""
    parser_class = _fast_parser()
    if parser_class is None or _DIRECTIVE.search(text):
        return None
    parser = parser_class(text)
    try:
        node = parser.get_single_node()
    except Exception:  # any syntax error: ruamel.yaml tells it
        return None
    finally:
        parser.dispose()
    if node is None or node.tag != _MAP:
        return None
    try:
        root = _fast_value(node, set())
    except _GiveUp:
        return None
    assert isinstance(root, YamlMap)
    return root


_parser_class: list[Any] = []


def _fast_parser() -> Any:
    """libyaml's parser that tags each node with how it was written, or None
    when PyYAML was built without libyaml."""
    if not _parser_class:
        try:
            from yaml._yaml import CParser
            from yaml.nodes import MappingNode, ScalarNode
        except ImportError:
            _parser_class.append(None)
            return None

        class _Parser(CParser):  # type: ignore[misc]
            def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
                if kind is ScalarNode:
                    return _PLAIN if implicit[0] else _QUOTED if implicit[1] else _TAGGED
                if not implicit:
                    return _TAGGED
                return _MAP if kind is MappingNode else _SEQ

            def descend_resolver(self, parent: Any, index: Any) -> None:
                pass

            def ascend_resolver(self) -> None:
                pass

        _parser_class.append(_Parser)
    return _parser_class[0]


def _fast_value(node: Any, seen: set[int]) -> Any:
    if id(node) in seen:  # an alias: ruamel.yaml reads it
        raise _GiveUp
    seen.add(id(node))
    tag = node.tag
    if tag == _PLAIN:
        return _plain_scalar(node.value)
    if tag == _QUOTED:
        if node.style not in ("'", '"'):  # a block scalar (| or >)
            raise _GiveUp
        return node.value
    if tag == _MAP:
        mapping = YamlMap()
        mapping.line = node.start_mark.line + 1
        lines = mapping.lines = {}
        for key_node, value_node in node.value:
            key = _fast_value(key_node, seen)
            if type(key) is not str or key in mapping:  # ruamel refuses a duplicate key
                raise _GiveUp
            mapping[key] = _fast_value(value_node, seen)
            lines[key] = key_node.start_mark.line + 1
        return mapping
    if tag == _SEQ:
        sequence = YamlSeq()
        sequence.line = node.start_mark.line + 1
        sequence.lines = [item.start_mark.line + 1 for item in node.value]
        sequence.extend(_fast_value(item, seen) for item in node.value)
        return sequence
    raise _GiveUp  # a tag (`!!str`, `!foo`): ruamel.yaml reads it


def _plain_scalar(value: str) -> Any:
    if value in _NULL:
        return None
    boolean = _BOOL.get(value)
    if boolean is not None:
        return boolean
    if value in ("<<", "="):  # a merge key, a value key
        raise _GiveUp
    if value[0] in _NUMERIC_START:
        if _FLOAT_12.match(value):
            if _SIMPLE_FLOAT.fullmatch(value):
                return float(value)
            raise _GiveUp
        if _INT_12.match(value):
            if _SIMPLE_INT.fullmatch(value):
                return int(value)
            raise _GiveUp
    return value  # text; a date or time stays text too


def _fast_lines(node: Any, prefix: str = "") -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(node, YamlMap):
        for key, child in node.items():
            path = f"{prefix}{key}"
            lines[path] = node.lines[key]
            lines.update(_fast_lines(child, f"{path}."))
    elif isinstance(node, YamlSeq):
        for index, child in enumerate(node):
            path = f"{prefix}{index}"
            lines[path] = node.lines[index]
            lines.update(_fast_lines(child, f"{path}."))
    return lines


def _exact_line_at(root: Any, loc: tuple[Any, ...]) -> int:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    line = _start(root)
    node: Any = root
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
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

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
