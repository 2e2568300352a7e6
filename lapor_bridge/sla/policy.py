"""SLA policies: `mappings/sla.yaml`, read by lapor_bridge.yamlfiles like every
file of `mappings/`: each problem is reported with file:line and a fix (exit 3).

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
    field_validator,
    model_validator,
)

from lapor_bridge.errors import ConfigError
from lapor_bridge.sla.calendar import WorkingCalendar
from lapor_bridge.timeutil import IanaZone
from lapor_bridge.yamlfiles import (
    MappingIssue,
    SchemaError,
    parse_yaml,
    raise_if_errors,
    read_yaml_model,
    validate,
)

SLA_FILE = "sla.yaml"


class StartEvent(StrEnum):
    DISPOSITION = "disposition"  # disposed_at, or created_at when missing


class StopEvent(StrEnum):
    FIRST_FOLLOWUP = "first_followup"
    SETTLEMENT = "settlement"


class _SlaModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_SlaModel):
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


class Policy(_SlaModel):
    name: str = Field("", exclude=True)  # filled from the key in `policies`, never written
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


class DayOff(_SlaModel):
    date: dt.date
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


PolicyName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class SlaPolicies(_SlaModel):
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

START = "policies: {bupati-24h: {stop: settlement, duration: {hours: 24}}}"
# How each key is written, for the "fix" part of an error.
EXAMPLES: dict[str, str] = {
    "zone": "zone: Asia/Jakarta",
    "cuti_bersama": "cuti_bersama: true",
    "days_off": 'days_off: [{date: 2026-01-02, reason: "Keputusan Bupati ..."}]',
    "date": "date: 2026-01-02",
    "reason": 'reason: "Keputusan Bupati ..."',
    "policies": START,
    "description": 'description: "first follow-up within 5 working days"',
    "start": "start: disposition",
    "stop": "stop: settlement (or first_followup)",
    "duration": "duration: {hours: 24} (or {working_days: 5})",
    "complex_duration": "complex_duration: {hours: 48}",
    "hours": "hours: 24",
    "working_days": "working_days: 5",
    "at_risk": "at_risk: 0.75",
}


def _special(error: SchemaError) -> tuple[str, str] | None:
    if error.type == "string_pattern_mismatch" and error.loc[:1] == ("policies",):
        return (
            f"policy name `{error.name}` is not lowercase letters, digits, - and _",
            "rename it like `bupati-24h` (at most 40 characters)",
        )
    return None


def read_policies(path: Path) -> tuple[SlaPolicies | None, list[MappingIssue]]:
    """The policies of an `sla.yaml`, or None and every problem (for `mappings check`)."""
    return read_yaml_model(path, SlaPolicies, start=START, examples=EXAMPLES, special=_special)


def parse_policies(text: str, *, source: str = SLA_FILE) -> SlaPolicies:
    """Validate the text of an `sla.yaml`; problems raise MappingFilesInvalid
    (exit status 3), each with file:line and a fix."""
    document, issues = parse_yaml(text, file=source, start=START)
    policies = None
    if document is not None:
        policies, issues = validate(document, SlaPolicies, examples=EXAMPLES, special=_special)
    raise_if_errors(f"the SLA file {source}", issues)
    assert policies is not None
    return policies


def load_policies(path: Path) -> SlaPolicies:
    """Read and validate an `sla.yaml` (problems: see parse_policies)."""
    policies, issues = read_policies(path)
    raise_if_errors(f"the SLA file {path}", issues)
    assert policies is not None
    return policies


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
