"""SLA policies: `mappings/sla.yaml`, validated, with errors pointing at file:line.

A policy is one named clock: when it starts, which event stops it, how long it
may run (calendar hours or working days, longer when the case is complex) and
when it turns AT_RISK. The file also fixes the regency's zone and the extra
local days off that the working-day calendar adds to the national holidays.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from lapor_bridge.errors import ConfigError
from lapor_bridge.sla.calendar import WorkingCalendar
from lapor_bridge.timeutil import IanaZone

SLA_FILE = "sla.yaml"


class StartEvent(StrEnum):
    DISPOSITION = "disposition"  # disposed_at, or created_at when missing


class StopEvent(StrEnum):
    FIRST_FOLLOWUP = "first_followup"
    SETTLEMENT = "settlement"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_Strict):
    """Either calendar hours or working days, never both."""

    hours: float | None = Field(None, gt=0)
    working_days: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_unit(self) -> Self:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("give exactly one of `hours` or `working_days`")
        return self

    def __str__(self) -> str:
        return (
            f"{self.hours:g} h" if self.hours is not None else f"{self.working_days} working days"
        )


class Policy(_Strict):
    name: str = ""  # filled from the key in `policies`
    description: str = ""
    start: StartEvent = StartEvent.DISPOSITION
    stop: StopEvent
    duration: Duration
    complex_duration: Duration | None = None
    at_risk: float = Field(0.75, gt=0, lt=1)

    def duration_for(self, *, complex_case: bool) -> Duration:
        if complex_case and self.complex_duration is not None:
            return self.complex_duration
        return self.duration


class DayOff(_Strict):
    date: dt.date
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


PolicyName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class SlaPolicies(_Strict):
    """The whole `sla.yaml`: zone, calendar settings and the policies by name."""

    zone: IanaZone = "Asia/Jakarta"
    cuti_bersama: bool = True
    days_off: list[DayOff] = Field(default_factory=list)
    policies: dict[PolicyName, Policy] = Field(min_length=1)

    @field_validator("policies", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: {**body, "name": key} if isinstance(body, dict) else body
                for key, body in value.items()
            }
        return value

    @field_validator("days_off")
    @classmethod
    def _unique_days(cls, value: list[DayOff]) -> list[DayOff]:
        seen: set[dt.date] = set()
        for day in value:
            if day.date in seen:
                raise ValueError(f"{day.date} is listed twice")
            seen.add(day.date)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @cached_property
    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(
            zone=self.tz,
            cuti_bersama=self.cuti_bersama,
            extra_days_off={day.date: day.reason for day in self.days_off},
        )

    def get(self, name: str) -> Policy:
        try:
            return self.policies[name]
        except KeyError:
            known = ", ".join(sorted(self.policies))
            raise ConfigError(f"no SLA policy named {name!r}; the policies are: {known}") from None


# --- loading ---------------------------------------------------------------


def _line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest node of `loc` that the YAML document has."""
    line: int | None = None
    node = doc
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    return line


def parse_policies(text: str, *, source: str = SLA_FILE) -> SlaPolicies:
    """Validate the text of an `sla.yaml`; a problem raises ConfigError with file:line."""
    yaml = YAML(typ="rt")
    # dates stay text here, so pydantic checks them and the error gets its line
    yaml.constructor.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{source}:1: expected a mapping with `policies:`; see mappings/sla.yaml")
    try:
        return SlaPolicies.model_validate(_plain(doc))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(
                p for p in error["loc"] if p not in ("function-after[_one_unit(), Duration]",)
            )
            line = _line_of(doc, loc)
            where = f"{source}:{line}" if line else source
            path = ".".join(str(p) for p in loc) or "(top)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {path}: {message}")
        raise ConfigError(
            "invalid SLA policies, nothing was changed: " + "; ".join(problems)
        ) from None


def _as_text(constructor: Any, node: Any) -> str:
    return str(node.value)


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (for pydantic)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_policies(path: Path) -> SlaPolicies:
    """Read and validate an `sla.yaml`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"SLA policies not found at {path}; set LAPOR_BRIDGE_MAPPINGS_DIR to the folder "
            "holding sla.yaml"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read SLA policies {path}: {exc.strerror}") from None
    return parse_policies(text, source=str(path))


_cache: dict[Path, tuple[int, SlaPolicies]] = {}


def default_policies(mappings_dir: Path | None = None) -> SlaPolicies:
    """The policies of `<mappings_dir>/sla.yaml` (default: Settings().mappings_dir),
    cached until the file changes."""
    if mappings_dir is None:
        from lapor_bridge.config import load_settings

        mappings_dir = load_settings().mappings_dir
    path = (mappings_dir / SLA_FILE).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = -1
    cached = _cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    policies = load_policies(path)
    _cache[path] = (mtime, policies)
    return policies
