"""The next dose: the twice-daily dose, in capsule steps, whose predicted steady-state
trough is nearest the middle of the target, with a 90% prediction interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from itptrial._errors import Problem
from itptrial._streams import children
from itptrial.pk import Genotype, TacrolimusModel, load_tacrolimus_model, measured
from itptrial.pk import steady_state_concentration as at_steady_state
from itptrial.protocol import Protocol, Regimen
from itptrial.tdm._history import History, plausibility_warnings
from itptrial.tdm._map import (
    Estimate,
    MapProblem,
    at_bound,
    estimate,
    make_problem,
    patients_of,
)

TAU_H = 12.0  # twice daily
INTERVAL_DRAWS = 4000
INTERVAL_LEVEL = 0.90
INTERVAL_METHOD = (
    "Laplace: normal approximation of the posterior of the random effects at the MAP "
    "(covariance 2 x inverse Hessian of the objective), 4,000 draws with a new week's "
    "bioavailability and the assay's error, the genotype drawn by its posterior "
    "probability"
)


@dataclass(frozen=True)
class DosingRules:
    """What the protocol allows: the trough target, the capsule step and the largest
    daily dose (``regimens.<key>.tdm`` and ``dose_step_mg`` of its trough-guided
    regimen)."""

    target: tuple[float, float]
    capsule_mg: float
    max_daily_mg: float

    def __post_init__(self) -> None:
        low, high = self.target
        if not (0 < low < high and np.isfinite(high)):
            raise ValueError(f"target must be LOW-HIGH with 0 < LOW < HIGH; got {low:g}-{high:g}")
        if self.capsule_mg <= 0 or self.max_daily_mg < 2 * self.capsule_mg:
            raise ValueError("the capsule step and the largest daily dose must allow a dose")

    def target_floats(self) -> tuple[float, float]:
        return float(self.target[0]), float(self.target[1])

    def doses(self) -> np.ndarray:
        """Every daily dose allowed: whole capsules, at least one per administration."""
        count = int(np.floor(self.max_daily_mg / self.capsule_mg + 1e-9))
        return np.arange(2, count + 1) * self.capsule_mg


def regimen_rules(regimen: Regimen, target: tuple[float, float] | None = None) -> DosingRules:
    """The rules of one trough-guided regimen (``target`` overrides its range)."""
    tdm, step = regimen.tdm, regimen.dose_step_mg
    if tdm is None or step is None:
        raise ValueError(f"regimen {regimen.drug!r} is not trough-guided")
    return DosingRules(
        target or (tdm.trough_low_ng_ml, tdm.trough_high_ng_ml), step, tdm.max_daily_dose_mg
    )


def guided_regimen(protocol: Protocol) -> Regimen:
    """The protocol's (first) trough-guided regimen; ValueError when it has none."""
    guided = [r for r in protocol.regimens.values() if r.tdm is not None]
    if not guided:
        raise ValueError(f"protocol {protocol.name!r} has no trough-guided regimen")
    return guided[0]


def dosing_rules(protocol: Protocol, target: tuple[float, float] | None = None) -> DosingRules:
    """The rules of the protocol's trough-guided regimen (``target`` overrides its
    range); ValueError when the protocol has none."""
    return regimen_rules(guided_regimen(protocol), target)


@dataclass(frozen=True)
class Recommendation:
    """``daily_dose_mg`` given as ``morning_mg`` at 08:00 and ``evening_mg`` at 20:00
    (whole capsules, the odd one in the morning), its predicted steady-state morning
    trough (no dexamethasone: the enzyme back at baseline) and the 90% interval of the
    trough the assay would report."""

    daily_dose_mg: float
    morning_mg: float
    evening_mg: float
    predicted_trough: float
    interval_90: tuple[float, float]
    target: tuple[float, float]
    cl_l_per_h: float  # MAP, before induction
    v_l: float
    expresser_probability: float
    troughs_used: int
    method: str = INTERVAL_METHOD
    warnings: tuple[Problem, ...] = field(default_factory=tuple)
    reference: str = (
        "MAP: Le Louedec F et al. CPT Pharmacometrics Syst Pharmacol 2021;10:1208 "
        "(mapbayr); NONMEM FOCE-I objective (Beal & Sheiner, NONMEM Users Guide); "
        "steady state: Gibaldi & Perrier, Pharmacokinetics, eq. 3.31"
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "daily_dose_mg": self.daily_dose_mg,
            "predicted_trough": self.predicted_trough,
            "interval_90": list(self.interval_90),
            "warnings": [w.message for w in self.warnings],
            "morning_mg": self.morning_mg,
            "evening_mg": self.evening_mg,
            "target": list(self.target),
            "map": {
                "cl_l_per_h": self.cl_l_per_h,
                "v_l": self.v_l,
                "expresser_probability": self.expresser_probability,
            },
            "troughs_used": self.troughs_used,
            "interval_method": self.method,
            "reference": self.reference,
        }


def split_daily(daily_mg: np.ndarray | float, capsule_mg: float) -> tuple[np.ndarray, np.ndarray]:
    """(morning, evening) whole-capsule halves, the odd capsule in the morning (as the
    simulator gives them)."""
    daily = np.asarray(daily_mg, dtype=float)
    morning = np.ceil(daily / 2.0 / capsule_mg - 1e-9) * capsule_mg
    return morning, daily - morning


def morning_trough(
    cl: Any, v: Any, ka: Any, daily_mg: Any, capsule_mg: float, f: Any = 1.0
) -> np.ndarray:
    """Steady-state concentration just before the morning dose: the morning dose 24 h
    earlier and the evening dose 12 h earlier, each repeated every 24 h (``f``: the
    relative bioavailability)."""
    morning, evening = (f * part for part in split_daily(daily_mg, capsule_mg))
    day = 2.0 * TAU_H
    trough: np.ndarray = at_steady_state(cl, v, ka, morning, day, day) + at_steady_state(
        cl, v, ka, evening, day, TAU_H
    )
    return trough


def _draws(
    result: Estimate,
    model: TacrolimusModel,
    problem_size: int,
    streams: list[np.random.SeedSequence],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior draws: genotype index, (eta_CL, eta_V), a new occasion's kappa (from
    ``streams`` 0, 1 and 2)."""
    genotype = np.random.default_rng(streams[0]).choice(
        len(result.fits), INTERVAL_DRAWS, p=result.probabilities
    )
    etas = np.empty((INTERVAL_DRAWS, 2))
    normal = np.random.default_rng(streams[1]).standard_normal((INTERVAL_DRAWS, problem_size))
    for g, fit in enumerate(result.fits):
        chosen = genotype == g
        root = np.linalg.cholesky(fit.covariance + 1e-12 * np.eye(problem_size))
        etas[chosen] = (fit.etas + normal[chosen] @ root.T)[:, :2]
    kappa = model.variability.omega_f_occasion * np.random.default_rng(streams[2]).standard_normal(
        INTERVAL_DRAWS
    )
    return genotype, etas, kappa


@dataclass(frozen=True)
class DoseChoice:
    """The MAP estimate of a history and the allowed dose it leads to (no interval:
    :func:`recommend` adds it and the warnings)."""

    daily_mg: float
    predicted_trough: float  # of daily_mg, at steady state (genotypes weighed)
    estimate: Estimate
    problem: MapProblem
    doses: np.ndarray  # every allowed daily dose ...
    predicted: np.ndarray  # ... and its predicted steady-state trough


def choose_dose(
    history: History,
    weight_kg: float,
    rules: DosingRules,
    genotype: Genotype = "unknown",
    model: TacrolimusModel | None = None,
) -> DoseChoice:
    """MAP estimate (:func:`itptrial.tdm.estimate`) of the history, then the dose
    allowed by ``rules`` whose predicted steady-state morning trough is nearest the
    target's middle. Raises ``ValueError`` for an invalid weight."""
    if not 20.0 <= weight_kg <= 250.0:
        raise ValueError(f"weight must be 20-250 kg; got {weight_kg:g}")
    low, high = rules.target
    problem = make_problem(model or load_tacrolimus_model(), history, weight_kg)
    result = estimate(problem, genotype)
    doses = rules.doses()
    predicted = _mixture_troughs(result, problem, doses, rules.capsule_mg)
    k = int(np.argmin(np.abs(predicted - (low + high) / 2.0)))
    return DoseChoice(float(doses[k]), float(predicted[k]), result, problem, doses, predicted)


def recommend(
    history: History,
    weight_kg: float,
    rules: DosingRules,
    genotype: Genotype = "unknown",
    model: TacrolimusModel | None = None,
    where: str = "history",
    seed: int = 0,
) -> Recommendation:
    """:func:`choose_dose`, with the 90% prediction interval of the trough on that dose
    and the warnings on the inputs and on the advice.

    Raises ``ValueError`` for an invalid weight.
    """
    model = model or load_tacrolimus_model()
    choice = choose_dose(history, weight_kg, rules, genotype, model)
    result, problem = choice.estimate, choice.problem
    interval = _interval(result, problem, model, (choice.daily_mg, rules.capsule_mg), seed)
    morning, evening = split_daily(choice.daily_mg, rules.capsule_mg)
    mode = result.mode
    best = patients_of(problem, mode.etas, mode.expresser)
    expresser = sum(
        p for fit, p in zip(result.fits, result.probabilities, strict=True) if fit.expresser
    )
    notes = _advice_warnings(history, result, problem, choice.predicted, rules, where)
    return Recommendation(
        daily_dose_mg=choice.daily_mg,
        morning_mg=float(morning),
        evening_mg=float(evening),
        predicted_trough=choice.predicted_trough,
        interval_90=interval,
        target=rules.target_floats(),
        cl_l_per_h=float(best.cl[0]),
        v_l=float(best.v[0]),
        expresser_probability=float(expresser),
        troughs_used=len(problem.troughs),
        warnings=tuple(plausibility_warnings(history, where)) + notes,
    )


def _mixture_troughs(
    result: Estimate, problem: Any, doses: np.ndarray, capsule_mg: float
) -> np.ndarray:
    """Predicted steady-state morning trough of each dose: each genotype's MAP
    prediction weighted by its posterior probability (with a known genotype, its own)."""
    total = np.zeros(len(doses))
    for fit, probability in zip(result.fits, result.probabilities, strict=True):
        patient = patients_of(problem, fit.etas, fit.expresser)
        total += probability * morning_trough(
            patient.cl[0], patient.v[0], patient.ka[0], doses, capsule_mg
        )
    return total


INDUCTION_WEARS_OFF_DAYS = 5  # about 3 enzyme half-lives (36 h) after a course day


def _advice_warnings(
    history: History,
    result: Estimate,
    problem: Any,
    predicted: np.ndarray,
    rules: DosingRules,
    where: str,
) -> tuple[Problem, ...]:
    """What the clinician must know about the advice itself."""
    low, high = rules.target
    out = []

    def warn(message: str) -> None:
        out.append(Problem(where, None, None, message, "warning"))

    if predicted.min() > high:
        warn(f"even {rules.doses()[0]:g} mg a day is predicted above {high:g} ng/mL")
    if predicted.max() < low:
        warn(f"even {rules.max_daily_mg:g} mg a day is predicted below {low:g} ng/mL")
    for fit in result.fits:
        if at_bound(fit, problem.omegas) or not fit.converged:
            warn("the estimate hit its search limits or did not converge: check the history")
            break
    last_day = history.days - 1
    recent = [d for d in history.dexamethasone_days if last_day - d < INDUCTION_WEARS_OFF_DAYS]
    if recent:
        warn(
            "dexamethasone on the history's last days: its CYP3A induction is wearing off, "
            "troughs will rise toward the prediction over about 5 days"
        )
    return tuple(out)


def _interval(
    result: Estimate,
    problem: Any,
    model: TacrolimusModel,
    dose: tuple[float, float],
    seed: int,
) -> tuple[float, float]:
    """90% interval of the measured steady-state trough on ``dose`` (daily mg, capsule)."""
    daily_mg, capsule_mg = dose
    streams = children(np.random.SeedSequence(seed), 4)  # the 4th: the assay's error
    genotype, etas, kappa = _draws(result, model, problem.size, streams)
    expresser = np.array([result.fits[g].expresser for g in genotype])
    patients = [patients_of(problem, etas[expresser == flag], flag) for flag in (False, True)]
    true = np.empty(INTERVAL_DRAWS)
    for flag, group in zip((False, True), patients, strict=True):
        chosen = expresser == flag
        f = np.exp(kappa[chosen])
        true[chosen] = morning_trough(group.cl, group.v, group.ka, daily_mg, capsule_mg, f)
    z = np.random.default_rng(streams[3]).standard_normal((2, INTERVAL_DRAWS))
    observed = measured(model, true, z[0], z[1])
    tail = (1.0 - INTERVAL_LEVEL) / 2.0
    lo, hi = np.quantile(observed, (tail, 1.0 - tail))
    return float(lo), float(hi)


def recommendation_text(advice: Recommendation) -> str:
    """The advice as a clinician reads it."""
    low, high = advice.target
    lo, hi = advice.interval_90
    return "\n".join(
        [
            f"Recommended tacrolimus: {advice.daily_dose_mg:g} mg a day, "
            f"{advice.morning_mg:g} mg at 08:00 and {advice.evening_mg:g} mg at 20:00",
            f"  predicted steady-state morning trough {advice.predicted_trough:.2f} ng/mL "
            f"(target {low:g}-{high:g}); 90% prediction interval {lo:.2f}-{hi:.2f}",
            f"  MAP from {advice.troughs_used} trough(s): CL/F {advice.cl_l_per_h:.1f} L/h, "
            f"V/F {advice.v_l:.0f} L, P(CYP3A5 expresser) {advice.expresser_probability:.2f}",
            f"  interval: {advice.method}",
        ]
    )
