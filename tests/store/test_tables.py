"""What importing the store costs: a table's pydantic validator is built at its
first use, not at import (a no-op sync builds none), and it still validates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_table_builds_its_validator_at_first_use_and_still_validates():
    probe = (
        "import lapor_bridge.store.tables as t\n"
        "print(sorted({type(c.__dict__['__pydantic_validator__']).__name__"
        " for c in t._Table.__subclasses__()}))\n"
        "row = t.TopicRow.model_validate({'id': '7', 'parent': 0, 'name': 'x'})\n"
        "print(row.id, type(t.TopicRow.__pydantic_validator__).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["['MockValSer']", "7 SchemaValidator"]
