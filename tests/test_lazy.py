"""A package's names load their module at first use, and only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_a_package_loads_a_module_only_when_one_of_its_names_is_used():
    probe = (
        "import sys, lapor_bridge.mapping as m, lapor_bridge.outbox as o\n"
        "print('lapor_bridge.mapping.apply' in sys.modules, 'lapor_bridge.outbox.push' in sys.modules)\n"
        "m.assign_reports, o.push_outbox\n"
        "print('lapor_bridge.mapping.apply' in sys.modules, 'lapor_bridge.outbox.push' in sys.modules)\n"
        "print('assign_reports' in vars(m))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False", "True", "True", "True"]


def test_an_unknown_name_is_an_attribute_error():
    import lapor_bridge.notify as notify

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        notify.nope  # noqa: B018
