"""Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC), for calibrating
a stochastic simulator to published results (issue 10; docs/calibration.md).

The population Monte Carlo sampler of Beaumont, Cornuet, Marin & Robert (Biometrika
2009;96:983), with the adaptive tolerances of Del Moral, Doucet & Jasra (Stat Comput
2012;22:1009) in their simplest form: each generation's tolerance is a quantile of the
previous generation's accepted distances.

- Generation 0 draws particles from the prior and keeps those within the first
  tolerance (the ``first_quantile`` of their distances).
- Each later generation draws a particle from the previous population by weight,
  perturbs it with a normal kernel whose covariance is twice the weighted covariance of
  that population (Beaumont et al., section 3), and keeps it if it lies in the prior's
  support and its simulated summary is within the tolerance.
- A kept particle's weight is its prior density over the mixture density it was drawn
  from: w_i = pi(theta_i) / sum_j w_j K(theta_i | theta_j).

With a tolerance of 0 on a discrete summary, the accepted particles are draws from the
exact posterior (the test with a conjugate beta-binomial checks this). The simulator is
called on batches of proposals with its own ``SeedSequence`` per batch, so a run is
reproducible for a seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

Simulate = Callable[[np.ndarray, np.random.SeedSequence], np.ndarray]
Distance = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Priors:
    """Independent priors, one scipy frozen distribution per parameter (in order)."""

    distributions: Mapping[str, stats.rv_continuous | stats.rv_frozen]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.distributions)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.column_stack(
            [d.rvs(size=n, random_state=rng) for d in self.distributions.values()]
        )

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        """Sum of log densities; -inf outside the support."""
        columns = [d.logpdf(theta[:, i]) for i, d in enumerate(self.distributions.values())]
        return np.asarray(np.sum(columns, axis=0))


@dataclass(frozen=True)
class AbcResult:
    """The final population (particles, normalised weights), and per generation its
    tolerance, acceptance rate and number of simulations."""

    names: tuple[str, ...]
    particles: np.ndarray  # (particles, parameters)
    weights: np.ndarray  # (particles,), sum 1
    tolerances: tuple[float, ...]
    acceptance: tuple[float, ...]
    simulations: int

    def mean(self) -> np.ndarray:
        return np.asarray(self.weights @ self.particles)

    def sd(self) -> np.ndarray:
        centred = self.particles - self.mean()
        return np.asarray(np.sqrt(self.weights @ centred**2))

    def effective_sample_size(self) -> float:
        """Kish's effective sample size of the weights."""
        return float(1.0 / np.sum(self.weights**2))

    def draws(self, n: int, seed: int) -> np.ndarray:
        """n posterior draws: particles resampled by weight (a stream of their own)."""
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        return self.particles[rng.choice(len(self.weights), size=n, p=self.weights)]


def _kernel_density(
    theta: np.ndarray, previous: np.ndarray, weights: np.ndarray, covariance: np.ndarray
) -> np.ndarray:
    """sum_j w_j N(theta_i; previous_j, covariance) for every row of theta."""
    inverse = np.linalg.inv(covariance)
    _, log_det = np.linalg.slogdet(covariance)
    k = theta.shape[1]
    diff = theta[:, None, :] - previous[None, :, :]
    quad = np.einsum("ijk,kl,ijl->ij", diff, inverse, diff)
    log_norm = -0.5 * (k * np.log(2 * np.pi) + log_det)
    return np.asarray(np.exp(log_norm - 0.5 * quad) @ weights)


def _weighted_covariance(particles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    centred = particles - weights @ particles
    covariance = (centred * weights[:, None]).T @ centred
    return np.atleast_2d(covariance) + 1e-12 * np.eye(particles.shape[1])


def _next_tolerance(dist: np.ndarray, current: float, quantile: float, final: float) -> float:
    """The quantile of the accepted distances; when distances are discrete and the
    quantile does not move, the largest distance below the current tolerance."""
    proposed = float(np.quantile(dist, quantile))
    if proposed >= current:
        below = dist[dist < current]
        proposed = float(below.max()) if below.size else final
    return max(proposed, final)


def abc_smc(
    simulate: Simulate,
    distance: Distance,
    priors: Priors,
    *,
    particles: int,
    seed: int,
    generations: int = 8,
    first_quantile: float = 0.5,
    quantile: float = 0.5,
    final_tolerance: float = 0.0,
    batch: int | None = None,
    max_simulations: int = 10**7,
) -> AbcResult:
    """Run ABC-SMC until ``generations`` populations or ``final_tolerance`` is reached.

    ``simulate(theta, seed)`` returns one summary row per parameter row; ``distance``
    maps those summaries to distances from the observed ones.
    """
    root = np.random.SeedSequence(seed)
    proposals_seed, simulations_seed = root.spawn(2)
    rng = np.random.default_rng(proposals_seed)
    batch = batch or 2 * particles
    batches = iter(simulations_seed.spawn(max_simulations // batch + generations + 1))
    used = 0

    theta = priors.sample(rng, batch)
    d = distance(simulate(theta, next(batches)))
    used += batch
    tolerance = max(float(np.quantile(d, first_quantile)), final_tolerance)
    keep = d <= tolerance
    population, dist = theta[keep][:particles], d[keep][:particles]
    weights = np.full(len(population), 1.0 / len(population))
    tolerances, acceptance = [tolerance], [float(keep.mean())]

    for _ in range(1, generations):
        if tolerance <= final_tolerance:
            break
        tolerance = _next_tolerance(dist, tolerance, quantile, final_tolerance)
        covariance = 2.0 * _weighted_covariance(population, weights)
        kept_theta: list[np.ndarray] = []
        kept_dist: list[np.ndarray] = []
        tried = 0  # proposals simulated in this generation (inside the prior's support)
        while sum(len(t) for t in kept_theta) < particles:
            if used + batch > max_simulations:
                raise RuntimeError(f"ABC-SMC stopped: more than {max_simulations} simulations")
            parents = population[rng.choice(len(weights), size=batch, p=weights)]
            proposal = parents + rng.multivariate_normal(
                np.zeros(population.shape[1]), covariance, batch
            )
            inside = np.isfinite(priors.log_density(proposal))
            proposal = proposal[inside]
            if not len(proposal):
                continue
            d = distance(simulate(proposal, next(batches)))
            used += len(proposal)
            tried += len(proposal)
            ok = d <= tolerance
            kept_theta.append(proposal[ok])
            kept_dist.append(d[ok])
        new = np.concatenate(kept_theta)[:particles]
        dist = np.concatenate(kept_dist)[:particles]
        prior = np.exp(priors.log_density(new))
        w = prior / _kernel_density(new, population, weights, covariance)
        population, weights = new, w / w.sum()
        tolerances.append(tolerance)
        acceptance.append(sum(len(t) for t in kept_theta) / tried)
    return AbcResult(priors.names, population, weights, tuple(tolerances), tuple(acceptance), used)
