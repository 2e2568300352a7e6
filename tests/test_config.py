"""Settings: environment, config file, one-line errors."""

from datetime import UTC, datetime

import pytest

from lapor_bridge.config import load_settings
from lapor_bridge.errors import ConfigError


def test_environment_and_file(tmp_path, monkeypatch):
    conf = tmp_path / "bridge.toml"
    conf.write_text(
        'api_url = "http://127.0.0.1:8708/api/v1/"\ninstansi_id = 3327\nlookback_s = 600\n'
    )
    monkeypatch.setenv("LAPOR_BRIDGE_CONFIG", str(conf))
    monkeypatch.setenv("LAPOR_BRIDGE_LOOKBACK_S", "900")
    monkeypatch.setenv("LAPOR_BRIDGE_TOKEN", "t0ken")
    s = load_settings()
    assert s.api_url == "http://127.0.0.1:8708/api/v1"  # trailing slash trimmed
    assert s.lookback_s == 900  # the environment wins over the file
    assert s.require_upstream() == ("http://127.0.0.1:8708/api/v1", "t0ken", 3327)
    assert "t0ken" not in repr(s)


def test_naive_initial_since_is_wib(monkeypatch):
    monkeypatch.setenv("LAPOR_BRIDGE_INITIAL_SINCE", "2025-01-01T00:00:00")
    assert load_settings().initial_since.astimezone(UTC) == datetime(2024, 12, 31, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("LAPOR_BRIDGE_INSTANSI_ID", "pemalang", "LAPOR_BRIDGE_INSTANSI_ID"),
        ("LAPOR_BRIDGE_API_URL", "ftp://x", "LAPOR_BRIDGE_API_URL"),
        ("LAPOR_BRIDGE_TIMEZONE", "Mars/Olympus", "LAPOR_BRIDGE_TIMEZONE"),
        ("LAPOR_BRIDGE_PAGE_LIMIT", "5000", "LAPOR_BRIDGE_PAGE_LIMIT"),
    ],
)
def test_invalid_setting_is_one_clear_line(monkeypatch, name, value, needle):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert needle in err.value.message and "\n" not in err.value.message
    assert err.value.exit_code == 2


def test_missing_upstream_settings_are_named():
    with pytest.raises(
        ConfigError, match="LAPOR_BRIDGE_API_URL, LAPOR_BRIDGE_TOKEN, LAPOR_BRIDGE_INSTANSI_ID"
    ):
        load_settings(api_url=None).require_upstream()


def test_config_file_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("LAPOR_BRIDGE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()
