"""The one reader of `mappings/` files: lines, every problem, the error table."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from lapor_bridge.yamlfiles import (
    DESCRIBE,
    MappingFilesInvalid,
    model_at,
    raise_if_errors,
    read_yaml_model,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Channel(_Strict):
    kind: str
    every_minutes: int = Field(gt=0)


class Level(_Strict):
    after_hours: float
    channels: list[Channel] | None = None


class EscalationFile(_Strict):
    enabled: bool = True
    levels: dict[str, Level] = Field(min_length=1)


START = "levels: {opd: {after_hours: 2}}"
EXAMPLES = {"after_hours": "after_hours: 2", "every_minutes": "every_minutes: 30"}


def read(tmp_path: Path, text: str):
    path = tmp_path / "escalation.yaml"
    path.write_text(text, encoding="utf-8")
    return read_yaml_model(path, EscalationFile, start=START, examples=EXAMPLES)


def test_a_good_file_gives_the_model_and_no_issues(tmp_path: Path) -> None:
    model, issues = read(tmp_path, "levels:\n  opd: {after_hours: 2}\n")
    assert issues == [] and model is not None
    assert model.levels["opd"].after_hours == 2


def test_every_problem_has_its_line_and_a_fix(tmp_path: Path) -> None:
    text = (
        "enabled: maybe\n"  # 1
        "levels:\n"
        "  opd:\n"
        "    after_hours: soon\n"  # 4
        "    channels:\n"
        "      - kind: email\n"
        "        every_minutes: 0\n"  # 7
        "      - kind: sms\n"
        "        every_minute: 5\n"  # 9: misspelt, and so every_minutes is missing: said once
    )
    model, issues = read(tmp_path, text)
    assert model is None
    found = {(issue.line, issue.message) for issue in issues}
    assert found == {
        (1, "`enabled` must be true or false, not 'maybe'"),
        (4, "`after_hours` must be a number, not 'soon'"),
        (7, "`every_minutes` must be more than 0, not 0"),
        (9, "unknown key `every_minute`"),
    }
    fixes = {issue.line: issue.fix for issue in issues}
    assert fixes[9] == "did you mean `every_minutes`?"
    assert fixes[4] == "write it like `after_hours: 2`"
    assert all(str(issue).startswith(f"{tmp_path}/escalation.yaml:") for issue in issues)


def test_the_file_itself_missing_empty_or_broken(tmp_path: Path) -> None:
    model, issues = read_yaml_model(tmp_path / "nope.yaml", EscalationFile, start=START)
    assert model is None and issues[0].line == 0 and "LAPOR_BRIDGE_MAPPINGS_DIR" in issues[0].fix
    _, issues = read(tmp_path, "")
    assert issues[0].message == "the file is empty" and START in issues[0].fix
    _, issues = read(tmp_path, "levels:\n\topd: 1\n")
    assert issues[0].line == 2 and issues[0].fix == "indent with spaces, not tabs"
    _, issues = read(tmp_path, "- a\n")
    assert issues[0].message == "the file must be keys and values at the top level"
    (tmp_path / "escalation.yaml").write_bytes(b"levels: \xff\n")
    _, issues = read_yaml_model(tmp_path / "escalation.yaml", EscalationFile, start=START)
    assert "not UTF-8" in issues[0].message


def test_raise_if_errors_refuses_with_exit_3_and_every_error(tmp_path: Path) -> None:
    _, issues = read(tmp_path, "enabled: 2\nlevels: {}\n")
    with pytest.raises(MappingFilesInvalid) as info:
        raise_if_errors("the escalation file", issues)
    assert info.value.exit_code == 3
    assert "has 2 errors; nothing was changed" in info.value.message
    raise_if_errors("nothing wrong", [])  # no error: no exception


def test_the_allowed_keys_come_from_the_nested_model() -> None:
    assert model_at(EscalationFile, ("levels", "opd")) is Level
    assert model_at(EscalationFile, ("levels", "opd", "channels", 0)) is Channel


def test_the_common_pydantic_error_types_have_an_entry() -> None:
    for kind in ("missing", "extra_forbidden", "int_parsing", "string_type", "bool_parsing",
                 "literal_error", "enum", "list_type", "model_type", "value_error",
                 "greater_than", "less_than", "date_from_datetime_parsing", "too_short"):  # fmt: skip
        assert kind in DESCRIBE
