"""Pydantic models of the two YAML files, strict: an unknown key or a value
of the wrong type is an error (the loader turns each into a MappingIssue with
its line and a fix). A list field also takes one value: `topic: 101` means
`topic: [101]`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lapor_bridge.mapping.model import CHANNELS, CLASSIFICATIONS
from lapor_bridge.yamlfiles import did_you_mean

UNIT_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# How each field is written, for the "fix" part of an error.
EXAMPLES: dict[str, str] = {
    "default": "default: KOORDINATOR",
    "units": "units: [{code: DPUPR, name: Dinas Pekerjaan Umum dan Penataan Ruang}]",
    "code": "code: DPUPR",
    "name": "name: Dinas Pekerjaan Umum dan Penataan Ruang",
    "kind": "kind: opd (or kecamatan, koordinator)",
    "kecamatan": "kecamatan: [Moga, Belik]",
    "liaison": "liaison: [{name: Budi Santoso, phone: 0812-0000-0101}]",
    "phone": "phone: 0812-0000-0101",
    "email": "email: pengaduan@pemalangkab.go.id",
    "role": "role: Admin SP4N-LAPOR!",
    "note": "note: any text",
    "notify": 'notify: ["mailtos://pengaduan:${SMTP_PASS}@mail.pemalangkab.go.id?to=dpupr@pemalangkab.go.id"]',
    "notify_head": 'notify_head: ["tgram://${TG_BOT_TOKEN}/KEPALA_CHAT_ID"]',
    "rules": "rules: [{id: jalan-rusak, when: {topic: [101]}, opd: DPUPR}]",
    "id": "id: jalan-rusak",
    "when": "when: {topic: [101, 102]}",
    "opd": "opd: DPUPR",
    "complex": "complex: true",
    "co_opd": "co_opd: [DINSOS, DPUPR]",
    "topic": "topic: [101, 102]",
    "desa": "desa: [Banyumudal, Sima]",
    "keyword": 'keyword: [banjir, "tanah longsor"]',
    "channel": "channel: [SMS, MASBUPSIAGA]",
    "classification": "classification: [PENGADUAN, ASPIRASI]",
}
CONDITION_KEYS = ("topic", "kecamatan", "desa", "keyword", "channel", "classification")


def _as_list(value: Any) -> Any:
    """One value stands for a list of one; None (an empty key) stays None."""
    if value is None or isinstance(value, list):
        return value
    return [value]


def _not_empty(name: str, values: list[Any] | None) -> list[Any] | None:
    if values is not None and not values:
        raise PydanticCustomError(
            "mapping_value",
            "`{name}` is an empty list",
            {
                "name": name,
                "fix": f"give at least one value, e.g. `{EXAMPLES[name]}`, or remove the key",
            },
        )
    return values


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    upper = value.strip().upper()
    if upper in choices:
        return upper
    hint = did_you_mean(value, choices)
    fix = f"did you mean `{hint}`?" if hint else f"use one of {', '.join(choices)}"
    raise PydanticCustomError(
        "mapping_value", "unknown {name} `{value}`", {"name": name, "value": value, "fix": fix}
    )


StrList = Annotated[list[StrictStr] | None, BeforeValidator(_as_list)]
IntList = Annotated[list[StrictInt] | None, BeforeValidator(_as_list)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- units.yaml ---------------------------------------------------------------


class ContactSpec(_Strict):
    name: StrictStr = Field(min_length=1)
    phone: StrictStr | None = None
    email: StrictStr | None = None
    role: StrictStr | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value.strip()):
            raise PydanticCustomError(
                "mapping_value",
                "phone `{value}` is not a phone number",
                {
                    "value": value,
                    "fix": "write digits with an optional leading + and spaces or dashes, e.g. `0812-0000-0101`; quote it",
                },
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value.strip()):
            raise PydanticCustomError(
                "mapping_value",
                "email `{value}` is not an e-mail address",
                {"value": value, "fix": "write it like `pengaduan@pemalangkab.go.id`"},
            )
        return value

    @model_validator(mode="after")
    def _reachable(self) -> ContactSpec:
        if self.phone is None and self.email is None:
            raise PydanticCustomError(
                "mapping_value",
                "liaison `{name}` has neither phone nor email",
                {
                    "name": self.name,
                    "fix": "add `phone:` or `email:` so the liaison can be reached",
                },
            )
        return self


class UnitSpec(_Strict):
    code: StrictStr
    name: StrictStr = Field(min_length=1)
    kind: Literal["opd", "kecamatan", "koordinator"] = "opd"
    kecamatan: StrictStr | None = None
    liaison: Annotated[list[ContactSpec], BeforeValidator(_as_list)] = Field(default_factory=list)
    note: StrictStr | None = None
    # apprise URLs (`${NAME}` placeholders filled from the environment when sending):
    # the liaison's channels, and the unit head's (told when a report breaches)
    notify: StrList = None
    notify_head: StrList = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not UNIT_CODE.match(value):
            suggestion = re.sub(r"[^A-Z0-9_]", "_", value.upper()).strip("_") or "DPUPR"
            raise PydanticCustomError(
                "mapping_value",
                "unit code `{value}` is not capital letters, digits and _",
                {"value": value, "fix": f"write it like `{suggestion}`"},
            )
        return value

    @model_validator(mode="after")
    def _kecamatan_office(self) -> UnitSpec:
        if self.kind == "kecamatan" and not self.kecamatan:
            raise PydanticCustomError(
                "mapping_value",
                "kecamatan office `{code}` does not say which kecamatan it serves",
                {"code": self.code, "fix": "add `kecamatan: <name>`, e.g. `kecamatan: Moga`"},
            )
        return self


class UnitsFile(_Strict):
    default: StrictStr
    units: list[Any] = Field(min_length=1)  # each item validated as UnitSpec


# --- rules.yaml ---------------------------------------------------------------


class WhenSpec(_Strict):
    topic: IntList = None
    kecamatan: StrList = None
    desa: StrList = None
    keyword: StrList = None
    channel: StrList = None
    classification: StrList = None

    @field_validator("topic", "kecamatan", "desa", "keyword", "channel", "classification")
    @classmethod
    def _some(cls, values: list[Any] | None, info: Any) -> list[Any] | None:
        return _not_empty(info.field_name, values)

    @field_validator("channel")
    @classmethod
    def _channel(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [_choice("channel", v, CHANNELS) for v in values]

    @field_validator("classification")
    @classmethod
    def _classification(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        return [_choice("classification", v, CLASSIFICATIONS) for v in values]

    @model_validator(mode="after")
    def _any(self) -> WhenSpec:
        if all(getattr(self, key) is None for key in CONDITION_KEYS):
            raise PydanticCustomError(
                "mapping_value",
                "`when` has no condition",
                {
                    "fix": f"add at least one of {', '.join(CONDITION_KEYS)}; what no rule matches goes to the `default` unit"
                },
            )
        return self


def _rule_id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class RuleSpec(_Strict):
    id: Annotated[StrictStr, BeforeValidator(_rule_id)]
    when: WhenSpec
    opd: StrictStr
    complex: StrictBool = False
    co_opd: StrList = None
    note: StrictStr | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-").lower() or "jalan-rusak"
            raise PydanticCustomError(
                "mapping_value",
                "rule id `{value}` has spaces or other signs",
                {"value": value, "fix": f"use letters, digits, - _ . only, e.g. `{suggestion}`"},
            )
        return value


class RulesFile(_Strict):
    rules: list[Any] = Field(min_length=1)  # each item validated as RuleSpec
