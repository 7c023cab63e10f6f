"""The protocol as code: arms, endpoints, eligibility, regimens, visits and rescue rules.

A protocol is a TOML file (``docs/protocol.md``), validated here by pydantic. Every key
is either used by some command or rejected by name; nothing is accepted and ignored.
Built-in presets live in ``itptrial/protocol/presets``; a file may start with
``extends = "<preset or path>"`` and list only what it changes (see :mod:`._load`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

LevelName = Literal["response", "complete"]
EndpointKind = Literal["binary", "time_to_event"]

# The names of the built-in endpoints (results.json keys) and their kinds. The endpoint
# registry (itptrial.endpoints) declares how each is derived, labelled and explained, and
# checks on import that it declares exactly these; the protocol needs the names to check
# ``primary_endpoint`` and to keep declared endpoints from taking one.
BUILT_IN_ENDPOINTS: dict[str, EndpointKind] = {
    "initial_response": "binary",
    "initial_complete_response": "binary",
    "sustained_response_6m": "binary",
    "sustained_complete_response_6m": "binary",
    "relapse": "binary",
    "time_to_response": "time_to_event",
    "duration_of_response": "time_to_event",
}

# The ADaM PARAMCD of each built-in endpoint (docs/interface.md, "CDISC: SDTM in, ADaM
# out"); a declared endpoint gives its own ``paramcd`` or gets LMK1, LMK2, ...
BUILT_IN_PARAMCD: dict[str, str] = {
    "initial_response": "INITRESP",
    "initial_complete_response": "INITCR",
    "sustained_response_6m": "SUST6M",
    "sustained_complete_response_6m": "SUSTCR6M",
    "relapse": "RELAPSE",
    "time_to_response": "TTR",
    "duration_of_response": "DOR",
}

# The endpoints.csv columns of docs/interface.md, in order. Declared endpoints add one
# column each after ``explanation``, so their names may not be one of these either.
ENDPOINT_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "arm",
    "baseline_count",
    "evaluable",
    "initial_response",
    "initial_response_category",
    "response_day",
    "relapse",
    "relapse_day",
    "sustained_response_6m",
    "sustained_response_category",
    "sustained_assessment_day",
    "ttr_days",
    "ttr_event",
    "dor_days",
    "dor_event",
    "explanation",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Strict):
    code: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")
    label: str = Field(min_length=1)
    experimental: bool


class Landmark(_Strict):
    """A declared binary endpoint (``[[endpoints.landmark]]``, docs/protocol.md).

    ``response_in_window``: a confirmed run at ``level`` starts on a day in
    ``[from_day, to_day]``. ``response_at_day``: the count closest to ``day`` within
    ``+/- window`` (ties to the later date) qualifies at ``level``, exactly as the
    sustained assessment of docs/endpoints.md.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    label: str = Field(min_length=1, max_length=120)
    kind: Literal["response_in_window", "response_at_day"]
    level: LevelName = "response"
    from_day: int | None = Field(None, ge=1, le=3650)
    to_day: int | None = Field(None, ge=1, le=3650)
    day: int | None = Field(None, ge=1, le=3650)
    window: int | None = Field(None, ge=0, le=365)
    paramcd: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9]{0,7}$")  # ADaM ADRS code

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> Landmark:
        own = ("from_day", "to_day") if self.kind == "response_in_window" else ("day", "window")
        other = ("day", "window") if self.kind == "response_in_window" else ("from_day", "to_day")
        missing = [key for key in own if getattr(self, key) is None]
        if missing:
            raise ValueError(f"kind {self.kind} needs {' and '.join(missing)}")
        unused = [key for key in other if getattr(self, key) is not None]
        if unused:
            raise ValueError(f"kind {self.kind} does not use {' or '.join(unused)}")
        if self.kind == "response_in_window" and self.to_day < self.from_day:  # type: ignore[operator]
            raise ValueError("to_day must be >= from_day")
        if self.kind == "response_at_day" and self.day - self.window < 1:  # type: ignore[operator]
            raise ValueError("day - window must be >= 1 (after Day 0)")
        return self

    def last_day(self) -> int:
        """The last day the endpoint looks at (checked against the horizon)."""
        if self.kind == "response_in_window":
            assert self.to_day is not None
            return self.to_day
        assert self.day is not None
        return self.day


class EndpointParameters(_Strict):
    """The CAPITALISED parameters of docs/endpoints.md (defaults: TARGET 020), and the
    declared extra endpoints."""

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
    landmark: tuple[Landmark, ...] = ()

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
        names = [landmark.name for landmark in self.landmark]
        taken = sorted({n for n in names if n in BUILT_IN_ENDPOINTS or n in ENDPOINT_COLUMNS})
        if taken:
            raise ValueError(f"landmark name(s) {taken} are built-in endpoint or column names")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"landmark name(s) {repeated} appear more than once")
        codes = list(self.paramcds().values())
        clashes = sorted({code for code in codes if codes.count(code) > 1})
        if clashes:
            raise ValueError(f"landmark paramcd(s) {clashes} appear more than once")
        late = [lm.name for lm in self.landmark if lm.last_day() > self.horizon]
        if late:
            raise ValueError(f"landmark(s) {late} look past the horizon ({self.horizon})")
        return self

    def paramcds(self) -> dict[str, str]:
        """Endpoint name -> ADaM PARAMCD, built-in endpoints first, then declared ones."""
        declared = {lm.name: lm.paramcd or f"LMK{i}" for i, lm in enumerate(self.landmark, start=1)}
        return {**BUILT_IN_PARAMCD, **declared}

    def level(self, name: LevelName) -> float:
        """RESPONSE_LEVEL or COMPLETE_LEVEL by name."""
        return self.response_level if name == "response" else self.complete_level


class Eligibility(_Strict):
    """Who may enter the trial: a count below ``count_below``, or below
    ``count_below_with_bleeding`` with WHO bleeding of ``bleeding_grade`` or more, and an
    age within the optional bounds. The virtual population draws only such patients."""

    count_below: float = Field(gt=0, le=5000)
    count_below_with_bleeding: float | None = Field(None, gt=0, le=5000)
    bleeding_grade: int = Field(2, ge=0, le=4)
    min_age: float | None = Field(None, ge=0, le=130)
    max_age: float | None = Field(None, ge=0, le=130)

    @model_validator(mode="after")
    def _ordered(self) -> Eligibility:
        with_bleeding = self.count_below_with_bleeding
        if with_bleeding is not None and with_bleeding < self.count_below:
            raise ValueError("count_below_with_bleeding must be >= count_below")
        if self.min_age is not None and self.max_age is not None and self.max_age < self.min_age:
            raise ValueError("max_age must be >= min_age")
        return self


class TroughTarget(_Strict):
    """Trough-guided dosing: troughs measured at visits (and on ``measure_days``), and
    what a measured trough does to the dose (``strategy``): ``rule``, an off-target
    trough changes the dose proportionally toward the middle of the range; ``map``, the
    dose is the Bayesian MAP recommendation from every trough so far (docs/tdm.md);
    ``fixed``, troughs are measured and recorded but the dose never changes."""

    trough_low_ng_ml: float = Field(gt=0, le=100)
    trough_high_ng_ml: float = Field(gt=0, le=100)
    measure_on_visits: bool = True
    measure_days: tuple[int, ...] = ()
    max_daily_dose_mg: float = Field(10.0, gt=0, le=100)
    strategy: Literal["rule", "map", "fixed"] = "rule"

    @model_validator(mode="after")
    def _ordered(self) -> TroughTarget:
        if self.trough_high_ng_ml <= self.trough_low_ng_ml:
            raise ValueError("trough_high_ng_ml must be > trough_low_ng_ml")
        if not self.measure_on_visits and not self.measure_days:
            raise ValueError("no trough is ever measured: set measure_on_visits or measure_days")
        if any(day < 0 for day in self.measure_days):
            raise ValueError("measure_days must be >= 0")
        return self


class Regimen(_Strict):
    """One drug's schedule: a fixed dose on listed days, or a weight-based daily dose.

    ``model`` names the drug module of the virtual patient that the simulator gives it
    to (a section of the model parameter file); ``drug`` is the name written to the
    ``doses`` table.
    """

    drug: str = Field(min_length=1)
    model: str = Field(min_length=1)
    arms: tuple[str, ...] = Field(min_length=1)
    route: Literal["oral", "iv", "sc"] = "oral"
    dose_mg: float | None = Field(None, gt=0, le=10000)
    days: tuple[int, ...] = ()
    repeat_days: tuple[int, ...] = ()
    repeat_if: Literal["no_response_by_day"] | None = None
    repeat_assess_day: int | None = Field(None, ge=0)
    dose_mg_per_kg_day: float | None = Field(None, gt=0, le=100)
    start_day: int | None = Field(None, ge=0)
    duration_days: int | None = Field(None, ge=1, le=3650)
    dose_step_mg: float | None = Field(None, gt=0, le=100)
    tdm: TroughTarget | None = None

    @model_validator(mode="after")
    def _one_dosing_rule(self) -> Regimen:
        fixed = self.dose_mg is not None
        weighted = self.dose_mg_per_kg_day is not None
        if fixed == weighted:
            raise ValueError("give exactly one of dose_mg (with days) or dose_mg_per_kg_day")
        if fixed and not self.days:
            raise ValueError("dose_mg needs the dosing days")
        if fixed and (self.start_day is not None or self.duration_days is not None):
            raise ValueError("start_day and duration_days go with dose_mg_per_kg_day, not dose_mg")
        if fixed and (self.dose_step_mg is not None or self.tdm is not None):
            raise ValueError("dose_step_mg and tdm go with dose_mg_per_kg_day, not dose_mg")
        needed = ("start_day", "duration_days", "dose_step_mg")
        missing = [key for key in needed if getattr(self, key) is None]
        if weighted and missing:
            raise ValueError(f"dose_mg_per_kg_day needs {', '.join(missing)}")
        if weighted and (self.days or self.repeat_days):
            raise ValueError("days and repeat_days go with dose_mg, not dose_mg_per_kg_day")
        repeat = (bool(self.repeat_days), self.repeat_if is not None)
        if any((*repeat, self.repeat_assess_day is not None)) and not all(
            (*repeat, self.repeat_assess_day is not None)
        ):
            raise ValueError("repeat_days, repeat_if and repeat_assess_day go together")
        if any(day < 0 for day in (*self.days, *self.repeat_days)):
            raise ValueError("dosing days must be >= 0")
        return self

    def last_day(self) -> int:
        """The last day this regimen can give a dose."""
        if self.dose_mg_per_kg_day is not None:
            assert self.start_day is not None and self.duration_days is not None
            return self.start_day + self.duration_days - 1
        return max((*self.days, *self.repeat_days))


class Visits(_Strict):
    """The visit schedule the simulator follows: visit days (Day 0 = first dose), +/-
    ``jitter_days`` of uniform jitter on the visits after ``jitter_after_day``, and a
    probability that a visit after Day 0 is missed."""

    days: tuple[int, ...] = Field(min_length=1)
    jitter_days: int = Field(0, ge=0, le=30)
    jitter_after_day: int = Field(0, ge=0, le=3650)
    miss_probability: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Visits:
        if list(self.days) != sorted(set(self.days)) or self.days[0] < 0:
            raise ValueError("visit days must be distinct, >= 0 and in increasing order")
        return self

    def jitter_on(self, day: int) -> int:
        """The +/- days a visit scheduled on ``day`` may move."""
        return self.jitter_days if day > self.jitter_after_day else 0


class RescueRule(_Strict):
    """When the simulator gives rescue: a count below ``count_below``, or below
    ``count_below_with_bleeding`` with bleeding of ``bleeding_grade`` or more, from
    ``from_day`` on. ``treatments`` lists the rescue treatments; the first is given."""

    count_below: float = Field(ge=0, le=5000)
    count_below_with_bleeding: float = Field(ge=0, le=5000)
    bleeding_grade: int = Field(2, ge=0, le=4)
    from_day: int = Field(7, ge=0, le=3650)
    treatments: tuple[str, ...] = Field(min_length=1)


class Protocol(_Strict):
    """A trial protocol: arms, endpoints, eligibility, regimens, visits and rescue."""

    name: str = Field(min_length=1)
    title: str = ""
    reference: str = ""
    arms: tuple[Arm, ...] = Field(min_length=2)
    primary_endpoint: str = "sustained_response_6m"
    endpoints: EndpointParameters = EndpointParameters()
    eligibility: Eligibility | None = None
    regimens: dict[str, Regimen] = Field(default_factory=dict)
    visits: Visits | None = None
    rescue: RescueRule | None = None
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        """Where the protocol came from (``preset target020`` or its file), for messages."""
        return self._source or self.name

    def with_source(self, source: str) -> Protocol:
        self._source = source
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        codes = [a.code for a in self.arms]
        if len(set(codes)) != len(codes):
            raise ValueError("arm codes must be unique")
        controls = [a.code for a in self.arms if not a.experimental]
        if len(controls) != 1:
            found = f"found {len(controls)}" + (f" ({', '.join(controls)})" if controls else "")
            raise ValueError(
                f"exactly one arm must have experimental = false (the control); {found}"
            )
        for key, regimen in self.regimens.items():
            unknown = sorted(set(regimen.arms) - set(codes))
            if unknown:
                raise ValueError(f"regimens.{key}.arms names unknown arm(s) {unknown}")
        binary = [n for n, kind in BUILT_IN_ENDPOINTS.items() if kind == "binary"]
        binary += [landmark.name for landmark in self.endpoints.landmark]
        if self.primary_endpoint not in binary:
            raise ValueError(
                f"primary_endpoint {self.primary_endpoint!r} is not a binary endpoint "
                f"(built-in or declared): {', '.join(binary)}"
            )
        if self.visits is not None and self.visits.days[-1] > self.endpoints.horizon:
            raise ValueError(f"visits.days go past the horizon ({self.endpoints.horizon})")
        return self

    @property
    def arm_codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.arms)

    @property
    def control_arm(self) -> str:
        """The one arm with ``experimental = false``."""
        return next(a.code for a in self.arms if not a.experimental)

    @property
    def experimental_arms(self) -> tuple[str, ...]:
        """The experimental arms in protocol order: each is compared with the control."""
        return tuple(a.code for a in self.arms if a.experimental)

    def arm_label(self, code: str) -> str:
        return next(a.label for a in self.arms if a.code == code)
