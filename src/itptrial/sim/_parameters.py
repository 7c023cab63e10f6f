"""Population parameters of the virtual patient, read from a TOML parameter file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from itptrial._errors import InputError, validation_problems
from itptrial._files import read_text_file, read_toml

Route = Literal["oral", "iv", "sc"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Platelets(_Strict):
    healthy_count: float = Field(gt=0)
    mtt_days: float = Field(gt=0)
    gamma: float = Field(ge=0, le=2)
    kdeg: float = Field(gt=0)
    omega_kdeg: float = Field(ge=0)
    # a measured count: true x day-to-day biological variation (lognormal), plus the
    # analyser's error, normal with SD^2 = analytical_sd^2 + (analytical_cv x count)^2
    biological_cv: float = Field(ge=0, lt=1)
    analytical_sd: float = Field(ge=0)
    analytical_cv: float = Field(ge=0, lt=1)


class Disease(_Strict):
    t0_median: float = Field(gt=0)
    omega_t0: float = Field(ge=0)
    kt: float = Field(gt=0)
    baseline_median: float = Field(gt=0)
    omega_baseline: float = Field(ge=0)
    regrowth_median: float = Field(gt=0)  # /day, regrowth of the autoreactive clone
    omega_regrowth: float = Field(ge=0)
    cure_threshold: float = Field(gt=0, lt=1)  # Allee threshold of the clone (relative)
    t_help: float = Field(ge=0, le=5)
    b_help: float = Field(ge=0, le=5)


class Dexamethasone(_Strict):
    """The dexamethasone drug module: an effect compartment driven by each course day's
    dose relative to ``reference_dose_mg``; the effect blocks antibody-mediated
    clearance and kills the autoreactive clone."""

    route: Route
    reference_dose_mg: float = Field(gt=0)
    effect_half_life_h: float = Field(gt=0)  # biological half-life of the biophase
    ec50_relative: float = Field(gt=0)  # biophase level of half the maximal effect
    block_max: float = Field(ge=0, le=1)  # share of antibody-mediated clearance blocked
    kill_median: float = Field(gt=0)  # /day at full effect
    omega_kill: float = Field(ge=0)


class Tacrolimus(_Strict):
    """The tacrolimus drug module: T-cell depletion by the daily mean concentration of
    the population PK model (``itptrial.pk``, which also gives the measured troughs)."""

    route: Route
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
    grade3_fraction: float = Field(ge=0, le=1)  # of grade >= 2 bleeds


class Population(_Strict):
    female_fraction: float = Field(ge=0, le=1)
    age_median: float = Field(gt=0)
    age_sd: float = Field(ge=0)
    age_min: float = Field(ge=0, le=130)  # the ages the model's population spans
    age_max: float = Field(ge=0, le=130)
    dropout_per_day: float = Field(ge=0, lt=1)


class AdverseEvent(_Strict):
    """One adverse-event term: its rate on each drug module (a patient on several has
    the highest of their rates), and the share of its grade-2 events that are serious."""

    term: str = Field(min_length=1)
    related: bool
    rate: dict[str, float] = Field(min_length=1)
    serious_if_grade2: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _rates(self) -> AdverseEvent:
        if any(not 0 <= r <= 1 for r in self.rate.values()):
            raise ValueError("rates must lie in [0, 1]")
        return self


class Safety(_Strict):
    grade2_fraction: float = Field(ge=0, le=1)  # of adverse events; the rest are grade 1
    events: tuple[AdverseEvent, ...] = ()


class ModelParameters(_Strict):
    """Typical values and variabilities of the dual-target model (docs/model.md)."""

    platelets: Platelets
    disease: Disease
    dexamethasone: Dexamethasone
    tacrolimus: Tacrolimus
    rescue: Rescue
    bleeding: Bleeding
    population: Population
    safety: Safety

    @model_validator(mode="after")
    def _known_modules(self) -> ModelParameters:
        known = set(self.drug_modules())
        for event in self.safety.events:
            unknown = sorted(set(event.rate) - known)
            if unknown:
                raise ValueError(
                    f"safety event {event.term!r} has rates for unknown drug module(s) "
                    f"{unknown} (known: {', '.join(sorted(known))})"
                )
        return self

    def drug_modules(self) -> dict[str, Route]:
        """The drug modules a regimen's ``model`` may name, with each module's route."""
        return {"dexamethasone": self.dexamethasone.route, "tacrolimus": self.tacrolimus.route}

    def with_values(self, values: dict[str, float]) -> ModelParameters:
        """A copy with some values replaced, by dotted name (``disease.ka_median``)."""
        data = self.model_dump()
        for dotted, value in values.items():
            section, key = dotted.split(".")
            data[section][key] = value
        return ModelParameters.model_validate(data)


def load_parameters(path: str | Path | None = None) -> ModelParameters:
    """The shipped calibrated parameters, or a parameter TOML file of the same shape.

    Raises :class:`InputError` naming the file (and the dotted key) of every problem.
    """
    if path is None:
        text = resources.files("itptrial.sim").joinpath("parameters/target020.toml").read_text()
        source = "parameters target020"
    else:
        text, source = read_text_file(Path(path), "model parameter file"), str(path)
    try:
        return ModelParameters.model_validate(read_toml(text, source))
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None
