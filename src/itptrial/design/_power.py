"""Power by simulation: virtual trials through the real endpoint engine and the primary test.

Each virtual trial is the protocol executed on the mechanistic virtual patient
(:mod:`itptrial.sim`), adjudicated by the endpoint engine (:mod:`itptrial.endpoints`) in
memory, and tested as ``itptrial analyze`` tests its primary endpoint: Pearson's
chi-square without continuity correction, experimental against control, two-sided. The
statistics of many trials are computed at once (:func:`pearson_z`), equal to the single
trial analysis (tests/test_design_power.py).

Trial k always takes the k-th stream of the seed (``itptrial.sim.trial_seeds``) and, with
a posterior, its k-th draw (cycling), so a result is the same whatever the chunking or
the number of Dask workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import special

from itptrial.design._assurance import assurance, exact_power
from itptrial.design._distributed import run_tasks
from itptrial.design._group_sequential import (
    Boundary,
    GroupSequentialDesign,
    group_sequential_design,
)
from itptrial.endpoints import Endpoint, endpoint_registry
from itptrial.protocol import Protocol, published_results
from itptrial.sim import (
    ModelParameters,
    Posterior,
    batch_endpoints,
    check_simulation,
    simulate_batch,
    trial_seeds,
)
from itptrial.stats import kaplan_meier

if TYPE_CHECKING:
    from distributed import Client

REFERENCE = (
    "Pearson K. Philosophical Magazine 1900;50:157-175 (the primary test); Burton A et al. "
    "The design of simulation studies in medical statistics. Stat Med 2006;25:4279-4292 "
    "(Monte Carlo SE sqrt(p(1 - p)/K)); O'Hagan A et al. Pharm Stat 2005;4:187-201 "
    "(assurance)"
)
# Subjects per task: a task's course fits in memory easily and takes about a second,
# so a progress bar moves and Ctrl-C is prompt. Chunking does not change any result.
CHUNK_SUBJECTS = 6000
QUANTILES = (0.025, 0.5, 0.975)

FloatArray = np.ndarray


def pearson_z(x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray) -> FloatArray:
    """Signed Pearson statistic of many 2x2 tables at once: ``z^2`` is the chi-square
    without continuity correction, ``z > 0`` when the first group's rate is the higher;
    NaN when a margin is zero (no test: :func:`itptrial.stats.chi_square` gives None).

    ``z = (x1 n0 - x0 n1) sqrt(N) / sqrt(n1 n0 m (N - m))`` with ``m = x1 + x0``,
    ``N = n1 + n0``: the difference of the two rates over its pooled standard error.

    References
    ----------
    Pearson K. Philosophical Magazine 1900;50:157-175.
    """
    x1, n1, x0, n0 = (np.asarray(v, dtype=np.float64) for v in (x1, n1, x0, n0))
    total, margin = n1 + n0, x1 + x0
    defined = (margin > 0) & (margin < total) & (n1 > 0) & (n0 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x1 * n0 - x0 * n1) * np.sqrt(total) / np.sqrt(n1 * n0 * margin * (total - margin))
    result: FloatArray = np.where(defined, z, np.nan)
    return result


def two_sided_p(z: FloatArray) -> FloatArray:
    """``P(chi-square_1 >= z^2)``, NaN where ``z`` is."""
    p: FloatArray = special.chdtrc(1, np.square(z))
    return p


@dataclass(frozen=True)
class Chunk:
    """A task: trials ``first ...`` with their seeds and, with a posterior, their
    parameter values (the posterior's free parameters, by dotted name)."""

    first: int
    seeds: tuple[np.random.SeedSequence, ...]
    overrides: tuple[dict[str, float], ...] | None = None


@dataclass(frozen=True)
class ChunkStatistics:
    """Per-trial statistics of a chunk (rows: its trials).

    ``binary``: (trial, binary endpoint, arm, [responders, n]); ``looks``: the primary
    endpoint's (trial, look, arm, [responders, n]) among the first subjects randomized
    at each look; ``medians``: (trial, time-to-event endpoint, arm) Kaplan-Meier median
    in days, NaN when not reached.
    """

    binary: np.ndarray
    looks: np.ndarray
    medians: np.ndarray


def _binary_endpoints(protocol: Protocol) -> tuple[Endpoint, ...]:
    return tuple(e for e in endpoint_registry(protocol.endpoints) if e.kind == "binary")


def _time_to_event_endpoints(protocol: Protocol) -> tuple[Endpoint, ...]:
    return tuple(e for e in endpoint_registry(protocol.endpoints) if e.kind == "time_to_event")


def _arm_index(protocol: Protocol) -> pl.Expr:
    return pl.col("arm").replace_strict(
        list(protocol.arm_codes), list(range(len(protocol.arm_codes))), return_dtype=pl.Int64
    )


def _counts(
    frame: pl.DataFrame, endpoint: Endpoint, trials: int, arms: int, by: str | None = None
) -> np.ndarray:
    """(trial, [by,] arm, 2) responders and n of ``endpoint`` (as the analysis counts
    them: the endpoint's population, NE as non-response)."""
    keys = ["trial", *([by] if by else []), "_arm"]
    counted = (
        frame.filter(endpoint.counted)
        .group_by(keys)
        .agg(endpoint.responded.sum().alias("r"), pl.len().alias("n"))
    )
    levels = int(frame[by].max()) + 1 if by else 1  # type: ignore[arg-type]
    out = np.zeros((trials, levels, arms, 2), dtype=np.int64)
    index = (
        counted["trial"].to_numpy(),
        counted[by].to_numpy() if by else np.zeros(counted.height, dtype=np.int64),
        counted["_arm"].to_numpy(),
    )
    out[(*index, 0)] = counted["r"].to_numpy()
    out[(*index, 1)] = counted["n"].to_numpy()
    return out if by else out[:, 0]


def _medians(frame: pl.DataFrame, endpoint: Endpoint, trials: int, arms: int) -> np.ndarray:
    """(trial, arm) Kaplan-Meier medians of a time-to-event endpoint (the analysis'
    estimator, :func:`itptrial.stats.kaplan_meier`): +inf when not reached, NaN when
    the arm has no subject with a time (no initial responder for duration of
    response)."""
    assert endpoint.time is not None and endpoint.event is not None
    grouped = (
        frame.filter(pl.col(endpoint.time).is_not_null())
        .group_by("trial", "_arm")
        .agg(pl.col(endpoint.time).cast(pl.Float64), pl.col(endpoint.event).cast(pl.Int64))
    )
    out = np.full((trials, arms), np.nan)
    for trial, arm, times, events in grouped.iter_rows():
        median = kaplan_meier(times, events).median
        out[trial, arm] = np.inf if median is None else median
    return out


def simulate_chunk(
    protocol: Protocol,
    params: ModelParameters,
    n_per_arm: tuple[int, ...],
    null: bool,
    look_subjects: tuple[int, ...],
    chunk: Chunk,
) -> ChunkStatistics:
    """Simulate, adjudicate and count a chunk of virtual trials (one Dask task)."""
    trials, arms, n = len(chunk.seeds), len(n_per_arm), sum(n_per_arm)
    sets = (
        [params] * trials
        if chunk.overrides is None
        else [params.with_values(values) for values in chunk.overrides]
    )
    course = simulate_batch(protocol, n_per_arm, chunk.seeds, sets, null=null)
    frame = batch_endpoints(course, protocol, n).with_columns(
        _arm_index(protocol).alias("_arm"),
        pl.col("position")
        .map_batches(lambda s: pl.Series(np.searchsorted(look_subjects, s.to_numpy(), "right")))
        .alias("_look"),
    )
    binary = np.stack(
        [_counts(frame, e, trials, arms) for e in _binary_endpoints(protocol)], axis=1
    )
    primary = next(e for e in _binary_endpoints(protocol) if e.name == protocol.primary_endpoint)
    by_stage = _counts(frame, primary, trials, arms, by="_look")
    looks = np.zeros((trials, len(look_subjects), arms, 2), dtype=np.int64)
    looks[:, : by_stage.shape[1]] = by_stage[:, : len(look_subjects)]
    tte = _time_to_event_endpoints(protocol)
    medians = (
        np.stack([_medians(frame, e, trials, arms) for e in tte], axis=1)
        if tte
        else np.zeros((trials, 0, arms))
    )
    return ChunkStatistics(binary, np.cumsum(looks, axis=1), medians)


@dataclass(frozen=True)
class Summary:
    """Mean, median and the central 95% of a quantity over the virtual trials (``None``
    where no trial has it)."""

    mean: float | None
    median: float | None
    lower: float | None  # 2.5% quantile
    upper: float | None  # 97.5% quantile
    trials: int  # trials with a value

    @staticmethod
    def of(values: np.ndarray) -> Summary:
        """Over the trials with a value (NaN: none, such as a rate with no subject)."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return Summary(None, None, None, None, 0)
        low, mid, high = np.quantile(finite, QUANTILES)
        return Summary(float(finite.mean()), float(mid), float(low), float(high), finite.size)

    @staticmethod
    def of_medians(medians: np.ndarray) -> Summary:
        """Kaplan-Meier medians over the trials whose arm has subjects (NaN: none, left
        out), a median not reached (+inf) counting as beyond follow-up: a quantile that
        falls there is None ("not reached"), and so is the mean when any trial's median
        is not reached."""
        known = medians[~np.isnan(medians)]
        if known.size == 0:
            return Summary(None, None, None, None, 0)
        quantiles = np.quantile(known, QUANTILES, method="inverted_cdf")
        low, mid, high = (float(q) if np.isfinite(q) else None for q in quantiles)
        mean = float(known.mean()) if np.isfinite(known).all() else None
        return Summary(mean, mid, low, high, known.size)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "median": self.median,
            "interval_95": [self.lower, self.upper],
            "trials": self.trials,
        }


@dataclass(frozen=True)
class EndpointDistribution:
    """One endpoint over the virtual trials: per arm its rate (binary) or Kaplan-Meier
    median in days (time to event); for a binary endpoint also the experimental minus
    control difference and how often its chi-square test rejects (two-sided, either
    direction: for relapse the better arm has the lower rate)."""

    endpoint: str
    kind: str
    label: str
    by_arm: dict[str, Summary]
    difference: Summary | None = None
    rejection_probability: float | None = None
    not_reached: dict[str, float | None] = field(default_factory=dict)  # not reached

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "by_arm": {arm: s.as_dict() for arm, s in self.by_arm.items()},
        }
        if self.kind == "binary":
            assert self.difference is not None
            out["difference"] = self.difference.as_dict()
            out["rejection_probability"] = self.rejection_probability
        else:
            out["median_not_reached"] = self.not_reached
        return out


@dataclass(frozen=True)
class LookResult:
    """One analysis of the simulated group-sequential design."""

    look: int
    information_fraction: float
    subjects: int  # the first subjects randomized, with their primary endpoint known
    critical_value: float  # |z| at or above it stops the trial
    stop_probability: float  # P(the trial stops here), simulated trials
    success_probability: float  # P(it stops here for efficacy: z >= critical value)
    null_rejection: float  # P(the null trial stops here)


@dataclass(frozen=True)
class SequentialResult:
    """The group-sequential design simulated: power, stopping, and the two-sided
    type I error on the null virtual trial (every subject given the control regimen)."""

    boundary: Boundary
    nominal_alpha: float
    looks: tuple[LookResult, ...]
    power: float
    mc_se: float
    type_i_error: float
    type_i_error_mc_se: float
    expected_subjects: float
    expected_subjects_null: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "boundary": self.boundary,
            "nominal_alpha": self.nominal_alpha,
            "power": self.power,
            "mc_se": self.mc_se,
            "type_i_error": self.type_i_error,
            "type_i_error_mc_se": self.type_i_error_mc_se,
            "expected_subjects": self.expected_subjects,
            "expected_subjects_null": self.expected_subjects_null,
            "per_look": [
                {
                    "look": x.look,
                    "information_fraction": x.information_fraction,
                    "subjects": x.subjects,
                    "critical_value_z": x.critical_value,
                    "stop_probability": x.stop_probability,
                    "success_probability": x.success_probability,
                    "null_rejection_probability": x.null_rejection,
                }
                for x in self.looks
            ],
        }


@dataclass(frozen=True)
class SimulatedPower:
    """Power of a planned trial by simulation (``itptrial design power --simulate``).

    ``power``: the fraction of virtual trials whose primary test succeeds (two-sided
    chi-square p < alpha with the experimental rate the higher), with its Monte Carlo SE
    ``sqrt(p (1 - p) / K)``; with a posterior, each trial has its own parameter draw and
    ``power`` is the model-based assurance; with looks, it is the group-sequential
    design's (success at any look), and ``fixed_power`` is always the same trials
    analysed once, at the end. ``pooled_rates`` are the primary endpoint's rates over
    all virtual subjects; ``analytic_power`` the exact binomial power of the fixed
    design's test at those rates and the planned sizes (what ``fixed_power`` must agree
    with when the model has no extra between-trial variation).
    """

    endpoint: str
    endpoint_label: str
    trials: int
    seed: int
    n_per_arm: dict[str, int]
    experimental: str
    control: str
    alpha: float
    power: float
    mc_se: float
    fixed_power: float
    fixed_mc_se: float
    rejection_probability: float  # fixed design, two-sided, either direction
    pooled_rates: dict[str, float]
    analytic_power: float
    posterior: str | None
    endpoints: tuple[EndpointDistribution, ...]
    sequential: SequentialResult | None
    note: str
    reference: str = REFERENCE

    def as_dict(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "power": self.power,
            "mc_se": self.mc_se,
            "endpoint": self.endpoint,
            "design": "fixed" if self.sequential is None else "group-sequential",
            "fixed_power": self.fixed_power,
            "fixed_mc_se": self.fixed_mc_se,
            "endpoint_label": self.endpoint_label,
            "n_per_arm": self.n_per_arm,
            "experimental": self.experimental,
            "control": self.control,
            "alpha": self.alpha,
            "test": "Pearson chi-square without continuity correction, two-sided",
            "seed": self.seed,
            "posterior": self.posterior,
            "rejection_probability": self.rejection_probability,
            "pooled_rates": self.pooled_rates,
            "analytic_power": self.analytic_power,
            "endpoints": {e.endpoint: e.as_dict() for e in self.endpoints},
            "looks": self.sequential.as_dict() if self.sequential is not None else None,
            "note": self.note,
            "reference": self.reference,
        }


def _chunks(seed: int, trials: int, trial_size: int, posterior: Posterior | None) -> list[Chunk]:
    per_chunk = max(1, CHUNK_SUBJECTS // trial_size)
    seeds = trial_seeds(seed, trials)
    return [
        Chunk(
            first,
            tuple(seeds[first : first + per_chunk]),
            None
            if posterior is None
            else tuple(
                posterior.overrides(k) for k in range(first, min(trials, first + per_chunk))
            ),
        )
        for first in range(0, trials, per_chunk)
    ]


def _merge(parts: Sequence[ChunkStatistics]) -> ChunkStatistics:
    return ChunkStatistics(
        np.concatenate([p.binary for p in parts]),
        np.concatenate([p.looks for p in parts]),
        np.concatenate([p.medians for p in parts]),
    )


def _mc_se(p: float, trials: int) -> float:
    return math.sqrt(p * (1.0 - p) / trials)


def _tests(counts: np.ndarray, experimental: int, control: int) -> tuple[FloatArray, FloatArray]:
    """Per-trial signed z and two-sided p of experimental vs control, from (..., arm, 2)."""
    e, c = counts[..., experimental, :], counts[..., control, :]
    z = pearson_z(e[..., 0], e[..., 1], c[..., 0], c[..., 1])
    return z, two_sided_p(z)


def _succeeds(z: FloatArray, p: FloatArray, alpha: float) -> np.ndarray:
    """Significant with the experimental rate the higher (NaN: no test, a failure)."""
    with np.errstate(invalid="ignore"):
        result: np.ndarray = (p < alpha) & (z > 0)
    return result


def _rates(counts: np.ndarray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        rates: FloatArray = np.where(counts[..., 1] > 0, counts[..., 0] / counts[..., 1], np.nan)
    return rates


def _distributions(
    protocol: Protocol,
    stats: ChunkStatistics,
    arms: Sequence[str],
    pair: tuple[int, int],
    alpha: float,
) -> tuple[EndpointDistribution, ...]:
    out = []
    experimental, control = pair
    for j, e in enumerate(_binary_endpoints(protocol)):
        rates = _rates(stats.binary[:, j])
        _, p = _tests(stats.binary[:, j], experimental, control)
        out.append(
            EndpointDistribution(
                e.name,
                e.kind,
                e.label,
                {arm: Summary.of(rates[:, a]) for a, arm in enumerate(arms)},
                Summary.of(rates[:, experimental] - rates[:, control]),
                float((p < alpha).mean()),
            )
        )
    for j, e in enumerate(_time_to_event_endpoints(protocol)):
        medians = stats.medians[:, j]
        out.append(
            EndpointDistribution(
                e.name,
                e.kind,
                e.label,
                {arm: Summary.of_medians(medians[:, a]) for a, arm in enumerate(arms)},
                not_reached={arm: _not_reached(medians[:, a]) for a, arm in enumerate(arms)},
            )
        )
    return tuple(out)


def _not_reached(medians: np.ndarray) -> float | None:
    """The fraction of trials (with subjects) whose median is not reached."""
    known = medians[~np.isnan(medians)]
    return float(np.isinf(known).mean()) if known.size else None


def look_sizes(n_total: int, looks: int) -> tuple[int, ...]:
    """Subjects at each of ``looks`` equally spaced analyses (the last is everyone)."""
    return tuple(round(n_total * (k + 1) / looks) for k in range(looks))


def _stopping(
    counts: np.ndarray, critical: Sequence[float], pair: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per trial, the look at which it stops (``len(critical)``: never) and whether it
    stopped for efficacy (z >= c, the experimental rate the higher)."""
    z, _ = _tests(counts, *pair)  # (trial, look)
    with np.errstate(invalid="ignore"):
        crossed = np.abs(z) >= np.asarray(critical)[None, :]
    looks = len(critical)
    stop = np.where(crossed.any(axis=1), crossed.argmax(axis=1), looks)
    at_stop = np.take_along_axis(np.nan_to_num(z), np.minimum(stop, looks - 1)[:, None], 1)[:, 0]
    return stop, (stop < looks) & (at_stop > 0)


def _sequential(
    alternative: ChunkStatistics,
    null: ChunkStatistics,
    subjects: tuple[int, ...],
    design: GroupSequentialDesign,
    pair: tuple[int, int],
) -> SequentialResult:
    assert design.boundary is not None
    critical = design.critical_values
    stop, success = _stopping(alternative.looks, critical, pair)
    null_stop, _ = _stopping(null.looks, critical, pair)
    trials, looks = len(stop), len(subjects)
    sizes = np.asarray((*subjects, subjects[-1]))  # never stopped: everyone
    power, type_i = float(success.mean()), float((null_stop < looks).mean())
    return SequentialResult(
        boundary=design.boundary,
        nominal_alpha=design.alpha,
        looks=tuple(
            LookResult(
                look=k + 1,
                information_fraction=design.information_rates[k],
                subjects=subjects[k],
                critical_value=critical[k],
                stop_probability=float((stop == k).mean()),
                success_probability=float(((stop == k) & success).mean()),
                null_rejection=float((null_stop == k).mean()),
            )
            for k in range(looks)
        ),
        power=power,
        mc_se=_mc_se(power, trials),
        type_i_error=type_i,
        type_i_error_mc_se=_mc_se(type_i, trials),
        expected_subjects=float(sizes[stop].mean()),
        expected_subjects_null=float(sizes[null_stop].mean()),
    )


def _pair(protocol: Protocol) -> tuple[int, int]:
    arms = protocol.arm_codes
    if len(arms) != 2:
        raise ValueError(
            f"simulated power compares two arms; the protocol has {len(arms)} ({', '.join(arms)})"
        )
    control = arms.index(protocol.control_arm)
    return 1 - control, control


def check_power_arguments(
    protocol: Protocol,
    n_per_arm: Sequence[int],
    trials: int,
    alpha: float,
    looks: int = 1,
    boundary: Boundary | None = None,
) -> GroupSequentialDesign | None:
    """Check the arguments of :func:`simulated_power` before anything is simulated
    (``ValueError`` naming the argument); the group-sequential design when
    ``looks > 1``."""
    _pair(protocol)
    if len(n_per_arm) != len(protocol.arm_codes) or min(n_per_arm) < 1:
        raise ValueError(f"n_per_arm must give a positive size per arm; got {tuple(n_per_arm)}")
    if trials < 2:
        raise ValueError(f"trials must be at least 2; got {trials}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    if looks == 1:
        if boundary is not None:
            raise ValueError("a boundary needs looks > 1")
        return None
    subjects = look_sizes(sum(n_per_arm), looks)
    if looks < 1 or subjects[0] < 2 or len(set(subjects)) < looks:
        raise ValueError(f"{looks} looks at {sum(n_per_arm)} subjects: too many looks")
    return group_sequential_design(looks, boundary, alpha=alpha, sided=2)


def simulated_power(
    protocol: Protocol,
    n_per_arm: Sequence[int],
    params: ModelParameters,
    trials: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    posterior: Posterior | None = None,
    looks: int = 1,
    boundary: Boundary | None = None,
    client: Client | None = None,
    progress: Callable[[int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> SimulatedPower:
    """Power (or, with ``posterior``, assurance) of a two-arm trial by simulation.

    ``n_per_arm``: subjects per arm in protocol order. ``looks > 1`` with a ``boundary``
    simulates the group-sequential design at equally spaced looks on the first subjects
    randomized (each analysed when their primary endpoint is known), on the virtual
    trial and on its null twin (every subject given the control arm's regimen, the same
    patients), whose rejection rate estimates the design's two-sided type I error for
    the real test on the real endpoint data (no normal approximation), with its MC SE.
    The designs of a grid and the null twin reuse the same trial streams (common random
    numbers: their differences are estimated more precisely than each alone).
    ``client``: a Dask client to run the trials' tasks on (none: in this process);
    ``progress(k)`` is told of k more trials done; ``check()`` is called between tasks.

    Raises ``ValueError`` for invalid arguments, :class:`InputError` when the protocol
    cannot be simulated.
    """
    sizes = tuple(int(n) for n in n_per_arm)
    design = check_power_arguments(protocol, sizes, trials, alpha, looks, boundary)
    pair = _pair(protocol)
    check_simulation(protocol, params, sizes)
    subjects = look_sizes(sum(sizes), looks)
    tasks = _chunks(seed, trials, sum(sizes), posterior)

    def run(null: bool) -> ChunkStatistics:
        shared = (protocol, params, sizes, null, subjects)
        sizes_of = [len(t.seeds) for t in tasks]
        done = None if progress is None else lambda k: progress(sizes_of[k])
        return _merge(run_tasks(simulate_chunk, shared, tasks, client, done, check))

    alternative = run(False)
    sequential = None
    if design is not None:
        sequential = _sequential(alternative, run(True), subjects, design, pair)
    return _result(protocol, sizes, alternative, sequential, trials, seed, alpha, posterior)


def _result(
    protocol: Protocol,
    sizes: tuple[int, ...],
    stats: ChunkStatistics,
    sequential: SequentialResult | None,
    trials: int,
    seed: int,
    alpha: float,
    posterior: Posterior | None,
) -> SimulatedPower:
    arms = protocol.arm_codes
    experimental, control = pair = _pair(protocol)
    primary = [e.name for e in _binary_endpoints(protocol)].index(protocol.primary_endpoint)
    counts = stats.binary[:, primary]
    z, p = _tests(counts, *pair)
    fixed = float(_succeeds(z, p, alpha).mean())
    power = fixed if sequential is None else sequential.power
    pooled = counts.sum(axis=0)
    rates = {arm: float(pooled[a, 0] / pooled[a, 1]) for a, arm in enumerate(arms)}
    analytic = exact_power(
        rates[arms[experimental]], rates[arms[control]], sizes[experimental], sizes[control], alpha
    )
    drawn = "each trial with its own posterior draw: power is the model-based assurance"
    label = _binary_endpoints(protocol)[primary].label
    return SimulatedPower(
        endpoint=protocol.primary_endpoint,
        endpoint_label=label,
        trials=trials,
        seed=seed,
        n_per_arm=dict(zip(arms, sizes, strict=True)),
        experimental=arms[experimental],
        control=arms[control],
        alpha=alpha,
        power=power,
        mc_se=_mc_se(power, trials),
        fixed_power=fixed,
        fixed_mc_se=_mc_se(fixed, trials),
        rejection_probability=float((p < alpha).mean()),
        pooled_rates=rates,
        analytic_power=analytic,
        posterior=None if posterior is None else posterior.source,
        endpoints=_distributions(protocol, stats, arms, pair, alpha),
        sequential=sequential,
        note=(
            f"{trials} virtual trials through the endpoint engine"
            + (f", {drawn}" if posterior is not None else "")
            + "; analytic_power: exact binomial power of the same test at the pooled rates"
        ),
    )


@dataclass(frozen=True)
class Phase2Assurance:
    """The exact assurance of a planned size from the preset's published phase 2 trial
    (:func:`itptrial.design.assurance` on its primary endpoint's counts)."""

    assurance: float
    prior: str  # "TRIAL: R/N vs R/N"


def phase2_assurance(
    protocol: Protocol, n_per_arm: Sequence[int], alpha: float = 0.05
) -> Phase2Assurance | None:
    """Assurance over the published trial of the protocol's preset, ``None`` when the
    protocol has no published results (a protocol file of one's own)."""
    try:
        published = published_results(protocol.name)
    except KeyError:
        return None
    experimental, control = _pair(protocol)
    arms = protocol.arm_codes
    counts = [published.result(arms[a], protocol.primary_endpoint) for a in (experimental, control)]
    result = assurance(
        (counts[0].responders, counts[0].n),
        (counts[1].responders, counts[1].n),
        int(n_per_arm[experimental]),
        int(n_per_arm[control]),
        alpha=alpha,
    )
    shown = " vs ".join(f"{c.responders}/{c.n}" for c in counts)
    return Phase2Assurance(result.assurance, f"{published.name}: {shown}")
