"""The mapping file of ``import-sdtm --mapping FILE.toml`` (docs/sdtm.md): how a study's
SDTM values map onto the native schema. Every key is optional; the defaults are those of
docs/interface.md ("CDISC: SDTM in, ADaM out")."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from itptrial._errors import InputError, validation_problems
from itptrial._files import read_text_file, read_toml

DOMAINS = ("DM", "DS", "LB", "CM", "AE", "EX", "PC")
REQUIRED_DOMAINS = ("DM", "LB")
RESCUE_VARIABLES = ("CMCAT", "CMSCAT", "CMDECOD", "CMTRT")
TROUGH_VARIABLES = ("PCTPT", "PCTPTNUM", "PCELTM")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arms(_Strict):
    """Which DM variable holds the arm, and (optionally) SDTM value -> protocol arm code.

    With values listed, only subjects with a listed value are imported; without, every
    subject except screen failures and the unassigned (SCRNFAIL, NOTASSGN, empty)."""

    variable: Literal["ARMCD", "ACTARMCD"] = "ARMCD"
    codes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _codes_from_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        codes = {key: value for key, value in data.items() if key != "variable"}
        out = {"codes": codes}
        if "variable" in data:
            out["variable"] = data["variable"]
        return out

    @model_validator(mode="after")
    def _valid_codes(self) -> Arms:
        bad = [code for code in self.codes.values() if not str(code).replace("_", "").isalnum()]
        if bad:
            raise ValueError(f"arm codes must be letters, digits and _: {bad}")
        return self


class Platelets(_Strict):
    testcd: tuple[str, ...] = Field(("PLAT",), min_length=1)  # LBTESTCD values of platelets
    units: tuple[str, ...] = ()  # further LBSTRESU spellings of 10^9/L


class AdverseEvents(_Strict):
    grade: Literal["AETOXGR", "AESEV"] = "AETOXGR"
    grade_map: dict[str, int] = Field(default_factory=dict)  # AESEV value -> grade 1-5
    related_map: dict[str, bool] = Field(default_factory=dict)  # AEREL value -> related

    @model_validator(mode="after")
    def _grades(self) -> AdverseEvents:
        if any(not 1 <= g <= 5 for g in self.grade_map.values()):
            raise ValueError("grade_map grades must be 1-5")
        return self


class Rescue(_Strict):
    """CM records that are rescue therapy: any listed value of any of these variables."""

    CMCAT: tuple[str, ...] | None = None
    CMSCAT: tuple[str, ...] | None = None
    CMDECOD: tuple[str, ...] | None = None
    CMTRT: tuple[str, ...] | None = None

    def selection(self) -> dict[str, tuple[str, ...]]:
        chosen = {v: getattr(self, v) for v in RESCUE_VARIABLES if getattr(self, v) is not None}
        return chosen or {"CMCAT": ("RESCUE",)}


class Dates(_Strict):
    partial: Literal["reject", "first"] = "reject"


class Skip(_Strict):
    domains: tuple[str, ...] = ()

    @field_validator("domains")
    @classmethod
    def _upper(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.upper() for d in domains)  # file names are case-insensitive too

    @model_validator(mode="after")
    def _known(self) -> Skip:
        upper = list(self.domains)
        unknown = [d for d in upper if d not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain(s) {unknown} (domains: {', '.join(DOMAINS)})")
        required = [d for d in upper if d in REQUIRED_DOMAINS]
        if required:
            raise ValueError(f"required domain(s) {required} cannot be skipped")
        return self


class DrugLevels(_Strict):
    """Which PC records are troughs: a value list per time-point variable (any match)."""

    # PCTPTNUM is numeric: its values may be given as numbers (PCTPTNUM = [-0.5, 0])
    trough: dict[Literal["PCTPT", "PCTPTNUM", "PCELTM"], tuple[str | float, ...]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _numeric_time_points(self) -> DrugLevels:
        for value in self.trough.get("PCTPTNUM", ()):
            try:
                float(value)
            except ValueError:
                raise ValueError(f"PCTPTNUM values are numbers, not {value!r}") from None
        return self


class Missing(_Strict):
    values: tuple[str, ...] = ("NA",)  # cell values that mean "missing" (R writes NA)


class SdtmMapping(_Strict):
    arms: Arms = Arms()
    platelets: Platelets = Platelets()
    adverse_events: AdverseEvents = AdverseEvents()
    rescue: Rescue = Rescue()
    dates: Dates = Dates()
    skip: Skip = Skip()
    drug_levels: DrugLevels = DrugLevels()
    missing: Missing = Missing()


def load_mapping(path: str | Path | None) -> SdtmMapping:
    """The mapping file (or the defaults); problems name the file and the dotted key."""
    if path is None:
        return SdtmMapping()
    source = str(path)
    raw = read_toml(read_text_file(Path(path), "mapping file"), source)
    try:
        return SdtmMapping.model_validate(raw)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None
