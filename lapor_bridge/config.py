"""Settings: environment variables `LAPOR_BRIDGE_*`, optionally a TOML file.

The file is `LAPOR_BRIDGE_CONFIG` (or `./lapor-bridge.toml` when present);
environment variables win over it. A missing or invalid setting raises
ConfigError with one line saying which setting, where it came from
(`file:line` or the variable) and what to do. Nothing is silently ignored:
an unknown key in the file is an error with "did you mean", a key spelled
as the environment variable (`LAPOR_BRIDGE_PAGE_LIMIT`) is pointed to its
file spelling (`page_limit`), a malformed file is one line with file:line,
and settings that contradict each other are refused before anything runs.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lapor_bridge.errors import ConfigError
from lapor_bridge.timeutil import IanaZone

ENV_PREFIX = "LAPOR_BRIDGE_"
DEFAULT_CONFIG_FILE = Path("lapor-bridge.toml")
VISIBILITY_LAG_S = 120  # the contract's: a change may become visible this late
SECRETS = ("token",)


def _config_file() -> Path | None:
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{ENV_PREFIX}CONFIG names {path}, which is not a file.")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def read_config_file(path: Path, known: set[str]) -> dict[str, Any]:
    """The TOML file's settings; malformed or unknown keys are one-line ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = f":{where.group(1)}" if where else ""
        raise ConfigError(f"{path}{line}: not valid TOML: {reason}. Fix the file.") from None
    for key, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(
                f"{path}:{key_line(text, key)}: [{key}] sections are not settings; "
                "write every setting at the top level as `name = value`"
            )
        if key in known:
            continue
        plain = key.lower().removeprefix(ENV_PREFIX.lower())
        if plain in known:
            hint = f"in the file it is spelled `{plain}` (the environment variable is {ENV_PREFIX}{plain.upper()})"
        else:
            close = difflib.get_close_matches(plain, sorted(known), n=1, cutoff=0.6)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else "see `lapor-bridge config check` for the settings"
            )
        raise ConfigError(f"{path}:{key_line(text, key)}: unknown setting `{key}`: {hint}")
    return data


def key_line(text: str, key: str) -> int:
    """The line of `key = ...` in a TOML text (1 when not found)."""
    pattern = re.compile(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


class _TomlFile(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.data = read_config_file(path, set(settings_cls.model_fields))

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", allow_inf_nan=False)

    api_url: str | None = Field(
        None, description="Base URL of the LAPOR! API, e.g. https://host/api/v1"
    )
    token: SecretStr | None = Field(None, description="Bearer token of the regency's integration")
    instansi_id: int | None = Field(None, gt=0, description="The regency's instansi id on LAPOR!")
    database_url: str = Field(
        "sqlite:///lapor-bridge.db",
        description="the store: sqlite:///path.db, or postgresql://user@host/db for several workers",
    )
    mappings_dir: Path = Field(
        Path("mappings"), description="folder of units.yaml, rules.yaml, sla.yaml"
    )
    timezone: IanaZone = Field("Asia/Jakarta", description="the regency's time zone")
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
    page_limit: int = Field(500, ge=1, le=500, description="listing page size (1..500)")
    backfill_window_h: int = Field(24 * 7, ge=1, description="backfill window size in hours")

    # upstream client
    rate_limit_per_s: float = Field(
        10.0, gt=0, description="client-side request rate (the contract's limit)"
    )
    connect_timeout_s: float = Field(5.0, gt=0, description="connect timeout of every request")
    read_timeout_s: float = Field(30.0, gt=0, description="read timeout of every request")
    max_attempts: int = Field(
        6, ge=1, description="attempts per request (5xx, dropped connections)"
    )
    max_retry_elapsed_s: float = Field(
        60.0, gt=0, description="time budget of one request's retries"
    )
    max_retry_after_s: float = Field(
        30.0,
        ge=0,
        description="a longer Retry-After is not slept: the run ends and the next one goes on",
    )

    # push
    push_lease_s: float = Field(
        120, gt=0, description="must exceed the longest upstream call (push checks it)"
    )
    push_max_attempts: int = Field(12, ge=1, description="delivery attempts before an item is dead")

    # operations
    lock_dir: Path | None = Field(
        None, description="folder of the job locks and the runs kept before the store opens"
    )
    metrics_file: Path | None = Field(
        None, description="Prometheus textfile for node_exporter (off when unset)"
    )
    stale_after_s: float = Field(
        1800,
        gt=0,
        description="`health` fails and admins are told when no sync succeeded for this long",
    )

    # push (outbox): backoff across runs of a follow-up that failed transiently
    push_backoff_base_s: float = Field(
        30.0, ge=0, description="first retry delay of a failed follow-up"
    )
    push_backoff_max_s: float = Field(
        3600.0, ge=0, description="longest retry delay of a failed follow-up"
    )

    # notifications (lapor_bridge.notify)
    admin_notify: str | None = Field(
        None,
        description="apprise URLs for admin alerts, space-separated (${NAME} from the environment)",
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
            sources.append(_TomlFile(settings_cls, path))
        return tuple(sources)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Settings that contradict each other are refused before anything runs."""
        longest = self.max_retry_elapsed_s + self.connect_timeout_s + self.read_timeout_s
        if self.push_lease_s <= longest:
            raise ValueError(
                f"push_lease_s ({self.push_lease_s:g} s) must be longer than the longest upstream "
                f"call ({longest:g} s = max_retry_elapsed_s + connect_timeout_s + read_timeout_s), "
                "or a follow-up still in flight could be posted twice"
            )
        if self.lookback_s < VISIBILITY_LAG_S:
            raise ValueError(
                f"lookback_s ({self.lookback_s} s) must be at least the API's {VISIBILITY_LAG_S} s "
                "visibility lag, or late-visible changes are missed; the default is 300"
            )
        if self.push_backoff_max_s < self.push_backoff_base_s:
            raise ValueError("push_backoff_max_s must not be below push_backoff_base_s")
        return self

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
            path = _config_file()
            read = (
                f"the environment and {path}"
                if path
                else (
                    f"the environment (no config file: {DEFAULT_CONFIG_FILE} not found, "
                    f"{ENV_PREFIX}CONFIG not set)"
                )
            )
            raise ConfigError(
                f"missing setting {', '.join(missing)}: set it in the environment or the config "
                f"file (read: {read})."
            )
        assert self.api_url and self.token and self.instansi_id
        return self.api_url, self.token.get_secret_value(), self.instansi_id


def origin(name: str) -> str:
    """Where setting `name` came from: the variable, `file:line`, or `default`."""
    env = f"{ENV_PREFIX}{name.upper()}"
    if env in os.environ:
        return f"environment {env}"
    path = _config_file()
    if path is not None:
        text = path.read_text(encoding="utf-8")
        if name in tomllib.loads(text):
            return f"{path}:{key_line(text, name)}"
    return "default"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's report into one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise ConfigError(
            f"invalid setting {problems}. Fix it in the environment or config file."
        ) from None


def _problem(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    name = ".".join(str(p) for p in error["loc"])
    try:
        where = origin(name)
    except (OSError, tomllib.TOMLDecodeError, ConfigError):
        where = "default"
    label = f"{ENV_PREFIX}{name.upper()}"
    if where.startswith("environment") or where == "default":
        return f"{label}: {message}"
    return f"{name} ({where}): {message}"


# --- config check -------------------------------------------------------------------


def effective_settings(settings: Settings) -> list[dict[str, Any]]:
    """Every setting: name, variable, value (secrets masked), where it came from, meaning."""
    rows = []
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if name in SECRETS or isinstance(value, SecretStr):
            shown: Any = "********" if value else None
        elif isinstance(value, Path | datetime) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            shown = str(value)
        else:
            shown = value
        rows.append(
            {
                "name": name,
                "env": f"{ENV_PREFIX}{name.upper()}",
                "value": shown,
                "source": origin(name),
                "meaning": info.description or "",
            }
        )
    return rows


def show_config(*, fmt: str = "text") -> list[dict[str, Any]]:
    """`lapor-bridge config check`: the effective settings, or the one-line error."""
    import json

    settings = load_settings()
    rows = effective_settings(settings)
    path = _config_file()
    if fmt == "json":
        print(
            json.dumps(
                {"config_file": str(path) if path else None, "settings": rows},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return rows
    print(
        f"config file: {path or f'none ({DEFAULT_CONFIG_FILE} not found, {ENV_PREFIX}CONFIG not set)'}"
    )
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        value = "(unset)" if r["value"] is None else r["value"]
        print(f"{r['name']:<{width}}  {value}  [{r['source']}]")
    missing = [
        r["env"]
        for r in rows
        if r["name"] in ("api_url", "token", "instansi_id") and r["value"] is None
    ]
    if missing:
        print(f"attention: sync, backfill and push need {', '.join(missing)}")
    else:
        print("config OK")
    return rows
