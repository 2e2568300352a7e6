"""Settings: environment variables `LAPOR_BRIDGE_*`, optionally a TOML file.

The file is `LAPOR_BRIDGE_CONFIG` (or `./lapor-bridge.toml` when present);
environment variables win over it. A missing or invalid setting raises
ConfigError with one line saying which setting and what to do.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lapor_bridge.errors import ConfigError
from lapor_bridge.timeutil import IanaZone

ENV_PREFIX = "LAPOR_BRIDGE_"
DEFAULT_CONFIG_FILE = Path("lapor-bridge.toml")


def _config_file() -> Path | None:
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{ENV_PREFIX}CONFIG names {path}, which is not a file.")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    api_url: str | None = Field(
        None, description="Base URL of the LAPOR! API, e.g. https://host/api/v1"
    )
    token: SecretStr | None = Field(None, description="Bearer token of the regency's integration")
    instansi_id: int | None = Field(None, gt=0, description="The regency's instansi id on LAPOR!")
    database_url: str = "sqlite:///lapor-bridge.db"
    mappings_dir: Path = Path("mappings")
    timezone: IanaZone = "Asia/Jakarta"
    language: Literal["id", "en"] = Field(
        "id", description="language of what people read: pages, messages, spreadsheets"
    )
    lapor_url_template: str = Field(
        "https://www.lapor.go.id/laporan/detil/{tracking_id}",
        description="link to a report on LAPOR!; {tracking_id} is replaced",
    )

    # pull
    initial_since: datetime = Field(
        datetime(2012, 1, 1, tzinfo=UTC), description="where the very first sync starts"
    )
    lookback_s: int = Field(
        300, ge=0, description="re-read this much before the checkpoint (> 120 s lag)"
    )
    page_limit: int = Field(500, ge=1, le=500)
    backfill_window_h: int = Field(24 * 7, ge=1)

    # upstream client
    rate_limit_per_s: float = Field(10.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(6, ge=1)
    max_retry_elapsed_s: float = Field(60.0, gt=0)
    max_retry_after_s: float = Field(30.0, ge=0)

    # push
    push_lease_s: float = Field(
        120, gt=0, description="must exceed the longest upstream call (push checks it)"
    )
    push_max_attempts: int = Field(12, ge=1)

    # operations
    lock_dir: Path | None = None
    metrics_file: Path | None = None

    # push (outbox): backoff across runs of a follow-up that failed transiently
    push_backoff_base_s: float = Field(30.0, ge=0)
    push_backoff_max_s: float = Field(3600.0, ge=0)

    # notifications (lapor_bridge.notify)
    admin_notify: str | None = Field(
        None,
        description="apprise URLs for admin alerts, space-separated (${NAME} from the environment)",
    )
    stale_after_s: float = Field(
        1800, gt=0, description="alert admins when sync has not succeeded this long"
    )
    notify_lease_s: float = Field(300, gt=0, description="lease of a message being delivered")
    notify_max_attempts: int = Field(10, ge=1)
    notify_backoff_base_s: float = Field(60.0, ge=0)
    notify_backoff_max_s: float = Field(3600.0, ge=0)
    notify_budget_s: float = Field(
        30.0, gt=0, description="time one delivery pass may take; the rest waits for the next run"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("initial_since")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("Asia/Jakarta"))

    @field_validator("lapor_url_template")
    @classmethod
    def _report_link(cls, value: str) -> str:
        if "{tracking_id}" not in value or not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL containing {tracking_id}")
        return value

    def report_link(self, tracking_id: int) -> str:
        """The report's page on LAPOR!, from `lapor_url_template`."""
        return self.lapor_url_template.replace("{tracking_id}", str(tracking_id))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_upstream(self) -> tuple[str, str, int]:
        """The three settings every upstream command needs, or a ConfigError."""
        missing = [
            f"{ENV_PREFIX}{name.upper()}"
            for name, value in (
                ("api_url", self.api_url),
                ("token", self.token),
                ("instansi_id", self.instansi_id),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"missing setting {', '.join(missing)}: set it in the environment or the config file."
            )
        assert self.api_url and self.token and self.instansi_id
        return self.api_url, self.token.get_secret_value(), self.instansi_id


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's report into one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(
            f"invalid setting {problems}. Fix it in the environment or config file."
        ) from None
