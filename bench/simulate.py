"""Benchmark: the virtual trial's two engines, in patient-courses (194 days) per second.

Both engines run the whole protocol closed loop (visits, measurements, the day-14 rule,
tacrolimus TDM, rescue) through ``simulate_course``, in the same run:

- reference (scipy LSODA, rtol 1e-8, one patient at a time): a 10+10 trial
  (20 patient-courses), which is enough: its cost is linear in the patients;
- fast (vectorized RK4) on the same 10+10 trial, for a like-for-like figure;
- fast on 100,000 patient-courses, ``simulate_course(protocol, (50000, 50000))``: the
  wall time (target <= 30 s on the 2-core reference machine) and the throughput.

The speed-up (target >= 100x) is the fast engine's throughput at 100,000 courses over the
reference's; the same-size ratio is printed too. Every figure is the median of
``--repeats`` runs (tables are not written: this times the simulation itself)::

    python bench/simulate.py             # 3 repeats, 100,000 fast courses each
    python bench/simulate.py --quick     # 1 repeat, 10,000 fast courses, 10 reference
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy

from itptrial import load_protocol
from itptrial.sim import simulate_course

SPEEDUP_TARGET = 100.0
WALL_TARGET_S = 30.0  # for 100,000 fast patient-courses


def timed(run: Callable[[], object], repeats: int, label: str) -> float:
    """Median wall time of ``repeats`` runs (each announced, for long runs)."""
    times = []
    for i in range(repeats):
        print(f"  {label}: run {i + 1}/{repeats} ...", end="", flush=True, file=sys.stderr)
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        print(f" {times[-1]:.2f} s", file=sys.stderr, flush=True)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 repeat, 10,000 fast and 10 reference courses (a smoke run)",
    )
    parser.add_argument("--repeats", type=int, help="runs per figure (default 3; quick: 1)")
    parser.add_argument(
        "--fast-courses", type=int, help="fast-engine courses (even; default 100000; quick: 10000)"
    )
    parser.add_argument(
        "--reference-courses",
        type=int,
        help="reference-engine courses (even; default 20; quick: 10)",
    )
    parser.add_argument("--seed", type=int, default=20211211)
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    n_fast = args.fast_courses or (10_000 if args.quick else 100_000)
    n_ref = args.reference_courses or (10 if args.quick else 20)
    protocol = load_protocol("target020")
    horizon = protocol.endpoints.horizon

    def course(n: int, engine: str) -> Callable[[], object]:
        half = (n // 2, n - n // 2)
        return lambda: simulate_course(protocol, half, seed=args.seed, engine=engine)  # type: ignore[arg-type]

    course(20, "fast")()  # warm-up: imports, parameter file, first allocations

    print(
        f"itptrial simulation benchmark: closed-loop courses of {horizon} days, "
        f"target020 protocol, seed {args.seed}, median of {repeats} run(s)",
        flush=True,
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}",
        flush=True,
    )

    t_ref = timed(course(n_ref, "reference"), repeats, f"reference, {n_ref} courses")
    t_small = timed(course(n_ref, "fast"), repeats, f"fast, {n_ref} courses")
    t_fast = timed(course(n_fast, "fast"), repeats, f"fast, {n_fast:,} courses")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    ref_rate, small_rate, fast_rate = n_ref / t_ref, n_ref / t_small, n_fast / t_fast
    speedup = fast_rate / ref_rate
    print()
    print(f"{'engine':<10} {'courses':>9} {'median wall':>12} {'courses/s':>11}")
    print(f"{'reference':<10} {n_ref:>9,} {t_ref:>10.2f} s {ref_rate:>11,.1f}")
    print(f"{'fast':<10} {n_ref:>9,} {t_small:>10.2f} s {small_rate:>11,.1f}")
    print(f"{'fast':<10} {n_fast:>9,} {t_fast:>10.2f} s {fast_rate:>11,.1f}")
    print()
    print(
        f"speed-up, fast at {n_fast:,} / reference: {speedup:,.0f}x "
        f"(target >= {SPEEDUP_TARGET:.0f}x: {'met' if speedup >= SPEEDUP_TARGET else 'NOT met'})"
    )
    print(f"speed-up at the same size ({n_ref} courses): {small_rate / ref_rate:,.1f}x")
    if n_fast == 100_000:
        verdict = "met" if t_fast <= WALL_TARGET_S else "NOT met"
        print(f"100,000 fast courses: {t_fast:.1f} s (target <= {WALL_TARGET_S:.0f} s: {verdict})")
    else:
        print(
            f"100,000 fast courses, extrapolated linearly from {n_fast:,}: "
            f"{100_000 / fast_rate:.1f} s (target <= {WALL_TARGET_S:.0f} s; not measured, "
            "and a lower bound when the day's step count grows with the population)"
        )
    print(f"peak resident memory of this process: {peak_gb:.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
