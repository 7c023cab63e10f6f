"""Benchmark: the CDISC round trip on a registry-sized trial.

Times, in one run and on the same synthetic trial (bench/adjudicate.py's generator, with
bench/analyze.py's covariates and adverse events):

- ``import_sdtm`` of SDTM CSV domains (DM, DS, LB with as many other tests as platelet
  counts, AE) against ``load_dataset`` of the native tables it writes: the importer maps
  every domain and then runs the whole native loader, so the ratio is its own cost;
- ``adam_datasets`` + ``write_adam`` (XPORT v5) against ``adjudicate``, which it runs
  inside: the ratio is the cost of deriving and writing ADSL, ADRS, ADTTE and ADLB.

::

    python bench/cdisc.py [--subjects 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from adjudicate import generate
from analyze import add_covariates_and_safety
from itptrial import adjudicate, load_dataset, load_protocol
from itptrial.adam import adam_datasets, write_adam
from itptrial.data.sdtm import import_sdtm

STUDY = "BENCH01"


def write_sdtm(native: Path, sdtm: Path) -> None:
    """The native tables as SDTM domains (the mapping of docs/sdtm.md, backwards)."""
    sdtm.mkdir()
    subjects = pl.read_csv(native / "subjects.csv", infer_schema=False)
    subjects.select(
        pl.lit(STUDY).alias("STUDYID"),
        pl.col("subject_id").alias("USUBJID"),
        pl.col("site_id").alias("SITEID"),
        pl.col("arm").alias("ARMCD"),
        pl.col("randomization_date").alias("RFSTDTC"),
        (pl.col("treatment_start_date") + pl.lit("T08:00")).alias("RFXSTDTC"),
        pl.col("sex").alias("SEX"),
        pl.col("age").alias("AGE"),
        pl.lit("YEARS").alias("AGEU"),
        pl.col("stratum").alias("STRATUM"),
    ).write_csv(sdtm / "dm.csv")
    subjects.select(
        pl.col("subject_id").alias("USUBJID"),
        pl.lit("RANDOMIZED").alias("DSDECOD"),
        pl.col("randomization_date").alias("DSSTDTC"),
    ).write_csv(sdtm / "ds.csv")
    counts = pl.read_csv(native / "platelets.csv", infer_schema=False)
    lab = [
        counts.select(
            pl.col("subject_id").alias("USUBJID"),
            pl.lit(code).alias("LBTESTCD"),
            pl.col("date").alias("LBDTC"),
            pl.col("count").alias("LBSTRESN"),
            pl.lit(unit).alias("LBSTRESU"),
        )
        for code, unit in (("PLAT", "10^9/L"), ("HGB", "g/L"))
    ]
    pl.concat(lab).write_csv(sdtm / "lb.csv")
    events = pl.read_csv(native / "adverse_events.csv", infer_schema=False)
    events.select(
        pl.col("subject_id").alias("USUBJID"),
        pl.col("term").alias("AEDECOD"),
        pl.col("start_date").alias("AESTDTC"),
        pl.col("ctcae_grade").alias("AETOXGR"),
        pl.col("serious").replace_strict({"true": "Y", "false": "N"}).alias("AESER"),
        pl.col("related")
        .replace_strict({"true": "RELATED", "false": "NOT RELATED"})
        .alias("AEREL"),
    ).write_csv(sdtm / "ae.csv")


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    protocol = load_protocol("target020")
    with tempfile.TemporaryDirectory(prefix="itptrial-bench-") as tmp:
        native, sdtm = Path(tmp) / "native", Path(tmp) / "sdtm"
        native.mkdir()
        generate(native, args.subjects)
        add_covariates_and_safety(native)
        (native / "bleeding.csv").unlink()  # SDTM has no bleeding table
        (native / "rescue.csv").unlink()
        write_sdtm(native, sdtm)
        imported = Path(tmp) / "imported"
        outputs = iter(range(10**6))

        def run_import() -> None:
            import_sdtm(sdtm, imported / str(next(outputs)))

        run_import()  # warm up, and the folder the load above reads
        load = median_seconds(lambda: load_dataset(imported / "0", protocol), args.repeats)
        importing = median_seconds(run_import, args.repeats)
        data = load_dataset(imported / "0", protocol)
        adjudication = median_seconds(lambda: adjudicate(data, protocol), args.repeats)

        def run_export() -> None:
            write_adam(adam_datasets(data, protocol), Path(tmp) / "adam" / str(next(outputs)))

        exporting = median_seconds(run_export, args.repeats)
        lb = pl.read_csv(sdtm / "lb.csv", infer_schema=False).height
    print(f"subjects: {args.subjects:,}  LB records: {lb:,}  repeats: {args.repeats}")
    print(f"load_dataset of the imported tables: median {load:7.3f} s")
    print(f"import_sdtm (SDTM CSV -> native):     median {importing:7.3f} s")
    print(f"ratio:                                 {importing / load:7.1f}")
    print(f"adjudicate:                           median {adjudication:7.3f} s")
    print(f"adam_datasets + write_adam (XPORT):   median {exporting:7.3f} s")
    print(f"ratio:                                 {exporting / adjudication:7.1f}")


if __name__ == "__main__":
    main()
