"""Benchmark: the tacrolimus PK engine (itptrial.pk) in patient-courses per second,
against the slow LSODA reference of the tests (tests/reference_pk.py) in the same run.

A course is 24 weeks of twice-daily dosing with dexamethasone on days 0-3 and 14-17 and
a trough every morning::

    python bench/pk.py [--patients 10000] [--reference 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from itptrial.pk import concentrations, draw_patients, load_tacrolimus_model, twice_daily

from reference_pk import reference_concentrations

DAYS = 168


def course(n: int, seed: int):  # type: ignore[no-untyped-def]
    model = load_tacrolimus_model()
    patients = draw_patients(model, np.full(n, 62.0), occasions=DAYS // 7, seed=seed)
    dex = np.zeros((n, DAYS), bool)
    dex[:, 0:4] = dex[:, 14:18] = True
    return model, patients, twice_daily(np.full(n, 1.8), DAYS, dex), np.arange(DAYS) * 24 + 8.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--reference", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model, patients, dosing, troughs = course(args.patients, seed=1)
    concentrations(model, patients, dosing, troughs[:2])  # compile
    fast = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        concentrations(model, patients, dosing, troughs)
        fast.append(time.perf_counter() - began)
    small = course(args.reference, seed=2)
    began = time.perf_counter()
    reference_concentrations(*small)
    slow = time.perf_counter() - began
    fast_rate = args.patients / statistics.median(fast)
    slow_rate = args.reference / slow
    print(f"patients: {args.patients:,}  days: {DAYS}  repeats: {args.repeats}")
    median = statistics.median(fast)
    print(f"itptrial.pk.concentrations: median {median:6.3f} s, {fast_rate:9,.0f} courses/s")
    print(
        f"LSODA reference ({args.reference} patients): {slow:6.3f} s, {slow_rate:9,.1f} courses/s"
    )
    print(f"ratio: {fast_rate / slow_rate:,.0f}")


if __name__ == "__main__":
    main()
