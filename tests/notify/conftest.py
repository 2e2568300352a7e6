"""Fixtures of the notification tests: a copy of the shipped mappings with
`notify:` URLs pointing at real receivers on 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

pytest.register_assert_rewrite("tests.outbox.helpers")  # (imported here before its conftest)

from tests.conftest import REPO  # noqa: E402


def write_mappings(
    target: Path,
    notify: dict[str, list[str]],
    heads: dict[str, list[str]] | None = None,
    recipients: dict[str, list[str]] | None = None,
    digest_at: str | None = None,
) -> Path:
    """The shipped mappings in `target`, with these units' `notify:` (and heads')."""
    shutil.copytree(REPO / "mappings", target, dirs_exist_ok=True)
    yaml = YAML(typ="rt")
    units_file = target / "units.yaml"
    doc = yaml.load(units_file.read_text(encoding="utf-8"))
    for unit in doc["units"]:
        if unit["code"] in notify:
            unit["notify"] = notify[unit["code"]]
        if heads and unit["code"] in heads:
            unit["notify_head"] = heads[unit["code"]]
    with units_file.open("w", encoding="utf-8") as handle:
        yaml.dump(doc, handle)
    if recipients or digest_at:
        esc_file = target / "escalation.yaml"
        esc = yaml.load(esc_file.read_text(encoding="utf-8"))
        for name, urls in (recipients or {}).items():
            esc["recipients"][name]["notify"] = urls
        if digest_at:
            esc["digest_at"] = digest_at
        with esc_file.open("w", encoding="utf-8") as handle:
            yaml.dump(esc, handle)
    return target


@pytest.fixture
def mappings_dir(tmp_path) -> Path:
    return tmp_path / "mappings"
