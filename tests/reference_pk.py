"""A slow, independent reference for the tacrolimus model: the equations of
``itptrial.pk.rhs`` integrated with scipy's LSODA between every break point (day
boundaries, doses, samples), one patient at a time, with E(t) continuous (the fast
engine freezes CL/F within each step at E's mean). :func:`reference_days` also
integrates the central amount as a fourth state, for each day's mean concentration."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from itptrial.pk import Dosing, TacrolimusModel, TacrolimusPatients, rhs


def reference_concentrations(
    model: TacrolimusModel,
    patients: TacrolimusPatients,
    dosing: Dosing,
    sample_times_h: np.ndarray,
) -> np.ndarray:
    occasion = np.minimum(
        dosing.occasion_of_doses(model.variability.occasion_days),
        patients.f_occasion.shape[1] - 1,
    )
    samples = np.asarray(sample_times_h, dtype=float)
    end = max(samples.max(), dosing.dose_times_h.max())
    days = np.arange(0.0, end + 24.0, 24.0)
    breaks = np.unique(np.concatenate([[0.0], days, dosing.dose_times_h, samples]))
    breaks = breaks[breaks <= end]
    out = np.empty((patients.n, len(samples)))
    for i in range(patients.n):
        y = np.array([0.0, 0.0, 1.0])
        for b, t0 in enumerate(breaks):
            out[i, samples == t0] = y[1] / patients.v[i] * 1000.0  # before a dose at t0
            doses = dosing.dose_times_h == t0
            y[0] += float(
                np.sum(dosing.amounts_mg[i, doses] * patients.f_occasion[i, occasion[doses]])
            )
            if b + 1 == len(breaks):
                break
            day = min(int(t0 // 24), dosing.dex_days.shape[1] - 1)
            on = float(dosing.dex_days[i, day])
            args = (
                patients.cl[i],
                patients.v[i],
                patients.ka[i],
                model.k_enzyme,
                model.induction.e_max,
                on,
            )
            solution = solve_ivp(
                lambda t, state, a=args: rhs(state, *a),
                (t0, breaks[b + 1]),
                y,
                method="LSODA",
                rtol=1e-11,
                atol=1e-14,
            )
            y = solution.y[:, -1]
    return out


def reference_days(
    model: TacrolimusModel,
    patients: TacrolimusPatients,
    dosing: Dosing,
    days: int,
    first_hour: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each day's trough (at 24 d + ``first_hour``, before a dose then) and mean
    concentration over [24 d, 24 d + 24), both (patients, days): LSODA on the equations
    of ``rhs`` plus d(area)/dt = central, reset at each midnight."""
    occasion = np.minimum(
        dosing.occasion_of_doses(model.variability.occasion_days),
        patients.f_occasion.shape[1] - 1,
    )
    midnights = np.arange(days + 1) * 24.0
    breaks = np.unique(np.concatenate([midnights, dosing.dose_times_h]))
    breaks = breaks[breaks <= midnights[-1]]
    troughs = np.empty((patients.n, days))
    averages = np.empty((patients.n, days))
    for i in range(patients.n):
        y = np.array([0.0, 0.0, 1.0, 0.0])
        for b, t0 in enumerate(breaks):
            day = int(t0 // 24)
            if t0 == midnights[day] and day > 0:  # the day before is over
                averages[i, day - 1] = y[3] / 24.0 / patients.v[i] * 1000.0
                y[3] = 0.0
            if day < days and t0 == midnights[day] + first_hour:
                troughs[i, day] = y[1] / patients.v[i] * 1000.0
            doses = dosing.dose_times_h == t0
            y[0] += float(
                np.sum(dosing.amounts_mg[i, doses] * patients.f_occasion[i, occasion[doses]])
            )
            if b + 1 == len(breaks):
                break
            on = float(dosing.dex_days[i, min(day, dosing.dex_days.shape[1] - 1)])
            args = (
                patients.cl[i],
                patients.v[i],
                patients.ka[i],
                model.k_enzyme,
                model.induction.e_max,
                on,
            )
            solution = solve_ivp(
                lambda t, state, a=args: np.append(rhs(state[:3], *a), state[1]),
                (t0, breaks[b + 1]),
                y,
                method="LSODA",
                rtol=1e-11,
                atol=1e-14,
            )
            y = solution.y[:, -1]
    return troughs, averages
