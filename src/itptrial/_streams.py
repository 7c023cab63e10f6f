"""Common random numbers: one independent numpy stream per random quantity (and per
column of it: an occasion, a redraw round, a sample), with item i taking the i-th draw.

Every item consumes a fixed number of draws from each stream, so its values do not
depend on how many items are drawn, on other items' redraws, or on any parameter's
value: a parameter step moves each item smoothly. Used by the virtual population
(``itptrial.sim``) and the tacrolimus PK model (``itptrial.pk``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class QuantityStreams:
    """The streams of ``quantities`` below ``seed`` (spawn key: seed's key, the
    quantity's position in ``quantities``, the column). Never reorder ``quantities``:
    the draws would change."""

    def __init__(self, seed: np.random.SeedSequence, quantities: Sequence[str]) -> None:
        self._entropy = seed.entropy
        self._key = tuple(seed.spawn_key)
        self._quantities = tuple(quantities)

    def seed(self, quantity: str, column: int = 0) -> np.random.SeedSequence:
        """The seed of one quantity's stream (for a model with streams of its own)."""
        key = (*self._key, self._quantities.index(quantity), column)
        return np.random.SeedSequence(self._entropy, spawn_key=key)

    def of(self, quantity: str, column: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.seed(quantity, column))

    def normal(self, quantity: str, n: int, column: int = 0) -> np.ndarray:
        return self.of(quantity, column).standard_normal(n)

    def uniform(self, quantity: str, n: int, column: int = 0) -> np.ndarray:
        return self.of(quantity, column).random(n)

    def normals(self, quantity: str, n: int, columns: int) -> np.ndarray:
        """(n, columns) standard normals, column j from the quantity's stream j."""
        return np.column_stack([self.normal(quantity, n, j) for j in range(columns)])


def children(seed: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The first ``n`` children of ``seed``, as ``seed.spawn(n)`` gives them on a fresh
    sequence, without changing ``seed``: ``spawn`` counts the children it has made, so
    spawning twice from one sequence (a trial simulated alone, then in a batch, or a
    seed unpickled on a Dask worker) would give different streams."""
    key = tuple(seed.spawn_key)
    return [
        np.random.SeedSequence(seed.entropy, spawn_key=(*key, i), pool_size=seed.pool_size)
        for i in range(n)
    ]
