"""Population parameters of the virtual patient, read from a TOML parameter file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itptrial._errors import InputError, Problem, validation_problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Platelets(_Strict):
    healthy_count: float = Field(gt=0)
    mtt_days: float = Field(gt=0)
    gamma: float = Field(ge=0, le=2)
    kdeg: float = Field(gt=0)
    omega_kdeg: float = Field(ge=0)
    measurement_cv: float = Field(ge=0, lt=1)


class Disease(_Strict):
    t0_median: float = Field(gt=0)
    omega_t0: float = Field(ge=0)
    kt: float = Field(gt=0)
    baseline_median: float = Field(gt=0, lt=30)
    omega_baseline: float = Field(ge=0)
    ka_median: float = Field(gt=0)
    omega_ka: float = Field(ge=0)
    t_help: float = Field(ge=0, le=5)
    b_help: float = Field(ge=0, le=5)


class Dexamethasone(_Strict):
    kill_median: float = Field(gt=0)
    omega_kill: float = Field(ge=0)


class Tacrolimus(_Strict):
    cl_l_per_h: float = Field(gt=0)
    omega_cl: float = Field(ge=0)
    cyp3a5_expresser_fraction: float = Field(ge=0, le=1)
    cyp3a5_cl_factor: float = Field(gt=0)
    v_l: float = Field(gt=0)
    trough_to_average: float = Field(gt=0, le=1)
    trough_cv: float = Field(ge=0, lt=1)
    imax: float = Field(ge=0, le=1)
    ic50: float = Field(gt=0)
    depletion: float = Field(ge=0)
    weight_median_kg: float = Field(gt=0)
    omega_weight: float = Field(ge=0)


class Rescue(_Strict):
    ivig_effect: float = Field(ge=0, le=1)
    ivig_half_life_days: float = Field(gt=0)


class Bleeding(_Strict):
    c50: float = Field(gt=0)
    slope: float = Field(gt=0)
    grade1_c50: float = Field(gt=0)


class Population(_Strict):
    female_fraction: float = Field(ge=0, le=1)
    age_median: float = Field(gt=18)
    age_sd: float = Field(ge=0)
    dropout_per_day: float = Field(ge=0, lt=1)


class ModelParameters(_Strict):
    """Typical values and variabilities of the dual-target model (docs/model.md)."""

    platelets: Platelets
    disease: Disease
    dexamethasone: Dexamethasone
    tacrolimus: Tacrolimus
    rescue: Rescue
    bleeding: Bleeding
    population: Population

    def with_values(self, values: dict[str, float]) -> ModelParameters:
        """A copy with some values replaced, by dotted name (``disease.ka_median``)."""
        data = self.model_dump()
        for dotted, value in values.items():
            section, key = dotted.split(".")
            data[section][key] = value
        return ModelParameters.model_validate(data)


def load_parameters(path: str | Path | None = None) -> ModelParameters:
    """The shipped calibrated parameters, or a parameter TOML file of the same shape."""
    if path is None:
        text = resources.files("itptrial.sim").joinpath("parameters/target020.toml").read_text()
        source = "parameters target020"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        return ModelParameters.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(source, None, None, f"invalid TOML: {exc}")]) from None
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None
