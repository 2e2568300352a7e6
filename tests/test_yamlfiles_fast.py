"""The fast parser of `mappings/` (libyaml) gives what ruamel.yaml's round-trip
loader gives, values and lines, or gives up so that ruamel reads the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from lapor_bridge import yamlfiles
from lapor_bridge.yamlfiles import YamlDocument, parse_yaml, read_yaml, validate

ROOT = Path(__file__).resolve().parents[1]
REPO_FILES = sorted((ROOT / "mappings").glob("*.yaml")) + sorted(
    (ROOT / "lapor_bridge" / "defaults" / "mappings").glob("*.yaml")
)


def typed(value: Any) -> Any:
    """A value with the basic type of each scalar, so `True` and `1`, `1` and
    `1.0`, `"1"` and `1` differ (ruamel's ScalarFloat is a float, and so on)."""
    if isinstance(value, dict):
        return {(type(k).__name__, k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return (kind.__name__, value)
    return (type(value).__name__, repr(value))


def both(text: str) -> tuple[YamlDocument, YamlDocument]:
    fast, issues = parse_yaml(text, file="f.yaml", start="a: 1")
    exact, exact_issues = parse_yaml(text, file="f.yaml", start="a: 1", exact=True)
    assert issues == exact_issues == []
    assert fast is not None and exact is not None and not exact.fast
    return fast, exact


def assert_same(fast: YamlDocument, exact: YamlDocument) -> None:
    assert typed(fast.plain()) == typed(exact.plain())
    assert fast.lines_under() == exact.lines_under()
    assert fast.line_at(()) == exact.line_at(())
    for path in exact.lines_under():
        loc = tuple(int(p) if p.isdigit() else p for p in path.split("."))
        assert fast.line_at(loc) == exact.line_at(loc), path


@pytest.mark.parametrize("path", REPO_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_repo_files_read_fast_and_the_same(path: Path) -> None:
    fast, _ = read_yaml(path, start="a: 1")
    exact, _ = read_yaml(path, start="a: 1", exact=True)
    assert fast is not None and exact is not None
    assert fast.fast, f"{path} is no longer read by the fast parser (see yamlfiles.py)"
    assert_same(fast, exact)


SAME = {
    "yaml-1.2 words stay text": "a: no\nb: yes\nc: on\nd: off\ne: y\nf: N\ng: Off\n",
    "booleans": "a: true\nb: True\nc: FALSE\nd: 'true'\n",
    "nulls": "a: ~\nb: null\nc: Null\nd:\ne: 'null'\nf: [~, null, '']\n",
    "numbers": "a: 1\nb: -7\nc: 0\nd: 1.5\ne: -0.25\nf: '12'\ng: \"3.0\"\nh: 1.50\n",
    "numbers that are text": "a: 1.2.3\nb: 0812-0000-0001\nc: 12abc\nd: -x\ne: 1:30\nf: 3a\n",
    "dates stay text": "a: 2026-01-02\nb: 2026-01-02 10:00:00\nc: 2026-01-02T10:00:00Z\n",
    "quotes and escapes": "a: 'it''s'\nb: \"tab\\there \\u00e9 \\x41\"\nc: \"#not a comment\"\n",
    "comments and blank lines": "# head\n\na: 1  # one\n\n# mid\nb:\n  # in\n  c: 2\n",
    "plain text over lines": "a: one\n  two\n\n  three\nb: x:y\nc: a - b\n",
    "flow and block": "a: {b: 1, c: [x, 'y', {d: e}]}\nl:\n- 1\n- - 2\n  - 3\n-\n  k: v\n",
    "items of maps": "rules:\n  - id: a\n    when: {topic: [101, 102]}\n  -   id: b\n      opd: X\n",
    "document marker": "---\na: 1\n...\n",
    "unicode": "nama: Dinas Perhubungan — Pemalang ✓\nkecamatan: Ulujami\n",
    "anchors without aliases": "a: &x 5\nb: &y {c: 1}\n",
}


@pytest.mark.parametrize("text", SAME.values(), ids=SAME.keys())
def test_the_fast_parser_reads_as_ruamel_does(text: str) -> None:
    fast, exact = both(text)
    assert fast.fast
    assert_same(fast, exact)


def test_no_means_the_text_no_and_true_means_true() -> None:
    fast, _ = both("complex: no\nenabled: true\nmode: 0777x\n")
    assert fast.plain() == {"complex": "no", "enabled": True, "mode": "0777x"}


GIVES_UP = {
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "duplicate key in an item": "l:\n  - id: x\n    id: y\n",
    "merge key": "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n",
    "alias": "a: &x [1]\nb: *x\n",
    "tag": "a: !!str 12\n",
    "local tag": "a: !foo 12\n",
    "literal block": "a: |\n  line\n",
    "folded block": "a: >\n  one\n  two\n",
    "octal-looking 0777 (777 in YAML 1.2)": "a: 0777\n",
    "octal 0o17": "a: 0o17\n",
    "hex": "a: 0x1F\n",
    "underscores": "a: 1_000\n",
    "exponent": "a: 1e3\n",
    "leading dot": "a: .5\n",
    "trailing dot": "a: 1.\n",
    "infinity": "a: .inf\n",
    "plus sign": "a: +5\n",
    "a number as key": "3327: x\n",
    "a null key": "~: x\n",
    "yaml 1.1 directive": "%YAML 1.1\n---\na: yes\n",
    "syntax error": "a: [1, 2\n",
    "not keys at the top": "- a\n- b\n",
    "empty": "# nothing\n",
    "two documents": "a: 1\n---\nb: 2\n",
}


@pytest.mark.parametrize("text", GIVES_UP.values(), ids=GIVES_UP.keys())
def test_the_fast_parser_gives_up_where_it_cannot_promise_ruamels_value(text: str) -> None:
    assert yamlfiles._fast_root(text) is None
    fast = parse_yaml(text, file="f.yaml", start="a: 1")
    exact = parse_yaml(text, file="f.yaml", start="a: 1", exact=True)
    assert (fast[0] is None) == (exact[0] is None) and fast[1] == exact[1]
    if fast[0] is not None and exact[0] is not None:
        assert not fast[0].fast
        assert typed(fast[0].plain()) == typed(exact[0].plain())


def test_a_duplicate_key_is_refused_with_its_line() -> None:
    document, issues = parse_yaml("a: 1\nb: 2\na: 3\n", file="units.yaml", start="a: 1")
    assert document is None
    [issue] = issues
    assert str(issue).startswith("units.yaml:3: YAML syntax error: found duplicate key")
    assert issue.fix == "a key may appear once per item; remove or rename the second one"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Item(_Strict):
    name: str
    every: int


class File(_Strict):
    enabled: bool
    items: list[Item]


def test_an_error_found_on_the_fast_document_is_told_from_ruamels() -> None:
    text = "enabled: no\nitems:\n  - name: a\n    every: 1\n  - name: 7\n    every: '2'\n"
    fast, exact = both(text)
    assert fast.fast
    model, issues = validate(fast, File)
    assert model is None
    assert issues == validate(exact, File)[1]
    assert [(i.file, i.line) for i in issues] == [("f.yaml", 1), ("f.yaml", 5), ("f.yaml", 6)]
    # and one item on its own, as the loaders validate them
    item = fast.root["items"][1]
    issues = validate(fast, Item, item, loc=("items", 1))[1]
    assert issues == validate(exact, Item, exact.root["items"][1], loc=("items", 1))[1]
    assert [i.line for i in issues] == [5, 6]


def test_the_exact_document_is_read_once() -> None:
    fast, _ = both("a: 1\n")
    assert fast.exact() is fast.exact() and fast.exact() is not fast
    assert fast.exact().exact() is fast.exact()  # type: ignore[union-attr]
