"""Config that cannot be silently wrong."""

from __future__ import annotations

import json

import pytest

from lapor_bridge.config import load_settings
from lapor_bridge.errors import ConfigError
from tests.ops.helpers import TOKEN, bridge_env, cli


def _with_file(monkeypatch, tmp_path, text: str):
    conf = tmp_path / "lapor-bridge.toml"
    conf.write_text(text)
    monkeypatch.setenv("LAPOR_BRIDGE_CONFIG", str(conf))
    return conf


def test_a_mistyped_key_is_an_error_with_did_you_mean(monkeypatch, tmp_path):
    conf = _with_file(monkeypatch, tmp_path, 'api_url = "http://x/api/v1"\n\npage_limt = 100\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.message.startswith(f"{conf}:3: unknown setting `page_limt`")
    assert "did you mean `page_limit`" in err.value.message


def test_an_env_style_key_is_pointed_to_its_file_spelling(monkeypatch, tmp_path):
    _with_file(monkeypatch, tmp_path, "LAPOR_BRIDGE_PAGE_LIMIT = 100\n")
    with pytest.raises(ConfigError, match="spelled `page_limit`"):
        load_settings()


def test_malformed_toml_is_one_line_with_file_and_line_exit_2(tmp_path):
    conf = tmp_path / "lapor-bridge.toml"
    conf.write_text('api_url = "http://x/api/v1"\npage_limit = = 3\n')
    env = bridge_env(None, f"sqlite:///{tmp_path / 'b.db'}", LAPOR_BRIDGE_CONFIG=str(conf))
    proc = cli("sync", env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {conf}:2: not valid TOML")
    assert len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "b.db").exists()


def test_a_bad_value_in_the_file_names_file_and_line(monkeypatch, tmp_path):
    conf = _with_file(monkeypatch, tmp_path, "\npage_limit = 5000\n")
    with pytest.raises(ConfigError, match=rf"page_limit \({conf}:2\)"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"LAPOR_BRIDGE_READ_TIMEOUT_S": "inf"}, "READ_TIMEOUT_S"),
        ({"LAPOR_BRIDGE_CONNECT_TIMEOUT_S": "nan"}, "CONNECT_TIMEOUT_S"),
        ({"LAPOR_BRIDGE_LOOKBACK_S": "60"}, "120 s visibility lag"),
        ({"LAPOR_BRIDGE_PUSH_LEASE_S": "30"}, "push_lease_s (30 s) must be longer"),
        ({"LAPOR_BRIDGE_PUSH_BACKOFF_MAX_S": "1"}, "push_backoff_max_s"),
    ],
)
def test_contradictory_or_infinite_settings_are_refused_before_the_pull(
    make_simulator, tmp_path, env, needle
):
    sim = make_simulator(initial_reports=5)
    proc = cli("sync", env=bridge_env(sim, f"sqlite:///{tmp_path / 'b.db'}", **env))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert sim.request_log() == []


def test_missing_setting_names_the_file_it_read(monkeypatch, tmp_path):
    conf = _with_file(monkeypatch, tmp_path, 'api_url = "http://x/api/v1"\n')
    with pytest.raises(ConfigError) as err:
        load_settings().require_upstream()
    assert "LAPOR_BRIDGE_TOKEN" in err.value.message and str(conf) in err.value.message


def test_config_check_shows_effective_settings_masked_and_their_source(tmp_path):
    conf = tmp_path / "lapor-bridge.toml"
    conf.write_text('api_url = "http://127.0.0.1:9/api/v1"\n\npage_limit = 250\n')
    env = bridge_env(None, f"sqlite:///{tmp_path / 'b.db'}", LAPOR_BRIDGE_CONFIG=str(conf))
    proc = cli("config", "check", env=env)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout and "********" in proc.stdout
    assert "page_limit" in proc.stdout and f"[{conf}:3]" in proc.stdout
    assert "[environment LAPOR_BRIDGE_TOKEN]" in proc.stdout
    assert "[default]" in proc.stdout
    rows = {
        r["name"]: r
        for r in json.loads(cli("config", "check", "--json", env=env).stdout)["settings"]
    }
    assert rows["page_limit"]["value"] == 250 and rows["token"]["value"] == "********"
    assert rows["lookback_s"]["source"] == "default"
    assert not (tmp_path / "b.db").exists()
