"""Benchmark: `itptrial analyze` on a 10,000-subject trial (goal: under 30 s, report < 5 MB).

Times, in one run, the whole analysis (loading, adjudication, every statistic, the
report and its figures, written to disk) against a plain polars read of the same CSV
files, and prints the report's size::

    python bench/analyze.py [--subjects 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from adjudicate import generate, plain_read
from itptrial import load_dataset, load_protocol
from itptrial.analysis import analyze
from itptrial.report import write_analysis

TERMS = ("headache", "insomnia", "hyperglycaemia", "tremor", "infection", "hypertension")


def add_covariates_and_safety(folder: Path, seed: int = 7) -> None:
    """Age, sex and stratum on subjects, and about 1.5 adverse events per subject."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    subjects = pl.read_csv(folder / "subjects.csv", infer_schema=False)
    n = subjects.height
    subjects.with_columns(
        pl.Series("age", rng.integers(18, 85, n)),
        pl.Series("sex", np.where(rng.random(n) < 0.6, "F", "M")),
        pl.Series("stratum", np.where(rng.random(n) < 0.5, "plt<10", "plt>=10")),
    ).write_csv(folder / "subjects.csv")
    events = rng.poisson(1.5, n)
    owners = np.repeat(np.arange(n), events)
    starts = subjects.get_column("randomization_date").str.to_date().to_numpy()[owners]
    pl.DataFrame(
        {
            "subject_id": subjects.get_column("subject_id").to_numpy()[owners],
            "term": rng.choice(TERMS, len(owners)),
            "start_date": (
                starts + rng.integers(1, 150, len(owners)).astype("timedelta64[D]")
            ).astype(str),
            "ctcae_grade": rng.choice([1, 2, 3, 4], len(owners), p=[0.6, 0.3, 0.08, 0.02]),
            "serious": np.where(rng.random(len(owners)) < 0.05, "true", "false"),
            "related": np.where(rng.random(len(owners)) < 0.4, "true", "false"),
        }
    ).write_csv(folder / "adverse_events.csv")


def analyze_run(folder: Path, out: Path) -> None:
    protocol = load_protocol("target020")
    write_analysis(analyze(load_dataset(folder, protocol), protocol), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="itptrial-bench-") as tmp:
        folder, out = Path(tmp) / "data", Path(tmp) / "out"
        folder.mkdir()
        generate(folder, args.subjects)
        add_covariates_and_safety(folder)
        plain_read(folder)
        plain, ours = [], []
        for _ in range(args.repeats):
            began = time.perf_counter()
            plain_read(folder)
            plain.append(time.perf_counter() - began)
            began = time.perf_counter()
            analyze_run(folder, out)
            ours.append(time.perf_counter() - began)
        size = (out / "report.html").stat().st_size
    print(f"subjects: {args.subjects:,}  repeats: {args.repeats}  polars {pl.__version__}")
    print(f"plain polars read_csv:        median {statistics.median(plain):7.3f} s")
    print(f"itptrial analyze (all files): median {statistics.median(ours):7.3f} s (goal < 30 s)")
    print(
        f"ratio:                        {statistics.median(ours) / statistics.median(plain):7.1f}"
    )
    print(f"report.html size:             {size / 1e6:7.2f} MB (goal < 5 MB)")


if __name__ == "__main__":
    main()
