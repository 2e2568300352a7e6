"""The deployment kit: units that systemd accepts, a config that cannot drift, `init`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lapor_bridge.config import Settings
from lapor_bridge.deploy import example_toml
from tests.ops.helpers import REPO, bridge_env, cli

DEPLOY = REPO / "deploy"
UNITS = sorted(DEPLOY.glob("*.service")) + sorted(DEPLOY.glob("*.timer"))


def test_example_config_is_generated_from_settings_and_lists_every_one():
    shipped = (DEPLOY / "lapor-bridge.toml").read_text()
    assert shipped == example_toml(), "regenerate it: python -m lapor_bridge.deploy"
    for name in Settings.model_fields:
        assert f"\n#{name} = " in shipped, name
    uncommented = tomllib.loads(
        "\n".join(
            line[1:]
            for line in shipped.splitlines()
            if line.startswith("#") and " = " in line and not line.startswith("# ")
        )
    )
    assert set(uncommented) == set(Settings.model_fields)  # valid TOML once uncommented


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: scripts/test installs Debian's systemd package")
    assert UNITS, "no units in deploy/"
    for unit in UNITS:  # ExecStart must exist for verify: point it at this interpreter
        text = unit.read_text().replace("/opt/lapor-bridge/venv/bin/lapor-bridge", sys.executable)
        (tmp_path / unit.name).write_text(text)
    proc = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # unknown keys are only warnings: none allowed
    service = (DEPLOY / "lapor-bridge-sync.service").read_text()
    assert "SuccessExitStatus=75" in service and "KillSignal=SIGTERM" in service


def test_crontab_and_logrotate_point_at_the_same_paths():
    crontab = (DEPLOY / "crontab").read_text()
    assert (
        "/opt/lapor-bridge/venv/bin/lapor-bridge sync --log-file /var/log/lapor-bridge/" in crontab
    )
    assert "/var/log/lapor-bridge/*.log" in (DEPLOY / "logrotate").read_text()


def test_init_writes_the_config_and_the_shipped_mappings(tmp_path):
    env = bridge_env(None, "sqlite:///unused.db")
    target = tmp_path / "site"
    proc = cli("init", str(target), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (target / "lapor-bridge.toml").read_text() == example_toml()
    for name in ("units.yaml", "rules.yaml", "sla.yaml"):
        assert (target / "mappings" / name).read_bytes() == (REPO / "mappings" / name).read_bytes()
    again = cli("init", str(target), env=env)
    assert again.returncode == 2 and "--force" in again.stderr
    # the written folder is a working deployment: its mappings check out
    env = {k: v for k, v in env.items() if k != "LAPOR_BRIDGE_MAPPINGS_DIR"}
    check = cli("mappings", "check", env=env, cwd=target)
    assert check.returncode == 0, check.stderr
    assert not (target / "unused.db").exists()


def test_mappings_ship_in_the_package():
    shipped = Path(__import__("lapor_bridge").__file__).parent / "defaults" / "mappings"
    names = {p.name for p in shipped.glob("*.yaml")}
    assert names == {p.name for p in (REPO / "mappings").glob("*.yaml")}
    assert names >= {"rules.yaml", "sla.yaml", "units.yaml", "escalation.yaml"}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["lapor_bridge"]
    assert "defaults/mappings/*.yaml" in globs


def test_demo_leaves_no_lock_file_beside_its_database(tmp_path):
    env = bridge_env(None, "sqlite:///unused.db")
    proc = cli(
        "demo", "--database", "demo.db", "--reports", "30", env=env, cwd=tmp_path, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["demo.db", "demo.db-shm", "demo.db-wal"] or left == ["demo.db"], left
