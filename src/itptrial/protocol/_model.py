"""The protocol as code: arms, endpoint parameters and regimens, validated by pydantic.

A protocol is a TOML file (``docs/protocol.md``). Built-in presets live in
``itptrial/protocol/presets``; a file may start with ``extends = "<preset or path>"`` and
list only the keys it changes (tables are merged key by key).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from itptrial._errors import InputError, Problem, validation_problems

PRESETS = ("target020", "iwg2009")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Strict):
    code: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")
    label: str = Field(min_length=1)
    experimental: bool


class EndpointParameters(_Strict):
    """The CAPITALISED parameters of docs/endpoints.md (defaults: TARGET 020)."""

    horizon: int = Field(194, ge=1, le=3650)
    baseline_window: int = Field(14, ge=0, le=365)
    response_level: float = Field(30, gt=0, le=5000)
    complete_level: float = Field(100, gt=0, le=5000)
    fold: float = Field(2.0, ge=0, le=100)
    bleeding_grade: int = Field(2, ge=0, le=5)
    confirm_days: int = Field(0, ge=0, le=365)
    initial_window: int = Field(28, ge=1, le=3650)
    loss_confirm: int = Field(1, ge=1, le=10)
    sustained_day: int = Field(180, ge=1, le=3650)
    sustained_window: int = Field(14, ge=0, le=365)

    @model_validator(mode="after")
    def _consistent(self) -> EndpointParameters:
        if self.complete_level < self.response_level:
            raise ValueError("complete_level must be >= response_level")
        if self.initial_window > self.horizon:
            raise ValueError("initial_window must be <= horizon")
        if self.sustained_day - self.sustained_window < 1:
            raise ValueError("sustained_day - sustained_window must be >= 1 (after Day 0)")
        if self.sustained_day > self.horizon:
            raise ValueError("sustained_day must be <= horizon")
        return self


class TroughTarget(_Strict):
    trough_low_ng_ml: float = Field(gt=0, le=100)
    trough_high_ng_ml: float = Field(gt=0, le=100)
    measure_on_visits: bool = True
    max_daily_dose_mg: float = Field(10.0, gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> TroughTarget:
        if self.trough_high_ng_ml <= self.trough_low_ng_ml:
            raise ValueError("trough_high_ng_ml must be > trough_low_ng_ml")
        return self


class Regimen(_Strict):
    """One drug's schedule: a fixed dose on listed days, or a weight-based daily dose."""

    drug: str = Field(min_length=1)
    arms: list[str] = Field(min_length=1)
    route: Literal["oral", "iv", "sc"] = "oral"
    dose_mg: float | None = Field(None, gt=0, le=10000)
    days: list[int] = Field(default_factory=list)
    repeat_days: list[int] = Field(default_factory=list)
    repeat_if: Literal["no_response_by_day"] | None = None
    repeat_assess_day: int | None = Field(None, ge=0)
    dose_mg_per_kg_day: float | None = Field(None, gt=0, le=100)
    start_day: int | None = Field(None, ge=0)
    duration_days: int | None = Field(None, ge=1, le=3650)
    tdm: TroughTarget | None = None

    @model_validator(mode="after")
    def _one_dosing_rule(self) -> Regimen:
        fixed = self.dose_mg is not None
        weighted = self.dose_mg_per_kg_day is not None
        if fixed == weighted:
            raise ValueError("give exactly one of dose_mg (with days) or dose_mg_per_kg_day")
        if fixed and not self.days:
            raise ValueError("dose_mg needs the dosing days")
        if weighted and (self.start_day is None or self.duration_days is None):
            raise ValueError("dose_mg_per_kg_day needs start_day and duration_days")
        if self.repeat_days and (self.repeat_if is None or self.repeat_assess_day is None):
            raise ValueError("repeat_days needs repeat_if and repeat_assess_day")
        return self


class Visits(_Strict):
    days: list[int] = Field(min_length=1)
    jitter_days: int = Field(0, ge=0, le=30)
    miss_probability: float = Field(0.0, ge=0, lt=1)


class RescueRule(_Strict):
    count_below: float = Field(ge=0, le=5000)
    count_below_with_bleeding: float = Field(ge=0, le=5000)
    bleeding_grade: int = Field(2, ge=0, le=4)
    from_day: int = Field(7, ge=0, le=3650)
    treatments: list[str] = Field(min_length=1)


class Protocol(_Strict):
    """A trial protocol: arms, endpoint parameters, regimens, visits and rescue rules."""

    name: str = Field(min_length=1)
    title: str = ""
    reference: str = ""
    arms: list[Arm] = Field(min_length=2)
    endpoints: EndpointParameters = EndpointParameters()
    regimens: dict[str, Regimen] = Field(default_factory=dict)
    visits: Visits | None = None
    rescue: RescueRule | None = None

    @model_validator(mode="after")
    def _arms_consistent(self) -> Protocol:
        codes = [a.code for a in self.arms]
        if len(set(codes)) != len(codes):
            raise ValueError("arm codes must be unique")
        if sum(a.experimental for a in self.arms) != 1:
            raise ValueError("exactly one arm must have experimental = true")
        for key, regimen in self.regimens.items():
            unknown = sorted(set(regimen.arms) - set(codes))
            if unknown:
                raise ValueError(f"regimens.{key}.arms names unknown arm(s) {unknown}")
        return self

    @property
    def arm_codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.arms)

    @property
    def experimental_arm(self) -> str:
        return next(a.code for a in self.arms if a.experimental)

    @property
    def control_arm(self) -> str:
        """The first non-experimental arm (the comparator of every two-arm statistic)."""
        return next(a.code for a in self.arms if not a.experimental)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(source, None, None, f"invalid TOML: {exc}")]) from None


def _raw_protocol(spec: str, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """The merged key/value tree of a preset name or TOML path, following ``extends``."""
    if spec in seen:
        raise InputError([Problem(spec, None, "extends", "circular 'extends' chain")])
    if spec in PRESETS:
        text = resources.files("itptrial.protocol").joinpath(f"presets/{spec}.toml").read_text()
        source = f"preset {spec}"
    else:
        path = Path(spec)
        if not path.is_file():
            known = ", ".join(PRESETS)
            message = f"no such protocol file, and not a preset ({known})"
            raise InputError([Problem(spec, None, None, message)])
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise InputError([Problem(source, line, None, "not valid UTF-8")]) from None
        except OSError as exc:
            message = f"cannot read: {exc.strerror or exc}"
            raise InputError([Problem(source, None, None, message)]) from None
    raw = _read_toml(text, source)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw, source
    if not isinstance(parent, str):
        raise InputError([Problem(source, None, "extends", "must be a preset name or path")])
    if parent not in PRESETS and spec not in PRESETS:
        parent = str(Path(spec).parent / parent)  # relative to the extending file
    base, _ = _raw_protocol(parent, (*seen, spec))
    return _deep_merge(base, raw), source


def load_protocol(spec: str = "target020") -> Protocol:
    """Load a built-in preset (``target020``, ``iwg2009``) or a protocol TOML file.

    Raises :class:`InputError` naming the file and the dotted key of every problem
    (unknown keys, out-of-range values, inconsistent settings).
    """
    raw, source = _raw_protocol(spec)
    try:
        return Protocol.model_validate(raw)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None


def preset_text(name: str) -> str:
    """The readable TOML text of a built-in preset."""
    if name not in PRESETS:
        raise KeyError(name)
    return resources.files("itptrial.protocol").joinpath(f"presets/{name}.toml").read_text()
