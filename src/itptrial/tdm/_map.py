"""Bayesian MAP estimation of a patient's tacrolimus parameters from measured troughs, on
the population PK model the simulator uses (:mod:`itptrial.pk`).

The objective is NONMEM's first-order conditional estimation with interaction at the
posterior mode (the MAP objective of mapbayr; Le Louedec et al., CPT Pharmacometrics
Syst Pharmacol 2021;10:1208):

    OFV(eta) = sum_j [ (y_j - f_j(eta))^2 / s_j^2 + ln s_j^2 ] + sum_k eta_k^2 / omega_k^2
    s_j^2    = a^2 + (b f_j(eta))^2      (the residual variance at the individual prediction)

(a reading of 0, the assay's floor, counts as censored: -2 ln Phi(-f_j / s_j), Beal's
M3 method), with y_j the measured troughs, f_j the model's concentrations at their real times (every
dose, missed dose and dexamethasone day of the history), ``a`` and ``b`` the additive and
proportional residual SDs, and eta = (eta_CL, eta_V, kappa_1 .. kappa_m): the
between-patient effects and one bioavailability effect per occasion (week) of the
history. OFV is -2 log posterior up to a constant. CYP3A5 "unknown" is a mixture at the
population frequency: each genotype is fitted and weighted by its Laplace posterior
probability, ``share x exp(-OFV/2) x sqrt(det covariance)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from itptrial.pk import (
    Dosing,
    Genotype,
    TacrolimusModel,
    TacrolimusPatients,
    concentrations,
    individual_parameters,
)
from itptrial.tdm._history import HOURS_PER_DAY, History

STEP_H = 1.0  # the PK grid (error ~1e-4 relative at 1 h: docs/tacrolimus.md)
DIFFERENCE = 1e-5  # central-difference step on the eta scale (gradient, Hessian)
SCREEN_OMEGAS = tuple(np.linspace(-2.5, 2.5, 11))  # eta_CL screened, in units of omega_CL
OPTIMIZED_STARTS = 2  # local optimisations, from the best screened points
BOUND_OMEGAS = 6.0  # no eta beyond 6 omegas (a search limit; a fit on it is warned)


@dataclass(frozen=True)
class MapProblem:
    """What the objective needs: the history on the PK grid, covariates, priors."""

    model: TacrolimusModel
    weight_kg: float
    dosing: Dosing  # one patient
    trough_times_h: np.ndarray
    troughs: np.ndarray
    omegas: np.ndarray  # prior SDs of eta, in order
    occasions: int

    @property
    def size(self) -> int:
        return len(self.omegas)


def make_problem(model: TacrolimusModel, history: History, weight_kg: float) -> MapProblem:
    """The estimation problem of a history (troughs before any dose left out: they carry
    no information on the parameters)."""
    days = history.days
    first_dose = float(history.dose_times_h.min())
    keep = history.trough_times_h > first_dose
    dosing = Dosing(
        dose_times_h=history.dose_times_h,
        amounts_mg=history.doses_mg[None, :],
        dex_days=history.dex_mask(days)[None, :],
    )
    occasion_h = HOURS_PER_DAY * model.variability.occasion_days
    occasions = int(history.dose_times_h.max() // occasion_h) + 1
    w = model.variability
    kappas = [w.omega_f_occasion] * occasions if w.omega_f_occasion > 0 else []
    return MapProblem(
        model=model,
        weight_kg=weight_kg,
        dosing=dosing,
        trough_times_h=history.trough_times_h[keep],
        troughs=history.troughs_ng_ml[keep],
        omegas=np.array([w.omega_cl, w.omega_v, *kappas]),
        occasions=occasions,
    )


def patients_of(problem: MapProblem, etas: np.ndarray, expresser: bool) -> TacrolimusPatients:
    """One virtual patient per row of ``etas`` (eta_CL, eta_V, kappa...)."""
    etas = np.atleast_2d(etas)
    n = etas.shape[0]
    kappa = etas[:, 2:] if etas.shape[1] > 2 else np.zeros((n, problem.occasions))
    return individual_parameters(
        problem.model,
        np.full(n, problem.weight_kg),
        np.full(n, expresser),
        etas[:, 0],
        etas[:, 1],
        np.zeros(n),
        kappa,
    )


def predictions(problem: MapProblem, etas: np.ndarray, expresser: bool) -> np.ndarray:
    """(rows, troughs) model concentrations at the troughs' times, one row per eta."""
    patients = patients_of(problem, etas, expresser)
    amounts = np.repeat(problem.dosing.amounts_mg, patients.n, axis=0)
    dex = np.repeat(problem.dosing.dex_days, patients.n, axis=0)
    dosing = Dosing(problem.dosing.dose_times_h, amounts, dex)
    return concentrations(problem.model, patients, dosing, problem.trough_times_h, STEP_H)


def objective(problem: MapProblem, etas: np.ndarray, expresser: bool) -> np.ndarray:
    """OFV of each row of ``etas`` (the module docstring's formula)."""
    etas = np.atleast_2d(etas)
    f = predictions(problem, etas, expresser)
    e = problem.model.error
    variance = e.additive_ng_ml**2 + (e.proportional * f) ** 2
    y = problem.troughs
    normal = (y - f) ** 2 / variance + np.log(variance)
    # a reading of 0 is the assay's floor (it reports no negative value): censored,
    # P(reading <= 0) = Phi(-f / s) (Beal's M3 method, J Pharmacokinet Pharmacodyn
    # 2001;28:481), -2 log of it in place of the normal term
    censored = -2.0 * special.log_ndtr(-f / np.sqrt(variance))
    residual = np.where(y <= 0.0, censored, normal).sum(axis=1)
    prior = ((etas / problem.omegas) ** 2).sum(axis=1)
    result: np.ndarray = residual + prior
    return result


@dataclass(frozen=True)
class Fit:
    """The MAP estimate under one genotype."""

    expresser: bool
    etas: np.ndarray
    ofv: float  # the objective at the mode
    covariance: np.ndarray  # Laplace: 2 x inverse Hessian of OFV at the mode
    starts: int
    converged: bool


def _fun_and_jac(problem: MapProblem, expresser: bool, x: np.ndarray) -> tuple[float, np.ndarray]:
    """OFV and its central-difference gradient, all 2p + 1 points in one PK solve."""
    p = len(x)
    steps = np.eye(p) * DIFFERENCE
    points = np.vstack([x, x + steps, x - steps])
    values = objective(problem, points, expresser)
    gradient = (values[1 : p + 1] - values[p + 1 :]) / (2.0 * DIFFERENCE)
    return float(values[0]), gradient


def hessian(problem: MapProblem, x: np.ndarray, expresser: bool, h: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of OFV at ``x`` (one PK solve of all points)."""
    p = len(x)
    eye = np.eye(p) * h
    points = [x]
    for i in range(p):
        for j in range(i, p):
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                points.append(x + si * eye[i] + sj * eye[j])
    values = objective(problem, np.array(points), expresser)
    out = np.empty((p, p))
    k = 1
    for i in range(p):
        for j in range(i, p):
            pp, pm, mp, mm = values[k : k + 4]
            out[i, j] = out[j, i] = (pp - pm - mp + mm) / (4.0 * h * h)
            k += 4
    return out


def _starts(problem: MapProblem, expresser: bool) -> np.ndarray:
    """Multi-start: eta_CL screened over -2.5 .. +2.5 omegas in one solve, the best
    points kept as starts (clearance dominates troughs and varies several-fold: a single
    start at the typical values can stop in a poor local mode, mapbayr's known failure
    with large variability)."""
    points = np.zeros((len(SCREEN_OMEGAS), problem.size))
    points[:, 0] = np.asarray(SCREEN_OMEGAS) * problem.omegas[0]
    best = np.argsort(objective(problem, points, expresser), kind="stable")
    return points[best[:OPTIMIZED_STARTS]]


def fit_genotype(problem: MapProblem, expresser: bool) -> Fit:
    """The MAP estimate under one genotype, best of the multi-start L-BFGS-B runs."""
    bounds = [(-BOUND_OMEGAS * w, BOUND_OMEGAS * w) for w in problem.omegas]
    best = None
    for start in _starts(problem, expresser):
        result = optimize.minimize(
            lambda x: _fun_and_jac(problem, expresser, x),
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 500},
        )
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    covariance = _laplace_covariance(hessian(problem, best.x, expresser), problem.omegas)
    return Fit(expresser, best.x, float(best.fun), covariance, OPTIMIZED_STARTS, best.success)


def _laplace_covariance(h: np.ndarray, omegas: np.ndarray) -> np.ndarray:
    """2 x inverse Hessian, made symmetric positive definite: eigenvalues of H below the
    prior's own curvature floor (numerical noise, or a mode on a bound) are raised to
    it, so the covariance is never wider than the prior."""
    floor = 2.0 / float(np.max(omegas**2))
    values, vectors = np.linalg.eigh((h + h.T) / 2.0)
    values = np.maximum(values, floor)
    covariance: np.ndarray = 2.0 * (vectors / values) @ vectors.T
    return covariance


def at_bound(fit: Fit, omegas: np.ndarray) -> bool:
    """The mode lies on the search's bounds (+-6 omegas): the data pull beyond what the
    model deems plausible."""
    return bool(np.any(np.abs(fit.etas) >= BOUND_OMEGAS * omegas * (1 - 1e-6)))


@dataclass(frozen=True)
class Estimate:
    """The MAP estimate over the genotypes allowed, with each genotype's posterior
    probability (Laplace: prior share x exp(-OFV/2) x sqrt(det covariance))."""

    fits: tuple[Fit, ...]
    probabilities: tuple[float, ...]

    @property
    def mode(self) -> Fit:
        return self.fits[int(np.argmax(self.probabilities))]


def estimate(problem: MapProblem, genotype: Genotype) -> Estimate:
    """MAP for a known genotype, or for each when "unknown" (a mixture at the
    population's expresser share)."""
    share = problem.model.cyp3a5.expresser_fraction
    choices = {
        "expresser": [(True, 1.0)],
        "non": [(False, 1.0)],
        "unknown": [(True, share), (False, 1.0 - share)],
    }
    if genotype not in choices:
        raise ValueError(f"genotype must be expresser, non or unknown; got {genotype!r}")
    options = choices[genotype]
    fits = tuple(fit_genotype(problem, expresser) for expresser, _ in options)
    log_weights = np.array(
        [
            np.log(prior) - fit.ofv / 2.0 + 0.5 * np.linalg.slogdet(fit.covariance)[1]
            for fit, (_, prior) in zip(fits, options, strict=True)
        ]
    )
    weights = np.exp(log_weights - log_weights.max())
    return Estimate(fits, tuple(float(w) for w in weights / weights.sum()))
