"""Virtual trials: arms allocated, protocol executed, results written as native tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import polars as pl

from itptrial._streams import children
from itptrial.data import dataset_from_frames
from itptrial.endpoints import adjudicate
from itptrial.pk import TacrolimusModel, load_tacrolimus_model
from itptrial.protocol import Protocol
from itptrial.sim._engine import EngineName
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._requirements import check_simulation
from itptrial.sim._tables import course_tables, endpoint_tables
from itptrial.sim._trial import (
    DAILY_STREAMS,
    Course,
    Drawn,
    draw_course,
    execute_course,
    run_course,
)


def allocate(protocol: Protocol, n_per_arm: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Arm codes in a random order, ``n_per_arm[i]`` of the protocol's i-th arm."""
    arms = np.array(
        [code for code, n in zip(protocol.arm_codes, n_per_arm, strict=True) for _ in range(n)]
    )
    return rng.permutation(arms)


def simulate_course(
    protocol: Protocol,
    n_per_arm: Sequence[int],
    seed: np.random.SeedSequence | int = 0,
    params: ModelParameters | None = None,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> Course:
    """One virtual trial as arrays (states, measurements, what was given).

    ``n_per_arm``: subjects of each arm, in protocol order. Raises :class:`InputError`
    when the protocol cannot be simulated (no visits, a regimen's model unknown to the
    parameter file, ...), naming the protocol key.
    """
    params = params or load_parameters()
    check_simulation(protocol, params, n_per_arm)
    sequence = seed if isinstance(seed, np.random.SeedSequence) else trial_seeds(seed, 1)[0]
    allocation_seed, course_seed = children(sequence, 2)
    arms = allocate(protocol, n_per_arm, np.random.default_rng(allocation_seed))
    return run_course(protocol, params, arms, course_seed, engine, progress)


def simulate_trial(
    protocol: Protocol,
    n_per_arm: Sequence[int],
    seed: np.random.SeedSequence | int = 0,
    params: ModelParameters | None = None,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """One virtual trial as the native dataset tables (docs/data.md).

    ``n_per_arm`` gives the subjects of each arm in protocol order; the same protocol,
    sizes, parameters and seed give the same tables on any machine.
    """
    params = params or load_parameters()
    course = simulate_course(protocol, n_per_arm, seed, params, engine, progress)
    return course_tables(course, protocol, params)


def trial_seeds(seed: int, trials: int) -> list[np.random.SeedSequence]:
    """Independent streams, one per trial: trial k's stream does not depend on how many
    trials are run (SeedSequence children are numbered)."""
    return np.random.SeedSequence(seed).spawn(trials)


def simulate_trials(
    protocol: Protocol,
    n_per_arm: Sequence[int],
    trials: int,
    seed: int = 0,
    params: ModelParameters | None = None,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, pl.DataFrame]]:
    """K independent virtual trials, in order (trial k as ``simulate_trial`` with the
    k-th of ``trial_seeds(seed, trials)``)."""
    parameters = params or load_parameters()
    for sequence in trial_seeds(seed, trials):
        yield simulate_trial(protocol, n_per_arm, sequence, parameters, engine, progress)


def simulate_batch(
    protocol: Protocol,
    n_per_arm: Sequence[int],
    seeds: Sequence[np.random.SeedSequence],
    params: Sequence[ModelParameters],
    null: bool = False,
    pk_model: TacrolimusModel | None = None,
) -> Course:
    """Many virtual trials run as one course, trial k at rows k x n ... (k + 1) x n - 1
    (n = sum of ``n_per_arm``): trial k is exactly ``simulate_course(protocol,
    n_per_arm, seeds[k], params[k])`` (tests/test_design_power.py), because every
    patient is drawn from their trial's own streams and simulated on their own.

    ``params[k]`` may differ only in the parameters that enter per patient (the
    calibration's free parameters, ``itptrial.sim._targets.FREE_PARAMETERS``: a
    posterior's draws); the protocol's rules take ``params[0]``.

    ``null``: every subject is given the control arm's regimen while keeping the arm
    randomized (``Course.arms``): the null virtual trial, whose test rejects at the
    design's type I error.
    """
    if len(seeds) != len(params) or not seeds:
        raise ValueError(f"{len(seeds)} seeds for {len(params)} parameter sets")
    pk_model = pk_model or load_tacrolimus_model()
    n, days = sum(n_per_arm), protocol.endpoints.horizon + 1
    daily = [np.empty((n * len(seeds), days)) for _ in DAILY_STREAMS]  # filled in place
    allocations, parts = [], []
    for k, (sequence, trial_params) in enumerate(zip(seeds, params, strict=True)):
        allocation_seed, course_seed = children(sequence, 2)
        allocations.append(allocate(protocol, n_per_arm, np.random.default_rng(allocation_seed)))
        rows = [array[k * n : (k + 1) * n] for array in daily]
        parts.append(draw_course(protocol, trial_params, n, course_seed, pk_model, daily=rows))
    arms = np.concatenate(allocations)
    given = np.full(len(arms), protocol.control_arm) if null else arms
    drawn = Drawn.concatenate(parts, daily)
    course = execute_course(protocol, params[0], given, drawn, pk_model)
    course.arms = arms
    return course


def batch_endpoints(course: Course, protocol: Protocol, trial_size: int) -> pl.DataFrame:
    """The endpoint engine's table of a batch (:func:`simulate_batch`), adjudicated in
    memory from the tables it reads (no file written; the same endpoints as the full
    dataset's, tests/test_design_power.py), with each subject's ``trial`` (0-based) and
    ``position`` (order of randomization within the trial, 0-based). The calendar dates
    are drawn for the batch as one course, so they differ from the trial's own tables;
    every endpoint is a function of study days, which do not depend on them."""
    tables = endpoint_tables(course, protocol)
    endpoints = adjudicate(dataset_from_frames(tables, protocol), protocol)
    row = pl.col("subject_id").str.slice(1).cast(pl.Int64) - 1  # V00001 is row 0
    return endpoints.with_columns(
        (row // trial_size).alias("trial"), (row % trial_size).alias("position")
    )
