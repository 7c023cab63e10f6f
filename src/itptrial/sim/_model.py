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


def derivatives(y: np.ndarray, dex: np.ndarray, tac_rate: np.ndarray, p: Patients) -> np.ndarray:
    """dy/dt for every patient. ``dex``: dexamethasone course-days (1 = 40 mg) today;
    ``tac_rate``: tacrolimus input today in micrograms per day."""
    out = np.empty_like(y)
    inhibition = p.imax * y[CTAC] / (p.ic50 + y[CTAC])
    production = 1.0 / (1.0 + y[T])
    kin = p.kdeg * p.c0
    out[P] = kin * production * (p.c0 / y[C]) ** p.gamma - p.ktr * y[P]
    out[T1] = p.ktr * (y[P] - y[T1])
    out[T2] = p.ktr * (y[T1] - y[T2])
    out[T3] = p.ktr * (y[T2] - y[T3])
    destruction = p.kdeg * (1.0 + y[A] * (1.0 - p.ivig_effect * y[R]))
    out[C] = p.ktr * y[T3] - destruction * y[C]
    target_a = p.a0 * (np.maximum(y[T], 0.0) / p.t0) ** p.t_help
    out[A] = p.ka * (target_a - y[A]) - p.kdex * dex * y[A]
    target_t = p.t0 * (np.maximum(y[A], 0.0) / p.a0) ** p.b_help
    out[T] = p.kt * (target_t - y[T]) - p.kdep * inhibition * y[T]
    out[CTAC] = (tac_rate - p.cl * y[CTAC]) / p.v
    out[R] = -p.kr * y[R]
    return out
