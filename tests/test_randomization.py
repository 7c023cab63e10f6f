"""Randomization lists (itptrial.design._randomization): structure, reproducibility,
properties of permuted blocks with random sizes (hypothesis), and refused input.

The properties are those of docs/randomization.md: every complete block holds the ratio
exactly; only a stratum's last block may be incomplete; block sizes come from the set,
about equally often; each stratum has exactly ``per_stratum`` allocations; and the
running imbalance ``|n_i - k r_i / R|`` never exceeds ``B p_i (1 - p_i)`` (so with 1:1
the arms never differ by more than half the largest block ``B``).
"""

from __future__ import annotations

import io
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from itptrial.design._randomization import (
    CSV_COLUMNS,
    MAX_ALLOCATIONS,
    MAX_BLOCK_SIZE,
    IncompleteBlock,
    RandomizationList,
    randomization_list,
    write_randomization_csv,
)

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)
TARGET020 = ("TAC_DXM", "DXM")  # src/itptrial/protocol/presets/target020.toml


def blocks_of(lst: RandomizationList) -> list[tuple[str, int, int, list[str]]]:
    """(stratum, block, block_size, arms in order) of every block, in row order."""
    out: list[tuple[str, int, int, list[str]]] = []
    for row in lst.rows.iter_rows(named=True):
        key = (row["stratum"], row["block"], row["block_size"])
        if not out or out[-1][:3] != key:
            out.append((*key, []))
        out[-1][3].append(row["arm"])
    return out


def scaled_imbalances(lst: RandomizationList, stratum: str) -> list[list[int]]:
    """Per prefix k = 1..n of a stratum: R * (n_i - k r_i / R) per arm, in integers."""
    total = sum(lst.ratio)
    arms = lst.rows.filter(pl.col("stratum") == stratum)["arm"].to_list()
    counts = dict.fromkeys(lst.arms, 0)
    out = []
    for k, arm in enumerate(arms, start=1):
        counts[arm] += 1
        out.append([total * counts[a] - k * r for a, r in zip(lst.arms, lst.ratio, strict=True)])
    return out


# ------------------------------------------------------------------ a worked example


def test_target020_two_sites() -> None:
    lst = randomization_list(
        TARGET020, per_stratum=100, strata=("site1", "site2"), block_sizes=(4, 6), seed=7
    )
    assert (lst.arms, lst.ratio, lst.block_sizes, lst.strata) == (
        TARGET020,
        (1, 1),
        (4, 6),
        ("site1", "site2"),
    )
    assert lst.n_total == 200
    assert tuple(lst.rows.columns) == CSV_COLUMNS
    assert lst.rows.schema == pl.Schema(
        {
            "sequence": pl.Int64,
            "stratum": pl.String,
            "arm": pl.String,
            "block": pl.Int64,
            "block_size": pl.Int64,
        }
    )
    assert lst.rows["stratum"].to_list() == ["site1"] * 100 + ["site2"] * 100
    assert lst.rows["sequence"].to_list() == list(range(1, 101)) * 2
    for stratum in lst.strata:
        part = lst.rows.filter(pl.col("stratum") == stratum)
        blocks = part["block"].to_list()
        assert blocks[0] == 1
        assert all(b - a in (0, 1) for a, b in itertools.pairwise(blocks))
    for stratum, block, size, arms in blocks_of(lst):
        assert size in (4, 6)
        if len(arms) == size:
            assert arms.count("TAC_DXM") == arms.count("DXM") == size // 2, (stratum, block)
    text = lst.csv_text()
    assert text.startswith("sequence,stratum,arm,block,block_size\n1,site1,")
    assert text.endswith("\n") and "\r" not in text
    assert text.count("\n") == 201
    assert pl.read_csv(io.StringIO(text)).equals(lst.rows)


def test_balance_frame_and_report() -> None:
    lst = randomization_list(TARGET020, per_stratum=25, strata=("site1", "site2"), seed=7)
    balance = lst.balance()
    assert balance.columns == [
        "stratum",
        "arm",
        "count",
        "target_count",
        "share",
        "target_share",
        "max_imbalance",
        "imbalance_bound",
    ]
    assert balance.height == 3 * 2  # two strata and the overall rows, two arms each
    overall = balance.filter(pl.col("stratum").is_null())
    assert overall["arm"].to_list() == list(TARGET020)
    assert overall["count"].sum() == 50
    per_stratum = balance.filter(pl.col("stratum").is_not_null())
    assert per_stratum.group_by("stratum").agg(pl.col("count").sum())["count"].to_list() == [
        25,
        25,
    ]
    assert (balance["target_share"] == 0.5).all()
    assert (balance["imbalance_bound"] == 6 * 0.25).all()
    assert overall["max_imbalance"].to_list() == [
        per_stratum.filter(pl.col("arm") == arm)["max_imbalance"].max() for arm in TARGET020
    ]
    # 25 is odd: no stratum can end balanced, so its last block is incomplete
    assert {b.stratum for b in lst.incomplete_blocks} == {"site1", "site2"}
    assert lst.note is not None and "site1" in lst.note and "site2" in lst.note
    report = lst.balance_report()
    for word in ("TAC_DXM", "DXM", "site1", "site2", "overall", "seed 7", "block sizes 4, 6"):
        assert word in report
    assert "incomplete last blocks" in report
    for block in lst.incomplete_blocks:
        line = f"{block.stratum}: block {block.block}, {block.allocated} of {block.block_size}"
        assert line in report
    assert "Rosenberger" in lst.reference and "ICH E9" in lst.reference
    assert json.loads(json.dumps(lst.as_dict()))["balance"][0]["stratum"] == "site1"


def test_complete_list_has_no_incomplete_block() -> None:
    lst = randomization_list(("A", "B"), per_stratum=12, block_sizes=(4,), seed=3)
    assert lst.incomplete_blocks == () and lst.note is None
    assert lst.rows["block"].to_list() == [1] * 4 + [2] * 4 + [3] * 4
    assert "every block is complete" in lst.balance_report()


def test_incomplete_block_is_recorded() -> None:
    lst = randomization_list(("A", "B", "C"), per_stratum=7, block_sizes=(3,), seed=0)
    assert lst.incomplete_blocks == (IncompleteBlock("all", 3, 3, 1),)
    assert lst.rows["block_size"].to_list() == [3] * 7  # the drawn size, even when cut


def test_balance_of_one_block() -> None:
    """A single block of 4 for 1:1: the worst prefix is AA.. (imbalance 1) or ABAB (0.5)."""
    seen = set()
    for seed in range(40):
        lst = randomization_list(("A", "B"), per_stratum=4, block_sizes=(4,), seed=seed)
        arms = "".join(lst.rows["arm"].to_list())
        expected = 1.0 if arms[0] == arms[1] or arms[2] == arms[3] else 0.5
        assert lst.balance()["max_imbalance"][0] == expected, arms
        seen.add(expected)
    assert seen == {0.5, 1.0}  # the bound 4 * 1/2 * 1/2 = 1 is reached


def test_write_csv(tmp_path: Path) -> None:
    lst = randomization_list(TARGET020, per_stratum=10, strata=("Beijing, PUPH", "Tianjin"))
    path = tmp_path / "list.csv"
    write_randomization_csv(lst, path)
    assert path.read_bytes() == lst.csv_text().encode("utf-8")
    back = pl.read_csv(path)
    assert back["stratum"].unique(maintain_order=True).to_list() == ["Beijing, PUPH", "Tianjin"]


# ------------------------------------------------------------------ reproducibility


def test_same_seed_same_bytes_and_different_seed_differs() -> None:
    strata = ("s1", "s2", "s3")

    def make(seed: int) -> RandomizationList:
        return randomization_list(("A", "B", "C"), 60, strata, block_sizes=(3, 6), seed=seed)

    first, again, other = make(11), make(11), make(12)
    assert first.csv_text().encode() == again.csv_text().encode()
    assert first == again and first != other
    assert first.csv_text() != other.csv_text()
    for stratum in strata:  # every stratum moves with the seed
        assert not first.rows.filter(pl.col("stratum") == stratum)["arm"].equals(
            other.rows.filter(pl.col("stratum") == stratum)["arm"]
        )


def test_adding_a_stratum_at_the_end_keeps_the_others() -> None:
    two = randomization_list(TARGET020, per_stratum=50, strata=("a", "b"), seed=5)
    three = randomization_list(TARGET020, per_stratum=50, strata=("a", "b", "c"), seed=5)
    assert three.rows.filter(pl.col("stratum") != "c").equals(two.rows)
    # the stream belongs to the position, not the name: renaming keeps the draws
    renamed = randomization_list(TARGET020, per_stratum=50, strata=("x", "y"), seed=5)
    assert renamed.rows["arm"].equals(two.rows["arm"])


def test_strata_are_independent_streams() -> None:
    lst = randomization_list(TARGET020, per_stratum=200, strata=("a", "b"), seed=5)
    a = lst.rows.filter(pl.col("stratum") == "a")["arm"]
    b = lst.rows.filter(pl.col("stratum") == "b")["arm"]
    assert not a.equals(b)


def test_longer_list_extends_the_shorter() -> None:
    """Draws go block by block, so a longer stratum starts with the shorter one's rows."""
    short = randomization_list(TARGET020, per_stratum=37, strata=("a", "b"), seed=9)
    long = randomization_list(TARGET020, per_stratum=80, strata=("a", "b"), seed=9)
    for stratum in ("a", "b"):
        head = long.rows.filter(pl.col("stratum") == stratum).head(37)
        assert head.equals(short.rows.filter(pl.col("stratum") == stratum))


def test_block_size_order_does_not_matter() -> None:
    one = randomization_list(TARGET020, per_stratum=40, block_sizes=(4, 6), seed=2)
    other = randomization_list(TARGET020, per_stratum=40, block_sizes=(6, 4), seed=2)
    assert other.block_sizes == (4, 6)
    assert one.csv_text() == other.csv_text()


def test_numpy_integers_accepted() -> None:
    """Integers from numpy arrays (as a caller may pass) are plain ints in the result."""
    lst = randomization_list(
        TARGET020,
        per_stratum=np.int64(8),  # type: ignore[arg-type]
        ratio=[np.int32(1), 1],  # type: ignore[list-item]
        seed=np.uint8(3),  # type: ignore[arg-type]
    )
    assert lst.per_stratum == 8 and type(lst.per_stratum) is int and lst.seed == 3


# ------------------------------------------------------------------ properties


@st.composite
def designs(draw: st.DrawFn) -> dict[str, object]:
    n_arms = draw(st.integers(2, 4))
    ratio = draw(st.lists(st.integers(1, 3), min_size=n_arms, max_size=n_arms))
    total = sum(ratio)
    multiples = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True))
    return {
        "arms": [f"ARM{i}" for i in range(n_arms)],
        "ratio": ratio,
        "block_sizes": [m * total for m in multiples],
        "per_stratum": draw(st.integers(1, 200)),
        "strata": [f"site{i}" for i in range(draw(st.integers(1, 4)))],
        "seed": draw(st.integers(0, 2**64)),
    }


@SETTINGS
@given(designs())
def test_permuted_block_properties(design: dict[str, object]) -> None:
    lst = randomization_list(**design)  # type: ignore[arg-type]
    total = sum(lst.ratio)
    largest = max(lst.block_sizes)
    assert lst.rows.height == lst.n_total
    counts = Counter(lst.rows["stratum"].to_list())
    assert counts == dict.fromkeys(lst.strata, lst.per_stratum)
    assert set(lst.rows["block_size"].to_list()) <= set(lst.block_sizes)
    assert set(lst.rows["arm"].to_list()) <= set(lst.arms)

    blocks = blocks_of(lst)
    incomplete = []
    for index, (stratum, block, size, arms) in enumerate(blocks):
        assert len(arms) <= size
        is_last = index + 1 == len(blocks) or blocks[index + 1][0] != stratum
        if len(arms) == size:  # every complete block holds the ratio exactly
            expected = [size // total * r for r in lst.ratio]
            assert [arms.count(a) for a in lst.arms] == expected, (stratum, block)
        else:  # only a stratum's last block may be incomplete
            assert is_last, (stratum, block)
            incomplete.append(IncompleteBlock(stratum, block, size, len(arms)))
    assert tuple(incomplete) == lst.incomplete_blocks
    assert (lst.note is None) == (not incomplete)

    balance = lst.balance()
    for stratum in lst.strata:
        scaled = scaled_imbalances(lst, stratum)
        for i, r in enumerate(lst.ratio):
            # |n_i - k r_i / R| <= B p_i (1 - p_i), i.e. R |R n_i - k r_i| <= B r_i (R - r_i)
            worst = max(abs(prefix[i]) for prefix in scaled)
            assert total * worst <= largest * r * (total - r)
            row = balance.filter(
                (pl.col("stratum") == stratum) & (pl.col("arm") == lst.arms[i])
            ).row(0, named=True)
            assert row["max_imbalance"] == pytest.approx(worst / total, abs=1e-12)
            assert row["max_imbalance"] <= row["imbalance_bound"] + 1e-12
        # any two arms: |n_i / r_i - n_j / r_j| <= B / R (1:1: half the largest block)
        for prefix in scaled:
            per_unit = [(p / r) for p, r in zip(prefix, lst.ratio, strict=True)]
            assert max(per_unit) - min(per_unit) <= largest + 1e-9
    overall = balance.filter(pl.col("stratum").is_null())
    assert overall["count"].sum() == lst.n_total


@SETTINGS
@given(st.integers(1, 200), st.integers(0, 2**32), st.sampled_from([(2,), (2, 4), (4, 6, 8)]))
def test_one_to_one_never_differs_by_more_than_half_the_largest_block(
    per_stratum: int, seed: int, sizes: tuple[int, ...]
) -> None:
    lst = randomization_list(("A", "B"), per_stratum, block_sizes=sizes, seed=seed)
    difference = 0
    for arm in lst.rows["arm"].to_list():
        difference += 1 if arm == "A" else -1
        assert abs(difference) <= max(sizes) // 2


def test_block_sizes_drawn_uniformly() -> None:
    """Chi-square goodness of fit of the block sizes to uniform (fixed seed, loose)."""
    sizes = (2, 4, 6, 8)
    lst = randomization_list(("A", "B"), 20_000, strata=("s1", "s2"), block_sizes=sizes, seed=1)
    firsts = lst.rows.unique(["stratum", "block"], keep="first", maintain_order=True)
    observed = Counter(firsts["block_size"].to_list())
    assert sum(observed.values()) > 7000
    result = stats.chisquare([observed[b] for b in sizes])
    assert result.pvalue > 1e-3


def test_permutations_uniform_within_block() -> None:
    """Each of the 6 orders of a 1:1 block of 4 is about equally frequent."""
    lst = randomization_list(("A", "B"), 24_000, block_sizes=(4,), seed=4)
    arms = lst.rows["arm"].to_list()
    orders = Counter("".join(arms[i : i + 4]) for i in range(0, len(arms), 4))
    assert len(orders) == 6
    assert stats.chisquare(list(orders.values())).pvalue > 1e-3


# ------------------------------------------------------------------ refused input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arms": ["A"]}, "at least 2 arms"),
        ({"arms": []}, "at least 2 arms"),
        ({"arms": "AB"}, "not one string"),
        ({"arms": ["A", "A"]}, "unique; repeated: A"),
        ({"arms": ["A", ""]}, "non-empty"),
        ({"arms": ["A", 3]}, "non-empty strings"),
        ({"arms": ["A", "B C"]}, "letters, digits and underscores"),
        ({"strata": []}, "at least one stratum"),
        ({"strata": ["s1", "s1"]}, "unique; repeated: s1"),
        ({"strata": ["s1", ""]}, "non-empty"),
        ({"strata": [" s1"]}, "leading or trailing spaces"),
        ({"strata": ["s\n1"]}, "printable"),
        ({"strata": ["=cmd()"]}, "formula"),
        ({"strata": "site1"}, "not one string"),
        ({"per_stratum": 0}, "per_stratum must be at least 1"),
        ({"per_stratum": 2.5}, "per_stratum must be an integer"),
        ({"per_stratum": True}, "per_stratum must be an integer"),
        ({"per_stratum": MAX_ALLOCATIONS + 1}, "exceed the maximum"),
        ({"ratio": [1]}, "ratio has 1 entries but there are 2 arms"),
        ({"ratio": [1, 0]}, "positive integers"),
        ({"ratio": [1, 1.5]}, "ratio entry must be an integer"),
        ({"ratio": [2, 1], "block_sizes": [4, 6]}, "block sizes [4] are not positive multiples"),
        ({"block_sizes": [3, 4]}, "ratio sum 2 (ratio 1:1): every block"),
        ({"arms": ["A", "B", "C"]}, "e.g. block sizes 3, 6"),
        ({"block_sizes": [0]}, "not positive multiples"),
        ({"block_sizes": [-2]}, "not positive multiples"),
        ({"block_sizes": []}, "at least one block size"),
        ({"block_sizes": [4, 4]}, "block sizes must be unique"),
        ({"block_sizes": [MAX_BLOCK_SIZE + 2]}, "exceed the maximum"),
        ({"seed": -1}, "non-negative"),
        ({"seed": "7"}, "seed must be an integer"),
    ],
)
def test_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"arms": TARGET020, "per_stratum": 10} | kwargs
    with pytest.raises(ValueError) as caught:
        randomization_list(**args)  # type: ignore[arg-type]
    assert message in str(caught.value)
