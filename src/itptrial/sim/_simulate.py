"""Virtual trials: arms allocated, protocol executed, results written as native tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import polars as pl

from itptrial.protocol import Protocol
from itptrial.sim._engine import EngineName
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._tables import course_tables
from itptrial.sim._trial import Course, run_course

TARGET020_SIZE = (48, 56)  # experimental, control (the published trial)


def allocate(
    protocol: Protocol, n_per_arm: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Arm codes in a random order: n_per_arm[0] experimental, n_per_arm[1] control."""
    arms = np.array(
        [protocol.experimental_arm] * n_per_arm[0] + [protocol.control_arm] * n_per_arm[1]
    )
    return rng.permutation(arms)


def simulate_course(
    protocol: Protocol,
    n_per_arm: tuple[int, int] = TARGET020_SIZE,
    seed: np.random.SeedSequence | int = 0,
    params: ModelParameters | None = None,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> Course:
    """One virtual trial as arrays (states, measurements, what was given)."""
    sequence = seed if isinstance(seed, np.random.SeedSequence) else trial_seeds(seed, 1)[0]
    allocation_seed, course_seed = sequence.spawn(2)
    arms = allocate(protocol, n_per_arm, np.random.default_rng(allocation_seed))
    return run_course(protocol, params or load_parameters(), arms, course_seed, engine, progress)


def simulate_trial(
    protocol: Protocol,
    n_per_arm: tuple[int, int] = TARGET020_SIZE,
    seed: np.random.SeedSequence | int = 0,
    params: ModelParameters | None = None,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """One virtual trial as the native dataset tables (docs/data.md)."""
    course = simulate_course(protocol, n_per_arm, seed, params, engine, progress)
    return course_tables(course, protocol.experimental_arm)


def trial_seeds(seed: int, trials: int) -> list[np.random.SeedSequence]:
    """Independent streams, one per trial: trial k's stream does not depend on how many
    trials are run (SeedSequence children are numbered)."""
    return np.random.SeedSequence(seed).spawn(trials)


def simulate_trials(
    protocol: Protocol,
    n_per_arm: tuple[int, int],
    trials: int,
    seed: int = 0,
    params: ModelParameters | None = None,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, pl.DataFrame]]:
    """K independent virtual trials, in order."""
    parameters = params or load_parameters()
    for sequence in trial_seeds(seed, trials):
        yield simulate_trial(protocol, n_per_arm, sequence, parameters, engine, progress)
