"""Identifiability of calibrated parameters (issue 10; docs/calibration.md): what the
published targets inform, and what they cannot.

- :func:`sensitivity` is the local sensitivity matrix of the targets to the parameters:
  central finite differences of a function that is deterministic for a fixed seed (with
  common random numbers, a simulator is), scaled to relative changes of each parameter
  (d target / d log parameter). Its singular values show how many parameter directions
  the targets inform; a singular value near 0 is a direction they cannot see (Brun,
  Reichert & Kuensch, Water Resour Res 2001;37:1015, "collinearity index").
- :func:`posterior_summary` gives, from weighted posterior particles, each parameter's
  correlations and its contraction 1 - var(posterior) / var(prior) (Gelman et al.,
  Bayesian Data Analysis, 3rd ed.; 0: the data taught nothing, 1: fully determined).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from itptrial.sim._abc import AbcResult, Priors


@dataclass(frozen=True)
class Sensitivity:
    """d target / d log parameter (targets x parameters), its singular values (largest
    first) and the collinearity index 1 / smallest singular value of the column-
    normalised matrix (Brun et al. 2001: above about 10-15, poorly identifiable)."""

    matrix: np.ndarray
    singular_values: np.ndarray
    collinearity_index: float


def sensitivity(
    targets: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, relative_step: float = 0.01
) -> Sensitivity:
    """Central differences of ``targets`` at ``theta`` (all entries > 0), per log step."""
    theta = np.asarray(theta, dtype=float)
    columns = []
    for i in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[i] *= np.exp(relative_step)
        down[i] *= np.exp(-relative_step)
        columns.append((targets(up) - targets(down)) / (2 * relative_step))
    matrix = np.column_stack(columns)
    singular = np.linalg.svd(matrix, compute_uv=False)
    norms = np.linalg.norm(matrix, axis=0)
    if np.any(norms == 0):
        index = float("inf")  # a parameter no target moves
    else:
        smallest = np.linalg.svd(matrix / norms, compute_uv=False)[-1]
        index = float("inf") if smallest == 0 else float(1.0 / smallest)
    return Sensitivity(matrix, singular, index)


@dataclass(frozen=True)
class PosteriorSummary:
    names: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    correlation: np.ndarray  # (parameters, parameters)
    contraction: np.ndarray  # 1 - var(posterior) / var(prior), per parameter


def posterior_summary(result: AbcResult, priors: Priors) -> PosteriorSummary:
    """Weighted posterior moments, correlations and prior-to-posterior contraction."""
    w, x = result.weights, result.particles
    mean = w @ x
    centred = x - mean
    covariance = (centred * w[:, None]).T @ centred
    sd = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(sd, sd)
    prior_var = np.array([float(d.var()) for d in priors.distributions.values()])
    return PosteriorSummary(
        result.names, mean, sd, correlation, 1.0 - np.diag(covariance) / prior_var
    )
