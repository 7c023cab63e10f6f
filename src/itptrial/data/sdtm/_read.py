"""Reading the SDTM domain files of a folder into text frames.

CSV files go through the native reader (:func:`itptrial.data._read.read_csv_table`), so a
ragged line or invalid UTF-8 is reported exactly as in a native table; SAS XPORT files
are read with pyreadstat. Every frame has upper-case variable names, every value as
trimmed text, missing values (empty, or one of the mapping's ``[missing] values`` such as
R's ``NA``) as null, and the file line of each record in ``__line`` (header = line 1;
for ``.xpt``, row number + 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyreadstat

from itptrial._errors import Problem
from itptrial.data._paths import unreadable
from itptrial.data._read import LINE, as_text, duplicate_header_problem, read_csv_table
from itptrial.data.sdtm._mapping import DOMAINS, REQUIRED_DOMAINS

FORMATS = (".xpt", ".csv")


@dataclass
class Domains:
    """The domain frames read, the problems found, and what was not read (and why)."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)  # file names of other domains
    skipped: list[str] = field(default_factory=list)  # domains the mapping skips


def read_domains(folder: Path, skip: Sequence[str], missing: Sequence[str]) -> Domains:
    """The DM, DS, LB, CM, AE, EX and PC files of ``folder`` (any case of the name)."""
    found = Domains()
    if not folder.is_dir():
        found.problems.append(Problem(str(folder), None, None, "no such SDTM folder"))
        return found
    candidates: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        domain = path.stem.upper()
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        if path.suffix.lower() not in FORMATS:
            if domain in DOMAINS and domain not in skip:  # e.g. ae.sas7bdat: never unseen
                message = (
                    f"{path.name} is not read: only SAS XPORT (.xpt) and CSV (.csv) files are; "
                    f"write it as {domain.lower()}.xpt or {domain.lower()}.csv"
                )
                found.problems.append(Problem(domain, None, None, message))
            else:
                found.not_read.append(path.name + ("/" if path.is_dir() else ""))
            continue
        if domain not in DOMAINS:
            found.not_read.append(path.name)
        elif domain in skip:
            found.skipped.append(path.name)
        else:
            candidates.setdefault(domain, []).append(path)
    for domain in REQUIRED_DOMAINS:
        if domain not in candidates:
            message = f"missing required domain ({domain.lower()}.xpt or {domain.lower()}.csv)"
            found.problems.append(Problem(domain, None, None, message))
    for domain, paths in candidates.items():
        if len(paths) > 1:
            listed = ", ".join(p.name for p in paths)
            found.problems.append(
                Problem(domain, None, None, f"several files ({listed}); keep one")
            )
            continue
        frame, problems = _read_domain(domain, paths[0], missing)
        found.problems += problems
        if frame is not None:
            found.frames[domain] = frame
            found.files[domain] = paths[0]
    return found


def _read_domain(
    domain: str, path: Path, missing: Sequence[str]
) -> tuple[pl.DataFrame | None, list[Problem]]:
    why = unreadable(path)
    if why is not None:
        return None, [Problem(domain, None, None, f"{path.name} exists but {why}")]
    if path.suffix.lower() == ".csv":
        duplicate = duplicate_header_problem(domain, path, fold_case=True, what="variable")
        if duplicate is not None:
            return None, [duplicate]
        frame, problems, _ = read_csv_table(domain, path)
    else:
        frame, problems = _read_xpt(domain, path)
    if frame is None:
        return None, problems
    return _normalized(frame, missing), problems


def _read_xpt(domain: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    """All values as text (dates ISO 8601, whole numbers without ``.0``); LINE = row + 1."""
    try:
        data, _ = pyreadstat.read_xport(str(path))
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        return None, [Problem(domain, None, None, f"cannot read {path.name}: {exc}")]
    upper = [str(c).strip().upper() for c in data.columns]
    twice = sorted({name for name in upper if upper.count(name) > 1})
    if twice:
        message = "variable appears twice in the header (names are case-insensitive)"
        return None, [Problem(domain, 1, twice[0], message)]
    frame = pl.from_pandas(data).with_columns(
        pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        _whole_numbers_as_integers(pl.col(pl.Float64)),
    )
    lines = pl.int_range(2, frame.height + 2, dtype=pl.Int64, eager=True)
    return as_text(frame).with_columns(lines.alias(LINE)), []


def _whole_numbers_as_integers(value: pl.Expr) -> pl.Expr:
    """XPORT numbers are floats: 101.0 is written 101, so that numeric codes (SITEID) and
    grades read back as they were meant."""
    whole = (value == value.floor()) & (value.abs() < 1e15)
    return (
        pl.when(whole).then(value.cast(pl.Int64).cast(pl.String)).otherwise(value.cast(pl.String))
    )


def _normalized(frame: pl.DataFrame, missing: Sequence[str]) -> pl.DataFrame:
    frame = frame.rename({c: c.strip().upper() for c in frame.columns if c != LINE})
    values = [c for c in frame.columns if c != LINE]
    missing_values = list(missing)
    return frame.with_columns(
        pl.when((s == "") | s.is_in(missing_values)).then(None).otherwise(s).alias(name)
        for name, s in ((c, pl.col(c).str.strip_chars()) for c in values)
    )
