"""The dual-target ITP model: equations, individual parameters and the steady state.

State (rows of an array with one column per patient), time in days:

====  ===========================================================================
P     megakaryocyte precursors; input kin * production(T) * (C0 / C)^gamma
T1-3  maturation transit compartments, rate ktr = 4 / MTT (Friberg-type chain)
C     circulating platelets, cleared at kdeg * (1 + A * (1 - ivig * R))
A     antibody / B-cell destruction drive; relaxes to A0 * (T / T0)^h at rate ka,
      reduced by dexamethasone at kdex per course-day
T     activated T-cell population; relaxes slowly (kt) to T0 * (A / A0)^q (B cells present
      antigen to T cells: the two arms sustain each other) and is depleted by tacrolimus
      at kdep * I, I = Imax * Ctac / (IC50 + Ctac); it suppresses production by 1 / (1 + T)
Ctac  tacrolimus daily-average concentration (ng/mL), one compartment, zero-order
      daily input (the trough is Ctac * trough_to_average)
R     IVIG rescue effect, jumps to 1 at rescue and decays at kr
====  ===========================================================================

See docs/model.md for the derivation, the sources and the steady state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numba import njit

STATES = ("P", "T1", "T2", "T3", "C", "A", "T", "Ctac", "R")
P, T1, T2, T3, C, A, T, CTAC, R = range(len(STATES))


@dataclass
class Patients:
    """Individual parameters, one array entry per virtual patient."""

    c0: np.ndarray
    kdeg: np.ndarray
    t0: np.ndarray
    a0: np.ndarray
    ka: np.ndarray
    kdex: np.ndarray
    cl: np.ndarray  # tacrolimus CL/F, L/day
    v: np.ndarray  # tacrolimus V/F, L
    ktr: float
    gamma: float
    kt: float
    kdep: float
    t_help: float
    b_help: float
    imax: float
    ic50: float
    ivig_effect: float
    kr: float

    @property
    def n(self) -> int:
        return len(self.c0)

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
    y[A] = patients.a0
    y[T] = patients.t0
    return y


# Per-patient parameters, in the column order of Patients.theta(), and the shared ones.
THETA = ("c0", "kdeg", "t0", "a0", "ka", "kdex", "cl", "v")
SHARED = ("ktr", "gamma", "kt", "kdep", "t_help", "b_help", "imax", "ic50", "ivig_effect", "kr")


def theta(p: Patients) -> np.ndarray:
    """The per-patient parameters as one (patients, 8) array for the compiled kernels."""
    return np.ascontiguousarray(np.column_stack([getattr(p, name) for name in THETA]))


def shared(p: Patients) -> np.ndarray:
    return np.array([getattr(p, name) for name in SHARED], dtype=np.float64)


@njit(cache=True)
def rhs(
    y: np.ndarray, th: np.ndarray, sh: np.ndarray, dex: float, tac_rate: float, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested through callers
    """dy/dt of one patient into ``out``: the model equations, written once.

    ``dex``: dexamethasone course-days today (1 = the module's reference dose);
    ``tac_rate``: tacrolimus input today in micrograms per day.
    """
    c0, kdeg, t0, a0, ka, kdex, cl, v = th[0], th[1], th[2], th[3], th[4], th[5], th[6], th[7]
    ktr, gamma, kt, kdep = sh[0], sh[1], sh[2], sh[3]
    t_help, b_help, imax, ic50, ivig, kr = sh[4], sh[5], sh[6], sh[7], sh[8], sh[9]
    inhibition = imax * y[CTAC] / (ic50 + y[CTAC])
    out[P] = kdeg * c0 / (1.0 + y[T]) * (c0 / y[C]) ** gamma - ktr * y[P]
    out[T1] = ktr * (y[P] - y[T1])
    out[T2] = ktr * (y[T1] - y[T2])
    out[T3] = ktr * (y[T2] - y[T3])
    out[C] = ktr * y[T3] - kdeg * (1.0 + y[A] * (1.0 - ivig * y[R])) * y[C]
    ratio_t = max(y[T], 0.0) / t0
    target_a = a0 * (ratio_t if t_help == 1.0 else ratio_t**t_help)  # pow is the hot spot
    out[A] = ka * (target_a - y[A]) - kdex * dex * y[A]
    target_t = t0 * (max(y[A], 0.0) / a0) ** b_help
    out[T] = kt * (target_t - y[T]) - kdep * inhibition * y[T]
    out[CTAC] = (tac_rate - cl * y[CTAC]) / v
    out[R] = -kr * y[R]


@njit(cache=True)
def _all_derivatives(
    y: np.ndarray, th: np.ndarray, sh: np.ndarray, dex: np.ndarray, tac_rate: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty_like(y)
    one, slope = np.empty(y.shape[0]), np.empty(y.shape[0])
    for i in range(y.shape[1]):
        one[:] = y[:, i]
        rhs(one, th[i], sh, dex[i], tac_rate[i], slope)
        out[:, i] = slope
    return out


def derivatives(y: np.ndarray, dex: np.ndarray, tac_rate: np.ndarray, p: Patients) -> np.ndarray:
    """dy/dt for every patient (columns of ``y``)."""
    return _all_derivatives(
        np.asarray(y, dtype=np.float64),
        theta(p),
        shared(p),
        np.asarray(dex, dtype=np.float64),
        np.asarray(tac_rate, dtype=np.float64),
    )
