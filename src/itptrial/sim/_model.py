"""The dual-target ITP model: equations, individual parameters and the steady state.

State (rows of an array with one column per patient), time in days:

====  ===========================================================================
P     megakaryocyte precursors; input kin * production(T) * (C0 / C)^gamma
T1-3  maturation transit compartments, rate ktr = 4 / MTT (Friberg-type chain)
C     circulating platelets, cleared at kdeg * (1 + a0 * B * (1 - block) * (1 - ivig * R))
B     autoreactive B-cell clone relative to diagnosis (1 at diagnosis, 0 = tolerance
      restored): logistic regrowth with an Allee threshold (below ``cure`` it dies out,
      above it it returns to its carrying capacity (T / T0)^h), killed by dexamethasone
T     activated T cells suppressing production by 1 / (1 + T); relax at kt to
      T0 * B (1 + K_B) / (B + K_B) (antigen presentation by the clone saturates),
      depleted by tacrolimus at kdep * Imax * Ctac / (IC50 + Ctac)
D     dexamethasone biophase (effect compartment): dD/dt = ke0 * (dose - D), dose in
      course-days of the reference dose; its effect E = D / (EC50 + D) blocks a share
      ``block`` of antibody-mediated clearance and kills clone B at kkill * E
R     IVIG rescue effect, jumps to 1 at rescue and decays at kr
====  ===========================================================================

Tacrolimus is not a state here: its daily mean whole-blood concentration comes from the
population PK model (:mod:`itptrial.pk`) and is an input, constant over each day.
See docs/model.md for the derivation, the sources and the steady state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numba import njit

STATES = ("P", "T1", "T2", "T3", "C", "B", "T", "D", "R")
P, T1, T2, T3, C, B, T, D, R = range(len(STATES))


@dataclass
class Patients:
    """Individual parameters, one array entry per virtual patient (shared values are
    scalars)."""

    c0: np.ndarray
    kdeg: np.ndarray
    t0: np.ndarray
    a0: np.ndarray
    regrowth: np.ndarray  # g, /day: regrowth rate of the autoreactive clone
    kkill: np.ndarray  # /day at full dexamethasone effect: killing of the clone
    cure: np.ndarray  # Allee threshold of the clone (per patient: a calibration batch
    block: np.ndarray  # runs patients of several parameter sets at once)
    kdep: np.ndarray
    t_help: np.ndarray
    ktr: float
    gamma: float
    kt: float
    b_help: float
    ke0: float
    ec50: float
    imax: float
    ic50: float
    ivig_effect: float
    kr: float

    @property
    def n(self) -> int:
        return len(self.c0)

    @staticmethod
    def concatenate(groups: list[Patients]) -> Patients:
        """Several groups as one (their shared values must agree)."""
        first = groups[0]
        values: dict[str, object] = {}
        for f in fields(first):
            value = getattr(first, f.name)
            if isinstance(value, np.ndarray):
                values[f.name] = np.concatenate([getattr(g, f.name) for g in groups])
            else:
                if any(getattr(g, f.name) != value for g in groups):
                    raise ValueError(f"groups differ in the shared value {f.name}")
                values[f.name] = value
        return Patients(**values)  # type: ignore[arg-type]

    def take(self, index: np.ndarray | slice) -> Patients:
        """The parameters of a subset of patients (arrays indexed, scalars kept)."""
        values = {
            f.name: (
                getattr(self, f.name)[index]
                if isinstance(getattr(self, f.name), np.ndarray)
                else getattr(self, f.name)
            )
            for f in fields(self)
        }
        return Patients(**values)


def baseline_destruction(
    c0: float | np.ndarray, t0: np.ndarray, baseline: np.ndarray, gamma: float
) -> np.ndarray:
    """A0 giving the steady-state count ``baseline`` (docs/model.md, steady state):
    C = C0 * (p / (1 + A0))^(1 / (1 + gamma)) with p = 1 / (1 + T0)."""
    production = 1.0 / (1.0 + t0)
    return np.asarray(production / (baseline / c0) ** (1.0 + gamma) - 1.0)


def steady_state(patients: Patients, baseline: np.ndarray) -> np.ndarray:
    """The untreated state at diagnosis whose platelet count is ``baseline``."""
    y = np.zeros((len(STATES), patients.n))
    flux = patients.kdeg * (1.0 + patients.a0) * baseline  # platelets cleared per day
    y[[P, T1, T2, T3]] = flux / patients.ktr
    y[C] = baseline
    y[B] = 1.0
    y[T] = patients.t0
    return y


# Per-patient parameters, in the column order of theta(), and the shared ones.
THETA = ("c0", "kdeg", "t0", "a0", "regrowth", "kkill", "cure", "block", "kdep", "t_help")
SHARED = ("ktr", "gamma", "kt", "b_help", "ke0", "ec50", "imax", "ic50", "ivig_effect", "kr")


def theta(p: Patients) -> np.ndarray:
    """The per-patient parameters as one (patients, 10) array for the compiled kernels."""
    return np.ascontiguousarray(np.column_stack([getattr(p, name) for name in THETA]))


def shared(p: Patients) -> np.ndarray:
    return np.array([getattr(p, name) for name in SHARED], dtype=np.float64)


@njit(cache=True, error_model="numpy")  # no zero-division checks: 25% faster
def rhs(
    y: np.ndarray, th: np.ndarray, sh: np.ndarray, dex: float, tac: float, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested through callers
    """dy/dt of one patient into ``out``: the model equations, written once.

    ``dex``: dexamethasone course-days today (1 = the module's reference dose);
    ``tac``: today's mean tacrolimus whole-blood concentration (ng/mL).
    """
    c0, kdeg, t0, a0, regrowth, kkill = th[0], th[1], th[2], th[3], th[4], th[5]
    cure, block, kdep, t_help = th[6], th[7], th[8], th[9]
    ktr, gamma, kt, b_help, ke0, ec50 = sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]
    imax, ic50, ivig, kr = sh[6], sh[7], sh[8], sh[9]
    clone = max(y[B], 0.0)
    cells = max(y[T], 0.0)
    biophase = max(y[D], 0.0)
    effect = biophase / (ec50 + biophase)
    destruction = a0 * clone * (1.0 - block * effect) * (1.0 - ivig * y[R])
    out[P] = kdeg * c0 / (1.0 + cells) * (c0 / y[C]) ** gamma - ktr * y[P]
    out[T1] = ktr * (y[P] - y[T1])
    out[T2] = ktr * (y[T1] - y[T2])
    out[T3] = ktr * (y[T2] - y[T3])
    out[C] = ktr * y[T3] - kdeg * (1.0 + destruction) * y[C]
    ratio_t = cells / t0
    capacity = ratio_t if t_help == 1.0 else ratio_t**t_help  # pow is costly
    allee = (clone - cure) / (clone + cure)
    # logistic growth toward the capacity at a rate bounded by the regrowth rate (not
    # divided by the capacity: no stiffness when T-cell help is withdrawn)
    out[B] = regrowth * clone * (capacity - clone) * allee - kkill * effect * clone
    target_t = t0 * clone * (1.0 + b_help) / (clone + b_help)  # saturating; no pow
    inhibition = imax * tac / (ic50 + tac)
    out[T] = kt * (target_t - cells) - kdep * inhibition * cells
    out[D] = ke0 * (dex - y[D])
    out[R] = -kr * y[R]


@njit(cache=True)
def _all_derivatives(
    y: np.ndarray, th: np.ndarray, sh: np.ndarray, dex: np.ndarray, tac: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty_like(y)
    one, slope = np.empty(y.shape[0]), np.empty(y.shape[0])
    for i in range(y.shape[1]):
        one[:] = y[:, i]
        rhs(one, th[i], sh, dex[i], tac[i], slope)
        out[:, i] = slope
    return out


def derivatives(y: np.ndarray, dex: np.ndarray, tac: np.ndarray, p: Patients) -> np.ndarray:
    """dy/dt for every patient (columns of ``y``)."""
    return _all_derivatives(
        np.asarray(y, dtype=np.float64),
        theta(p),
        shared(p),
        np.asarray(dex, dtype=np.float64),
        np.asarray(tac, dtype=np.float64),
    )
