"""Write ``fixtures_input.json``: the inputs that ``make_reference.R`` feeds to R.

Deterministic (fixed seeds, no clock).  Run from the repository root::

    python tests/reference/make_inputs.py
    Rscript tests/reference/make_reference.R

Both outputs are committed, so the tests never need R.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _binary_cases() -> list[dict[str, Any]]:
    fixed = [
        # TARGET 020 (published): sustained, initial, relapse.
        ("target_sustained", 31, 48, 23, 56),
        ("target_initial", 37, 48, 31, 56),
        ("target_relapse", 7, 37, 9, 31),
        # Newcombe (1998) Table II, examples (a)-(h).
        ("newcombe_a", 56, 70, 48, 80),
        ("newcombe_b", 9, 10, 3, 10),
        ("newcombe_c", 6, 7, 2, 7),
        ("newcombe_d", 5, 56, 0, 29),
        ("newcombe_e", 0, 10, 0, 20),
        ("newcombe_f", 0, 10, 0, 10),
        ("newcombe_g", 10, 10, 0, 20),
        ("newcombe_h", 10, 10, 0, 10),
        # Small tables and zero-count corners.
        ("small_1_3_vs_2_4", 1, 3, 2, 4),
        ("small_3_5_vs_0_4", 3, 5, 0, 4),
        ("one_each_1_1_vs_0_1", 1, 1, 0, 1),
        ("all_respond_both", 2, 2, 2, 2),
        ("zero_vs_half", 0, 10, 5, 10),
        ("all_vs_all", 10, 10, 10, 10),
        ("empty_experimental", 0, 0, 3, 7),
        ("empty_control", 4, 9, 0, 0),
        ("both_empty", 0, 0, 0, 0),
    ]
    cases = [{"name": c[0], "x1": c[1], "n1": c[2], "x0": c[3], "n0": c[4]} for c in fixed]
    rng = random.Random(20240601)
    for i in range(8):
        n1 = rng.randint(5, 60)
        n0 = rng.randint(5, 60)
        cases.append(
            {
                "name": f"random_{i}",
                "x1": rng.randint(0, n1),
                "n1": n1,
                "x0": rng.randint(0, n0),
                "n0": n0,
            }
        )
    return cases


def _survival(name: str, rows: list[tuple[float, int, int]]) -> dict[str, Any]:
    return {
        "name": name,
        "times": [r[0] for r in rows],
        "events": [r[1] for r in rows],
        "groups": [r[2] for r in rows],
    }


def _random_survival(rng: random.Random, name: str, n1: int, n0: int) -> dict[str, Any]:
    rows: list[tuple[float, int, int]] = []
    for group, n, scale in ((1, n1, 40.0), (0, n0, 70.0)):
        for _ in range(n):
            event_time = max(1, round(rng.expovariate(1.0 / scale)))
            censor_time = rng.randint(5, 194)
            if event_time <= censor_time:
                rows.append((float(event_time), 1, group))
            else:
                rows.append((float(censor_time), 0, group))
    return _survival(name, rows)


def _survival_cases() -> list[dict[str, Any]]:
    cases = [
        # Tied event times, and censorings tied with events (censored at t is at risk at t).
        _survival(
            "ties",
            [
                (3, 1, 1),
                (3, 1, 1),
                (3, 0, 1),
                (5, 1, 1),
                (7, 1, 1),
                (7, 1, 1),
                (9, 0, 1),
                (12, 1, 1),
                (12, 0, 1),
                (15, 1, 1),
                (3, 1, 0),
                (5, 1, 0),
                (5, 0, 0),
                (8, 1, 0),
                (8, 1, 0),
                (8, 1, 0),
                (10, 0, 0),
                (14, 1, 0),
                (20, 0, 0),
                (20, 0, 0),
            ],
        ),
        # No events at all.
        _survival("no_events", [(t, 0, g) for g in (0, 1) for t in (10, 20, 30, 40)]),
        # One arm all censored (Cox: monotone likelihood).
        _survival(
            "one_arm_all_censored",
            [(t, 1, 0) for t in (4, 9, 13, 21, 30)] + [(t, 0, 1) for t in (5, 12, 25, 33, 40)],
        ),
        # Curve never reaches 0.5 (and lower band never reaches it either).
        _survival(
            "never_half",
            [(t, 1, 1) for t in (2, 6)]
            + [(t, 0, 1) for t in (10, 11, 12, 13, 14, 15, 16, 17)]
            + [(t, 1, 0) for t in (1, 3, 5, 7, 9, 11)]
            + [(t, 0, 0) for t in (12, 14)],
        ),
        # Exactly 0.5 over a stretch: 4 subjects, events at 1, 2 then 5 -> median (2 + 5) / 2.
        _survival(
            "exact_half_stretch",
            [(1, 1, 1), (2, 1, 1), (5, 1, 1), (8, 0, 1)]
            + [(t, 1, 0) for t in (1, 2, 3, 4, 5, 6)]
            + [(t, 0, 0) for t in (7, 8)],
        ),
        # Exactly 0.5 until the last (censored) time: median is (2 + 8) / 2 (R's last-point rule).
        _survival(
            "exact_half_to_end",
            [(1, 1, 1), (2, 1, 1), (6, 0, 1), (8, 0, 1)]
            + [(t, 1, 0) for t in (2, 4, 6, 8, 10)]
            + [(t, 0, 0) for t in (3, 5)],
        ),
        # Exactly 0.5 reached by a long product (20 subjects, 10 deaths, no censoring).
        _survival(
            "exact_half_product",
            [(float(t), 1, 1) for t in range(1, 21)] + [(float(t), 1, 0) for t in range(2, 42, 2)],
        ),
        # Every subject has the event (curve ends at 0; bands undefined there).
        _survival(
            "all_events",
            [(t, 1, 1) for t in (1, 2, 2, 4, 7)] + [(t, 1, 0) for t in (3, 3, 6, 9, 9, 12)],
        ),
        # Single subject per arm.
        _survival("one_each", [(5, 1, 1), (8, 0, 0)]),
    ]
    rng = random.Random(7)
    for i, (n1, n0) in enumerate([(48, 56), (37, 31), (12, 15), (30, 30), (60, 45)]):
        cases.append(_random_survival(rng, f"random_{i}", n1, n0))
    return cases


def _stratified_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = [
        {"name": "two_strata", "x1": [12, 19], "n1": [20, 28], "x0": [8, 15], "n0": [22, 34]},
        {
            "name": "three_strata_small",
            "x1": [3, 1, 4],
            "n1": [5, 4, 6],
            "x0": [1, 2, 0],
            "n0": [5, 5, 6],
        },
        {
            "name": "with_all_zero_stratum",
            "x1": [0, 7, 9],
            "n1": [6, 15, 12],
            "x0": [0, 4, 3],
            "n0": [5, 14, 13],
        },
        {"name": "single_stratum", "x1": [31], "n1": [48], "x0": [23], "n0": [56]},
    ]
    rng = random.Random(99)
    for i in range(4):
        k = rng.randint(2, 5)
        n1 = [rng.randint(3, 30) for _ in range(k)]
        n0 = [rng.randint(3, 30) for _ in range(k)]
        cases.append(
            {
                "name": f"random_{i}",
                "x1": [rng.randint(0, n) for n in n1],
                "n1": n1,
                "x0": [rng.randint(0, n) for n in n0],
                "n0": n0,
            }
        )
    return cases


def _stratified_survival_cases() -> list[dict[str, Any]]:
    """Time to event with strata: random, tied, and with a stratum of one arm only."""
    rng = random.Random(2026)
    cases = []
    for i, (k, n1, n0) in enumerate([(2, 40, 45), (3, 30, 30), (4, 25, 35), (2, 12, 10)]):
        case = _random_survival(rng, f"random_{i}", n1, n0)
        case["times"] = [float(round(t / 7) * 7 + 1) for t in case["times"]]  # many ties
        case["strata"] = [f"s{rng.randint(1, k)}" for _ in case["times"]]
        cases.append(case)
    one_arm = _random_survival(rng, "stratum_of_one_arm", 20, 20)
    one_arm["strata"] = ["a" if g == 1 and j % 4 == 0 else f"b{j % 2}"
                         for j, g in enumerate(one_arm["groups"])]  # fmt: skip
    cases.append(one_arm)
    return cases


def _holm_cases() -> list[dict[str, Any]]:
    return [
        {"name": "two", "p": [0.012, 0.034]},
        {"name": "three_with_ties", "p": [0.04, 0.01, 0.04]},
        {"name": "capped_at_one", "p": [0.6, 0.7, 0.02]},
        {"name": "with_missing", "p": [0.03, None, 0.002, 0.2]},
        {"name": "single", "p": [0.0167]},
    ]


def main() -> None:
    payload = {
        "binary": _binary_cases(),
        "survival": _survival_cases(),
        "stratified": _stratified_cases(),
        "stratified_survival": _stratified_survival_cases(),
        "holm": _holm_cases(),
    }
    text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
    (HERE / "fixtures_input.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
