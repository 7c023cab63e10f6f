"""ABC-SMC (itptrial.sim._abc, Beaumont et al., Biometrika 2009;96:983) against exact
posteriors: with a tolerance of 0 on a discrete summary, the accepted particles are
draws from the exact posterior, so conjugate beta-binomial problems give the answer in
closed form. Tolerances are 4 Monte Carlo standard errors of the weighted estimates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from itptrial.sim import AbcResult, Priors, abc_smc, posterior_summary, sensitivity

# TARGET 020's sustained responders (docs/domain.md): 31/48 and 23/56.
OBSERVED = np.array([31, 23])
N = np.array([48, 56])


def simulate(theta: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.binomial(N, np.clip(theta, 0.0, 1.0))


def distance(summaries: np.ndarray) -> np.ndarray:
    return np.abs(summaries - OBSERVED).max(axis=1).astype(float)


def run(seed: int, particles: int = 3000) -> AbcResult:
    priors = Priors({"p_experimental": stats.uniform(0, 1), "p_control": stats.beta(2, 2)})
    return abc_smc(simulate, distance, priors, particles=particles, seed=seed, generations=12)


@pytest.fixture(scope="module")
def result() -> AbcResult:
    return run(seed=7)


def test_reaches_the_exact_tolerance(result: AbcResult) -> None:
    assert result.tolerances[-1] == 0.0
    assert list(result.tolerances) == sorted(result.tolerances, reverse=True)
    assert result.weights.sum() == pytest.approx(1.0)
    assert min(result.acceptance) > 0 and max(result.acceptance) <= 1


def test_equals_the_conjugate_posterior(result: AbcResult) -> None:
    # Uniform = Beta(1, 1) prior: posterior Beta(1 + 31, 1 + 17); Beta(2, 2) prior:
    # posterior Beta(2 + 23, 2 + 33).
    exact = [stats.beta(32, 18), stats.beta(25, 35)]
    ess = result.effective_sample_size()
    assert ess > 1000
    for i, posterior in enumerate(exact):
        mean_se = posterior.std() / np.sqrt(ess)
        assert result.mean()[i] == pytest.approx(posterior.mean(), abs=4 * mean_se)
        sd_se = posterior.std() / np.sqrt(2 * ess)
        assert result.sd()[i] == pytest.approx(posterior.std(), abs=4 * sd_se)
    draws = result.draws(4000, seed=1)
    for i, posterior in enumerate(exact):
        assert stats.kstest(draws[:, i], posterior.cdf).pvalue > 1e-3


def test_reproducible_for_a_seed() -> None:
    a, b, c = run(seed=3, particles=500), run(seed=3, particles=500), run(seed=4, particles=500)
    np.testing.assert_array_equal(a.particles, b.particles)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.particles, c.particles)


def test_particles_stay_in_the_prior_support(result: AbcResult) -> None:
    assert np.all((result.particles > 0) & (result.particles < 1))


def test_too_many_simulations_is_an_error() -> None:
    priors = Priors({"p": stats.uniform(0, 1)})

    def never(summaries: np.ndarray) -> np.ndarray:  # no proposal ever fits
        return np.full(len(summaries), 1.0)

    with pytest.raises(RuntimeError, match="more than 20000 simulations"):
        abc_smc(
            lambda theta, seed: theta,
            never,
            priors,
            particles=1000,
            seed=1,
            first_quantile=0.0,
            final_tolerance=0.5,
            max_simulations=20_000,
        )


# --- identifiability ------------------------------------------------------------------


def test_sensitivity_of_a_linear_model_with_a_blind_direction() -> None:
    # targets = A log(theta): d target / d log theta = A exactly (central differences of a
    # linear function in log theta have no error). A has rank 2 of 3: the third
    # parameter moves the targets only together with the second (columns 2 and 3 equal).
    a = np.array([[1.0, 2.0, 2.0], [0.0, 1.0, 1.0], [3.0, 0.0, 0.0]])
    result = sensitivity(lambda theta: a @ np.log(theta), np.array([0.5, 2.0, 7.0]))
    np.testing.assert_allclose(result.matrix, a, atol=1e-9)
    expected = np.linalg.svd(a, compute_uv=False)  # the third is 0 up to rounding
    np.testing.assert_allclose(result.singular_values, expected, atol=1e-9)
    assert result.singular_values[-1] < 1e-9
    assert result.collinearity_index > 1e6


def test_sensitivity_of_a_well_posed_model() -> None:
    # y1 = theta1^2, y2 = theta1 theta2: d y / d log theta = [[2 y1, 0], [y2, y2]]
    theta = np.array([1.5, 0.4])
    result = sensitivity(lambda t: np.array([t[0] ** 2, t[0] * t[1]]), theta, 1e-4)
    y1, y2 = 1.5**2, 1.5 * 0.4
    np.testing.assert_allclose(result.matrix, [[2 * y1, 0.0], [y2, y2]], rtol=1e-6)
    assert result.collinearity_index < 10


def test_posterior_summary_contraction_and_correlation(result: AbcResult) -> None:
    priors = Priors({"p_experimental": stats.uniform(0, 1), "p_control": stats.beta(2, 2)})
    summary = posterior_summary(result, priors)
    # exact contraction: 1 - var(Beta(32, 18)) / var(U(0, 1)) (1/12), and
    # 1 - var(Beta(25, 35)) / var(Beta(2, 2)) (0.05)
    exact = [1 - stats.beta(32, 18).var() / (1 / 12), 1 - stats.beta(25, 35).var() / 0.05]
    np.testing.assert_allclose(summary.contraction, exact, atol=0.01)
    # the two rates are independent a posteriori: correlation within 4 / sqrt(ESS)
    assert abs(summary.correlation[0, 1]) < 4 / np.sqrt(result.effective_sample_size())
    np.testing.assert_allclose(np.diag(summary.correlation), 1.0)
