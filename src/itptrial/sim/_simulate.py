"""Virtual trials: arms allocated, protocol executed, results written as native tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import polars as pl

from itptrial.protocol import Protocol
from itptrial.sim._engine import EngineName
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._requirements import check_simulation
from itptrial.sim._tables import course_tables
from itptrial.sim._trial import Course, run_course


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
    allocation_seed, course_seed = sequence.spawn(2)
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
