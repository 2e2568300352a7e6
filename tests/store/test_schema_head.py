"""The newest schema, known without alembic: a store already at it is opened with
one look at its revision, and alembic is imported only to migrate."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from lapor_bridge.store import db
from lapor_bridge.store.db import MIGRATIONS_DIR, open_store, schema_head

REPO = Path(__file__).resolve().parents[2]


def test_the_head_read_from_the_files_is_alembics():
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert schema_head() == scripts.get_current_head()
    assert schema_head() is not None


def write_versions(folder: Path, revisions: dict[str, str]) -> None:
    (folder / "versions").mkdir()
    for name, body in revisions.items():
        (folder / "versions" / f"{name}.py").write_text(textwrap.dedent(body))


@pytest.mark.parametrize(
    ("revisions", "head"),
    [
        (
            {
                "a": 'revision = "a"\ndown_revision = None\n',
                "b": "revision: str = 'b'\ndown_revision: str | None = 'a'\n",
            },
            "b",
        ),
        (  # a branch: two heads
            {
                "a": 'revision = "a"\ndown_revision = None\n',
                "b": 'revision = "b"\ndown_revision = "a"\n',
                "c": 'revision = "c"\ndown_revision = "a"\n',
            },
            None,
        ),
        (  # a merge: down_revision is a tuple
            {
                "a": 'revision = "a"\ndown_revision = None\n',
                "m": 'revision = "m"\ndown_revision = ("a", "b")\n',
            },
            None,
        ),
        ({"a": "revision = make_id()\ndown_revision = None\n"}, None),  # not plain
    ],
)
def test_files_that_do_not_say_it_plainly_leave_it_to_alembic(
    tmp_path, monkeypatch, revisions, head
):
    write_versions(tmp_path, revisions)
    monkeypatch.setattr(db, "MIGRATIONS_DIR", tmp_path)
    schema_head.cache_clear()
    try:
        assert schema_head() == head
    finally:
        monkeypatch.undo()
        schema_head.cache_clear()


def test_a_current_store_is_opened_without_importing_alembic(store_url):
    open_store(store_url).dispose()  # created and migrated (alembic)
    probe = (
        "import sys\n"
        "from lapor_bridge.store import open_store\n"
        f"open_store({store_url!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
