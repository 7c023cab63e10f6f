"""Benchmark: simulated power throughput, in virtual patient-courses per second.

Each virtual trial is the protocol executed day by day on the mechanistic virtual
patient (tacrolimus PK, trough-guided dosing, rescue), adjudicated by the endpoint
engine and tested (``simulated_power``); a patient-course is one subject of one trial,
so a run is ``trials x 2 x n_per_arm`` courses. Timed in the same run:

- in process (``client=None``; numba's threads use every core);
- on a Dask LocalCluster of 1, then 2 single-threaded worker processes (``--workers``).

Each configuration is warmed up first with one small, untimed run (imports and numba's
cache load, on each worker), then timed ``--repeats`` times; the figures are medians.
Prints the ratio of the 2-worker throughput to the 1-worker one, the goal line
(>= 10,000 patient-courses/s) for the best configuration, and checks that every
configuration gave the same result (same seed: same result whatever the workers; exit
1 if not). ``--full`` also times one run of 10,000 trials of 2 x 150 on 2 workers
against the 5-minute goal (about 4 minutes more)::

    python bench/power.py                 # 400 trials of 2 x 150, 3 repeats, 1 and 2 workers
    python bench/power.py --full          # ... and one 10,000-trial run on 2 workers
    python bench/power.py --trials 100 --repeats 1 --workers 2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from itptrial.design import dask_client, simulated_power
from itptrial.design._power import CHUNK_SUBJECTS
from itptrial.protocol import load_protocol
from itptrial.sim import load_parameters

GOAL_RATE = 10_000.0  # patient-courses per second
FULL_TRIALS, FULL_N, FULL_WORKERS = 10_000, 150, 2
FULL_GOAL_S = 300.0  # 5 minutes for 10,000 trials of 2 x 150


def timed(run: Callable[[], Any], repeats: int, label: str) -> tuple[float, Any]:
    """Median wall time of ``repeats`` runs (each announced) and the last run's result."""
    times, result = [], None
    for i in range(repeats):
        print(f"  {label}: run {i + 1}/{repeats} ...", end="", flush=True, file=sys.stderr)
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        print(f" {times[-1]:.2f} s", file=sys.stderr, flush=True)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=400, help="virtual trials per run")
    parser.add_argument("--n-per-arm", type=int, default=150, help="subjects per arm")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration")
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated LocalCluster sizes (default 1,2)"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"also time one run of {FULL_TRIALS:,} trials of 2 x {FULL_N} on "
        f"{FULL_WORKERS} workers (about 4 minutes)",
    )
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    n, trials = args.n_per_arm, args.trials
    courses = trials * 2 * n
    protocol, params = load_protocol("target020"), load_parameters()

    def run(client: Any, k: int = trials, size: int = n) -> Any:
        return simulated_power(
            protocol, (size, size), params, trials=k, seed=args.seed, client=client
        )

    def warm_trials(n_workers: int) -> int:
        """Two tasks per worker, so that every worker loads numba's cache."""
        per_task = max(1, CHUNK_SUBJECTS // (2 * n))
        return max(2, 2 * n_workers * per_task)

    print(
        f"itptrial simulated-power benchmark: target020, {trials} trials of 2 x {n} "
        f"({courses:,} patient-courses per run), seed {args.seed}, median of {args.repeats} run(s)",
        flush=True,
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}; each configuration warmed up by one untimed run "
        "(imports, numba cache load on each worker)",
        flush=True,
    )

    rows: list[tuple[str, float]] = []
    results: dict[str, dict[str, Any]] = {}
    run(None, k=warm_trials(1))  # warm-up, not timed
    seconds, result = timed(lambda: run(None), args.repeats, "in process")
    rows.append(("in process", seconds))
    results["in process"] = result.as_dict()
    for w in workers:
        label = f"{w} worker{'s' if w > 1 else ''}"
        with dask_client(workers=w) as client:
            run(client, k=warm_trials(w))  # warm-up, not timed
            seconds, result = timed(lambda c=client: run(c), args.repeats, label)
        rows.append((label, seconds))
        results[label] = result.as_dict()

    print()
    rate = {label: courses / seconds for label, seconds in rows}
    for label, seconds in rows:
        print(f"{label + ':':<12} median {seconds:7.2f} s  {rate[label]:>10,.0f} patient-courses/s")
    if "1 worker" in rate and "2 workers" in rate:
        print(f"ratio 2 workers / 1 worker:   {rate['2 workers'] / rate['1 worker']:.2f}x")
    best = max(rate, key=rate.__getitem__)
    verdict = "met" if rate[best] >= GOAL_RATE else "not met"
    print(
        f"goal >= {GOAL_RATE:,.0f} patient-courses/s: {verdict} (best: {best}, {rate[best]:,.0f}/s)"
    )
    reference = next(iter(results.values()))
    same = all(r == reference for r in results.values())
    print(
        f"identical results across configurations: {'yes' if same else 'NO'} "
        f"(power {reference['power']:.4f}, MC SE {reference['mc_se']:.4f})"
    )
    if not same:
        for label, r in results.items():
            print(f"  {label}: power {r['power']:.4f}", file=sys.stderr)
        return 1

    if args.full:
        full_courses = FULL_TRIALS * 2 * FULL_N
        with dask_client(workers=FULL_WORKERS) as client:
            run(client, k=warm_trials(FULL_WORKERS), size=FULL_N)  # warm-up, not timed
            seconds, result = timed(
                lambda: run(client, k=FULL_TRIALS, size=FULL_N),
                1,
                f"{FULL_TRIALS:,} trials, {FULL_WORKERS} workers",
            )
        verdict = "met" if seconds <= FULL_GOAL_S else "not met"
        print(
            f"{FULL_TRIALS:,} trials of 2 x {FULL_N} on {FULL_WORKERS} workers: {seconds:.1f} s, "
            f"{full_courses / seconds:,.0f} patient-courses/s "
            f"(goal <= {FULL_GOAL_S / 60:.0f} min: {verdict}; power {result.power:.4f}, "
            f"MC SE {result.mc_se:.4f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
