"""Benchmark: adjudicating a registry-sized dataset against a plain polars read.

Generates N subjects with 20 platelet counts each (default 100,000 -> 2M count rows,
plus bleeding and rescue records), then times, in the same run:

- baseline: ``polars.read_csv`` of the same CSV files (type inference, nothing else);
- itptrial: ``load_dataset`` (strict parsing and every data.md check) + ``adjudicate``.

Prints the median of several repeats, their ratio (goal <= 3), and the peak resident
memory of a separate process doing the itptrial run (goal < 4 GB)::

    python bench/adjudicate.py [--subjects 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from itptrial import adjudicate, load_dataset, load_protocol

COUNTS_PER_SUBJECT = 20


def generate(folder: Path, n: int, seed: int = 20211211) -> None:
    """A synthetic registry: 20 counts per subject over Day -7..194, some bleeds/rescue."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    ids = np.array([f"S{i:07d}" for i in range(n)])
    start = np.datetime64("2020-01-01") + rng.integers(0, 730, n).astype("timedelta64[D]")
    treated = rng.random(n) > 0.01
    pl.DataFrame(
        {
            "subject_id": ids,
            "site_id": np.char.add("SITE", (rng.integers(0, 50, n)).astype(str)),
            "arm": np.where(rng.random(n) < 0.5, "TAC_DXM", "DXM"),
            "randomization_date": (start - np.timedelta64(1, "D")).astype(str),
            "treatment_start_date": pl.Series(np.where(treated, start.astype(str), None)),
        }
    ).write_csv(folder / "subjects.csv")

    # 20 distinct days per subject (distinct: two counts on one date would be a conflict)
    days = np.sort(np.argsort(rng.random((n, 199)), axis=1)[:, :COUNTS_PER_SUBJECT] + 1, axis=1)
    days[:, 0] = -rng.integers(0, 8, n)  # a baseline count
    level = rng.lognormal(np.log(40), 0.9, (n, 1))
    counts = np.clip(np.round(level * rng.lognormal(0, 0.5, days.shape)), 0, 1500)
    counts[:, 0] = np.round(rng.uniform(2, 29, n))
    dates = start[:, None] + days.astype("timedelta64[D]")
    pl.DataFrame(
        {
            "subject_id": np.repeat(ids, COUNTS_PER_SUBJECT),
            "date": dates.ravel().astype(str),
            "count": counts.ravel().astype(np.int64),
        }
    ).write_csv(folder / "platelets.csv")

    bleeders = rng.random(n) < 0.3
    pl.DataFrame(
        {
            "subject_id": ids[bleeders],
            "date": (
                start[bleeders] + rng.integers(1, 60, bleeders.sum()).astype("timedelta64[D]")
            ).astype(str),
            "who_grade": rng.integers(0, 5, bleeders.sum()),
        }
    ).write_csv(folder / "bleeding.csv")
    rescued = rng.random(n) < 0.1
    pl.DataFrame(
        {
            "subject_id": ids[rescued],
            "start_date": (
                start[rescued] + rng.integers(1, 190, rescued.sum()).astype("timedelta64[D]")
            ).astype(str),
            "treatment": "IVIG",
        }
    ).write_csv(folder / "rescue.csv")


def plain_read(folder: Path) -> None:
    for path in sorted(folder.glob("*.csv")):
        pl.read_csv(path)


def itptrial_run(folder: Path) -> None:
    protocol = load_protocol("target020")
    adjudicate(load_dataset(folder, protocol), protocol)


def itptrial_load(folder: Path) -> None:
    load_dataset(folder, load_protocol("target020"))


def median_seconds(function, folder: Path, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        function(folder)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def peak_memory_gb(folder: Path) -> float:
    """Peak RSS of a fresh process doing one itptrial run (Linux ru_maxrss is in KiB)."""
    code = (
        "import sys, resource; sys.path.insert(0, 'bench');"
        "from adjudicate import itptrial_run; from pathlib import Path;"
        f"itptrial_run(Path({str(folder)!r}));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="itptrial-bench-") as tmp:
        folder = Path(tmp)
        generate(folder, args.subjects)
        rows = pl.read_csv(folder / "platelets.csv").height
        plain_read(folder)  # warm the file cache and polars before timing either side
        baseline = median_seconds(plain_read, folder, args.repeats)
        ours = median_seconds(itptrial_run, folder, args.repeats)
        loading = median_seconds(itptrial_load, folder, args.repeats)
        memory = peak_memory_gb(folder)
    print(
        f"date: {dt.date.today()}  subjects: {args.subjects:,}  platelet rows: {rows:,}  "
        f"repeats: {args.repeats}  polars {pl.__version__}"
    )
    print(f"plain polars read_csv:          median {baseline:7.3f} s")
    print(f"itptrial load + adjudicate:     median {ours:7.3f} s")
    print(f"  of which load_dataset:        median {loading:7.3f} s")
    print(f"  of which adjudicate:          ~{ours - loading:7.3f} s")
    print(f"ratio (goal <= 3):              {ours / baseline:7.2f}")
    print(f"peak memory, itptrial process:  {memory:7.2f} GB (goal < 4)")


if __name__ == "__main__":
    main()
