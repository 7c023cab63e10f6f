"""Simulated power (itptrial.design.simulated_power): the batch of virtual trials equals
the trials simulated one by one, the vectorized statistics equal the single-trial
analysis, the exact power equals R, and the simulated power agrees with it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrial.analysis import analyze
from itptrial.data import dataset_from_frames
from itptrial.design import (
    exact_power,
    group_sequential_design,
    pearson_z,
    simulated_power,
    two_sided_p,
)
from itptrial.design._power import Chunk, _stopping, look_sizes, simulate_chunk
from itptrial.protocol import load_protocol
from itptrial.sim import (
    load_parameters,
    load_posterior,
    simulate_batch,
    simulate_course,
    simulate_trial,
    trial_seeds,
)
from itptrial.stats import chi_square

REFERENCE = Path(__file__).parent / "reference" / "exact_power.json"
SIZES = (30, 34)


@pytest.fixture(scope="module")
def protocol():  # type: ignore[no-untyped-def]
    return load_protocol("target020")


@pytest.fixture(scope="module")
def params():  # type: ignore[no-untyped-def]
    return load_parameters()


def _same_course(a, b) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(a.arms, b.arms)
    for name in ("counts", "bleeding", "troughs", "true_counts", "visits", "dropout_day"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(a.schedule.tac_mg, b.schedule.tac_mg)
    assert np.array_equal(a.schedule.rescue, b.schedule.rescue)


def test_batch_trial_k_is_trial_k_simulated_alone(protocol, params) -> None:  # type: ignore[no-untyped-def]
    seeds = trial_seeds(11, 4)
    batch = simulate_batch(protocol, SIZES, seeds, [params] * 4)
    n = sum(SIZES)
    for k in (0, 2, 3):
        alone = simulate_course(protocol, SIZES, seeds[k], params)
        part = simulate_batch(protocol, SIZES, seeds[k : k + 1], [params])
        _same_course(alone, part)
        rows = slice(k * n, (k + 1) * n)
        assert np.array_equal(batch.arms[rows], alone.arms)
        assert np.array_equal(batch.counts[rows], alone.counts, equal_nan=True)
        assert np.array_equal(batch.troughs[rows], alone.troughs, equal_nan=True)


def test_batch_with_posterior_draws_is_each_draw_alone(protocol) -> None:  # type: ignore[no-untyped-def]
    posterior = load_posterior("target020")
    seeds = trial_seeds(5, 3)
    sets = [posterior.draw(k) for k in range(3)]
    assert sets[0] != sets[1]  # the draws differ, so the check below can fail
    batch = simulate_batch(protocol, SIZES, seeds, sets)
    n = sum(SIZES)
    for k in range(3):
        alone = simulate_course(protocol, SIZES, seeds[k], sets[k])
        assert np.array_equal(batch.counts[k * n : (k + 1) * n], alone.counts, equal_nan=True)


def test_null_batch_gives_everyone_the_control_regimen(protocol, params) -> None:  # type: ignore[no-untyped-def]
    seeds = trial_seeds(3, 2)
    null = simulate_batch(protocol, SIZES, seeds, [params] * 2, null=True)
    real = simulate_batch(protocol, SIZES, seeds, [params] * 2)
    assert np.array_equal(null.arms, real.arms)  # the randomized arms are kept
    assert set(null.arms) == set(protocol.arm_codes)
    assert not null.schedule.tac_mg.any() and real.schedule.tac_mg.any()
    control = real.arms == protocol.control_arm  # control patients: the same course
    assert np.array_equal(null.counts[control], real.counts[control], equal_nan=True)
    assert not np.array_equal(null.counts[~control], real.counts[~control], equal_nan=True)


def test_vectorized_statistics_equal_the_single_trial_analysis(protocol, params) -> None:  # type: ignore[no-untyped-def]
    seeds = trial_seeds(2026, 5)
    stats = simulate_chunk(
        protocol, params, SIZES, False, (SIZES[0] + SIZES[1],), Chunk(0, tuple(seeds))
    )
    arms = protocol.arm_codes
    experimental, control = protocol.experimental_arms[0], protocol.control_arm
    for k, seed in enumerate(seeds):
        analysis = analyze(
            dataset_from_frames(simulate_trial(protocol, SIZES, seed, params), protocol), protocol
        )
        binary = [name for name in analysis.binary]
        for j, name in enumerate(binary):
            result = analysis.binary[name]
            for a, arm in enumerate(arms):
                rate = result.by_arm[arm]
                assert tuple(stats.binary[k, j, a]) == (rate.responders, rate.n), (k, name, arm)
            comparison = result.comparisons[f"{experimental} vs {control}"]
            e, c = arms.index(experimental), arms.index(control)
            z = pearson_z(*stats.binary[k, j, e], *stats.binary[k, j, c])
            expected = comparison.chi_square.p_value
            if expected is None:
                assert np.isnan(z)
            else:
                assert float(two_sided_p(z)) == pytest.approx(expected, rel=1e-12, abs=1e-300)
        for j, (name, result) in enumerate(analysis.time_to_event.items()):
            for a, arm in enumerate(arms):
                median = result.by_arm[arm].median
                got = stats.medians[k, j, a]  # inf: not reached; NaN: no subject with a time
                assert (not np.isfinite(got) and median is None) or got == median, (k, name)
        # the last look analyses everyone: the fixed analysis's primary counts
        primary = binary.index(protocol.primary_endpoint)
        assert np.array_equal(stats.looks[k, -1], stats.binary[k, primary])


def test_interim_looks_count_the_first_subjects_randomized(protocol, params) -> None:  # type: ignore[no-untyped-def]
    seeds = trial_seeds(8, 2)
    n = sum(SIZES)
    looks = look_sizes(n, 3)
    stats = simulate_chunk(protocol, params, SIZES, False, looks, Chunk(0, tuple(seeds)))
    for k, seed in enumerate(seeds):
        data = dataset_from_frames(simulate_trial(protocol, SIZES, seed, params), protocol)
        endpoints = analyze(data, protocol).endpoints.sort("subject_id")
        for look, m in enumerate(looks):
            first = endpoints.head(m)  # V00001 ... in the order of randomization
            for a, arm in enumerate(protocol.arm_codes):
                mine = first.filter(first["arm"] == arm)
                responders = int(mine[protocol.primary_endpoint].fill_null(0).sum())
                assert tuple(stats.looks[k, look, a]) == (responders, mine.height)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 60).flatmap(lambda n1: st.tuples(st.integers(0, n1), st.just(n1))),
    st.integers(1, 60).flatmap(lambda n0: st.tuples(st.integers(0, n0), st.just(n0))),
)
def test_pearson_z_is_the_chi_square_test(first: tuple[int, int], second: tuple[int, int]) -> None:
    (x1, n1), (x0, n0) = first, second
    z = pearson_z(np.array([x1]), np.array([n1]), np.array([x0]), np.array([n0]))[0]
    reference = chi_square(x1, n1, x0, n0)
    if reference.p_value is None:
        assert np.isnan(z)
        return
    assert float(two_sided_p(np.array([z]))[0]) == pytest.approx(
        reference.p_value, rel=1e-10, abs=1e-300
    )
    assert (z > 0) == (x1 * n0 > x0 * n1)


def test_pearson_z_hand_worked() -> None:
    # 31/48 vs 23/56: pooled 54/104; z = (31*56 - 23*48) sqrt(104) / sqrt(48*56*54*50)
    z = pearson_z(np.array(31), np.array(48), np.array(23), np.array(56))
    assert float(z) == pytest.approx(632 * math.sqrt(104) / math.sqrt(48 * 56 * 54 * 50), rel=1e-14)
    # rates 0.6458 - 0.4107 = 0.2351 over sqrt(0.5192 x 0.4808 x (1/48 + 1/56)) = 0.0983
    assert float(z) == pytest.approx(2.3924, abs=1e-4)
    assert float(two_sided_p(z)) == pytest.approx(0.01674, abs=1e-5)


def test_exact_power_equals_r() -> None:
    cases = json.loads(REFERENCE.read_text())["cases"]
    assert len(cases) >= 8
    for case in cases:
        got = exact_power(case["p1"], case["p0"], case["n1"], case["n0"], case["alpha"])
        assert got == pytest.approx(case["power"], rel=1e-9, abs=1e-14), case


def test_stopping_hand_worked() -> None:
    # two trials, two looks, arm order (experimental, control); critical values 2.8, 2.0
    counts = np.array(
        [
            [[[20, 25], [8, 25]], [[30, 50], [22, 50]]],  # z at look 1 = 3.40: stops there
            [[[10, 25], [12, 25]], [[20, 50], [32, 50]]],  # z = -0.57, then -2.40: stops at 2
        ]
    )
    stop, success = _stopping(counts, (2.8, 2.0), (0, 1))
    assert stop.tolist() == [0, 1]
    assert success.tolist() == [True, False]  # the second stopped the wrong way


def test_simulated_power_agrees_with_the_exact_power(protocol, params) -> None:  # type: ignore[no-untyped-def]
    result = simulated_power(protocol, (60, 60), params, trials=400, seed=777)
    assert result.trials == 400
    assert result.mc_se == pytest.approx(math.sqrt(result.power * (1 - result.power) / 400))
    assert abs(result.power - result.analytic_power) < 3 * result.mc_se
    assert result.power == result.fixed_power and result.sequential is None
    shown = result.as_dict()
    assert {"trials", "power", "mc_se", "endpoint"} <= set(shown)
    assert shown["endpoint"] == protocol.primary_endpoint
    assert set(shown["endpoints"]) >= {"initial_response", "time_to_response"}


def test_null_virtual_trial_type_i_error_is_near_alpha(protocol, params) -> None:  # type: ignore[no-untyped-def]
    result = simulated_power(
        protocol, (40, 40), params, trials=300, seed=4242, looks=2, boundary="obf"
    )
    seq = result.sequential
    assert seq is not None and len(seq.looks) == 2
    assert abs(seq.type_i_error - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 300)
    assert seq.looks[-1].subjects == 80 and seq.looks[0].subjects == 40
    # the boundaries are the rpact-validated design's (tests/test_design_sample_size.py)
    design = group_sequential_design(2, "obf", alpha=0.05, sided=2)
    assert [x.critical_value for x in seq.looks] == list(design.critical_values)
    # expected size from the per-look stopping probabilities (stop at 1: 40, else 80)
    assert seq.expected_subjects == pytest.approx(80 - 40 * seq.looks[0].stop_probability)
    # the top-level power is the sequential design's; the fixed analysis is kept apart
    assert result.power == seq.power and result.fixed_power >= 0


def test_same_seed_same_result_whatever_the_chunking(protocol, params, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import itptrial.design._power as power

    posterior = load_posterior("target020")
    drawn = {"posterior": posterior, "looks": 2, "boundary": "pocock"}
    one = simulated_power(protocol, SIZES, params, trials=12, seed=9).as_dict()
    each = simulated_power(protocol, SIZES, posterior.parameters, trials=12, seed=9, **drawn)
    monkeypatch.setattr(power, "CHUNK_SUBJECTS", sum(SIZES) * 5)  # 3 chunks of 5, 5, 2
    assert simulated_power(protocol, SIZES, params, trials=12, seed=9).as_dict() == one
    again = simulated_power(protocol, SIZES, posterior.parameters, trials=12, seed=9, **drawn)
    assert again == each  # trial k keeps posterior draw k in any chunk
    other = simulated_power(protocol, SIZES, params, trials=12, seed=10).as_dict()
    assert other != one


def test_bad_arguments(protocol, params) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="trials"):
        simulated_power(protocol, SIZES, params, trials=1)
    with pytest.raises(ValueError, match="boundary"):
        simulated_power(protocol, SIZES, params, trials=5, looks=2)
    with pytest.raises(ValueError, match="alpha"):
        simulated_power(protocol, SIZES, params, trials=5, alpha=1.5)
    with pytest.raises(ValueError, match="looks"):
        simulated_power(protocol, SIZES, params, trials=5, looks=11, boundary="obf")
    with pytest.raises(ValueError, match="too many looks"):
        simulated_power(protocol, (2, 2), params, trials=5, looks=3, boundary="obf")
    with pytest.raises(ValueError, match="boundary needs"):
        simulated_power(protocol, SIZES, params, trials=5, boundary="obf")


def test_median_summary_counts_not_reached_as_beyond_follow_up() -> None:
    from itptrial.design import Summary

    summary = Summary.of_medians(np.array([10.0, 20.0, np.inf, 30.0, np.nan]))
    # NaN (no subject) left out; sorted 10, 20, 30, beyond: inverted-CDF quantiles
    # 2.5% -> 10, 50% -> 20, 97.5% -> beyond (not reached)
    assert (summary.lower, summary.median, summary.upper) == (10.0, 20.0, None)
    assert summary.mean is None and summary.trials == 4
    reached = Summary.of_medians(np.array([7.0, 7.0, 14.0]))
    assert reached.mean == pytest.approx(28 / 3) and reached.upper == 14.0
    rates = Summary.of(np.array([0.5, np.nan, 0.7]))  # NaN: no subject, left out
    assert rates.trials == 2 and rates.mean == pytest.approx(0.6)
