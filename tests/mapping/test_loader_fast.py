"""load_mapping reads the files with the fast parser and, when anything is
wrong, again with ruamel.yaml's round-trip loader: the same Mapping as ruamel
alone gives, and the same errors, each with its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lapor_bridge import yamlfiles
from lapor_bridge.mapping import MappingFilesInvalid, load_mapping
from lapor_bridge.mapping.loader import read_rules

from .conftest import SEED_TOPICS, UNITS, write_mapping

REPO_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each file read was read by the fast parser."""
    seen: list[bool] = []
    real = yamlfiles.parse_yaml

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result[0] is not None and result[0].fast)
        return result

    monkeypatch.setattr(yamlfiles, "parse_yaml", spy)
    return seen


def ruamel_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the loader did before the fast parser: ruamel reads every file."""
    monkeypatch.setattr(yamlfiles, "_fast_root", lambda text: None)


@pytest.mark.parametrize("topics", [None, SEED_TOPICS])
def test_the_repo_mapping_is_the_same_read_fast(monkeypatch, parsed, topics) -> None:
    fast = load_mapping(REPO_MAPPINGS, topics=topics)
    assert parsed == [True, True]  # units.yaml and rules.yaml, read once each, fast
    ruamel_only(monkeypatch)
    exact = load_mapping(REPO_MAPPINGS, topics=topics)
    assert fast == exact
    assert [(r.id, r.line, r.lines, r.sources) for r in fast.rules] == [
        (r.id, r.line, r.lines, r.sources) for r in exact.rules
    ]
    assert [(u.code, u.line, u.notify) for u in fast.units.values()] == [
        (u.code, u.line, u.notify) for u in exact.units.values()
    ]


def refusal(directory: Path) -> MappingFilesInvalid:
    with pytest.raises(MappingFilesInvalid) as caught:
        load_mapping(directory, topics=SEED_TOPICS)
    return caught.value


RULES_OK = "rules:\n  - id: a\n    when: {topic: 101}\n    opd: DPUPR\n"

BROKEN = {
    "duplicate key": (
        RULES_OK + "    opd: DISHUB\n",
        UNITS,
        ("rules.yaml", 5, "YAML syntax error: found duplicate key"),
    ),
    "duplicate key in units": (
        RULES_OK,
        UNITS.replace("    name: Dinas PU\n", "    name: Dinas PU\n    name: PU\n"),
        ("units.yaml", 9, "YAML syntax error: found duplicate key"),
    ),
    "bad type": (
        RULES_OK + "    complex: yes\n",
        UNITS,
        ("rules.yaml", 5, "`complex` must be true or false, not 'yes'"),
    ),
    "bad type in units": (
        RULES_OK,
        UNITS.replace("kind: kecamatan\n    kecamatan: Moga", "kind: kecamatan\n    kecamatan: 12"),
        ("units.yaml", 28, "`kecamatan` must be text, not 12"),
    ),
    "unknown unit": (
        RULES_OK.replace("DPUPR", "DPUPRR"),
        UNITS,
        ("rules.yaml", 4, "rule `a`: opd `DPUPRR` is not a unit in units.yaml"),
    ),
}


@pytest.mark.parametrize("rules,units,expected", BROKEN.values(), ids=BROKEN.keys())
def test_errors_are_told_as_ruamel_tells_them(
    tmp_path: Path, monkeypatch, parsed, rules: str, units: str, expected
) -> None:
    directory = write_mapping(tmp_path / "m", rules, units)
    refused = refusal(directory)
    file, line, message = expected
    [error] = refused.errors
    assert (Path(error.file).name, error.line) == (file, line)
    assert error.message.startswith(message)
    assert f"{directory / file}:{line}: {message}" in str(refused)
    assert parsed[2:] == [False, False]  # both files read again, by ruamel
    ruamel_only(monkeypatch)
    before = refusal(directory)
    assert str(refused) == str(before)
    assert refused.issues == before.issues


def test_read_rules_tells_errors_as_ruamel_does(tmp_path: Path, monkeypatch) -> None:
    path = write_mapping(tmp_path, RULES_OK + "    opd: DISHUB\n  - id: b\n") / "rules.yaml"
    rules, issues = read_rules(path)
    ruamel_only(monkeypatch)
    assert (rules, issues) == read_rules(path)
    assert [(i.line, i.message.split(":")[0]) for i in issues] == [(5, "YAML syntax error")]
