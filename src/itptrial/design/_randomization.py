"""Randomization lists: stratified permuted blocks with block sizes drawn at random.

Each stratum has its own sequence of ``per_stratum`` allocations, made of blocks. A
block of size ``b`` (drawn uniformly from the set of block sizes) holds
``b / R * r_i`` allocations to arm ``i`` (``r`` the allocation ratio, ``R = sum(r)``),
in a random order; blocks follow each other until the stratum has ``per_stratum``
allocations, the last block being cut short when they do not fill it (the only block
that may be incomplete; it is recorded in ``incomplete_blocks`` and ``note``).

Imbalance.  After ``k`` allocations of a stratum with ``n_i`` of them to arm ``i``, arm
``i``'s imbalance is ``|n_i - k r_i / R|``.  It never exceeds ``B p_i (1 - p_i) <= B / 4``
(``B`` the largest block size, ``p_i = r_i / R``), and ``|n_i / r_i - n_j / r_j|`` never
exceeds ``B / R`` for any two arms, which with 1:1 allocation says the two arms never
differ by more than half the largest block.  Proof: each complete block adds exactly
``b p_i`` of arm ``i``, so at any ``k`` the imbalance is that of the first ``j`` places of
one block of size ``b <= B``, holding ``m_i`` of arm ``i`` with
``max(0, j - b (1 - p_i)) <= m_i <= min(j, b p_i)``, whence
``|m_i - j p_i| <= b p_i (1 - p_i)`` and ``0 <= m_i / r_i <= b / R``.

Streams (reproducibility, docs/randomization.md): stratum ``s`` (0-based, in the order
given) draws from ``numpy.random.default_rng(SeedSequence(seed).spawn(S)[s])``, i.e.
``SeedSequence(seed, spawn_key=(s,))``; for each block, in order, an index into the
sorted block sizes (``Generator.integers(len(sizes))``), then the order of the block
(``Generator.permutation`` of its arms listed in arm order, each ``b / R * r_i`` times).
A stratum's allocations therefore depend only on the seed, its position, the arms, the
ratio, the block sizes and ``per_stratum``: adding a stratum at the end changes none of
the others.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

ROSENBERGER_LACHIN = (
    "Rosenberger WF, Lachin JM. Randomization in Clinical Trials: Theory and Practice, "
    "2nd ed. Wiley, 2016, chapter 3 (restricted randomization: permuted and random blocks)"
)
ICH_E9 = (
    "ICH E9 Statistical Principles for Clinical Trials, 1998, section 2.3.2 (block lengths "
    "concealed from investigators; two or more lengths chosen at random for each block)"
)
REFERENCE = f"{ROSENBERGER_LACHIN}; {ICH_E9}"

CSV_COLUMNS = ("sequence", "stratum", "arm", "block", "block_size")
MAX_ALLOCATIONS = 1_000_000  # rows in one list (all strata)
SECRET_SEED_BITS = 128  # a seed drawn when none is given: not guessable
MAX_BLOCK_SIZE = 1_000
_ARM_CODE = re.compile(r"[A-Za-z0-9_]+")  # as a protocol's arm code
_FORMULA_START = ("=", "+", "-", "@")  # a spreadsheet would run such a cell as a formula


@dataclass(frozen=True)
class IncompleteBlock:
    """A stratum's last block, cut short: ``allocated`` of its ``block_size`` places."""

    stratum: str
    block: int
    block_size: int
    allocated: int


@dataclass(frozen=True)
class RandomizationList:
    """A stratified permuted-block randomization list.

    ``rows``: one row per allocation, columns ``sequence`` (position within the stratum,
    1..per_stratum: the order in which a site reveals its stratum's allocations),
    ``stratum``, ``arm``, ``block`` (block number within the stratum, from 1) and
    ``block_size`` (the size drawn for that block, also for an incomplete last block);
    sorted by stratum (in the order given) then sequence.  ``block_sizes`` are sorted
    ascending.  ``incomplete_blocks`` lists the strata whose last block was cut short.

    Equality compares the arguments (which determine the rows); ``rows`` is not compared.
    """

    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    block_sizes: tuple[int, ...]
    strata: tuple[str, ...]
    per_stratum: int
    seed: int
    rows: pl.DataFrame = field(compare=False, repr=False)
    incomplete_blocks: tuple[IncompleteBlock, ...] = field(compare=False)
    note: str | None = field(compare=False)
    reference: str = field(compare=False)

    @property
    def n_total(self) -> int:
        """Allocations in the whole list (all strata)."""
        return self.per_stratum * len(self.strata)

    @property
    def target_shares(self) -> tuple[float, ...]:
        """``r_i / R``: each arm's intended share of allocations."""
        total = sum(self.ratio)
        return tuple(r / total for r in self.ratio)

    @property
    def imbalance_bounds(self) -> tuple[float, ...]:
        """Per arm, ``B p_i (1 - p_i)``: the largest imbalance the design allows."""
        largest = max(self.block_sizes)
        return tuple(largest * p * (1.0 - p) for p in self.target_shares)

    def csv_text(self) -> str:
        """The list as CSV (columns :data:`CSV_COLUMNS`, ``\\n`` line ends, UTF-8 safe):
        the same arguments always give the same text."""
        return self.rows.select(CSV_COLUMNS).write_csv(line_terminator="\n")

    def balance(self) -> pl.DataFrame:
        """Per stratum and arm, then overall per arm (``stratum`` null): ``count``,
        ``target_count`` (``n p_i``), ``share``, ``target_share`` (``p_i``),
        ``max_imbalance`` (the largest ``|n_i - k p_i|`` over every prefix ``k`` of the
        stratum's sequence; overall: the largest over strata, since each stratum is a
        sequence of its own) and ``imbalance_bound`` (``B p_i (1 - p_i)``)."""
        ratio = np.asarray(self.ratio, dtype=np.int64)
        total_ratio = int(ratio.sum())
        shares = self.target_shares
        bounds = self.imbalance_bounds
        codes = {arm: i for i, arm in enumerate(self.arms)}
        arm_index = np.asarray([codes[a] for a in self.rows["arm"].to_list()], dtype=np.int64)
        records: list[dict[str, object]] = []
        overall_counts = np.zeros(len(self.arms), dtype=np.int64)
        overall_max = np.zeros(len(self.arms), dtype=np.int64)  # times R
        for s, stratum in enumerate(self.strata):
            chosen = arm_index[s * self.per_stratum : (s + 1) * self.per_stratum]
            running = np.cumsum(chosen[:, None] == np.arange(len(self.arms)), axis=0)
            k = np.arange(1, len(chosen) + 1)[:, None]
            scaled = np.abs(total_ratio * running - k * ratio[None, :]).max(axis=0)
            counts = running[-1]
            overall_counts += counts
            overall_max = np.maximum(overall_max, scaled)
            for i, arm in enumerate(self.arms):
                records.append(
                    _balance_record(
                        stratum, arm, int(counts[i]), self.per_stratum, shares[i], bounds[i]
                    )
                    | {"max_imbalance": int(scaled[i]) / total_ratio}
                )
        for i, arm in enumerate(self.arms):
            records.append(
                _balance_record(
                    None, arm, int(overall_counts[i]), self.n_total, shares[i], bounds[i]
                )
                | {"max_imbalance": int(overall_max[i]) / total_ratio}
            )
        columns = [
            "stratum",
            "arm",
            "count",
            "target_count",
            "share",
            "target_share",
            "max_imbalance",
            "imbalance_bound",
        ]
        schema = {
            "stratum": pl.String,
            "arm": pl.String,
            "count": pl.Int64,
            "target_count": pl.Float64,
            "share": pl.Float64,
            "target_share": pl.Float64,
            "max_imbalance": pl.Float64,
            "imbalance_bound": pl.Float64,
        }
        return pl.DataFrame([{c: r[c] for c in columns} for r in records], schema=schema)

    def balance_report(self) -> str:
        """The balance as a text table, with the design and any incomplete last block."""
        ratio = ":".join(str(r) for r in self.ratio)
        head = [
            f"Randomization list: arms {', '.join(self.arms)} (ratio {ratio}), block sizes "
            f"{', '.join(str(b) for b in self.block_sizes)}, seed {self.seed}",
            f"{len(self.strata)} strat{'um' if len(self.strata) == 1 else 'a'} x "
            f"{self.per_stratum} = {self.n_total} allocations",
            "",
        ]
        header = (
            "stratum",
            "arm",
            "count",
            "target",
            "share",
            "target share",
            "max imbalance",
            "bound",
        )
        body: list[tuple[str, ...]] = []
        for row in self.balance().iter_rows(named=True):
            body.append(
                (
                    "overall" if row["stratum"] is None else str(row["stratum"]),
                    str(row["arm"]),
                    str(row["count"]),
                    f"{row['target_count']:.1f}",
                    f"{row['share']:.3f}",
                    f"{row['target_share']:.3f}",
                    f"{row['max_imbalance']:.2f}",
                    f"{row['imbalance_bound']:.2f}",
                )
            )
        widths = [max(len(line[c]) for line in (header, *body)) for c in range(len(header))]

        def render(line: tuple[str, ...]) -> str:
            cells = [
                cell.ljust(widths[c]) if c < 2 else cell.rjust(widths[c])
                for c, cell in enumerate(line)
            ]
            return "  ".join(cells).rstrip()

        table = [render(header), render(tuple("-" * w for w in widths))]
        n_stratum_rows = len(self.strata) * len(self.arms)
        table += [render(line) for line in body[:n_stratum_rows]]
        table.append(render(tuple("-" * w for w in widths)))
        table += [render(line) for line in body[n_stratum_rows:]]
        foot = [
            "",
            "max imbalance: the largest |n_arm - k * target share| over the first k",
            "  allocations of a stratum, for every k (overall: the largest over strata)",
            "bound: largest block size * target share * (1 - target share), which the",
            "  design never exceeds (docs/randomization.md)",
        ]
        if self.incomplete_blocks:
            foot.append("incomplete last blocks (only the last block of a stratum can be):")
            foot += [
                f"  {b.stratum}: block {b.block}, {b.allocated} of {b.block_size} allocated"
                for b in self.incomplete_blocks
            ]
        else:
            foot.append("every block is complete.")
        return "\n".join(head + table + foot) + "\n"

    def as_dict(self) -> dict[str, object]:
        """The design, the balance and the incomplete blocks as JSON-ready values."""
        return {
            "arms": list(self.arms),
            "ratio": list(self.ratio),
            "block_sizes": list(self.block_sizes),
            "strata": list(self.strata),
            "per_stratum": self.per_stratum,
            "seed": self.seed,
            "n_total": self.n_total,
            "columns": list(CSV_COLUMNS),
            "balance": self.balance().to_dicts(),
            "incomplete_blocks": [
                {
                    "stratum": b.stratum,
                    "block": b.block,
                    "block_size": b.block_size,
                    "allocated": b.allocated,
                }
                for b in self.incomplete_blocks
            ],
            "note": self.note,
            "reference": self.reference,
        }


def _balance_record(
    stratum: str | None, arm: str, count: int, n: int, share: float, bound: float
) -> dict[str, object]:
    return {
        "stratum": stratum,
        "arm": arm,
        "count": count,
        "target_count": n * share,
        "share": count / n,
        "target_share": share,
        "imbalance_bound": bound,
    }


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _names(values: Sequence[str], what: str, arm_codes: bool) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ValueError(f"{what} must be a sequence of names, not one string ({values!r})")
    names = tuple(values)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} must be non-empty strings, got {name!r}")
        if arm_codes and not _ARM_CODE.fullmatch(name):
            raise ValueError(
                f"arm code {name!r} may contain only letters, digits and underscores "
                "(as a protocol's arm codes)"
            )
        if not name.isprintable() or name != name.strip():
            raise ValueError(
                f"{what} {name!r} must be printable, without leading or trailing spaces"
            )
        if name.startswith(_FORMULA_START):
            raise ValueError(
                f"{what} {name!r} may not start with {' '.join(_FORMULA_START)} "
                "(a spreadsheet would read it as a formula)"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(duplicates)}")
    return names


def _check_ratio(ratio: Sequence[int] | None, arms: tuple[str, ...]) -> tuple[int, ...]:
    if ratio is None:
        return (1,) * len(arms)
    values = tuple(_integer(r, "each ratio entry") for r in ratio)
    if len(values) != len(arms):
        raise ValueError(
            f"ratio has {len(values)} entries but there are {len(arms)} arms "
            f"({', '.join(arms)}): give one entry per arm"
        )
    if any(r < 1 for r in values):
        raise ValueError(f"ratio entries must be positive integers, got {list(values)}")
    return values


def _check_block_sizes(block_sizes: Sequence[int], ratio: tuple[int, ...]) -> tuple[int, ...]:
    sizes = tuple(_integer(b, "each block size") for b in block_sizes)
    if not sizes:
        raise ValueError("give at least one block size")
    repeated = sorted({b for b in sizes if sizes.count(b) > 1})
    if repeated:
        raise ValueError(f"block sizes must be unique; repeated: {repeated}")
    total = sum(ratio)
    wrong = [b for b in sizes if b < 1 or b % total]
    if wrong:
        shown = ":".join(str(r) for r in ratio)
        raise ValueError(
            f"block sizes {wrong} are not positive multiples of the ratio sum {total} "
            f"(ratio {shown}): every block must hold the ratio a whole number of times, "
            f"e.g. block sizes {total}, {2 * total}"
        )
    large = [b for b in sizes if b > MAX_BLOCK_SIZE]
    if large:
        raise ValueError(f"block sizes {large} exceed the maximum of {MAX_BLOCK_SIZE}")
    return tuple(sorted(sizes))


# ---------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------


def _stratum_sequence(
    generator: np.random.Generator,
    sizes: tuple[int, ...],
    templates: dict[int, np.ndarray],
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arm index, block number, block size) of a stratum's ``n`` allocations."""
    arms: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    block_sizes: list[np.ndarray] = []
    allocated, block = 0, 0
    while allocated < n:
        block += 1
        size = sizes[int(generator.integers(len(sizes)))]
        order = generator.permutation(templates[size])
        take = min(size, n - allocated)
        arms.append(order[:take])
        blocks.append(np.full(take, block, dtype=np.int64))
        block_sizes.append(np.full(take, size, dtype=np.int64))
        allocated += take
    return np.concatenate(arms), np.concatenate(blocks), np.concatenate(block_sizes)


def randomization_list(
    arms: Sequence[str],
    per_stratum: int,
    strata: Sequence[str] = ("all",),
    ratio: Sequence[int] | None = None,
    block_sizes: Sequence[int] = (4, 6),
    seed: int | None = None,
) -> RandomizationList:
    """A stratified permuted-block randomization list with random block sizes.

    Parameters
    ----------
    arms : sequence of str
        Arm codes (at least 2, unique; letters, digits and underscores).
    per_stratum : int
        Allocations in each stratum (>= 1; at most MAX_ALLOCATIONS in all strata).
    strata : sequence of str
        Stratum names (unique, non-empty, printable, not starting with ``= + - @``); the
        order fixes each stratum's random stream, so add new strata at the end.
    ratio : sequence of int, optional
        Allocation ratio, one positive integer per arm (default all 1).
    block_sizes : sequence of int
        The set each block's size is drawn from, uniformly; each a positive multiple of
        ``sum(ratio)`` and at most MAX_BLOCK_SIZE; unique (the order does not matter).
    seed : int, optional
        Non-negative integer seed. When not given, a 128-bit seed is drawn from the
        operating system's entropy (:func:`secrets.randbits`) and kept in the result's
        ``seed``: a list from a default seed such as 0 could be regenerated by anyone
        who has the software, which breaks allocation concealment.

    Returns
    -------
    RandomizationList
        The rows (see :class:`RandomizationList`), the balance and the CSV text.

    Raises
    ------
    ValueError
        For any invalid argument, naming it.

    Notes
    -----
    Every complete block holds exactly ``b / R * r_i`` allocations to arm ``i``, so arm
    ``i``'s running imbalance ``|n_i - k r_i / R|`` never exceeds
    ``B p_i (1 - p_i) <= B / 4`` and, with 1:1 allocation, the arms never differ by more
    than ``B / 2`` (``B`` the largest block size; proof in the module docstring).

    References
    ----------
    Rosenberger WF, Lachin JM. Randomization in Clinical Trials, 2nd ed., 2016, ch. 3.
    ICH E9 (1998), section 2.3.2.
    """
    arm_codes = _names(arms, "arms", arm_codes=True)
    if len(arm_codes) < 2:
        raise ValueError(f"give at least 2 arms, got {len(arm_codes)}")
    stratum_names = _names(strata, "strata", arm_codes=False)
    if not stratum_names:
        raise ValueError("give at least one stratum")
    n = _integer(per_stratum, "per_stratum")
    if n < 1:
        raise ValueError(f"per_stratum must be at least 1, got {n}")
    if n * len(stratum_names) > MAX_ALLOCATIONS:
        raise ValueError(
            f"{len(stratum_names)} strata x {n} = {n * len(stratum_names)} allocations "
            f"exceed the maximum of {MAX_ALLOCATIONS}"
        )
    weights = _check_ratio(ratio, arm_codes)
    sizes = _check_block_sizes(block_sizes, weights)
    seed_value = secrets.randbits(SECRET_SEED_BITS) if seed is None else _integer(seed, "seed")
    if seed_value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed_value}")

    total = sum(weights)
    templates = {
        b: np.repeat(np.arange(len(arm_codes)), [b // total * r for r in weights]) for b in sizes
    }
    children = np.random.SeedSequence(seed_value).spawn(len(stratum_names))
    arm_index, block, block_size, stratum_index = [], [], [], []
    incomplete: list[IncompleteBlock] = []
    for s, (name, child) in enumerate(zip(stratum_names, children, strict=True)):
        chosen, numbers, drawn = _stratum_sequence(
            np.random.default_rng(child), sizes, templates, n
        )
        arm_index.append(chosen)
        block.append(numbers)
        block_size.append(drawn)
        stratum_index.append(np.full(n, s, dtype=np.int64))
        last = int(numbers[-1])
        allocated = int(np.count_nonzero(numbers == last))
        if allocated < int(drawn[-1]):
            incomplete.append(IncompleteBlock(name, last, int(drawn[-1]), allocated))

    codes = np.asarray(arm_codes, dtype=object)
    names = np.asarray(stratum_names, dtype=object)
    rows = pl.DataFrame(
        {
            "sequence": np.tile(np.arange(1, n + 1, dtype=np.int64), len(stratum_names)),
            "stratum": names[np.concatenate(stratum_index)].tolist(),
            "arm": codes[np.concatenate(arm_index)].tolist(),
            "block": np.concatenate(block),
            "block_size": np.concatenate(block_size),
        },
        schema={
            "sequence": pl.Int64,
            "stratum": pl.String,
            "arm": pl.String,
            "block": pl.Int64,
            "block_size": pl.Int64,
        },
    )
    return RandomizationList(
        arms=arm_codes,
        ratio=weights,
        block_sizes=sizes,
        strata=stratum_names,
        per_stratum=n,
        seed=seed_value,
        rows=rows,
        incomplete_blocks=tuple(incomplete),
        note=_note(incomplete),
        reference=REFERENCE,
    )


def _note(incomplete: Sequence[IncompleteBlock]) -> str | None:
    if not incomplete:
        return None
    parts = [f"{b.stratum} (block {b.block}: {b.allocated} of {b.block_size})" for b in incomplete]
    return (
        "the last block is incomplete in "
        + ", ".join(parts)
        + "; per_stratum is not a sum of the drawn block sizes there"
    )


def write_randomization_csv(randomization: RandomizationList, path: Path | str) -> None:
    """Write :meth:`RandomizationList.csv_text` to ``path`` as UTF-8 (no safety checks:
    the command writes through itptrial's safe outputs)."""
    Path(path).write_bytes(randomization.csv_text().encode("utf-8"))
