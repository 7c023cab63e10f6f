"""Import CDISC SDTM domains into the native dataset schema (docs/sdtm.md).

:func:`import_sdtm` reads DM and LB (required) and DS, CM, AE, EX, PC (optional) from a
folder of SAS XPORT (``.xpt``) or CSV files, maps them onto the tables of docs/data.md
and writes a native CSV dataset folder atomically. Every problem is collected and
reported as ``DOMAIN:line:VARIABLE: message`` (line = file line with the header as line 1;
for ``.xpt``, row number + 1); nothing is written when there is any.

Variable names are those of the SDTM Implementation Guide (SDTMIG v3.x). Only records
that are imported are checked: a partial date on a non-rescue CM record or on a lab
test other than PLAT is no error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyreadstat

from itptrial._errors import InputError, Problem
from itptrial.data._dataset import dataset_from_frames
from itptrial.data._paths import unreadable
from itptrial.data._schema import DATE_COLUMN, DTYPES, TABLES
from itptrial.data._write import write_dataset

__all__ = ["ImportSummary", "import_sdtm"]

DOMAINS = ("DM", "DS", "LB", "CM", "AE", "EX", "PC")
REQUIRED_DOMAINS = ("DM", "LB")
OUTPUT_TABLES = ("subjects", "platelets", "rescue", "adverse_events", "doses", "drug_levels")

# DM.ARMCD values of subjects who were never randomized (SDTMIG 3.1/3.2); SDTMIG 3.3+
# leaves ARMCD empty instead and gives the reason in ARMNRS.
NOT_RANDOMIZED = {
    "SCRNFAIL": ("screen failure", "screen failures"),
    "NOTASSGN": ("subject not assigned to an arm", "subjects not assigned to an arm"),
}
PLATELET_UNITS = ("10^9/L", "GI/L", "x10^9/L", "10*9/L")
LEVEL_UNITS = ("ng/mL", "ug/L", "µg/L")  # 1 µg/L = 1 ng/mL: same unit, no conversion
DOSES_PER_DAY = {
    "QD": 1,
    "ONCE": 1,
    "Q24H": 1,
    "BID": 2,
    "Q12H": 2,
    "TID": 3,
    "Q8H": 3,
    "QID": 4,
    "Q6H": 4,
}
RELATED = {
    "RELATED": True,
    "POSSIBLY RELATED": True,
    "PROBABLY RELATED": True,
    "DEFINITELY RELATED": True,
    "POSSIBLE": True,
    "PROBABLE": True,
    "DEFINITE": True,
    "Y": True,
    "YES": True,
    "NOT RELATED": False,
    "UNLIKELY RELATED": False,
    "UNRELATED": False,
    "UNLIKELY": False,
    "N": False,
    "NO": False,
}
SERIOUS = {"Y": True, "N": False}
SEXES = {"M": "M", "F": "F", "U": None, "UNDIFFERENTIATED": None}

BLEEDING_NOTE = (
    "no bleeding table: WHO bleeding grade has no standard SDTM variable; add bleeding.csv "
    "to the output folder yourself (a later import-sdtm into the same folder keeps it)"
)

# The file line of each SDTM record (header = 1; .xpt: row number + 1), and the
# provenance of every native record: the domain and line it came from.
LINE = "__line"
WHERE = "__where"
NATIVE_TYPES = DTYPES

# Native column -> SDTM variable, to report checks of the written tables in SDTM terms.
SDTM_VARIABLE = {
    "subjects": {
        "subject_id": "USUBJID",
        "site_id": "SITEID",
        "arm": "ARMCD",
        "age": "AGE",
        "sex": "SEX",
        "stratum": "STRATUM",
        "last_contact_date": "RFPENDTC",
    },
    "platelets": {"subject_id": "USUBJID", "date": "LBDTC", "count": "LBSTRESN"},
    "rescue": {"subject_id": "USUBJID", "start_date": "CMSTDTC", "treatment": "CMTRT"},
    "adverse_events": {
        "subject_id": "USUBJID",
        "term": "AEDECOD",
        "start_date": "AESTDTC",
        "ctcae_grade": "AETOXGR",
        "serious": "AESER",
        "related": "AEREL",
    },
    "doses": {"subject_id": "USUBJID", "date": "EXSTDTC", "drug": "EXTRT", "dose_mg": "EXDOSE"},
    "drug_levels": {
        "subject_id": "USUBJID",
        "date": "PCDTC",
        "drug": "PCTEST",
        "trough_ng_ml": "PCSTRESN",
    },
}

_FULL_DTC = r"^\d{4}-\d{2}-\d{2}(T.*)?$"  # a complete date, any (or no) time part
_PARTIAL_DTC = r"^\d{4}(-(\d{2}|-)(-(\d{2})?)?)?$"  # 2021, 2021-03, 2021---15


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_sdtm` wrote.

    ``records`` counts the records written per native table; ``notes`` says what was
    skipped or assumed; ``warnings`` are the loader's warnings about the written tables
    (native ``table:line:column`` coordinates of the output files).
    """

    out: Path
    records: Mapping[str, int]
    notes: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def report(self) -> str:
        counts = ", ".join(f"{name} {n}" for name, n in self.records.items())
        return "\n".join([f"wrote {self.out}: {counts}", *self.notes])


@dataclass
class _Mapped:
    """One native table built from a domain: records (+ provenance), problems, notes."""

    frame: pl.DataFrame
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    usable: bool = True  # False: required variables missing, the domain was not read


@dataclass(frozen=True)
class _Subjects:
    """USUBJIDs in DM, and those of them that were randomized."""

    in_dm: list[str]
    randomized: list[str]


def import_sdtm(
    sdtm_dir: str | Path,
    out: str | Path,
    *,
    rescue_categories: tuple[str, ...] = ("RESCUE",),
) -> ImportSummary:
    """Convert the SDTM domains in ``sdtm_dir`` into a native CSV dataset folder ``out``.

    CM records are rescue therapy when CMCAT or CMSCAT equals one of
    ``rescue_categories`` (case-insensitive). Raises :class:`InputError` listing every
    problem (``DOMAIN:line:VARIABLE``); then nothing is written.
    """
    folder = Path(sdtm_dir)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), None, None, "no such SDTM folder")])
    domains, problems, notes = _read_domains(folder)
    tables, found, mapping_notes = _map_domains(domains, rescue_categories)
    problems += found
    if problems:
        raise InputError(problems, source=str(folder))
    native = {name: frame.drop(WHERE, LINE) for name, frame in tables.items()}
    warnings = _check_native(tables, native, str(folder))
    write_dataset(native, out, command="import-sdtm")
    return ImportSummary(
        out=Path(out),
        records={name: frame.height for name, frame in native.items()},
        notes=(*notes, *mapping_notes, BLEEDING_NOTE),
        warnings=warnings,
    )


# --- reading ----------------------------------------------------------------------------


def _read_domains(folder: Path) -> tuple[dict[str, pl.DataFrame], list[Problem], list[str]]:
    """Domain name -> text frame (upper-case variable names, empty cells null, LINE)."""
    files: dict[str, list[Path]] = {}
    ignored: list[str] = []
    unreadable_domains: list[Problem] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".xpt", ".csv"):
            if path.stem.upper() not in DOMAINS:
                ignored.append(path.name)
                continue
            why = unreadable(path)
            if why is None:
                files.setdefault(path.stem.upper(), []).append(path)
            else:
                message = f"{path.name} exists but {why}"
                unreadable_domains.append(Problem(path.stem.upper(), None, None, message))
    problems = [
        Problem(
            name, None, None, f"missing required domain ({name.lower()}.xpt or {name.lower()}.csv)"
        )
        for name in REQUIRED_DOMAINS
        if name not in files and not any(p.where == name for p in unreadable_domains)
    ]
    problems += unreadable_domains
    domains: dict[str, pl.DataFrame] = {}
    for name, paths in files.items():
        if len(paths) > 1:
            listed = ", ".join(p.name for p in paths)
            problems.append(Problem(name, None, None, f"several files ({listed}); keep one"))
            continue
        frame, found = _read_domain(name, paths[0])
        problems += found
        if frame is not None:
            domains[name] = frame
    notes = [f"not imported (not a mapped domain): {', '.join(ignored)}"] if ignored else []
    return domains, problems, notes


def _read_domain(name: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    if path.suffix.lower() == ".csv":
        frame, problems = _read_csv(name, path)
    else:
        frame, problems = _read_xpt(name, path)
    if frame is None:
        return None, problems
    return frame.with_columns(
        pl.when(s == "").then(None).otherwise(s).name.keep()
        for s in (pl.col(c).str.strip_chars() for c in frame.columns if c != LINE)
    ), problems


def _read_csv(name: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    """All values as text; LINE is the line each record starts on (header = 1)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return None, [Problem(name, line, None, f"not valid UTF-8 ({path.name})")]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        return None, [Problem(name, 1, None, f"empty file: no header row ({path.name})")]
    problems = _header_problems(name, header)
    records: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    for record in reader:
        if record and len(record) != len(header):
            message = f"expected {len(header)} fields as in the header, found {len(record)}"
            problems.append(Problem(name, start, None, message))
        elif record:  # a blank line is no record
            records.append(record)
            lines.append(start)
        start = reader.line_num + 1
    if problems:
        return None, problems
    columns = [h.strip().upper() for h in header]
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String), orient="row")
    return frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64)), []


def _read_xpt(name: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    """All values as text (numbers as written by polars, e.g. 150.0); LINE = row + 1."""
    try:
        data, _ = pyreadstat.read_xport(str(path))
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        return None, [Problem(name, None, None, f"cannot read {path.name}: {exc}")]
    problems = _header_problems(name, [str(c) for c in data.columns])
    if problems:
        return None, problems
    frame = pl.from_pandas(data).with_columns(
        pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        _whole_numbers_as_integers(pl.col(pl.Float64)),
    )
    frame = frame.select(pl.all().cast(pl.String).name.to_uppercase())
    lines = pl.int_range(2, frame.height + 2, dtype=pl.Int64, eager=True)
    return frame.with_columns(lines.alias(LINE)), []


def _whole_numbers_as_integers(value: pl.Expr) -> pl.Expr:
    """XPORT numbers are floats: write 101.0 as 101 so numeric codes (SITEID) read back."""
    whole = (value == value.floor()) & (value.abs() < 1e15)
    return (
        pl.when(whole).then(value.cast(pl.Int64).cast(pl.String)).otherwise(value.cast(pl.String))
    )


def _header_problems(name: str, header: Sequence[str]) -> list[Problem]:
    upper = [h.strip().upper() for h in header]
    twice = sorted({u for u in upper if upper.count(u) > 1})
    message = "variable appears twice in the header (names are case-insensitive)"
    return [Problem(name, 1, u, message) for u in twice]


# --- cell checks: each returns an expression that is the error message, or null ---------


def _quoted(column: str) -> pl.Expr:
    return pl.lit("'") + pl.col(column) + pl.lit("'")


def _no_error() -> pl.Expr:
    return pl.lit(None, dtype=pl.String)


def _empty(column: str, required: bool) -> pl.Expr:
    return pl.lit(f"empty {column}" if required else None, dtype=pl.String)


def _dtc_date(column: str) -> pl.Expr:
    """The calendar date of an ISO 8601 --DTC value (its date part), null if incomplete."""
    raw = pl.col(column)
    date = raw.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return pl.when(raw.str.contains(_FULL_DTC)).then(date)


def _dtc_error(column: str, required: bool = True) -> pl.Expr:
    raw = pl.col(column)
    return (
        pl.when(raw.is_null())
        .then(_empty(column, required))
        .when(_dtc_date(column).is_not_null())
        .then(_no_error())
        .when(raw.str.contains(_PARTIAL_DTC))
        .then(
            pl.lit("partial date ")
            + _quoted(column)
            + pl.lit(": a complete date YYYY-MM-DD is needed")
        )
        .otherwise(
            pl.lit("unparseable date ")
            + _quoted(column)
            + pl.lit(" (expected ISO 8601 YYYY-MM-DD or YYYY-MM-DDThh:mm)")
        )
    )


def _number(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64, strict=False)


def _number_error(column: str, table: str, native: str, required: bool = True) -> pl.Expr:
    """Not a finite number, not whole (for integer columns), or outside the schema bounds."""
    spec = next(c for c in TABLES[table].columns if c.name == native)
    value = _number(column)
    expr = (
        pl.when(pl.col(column).is_null())
        .then(_empty(column, required))
        .when(value.is_null())
        .then(pl.lit("not a number ") + _quoted(column))
        .when(~value.is_finite())
        .then(pl.lit("non-finite number ") + _quoted(column))
    )
    if spec.kind == "integer":
        expr = expr.when(value != value.floor()).then(
            pl.lit("not a whole number ") + _quoted(column)
        )
    if spec.low is not None:
        expr = expr.when(value < spec.low).then(
            pl.lit(f"{column} below {spec.low:g} (") + pl.col(column) + pl.lit(")")
        )
    if spec.high is not None:
        expr = expr.when(value > spec.high).then(
            pl.lit(f"{column} above {spec.high:g} (") + pl.col(column) + pl.lit(")")
        )
    return expr.otherwise(_no_error())


def _text_error(column: str) -> pl.Expr:
    return pl.when(pl.col(column).is_null()).then(_empty(column, True))


def _code(column: str) -> pl.Expr:
    """A controlled-terminology value, compared case-insensitively."""
    return pl.col(column).str.to_uppercase()


def _choice_error(
    column: str, allowed: Collection[str], expected: str, required: bool = True
) -> pl.Expr:
    return (
        pl.when(pl.col(column).is_null())
        .then(_empty(column, required))
        .when(~_code(column).is_in(list(allowed)))
        .then(pl.lit(f"expected {expected}, found ") + _quoted(column))
        .otherwise(_no_error())
    )


def _unit_error(column: str, accepted: Sequence[str], what: str) -> pl.Expr:
    normalized = pl.col(column).str.replace_all(" ", "").str.to_lowercase()
    return (
        pl.when(pl.col(column).is_null())
        .then(_empty(column, True))
        .when(~normalized.is_in([u.lower() for u in accepted]))
        .then(
            pl.lit("unit ")
            + _quoted(column)
            + pl.lit(f" is not {what} (accepted: {', '.join(accepted)})")
        )
        .otherwise(_no_error())
    )


def _check(
    domain: str, frame: pl.DataFrame, checks: Mapping[str, pl.Expr]
) -> tuple[pl.DataFrame, list[Problem]]:
    """The records that pass every check, and a problem for each failing cell."""
    found = frame.with_columns(expr.alias(f"__error_{c}") for c, expr in checks.items())
    problems: list[Problem] = []
    for column in checks:
        failing = found.filter(pl.col(f"__error_{column}").is_not_null())
        problems += [
            Problem(domain, line, column, message)
            for line, message in failing.select(LINE, f"__error_{column}").iter_rows()
        ]
    ok = pl.all_horizontal(pl.col(f"__error_{c}").is_null() for c in checks)
    return found.filter(ok).drop(f"__error_{c}" for c in checks), problems


def _missing_columns(domain: str, frame: pl.DataFrame, required: Sequence[str]) -> list[Problem]:
    return [
        Problem(domain, 1, c, "missing required variable")
        for c in required
        if c not in frame.columns
    ]


def _one_of(domain: str, frame: pl.DataFrame, names: Sequence[str]) -> tuple[str, list[Problem]]:
    """The first of ``names`` present in the domain (e.g. AEDECOD, else AETERM)."""
    present = [n for n in names if n in frame.columns]
    if present:
        return present[0], []
    message = f"missing required variable ({' or '.join(names)})"
    return names[0], [Problem(domain, 1, names[0], message)]


def _with_optional(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    absent = [n for n in names if n not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in absent)


def _later_repeats(frame: pl.DataFrame, key: Sequence[str], value: str) -> pl.DataFrame:
    """Records after the first of their ``key`` group with a different ``value``.

    Adds ``__first_line`` and ``__first_value`` (the group's first record).
    """
    distinct = frame.sort(LINE).unique([*key, value], keep="first", maintain_order=True)
    return distinct.with_columns(
        pl.col(LINE).first().over(key).alias("__first_line"),
        pl.col(value).first().over(key).alias("__first_value"),
    ).filter(pl.col(LINE) != pl.col("__first_line"))


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _provenance(domain: str) -> list[pl.Expr]:
    return [pl.lit(domain).alias(WHERE), pl.col(LINE)]


def _empty_table(name: str) -> pl.DataFrame:
    schema = {c.name: NATIVE_TYPES[c.kind] for c in TABLES[name].columns}
    return pl.DataFrame(schema={**schema, WHERE: pl.String, LINE: pl.Int64})


# --- subjects: which records belong to randomized subjects -------------------------------


def _own_records(
    domain: str, frame: pl.DataFrame, subjects: _Subjects | None
) -> tuple[pl.DataFrame, list[Problem], list[str]]:
    """Records of randomized subjects; USUBJIDs not in DM are errors; others are skipped."""
    if subjects is None:  # DM unusable: its problems are reported already
        return frame, [], []
    usubjid = pl.col("USUBJID")
    unknown = (
        pl.when(usubjid.is_null())
        .then(_empty("USUBJID", True))
        .when(~usubjid.is_in(subjects.in_dm))
        .then(pl.lit("USUBJID ") + _quoted("USUBJID") + pl.lit(" is not in DM"))
        .otherwise(_no_error())
    )
    _, problems = _check(domain, frame, {"USUBJID": unknown})
    randomized = usubjid.is_in(subjects.randomized).fill_null(False)
    skipped = frame.filter(~randomized & usubjid.is_in(subjects.in_dm).fill_null(False)).height
    notes = (
        [f"{domain}: skipped {_plural(skipped, 'record')} of subjects who were not randomized"]
        if skipped
        else []
    )
    return frame.filter(randomized), problems, notes


# --- DM -----------------------------------------------------------------------------------


def _map_dm(dm: pl.DataFrame, has_ds: bool) -> tuple[_Mapped, _Subjects | None]:
    """DM -> subjects (randomization and treatment start are completed later).

    Subjects with ARMCD SCRNFAIL, NOTASSGN or empty were not randomized: they are skipped.
    """
    required = ["USUBJID", "SITEID", "ARMCD", *([] if has_ds else ["RFSTDTC"])]
    problems = _missing_columns("DM", dm, required)
    if problems:
        return _Mapped(_empty_table("subjects"), problems), None
    has_ageu = "AGEU" in dm.columns
    dm = _with_optional(dm, "SEX", "AGE", "AGEU", "RFSTDTC", "RFXSTDTC", "RFPENDTC", "STRATUM")
    problems = _dm_id_problems(dm)
    arm = _code("ARMCD")
    randomized = (arm.is_not_null() & ~arm.is_in(list(NOT_RANDOMIZED))).fill_null(False)
    notes = _not_randomized_notes(dm.filter(~randomized))
    checks = {
        "SITEID": _text_error("SITEID"),
        "SEX": _choice_error("SEX", SEXES, "M, F, U or empty", required=False),
        "AGE": _number_error("AGE", "subjects", "age", required=False),
        "RFXSTDTC": _dtc_error("RFXSTDTC", required=False),
        "RFPENDTC": _dtc_error("RFPENDTC", required=False),
    }
    if has_ageu:
        checks["AGEU"] = pl.when(
            pl.col("AGE").is_not_null() & (_code("AGEU").ne_missing("YEARS"))
        ).then(
            pl.lit("age unit must be YEARS, found '") + pl.col("AGEU").fill_null("") + pl.lit("'")
        )
    if not has_ds:
        checks["RFSTDTC"] = _dtc_error("RFSTDTC")
    ok, found = _check("DM", dm.filter(randomized), checks)
    frame = ok.select(
        pl.col("USUBJID").alias("subject_id"),
        pl.col("SITEID").alias("site_id"),
        pl.col("ARMCD").alias("arm"),
        _dtc_date("RFSTDTC").alias("__rfstdtc"),
        _dtc_date("RFXSTDTC").alias("__rfxstdtc"),
        pl.col("STRATUM").alias("stratum"),
        _code("SEX").replace_strict(SEXES, default=None, return_dtype=pl.String).alias("sex"),
        _number("AGE").alias("age"),
        _dtc_date("RFPENDTC").alias("last_contact_date"),
        *_provenance("DM"),
    )
    ids = dm.get_column("USUBJID").drop_nulls()
    subjects = _Subjects(ids.to_list(), dm.filter(randomized)["USUBJID"].drop_nulls().to_list())
    return _Mapped(frame, problems + found, notes), subjects


def _dm_id_problems(dm: pl.DataFrame) -> list[Problem]:
    _, problems = _check("DM", dm, {"USUBJID": _text_error("USUBJID")})
    repeats = _later_repeats(dm.filter(pl.col("USUBJID").is_not_null()), ["USUBJID"], LINE)
    return problems + [
        Problem("DM", line, "USUBJID", f"duplicate USUBJID '{sid}' (first at line {first})")
        for line, sid, first in repeats.select(LINE, "USUBJID", "__first_line").iter_rows()
    ]


def _not_randomized_notes(skipped: pl.DataFrame) -> list[str]:
    notes = []
    for code, (one, many) in NOT_RANDOMIZED.items():
        n = skipped.filter(_code("ARMCD") == code).height
        if n:
            notes.append(f"skipped {_plural(n, one, many)} (ARMCD {code})")
    n = skipped.filter(pl.col("ARMCD").is_null()).height
    if n:
        notes.append(f"skipped {_plural(n, 'subject')} with empty ARMCD (not randomized)")
    return notes


# --- DS: randomization date ---------------------------------------------------------------


def _map_ds(ds: pl.DataFrame, subjects: _Subjects | None) -> _Mapped:
    """DS records with DSDECOD RANDOMIZED -> subject_id, randomization_date (DSSTDTC).

    One record per subject (``__ds_line``); an invalid DSSTDTC leaves the date null (the
    error is reported at DSSTDTC, not again as a missing record).
    """
    problems = _missing_columns("DS", ds, ["USUBJID", "DSDECOD", "DSSTDTC"])
    if problems:
        schema = {"subject_id": pl.String, "randomization_date": pl.Date, "__ds_line": pl.Int64}
        return _Mapped(pl.DataFrame(schema=schema), problems, usable=False)
    randomized = ds.filter(_code("DSDECOD") == "RANDOMIZED")
    randomized, problems, notes = _own_records("DS", randomized, subjects)
    _, found = _check("DS", randomized, {"DSSTDTC": _dtc_error("DSSTDTC")})
    frame = randomized.select(
        pl.col("USUBJID").alias("subject_id"),
        _dtc_date("DSSTDTC").alias("randomization_date"),
        pl.col(LINE),
    )
    repeats = _later_repeats(frame.drop_nulls(), ["subject_id"], "randomization_date")
    found += [
        Problem(
            "DS",
            line,
            "DSSTDTC",
            f"second randomization date {date} for subject '{sid}' (line {first} has {first_date})",
        )
        for line, sid, date, first, first_date in repeats.select(
            LINE, "subject_id", "randomization_date", "__first_line", "__first_value"
        ).iter_rows()
    ]
    first = frame.sort(pl.col("randomization_date").is_null(), LINE).unique(
        "subject_id", keep="first", maintain_order=True
    )
    return _Mapped(first.rename({LINE: "__ds_line"}), problems + found, notes)


# --- subjects: randomization date and Day 0 ------------------------------------------------


def _complete_subjects(dm: pl.DataFrame, ds: _Mapped | None, first_dose: pl.DataFrame) -> _Mapped:
    """Add randomization_date (DS, else RFSTDTC) and treatment_start_date (RFXSTDTC, else
    the earliest EX.EXSTDTC with a dose above 0)."""
    problems: list[Problem] = []
    if ds is None:
        notes = ["randomization_date is DM.RFSTDTC (no DS record with DSDECOD RANDOMIZED)"]
        frame = dm.with_columns(pl.col("__rfstdtc").alias("randomization_date"))
    else:
        notes = ["randomization_date from DS (DSDECOD RANDOMIZED, DSSTDTC)"]
        frame = dm.join(ds.frame, on="subject_id", how="left", maintain_order="left")
        missing = frame.filter(pl.col("__ds_line").is_null()) if ds.usable else frame.clear()
        problems += [
            Problem(
                "DM",
                line,
                "USUBJID",
                f"randomized subject '{sid}' (ARMCD {arm}) has no "
                "DS record with DSDECOD RANDOMIZED",
            )
            for line, sid, arm in missing.select(LINE, "subject_id", "arm").iter_rows()
        ]
    frame = frame.join(first_dose, on="subject_id", how="left", maintain_order="left")
    frame = frame.with_columns(
        pl.coalesce("__rfxstdtc", "__first_dose").alias("treatment_start_date")
    )
    problems += _treated_before_randomized(frame)
    from_ex = frame.filter(pl.col("__rfxstdtc").is_null() & pl.col("__first_dose").is_not_null())
    never = frame.filter(pl.col("treatment_start_date").is_null()).height
    if from_ex.height:
        notes.append(
            f"treatment_start_date of {_plural(from_ex.height, 'subject')} from the "
            "earliest EX.EXSTDTC (DM.RFXSTDTC empty)"
        )
    if never:
        notes.append(
            f"{_plural(never, 'randomized subject')} never exposed (no RFXSTDTC, no "
            "EX dose): empty treatment_start_date"
        )
    columns = [*TABLES["subjects"].column_names, WHERE, LINE]
    return _Mapped(frame.select(columns), problems, notes)


def _treated_before_randomized(frame: pl.DataFrame) -> list[Problem]:
    early = frame.filter(pl.col("treatment_start_date") < pl.col("randomization_date"))
    problems = []
    for row in early.iter_rows(named=True):
        from_dm = row["__rfxstdtc"] is not None
        where, line, column = (
            ("DM", row[LINE], "RFXSTDTC")
            if from_dm
            else ("EX", row["__first_dose_line"], "EXSTDTC")
        )
        message = (
            f"first exposure {row['treatment_start_date']} of subject "
            f"'{row['subject_id']}' is before its randomization date "
            f"{row['randomization_date']}"
        )
        problems.append(Problem(where, line, column, message))
    return problems


# --- LB: platelets --------------------------------------------------------------------------


def _map_lb(lb: pl.DataFrame, subjects: _Subjects | None) -> _Mapped:
    """LB records with LBTESTCD PLAT -> platelets (LBDTC date, LBSTRESN in 10^9/L)."""
    problems = _missing_columns("LB", lb, ["USUBJID", "LBTESTCD", "LBDTC", "LBSTRESN", "LBSTRESU"])
    if problems:
        return _Mapped(_empty_table("platelets"), problems)
    plat = _with_optional(lb.filter(_code("LBTESTCD") == "PLAT"), "LBSTAT")
    plat, problems, notes = _own_records("LB", plat, subjects)
    plat, skipped = _skip_not_done(plat, "LBSTAT")
    if skipped:
        notes.append(f"LB: skipped {_plural(skipped, 'PLAT record')} with LBSTAT NOT DONE")
    ok, found = _check(
        "LB",
        plat,
        {
            "LBDTC": _dtc_error("LBDTC"),
            "LBSTRESN": _number_error("LBSTRESN", "platelets", "count"),
            "LBSTRESU": _unit_error("LBSTRESU", PLATELET_UNITS, "a 10^9/L unit"),
        },
    )
    frame = ok.select(
        pl.col("USUBJID").alias("subject_id"),
        _dtc_date("LBDTC").alias("date"),
        _number("LBSTRESN").alias("count"),
        *_provenance("LB"),
    )
    return _Mapped(frame, problems + found + _platelet_conflicts(frame), notes)


def _skip_not_done(frame: pl.DataFrame, status: str) -> tuple[pl.DataFrame, int]:
    not_done = (_code(status) == "NOT DONE").fill_null(False)
    return frame.filter(~not_done), frame.filter(not_done).height


def _platelet_conflicts(platelets: pl.DataFrame) -> list[Problem]:
    """Two different counts for one subject on one day (e.g. two draws): one must go."""
    repeats = _later_repeats(platelets, ["subject_id", "date"], "count")
    return [
        Problem(
            "LB",
            line,
            "LBSTRESN",
            f"platelet count {count:g} of subject '{sid}' on "
            f"{date} conflicts with {first:g} at line {first_line}: one count per day",
        )
        for line, sid, date, count, first_line, first in repeats.select(
            LINE, "subject_id", "date", "count", "__first_line", "__first_value"
        ).iter_rows()
    ]


# --- CM: rescue -----------------------------------------------------------------------------


def _map_cm(cm: pl.DataFrame, subjects: _Subjects | None, categories: Sequence[str]) -> _Mapped:
    """CM records whose CMCAT or CMSCAT is a rescue category -> rescue (CMSTDTC, CMTRT)."""
    problems = _missing_columns("CM", cm, ["USUBJID", "CMTRT", "CMSTDTC"])
    if problems:
        return _Mapped(_empty_table("rescue"), problems)
    notes = []
    if "CMCAT" not in cm.columns and "CMSCAT" not in cm.columns:
        notes.append("CM has neither CMCAT nor CMSCAT: no rescue records")
    cm = _with_optional(cm, "CMCAT", "CMSCAT")
    wanted = [c.upper() for c in categories]
    is_rescue = _code("CMCAT").is_in(wanted).fill_null(False) | _code("CMSCAT").is_in(
        wanted
    ).fill_null(False)
    rescue, problems, skipped_notes = _own_records("CM", cm.filter(is_rescue), subjects)
    ok, found = _check(
        "CM", rescue, {"CMTRT": _text_error("CMTRT"), "CMSTDTC": _dtc_error("CMSTDTC")}
    )
    frame = ok.select(
        pl.col("USUBJID").alias("subject_id"),
        _dtc_date("CMSTDTC").alias("start_date"),
        pl.col("CMTRT").alias("treatment"),
        *_provenance("CM"),
    )
    return _Mapped(frame, problems + found, notes + skipped_notes)


# --- AE: adverse events ---------------------------------------------------------------------


def _map_ae(ae: pl.DataFrame, subjects: _Subjects | None) -> _Mapped:
    """AE -> adverse_events: term AEDECOD (else AETERM), AESTDTC, AETOXGR, AESER, AEREL."""
    problems = _missing_columns("AE", ae, ["USUBJID", "AESTDTC", "AETOXGR", "AESER", "AEREL"])
    term_column, missing = _one_of("AE", ae, ["AEDECOD", "AETERM"])
    if problems or missing:
        return _Mapped(_empty_table("adverse_events"), problems + missing)
    ae = _with_optional(ae, "AEDECOD", "AETERM")
    ae, problems, notes = _own_records("AE", ae, subjects)
    term = pl.coalesce("AEDECOD", "AETERM")
    ok, found = _check(
        "AE",
        ae,
        {
            term_column: pl.when(term.is_null()).then(pl.lit("empty AEDECOD and AETERM")),
            "AESTDTC": _dtc_error("AESTDTC"),
            "AETOXGR": _number_error("AETOXGR", "adverse_events", "ctcae_grade"),
            "AESER": _choice_error("AESER", SERIOUS, "Y or N"),
            "AEREL": _choice_error(
                "AEREL",
                RELATED,
                "a causality such as RELATED, POSSIBLY "
                "RELATED, NOT RELATED, UNLIKELY RELATED, Y or N",
            ),
        },
    )
    frame = ok.select(
        pl.col("USUBJID").alias("subject_id"),
        term.alias("term"),
        _dtc_date("AESTDTC").alias("start_date"),
        _number("AETOXGR").cast(pl.Int64).alias("ctcae_grade"),
        _code("AESER").replace_strict(SERIOUS, return_dtype=pl.Boolean).alias("serious"),
        _code("AEREL").replace_strict(RELATED, return_dtype=pl.Boolean).alias("related"),
        *_provenance("AE"),
    )
    return _Mapped(frame, problems + found, notes)


# --- EX: doses --------------------------------------------------------------------------------


def _map_ex(ex: pl.DataFrame, subjects: _Subjects | None) -> tuple[_Mapped, pl.DataFrame]:
    """EX -> doses (one record per drug and calendar day, daily total in mg), and each
    subject's first day with a dose above 0 (``__first_dose``, ``__first_dose_line``)."""
    problems = _missing_columns("EX", ex, ["USUBJID", "EXTRT", "EXDOSE", "EXDOSU", "EXSTDTC"])
    if problems:
        return _Mapped(_empty_table("doses"), problems), _no_first_dose()
    ex = _with_optional(ex, "EXENDTC", "EXDOSFRQ")
    ex, problems, notes = _own_records("EX", ex, subjects)
    ok, found = _check(
        "EX",
        ex,
        {
            "EXTRT": _text_error("EXTRT"),
            "EXDOSE": _number_error("EXDOSE", "doses", "dose_mg"),
            "EXDOSU": _unit_error("EXDOSU", ["mg"], "mg"),
            "EXDOSFRQ": _choice_error(
                "EXDOSFRQ",
                DOSES_PER_DAY,
                f"one of {', '.join(DOSES_PER_DAY)} or empty",
                required=False,
            ),
            "EXSTDTC": _dtc_error("EXSTDTC"),
            "EXENDTC": _end_error("EXENDTC", "EXSTDTC"),
        },
    )
    per_day = _code("EXDOSFRQ").replace_strict(DOSES_PER_DAY, default=1, return_dtype=pl.Int64)
    records = ok.select(
        pl.col("USUBJID").alias("subject_id"),
        pl.col("EXTRT").str.to_lowercase().alias("drug"),
        _dtc_date("EXSTDTC").alias("start"),
        pl.coalesce(_dtc_date("EXENDTC"), _dtc_date("EXSTDTC")).alias("end"),
        _number("EXDOSE").alias("dose"),
        (_number("EXDOSE") * per_day).alias("daily_mg"),
        pl.col(LINE),
    )
    first_dose = (
        records.filter(pl.col("dose") > 0)
        .sort("start", LINE)
        .unique("subject_id", keep="first", maintain_order=True)
        .select(
            "subject_id",
            pl.col("start").alias("__first_dose"),
            pl.col(LINE).alias("__first_dose_line"),
        )
    )
    return _Mapped(_daily_doses(records), problems + found, notes), first_dose


def _end_error(end: str, start: str) -> pl.Expr:
    return (
        pl.when(_dtc_error(end, required=False).is_not_null())
        .then(_dtc_error(end, False))
        .when(_dtc_date(end) < _dtc_date(start))
        .then(pl.lit(f"{end} ") + pl.col(end) + pl.lit(f" is before {start} ") + pl.col(start))
        .otherwise(_no_error())
    )


def _daily_doses(records: pl.DataFrame) -> pl.DataFrame:
    """One record per calendar day of each EX record; records on one day and drug add up."""
    days = records.with_columns(pl.date_ranges("start", "end", "1d").alias("date")).explode("date")
    totals = days.group_by("subject_id", "date", "drug", maintain_order=True).agg(
        pl.col("daily_mg").sum().alias("dose_mg"), pl.col(LINE).min()
    )
    return totals.sort(LINE, "date").select(
        "subject_id", "date", "drug", "dose_mg", pl.lit("EX").alias(WHERE), LINE
    )


# --- PC: drug levels ----------------------------------------------------------------------------


def _map_pc(pc: pl.DataFrame, subjects: _Subjects | None) -> _Mapped:
    """PC -> drug_levels: drug PCTEST (else PCTESTCD) lower-cased, PCDTC, PCSTRESN in ng/mL."""
    problems = _missing_columns("PC", pc, ["USUBJID", "PCDTC", "PCSTRESN", "PCSTRESU"])
    drug_column, missing = _one_of("PC", pc, ["PCTEST", "PCTESTCD"])
    if problems or missing:
        return _Mapped(_empty_table("drug_levels"), problems + missing)
    pc = _with_optional(pc, "PCTEST", "PCTESTCD", "PCSTAT")
    pc, problems, notes = _own_records("PC", pc, subjects)
    pc, skipped = _skip_not_done(pc, "PCSTAT")
    if skipped:
        notes.append(f"PC: skipped {_plural(skipped, 'record')} with PCSTAT NOT DONE")
    drug = pl.coalesce("PCTEST", "PCTESTCD")
    ok, found = _check(
        "PC",
        pc,
        {
            drug_column: pl.when(drug.is_null()).then(pl.lit("empty PCTEST and PCTESTCD")),
            "PCDTC": _dtc_error("PCDTC"),
            "PCSTRESN": _number_error("PCSTRESN", "drug_levels", "trough_ng_ml"),
            "PCSTRESU": _unit_error("PCSTRESU", LEVEL_UNITS, "ng/mL"),
        },
    )
    frame = ok.select(
        pl.col("USUBJID").alias("subject_id"),
        _dtc_date("PCDTC").alias("date"),
        drug.str.to_lowercase().alias("drug"),
        _number("PCSTRESN").alias("trough_ng_ml"),
        *_provenance("PC"),
    )
    return _Mapped(frame, problems + found, notes)


# --- putting it together ------------------------------------------------------------------------


def _map_domains(
    domains: Mapping[str, pl.DataFrame], rescue_categories: Sequence[str]
) -> tuple[dict[str, pl.DataFrame], list[Problem], list[str]]:
    """Every native table (with provenance columns), every problem, every note."""
    use_ds = "DS" in domains and _records_randomization(domains["DS"])
    if "DM" in domains:
        dm, subjects = _map_dm(domains["DM"], has_ds=use_ds)
    else:
        dm, subjects = _Mapped(_empty_table("subjects")), None
    ds = _map_ds(domains["DS"], subjects) if use_ds else None
    if "EX" in domains:
        doses, first_dose = _map_ex(domains["EX"], subjects)
    else:
        doses, first_dose = _Mapped(_empty_table("doses")), _no_first_dose()
    mappers: dict[str, tuple[str, Callable[[pl.DataFrame], _Mapped]]] = {
        "LB": ("platelets", lambda f: _map_lb(f, subjects)),
        "CM": ("rescue", lambda f: _map_cm(f, subjects, rescue_categories)),
        "AE": ("adverse_events", lambda f: _map_ae(f, subjects)),
        "PC": ("drug_levels", lambda f: _map_pc(f, subjects)),
    }
    mapped = {
        table: mapper(domains[name]) if name in domains else _Mapped(_empty_table(table))
        for name, (table, mapper) in mappers.items()
    }
    mapped["doses"] = doses
    mapped["subjects"] = (
        _complete_subjects(dm.frame, ds, first_dose) if subjects else _Mapped(dm.frame)
    )
    parts = [dm, *([ds] if ds else []), *(mapped[name] for name in OUTPUT_TABLES)]
    problems = [p for part in parts for p in part.problems]
    notes = [n for part in parts for n in part.notes]
    return {name: mapped[name].frame for name in OUTPUT_TABLES}, problems, notes


def _records_randomization(ds: pl.DataFrame) -> bool:
    """Whether DS records randomization at all (a DS without DSDECOD is reported by _map_ds).

    A DS holding only other dispositions (consent, completion) is treated like no DS.
    """
    return "DSDECOD" not in ds.columns or not ds.filter(_code("DSDECOD") == "RANDOMIZED").is_empty()


def _no_first_dose() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"subject_id": pl.String, "__first_dose": pl.Date, "__first_dose_line": pl.Int64}
    )


def _check_native(
    tables: Mapping[str, pl.DataFrame], native: Mapping[str, pl.DataFrame], source: str
) -> tuple[Problem, ...]:
    """Run the native loader's checks on the tables about to be written.

    Its errors (e.g. a daily EX total above the schema bound) are reported at the SDTM
    record they came from; its warnings are returned as they concern the written files.
    """
    try:
        dataset = dataset_from_frames(native)
    except InputError as error:
        errors = [_in_sdtm_terms(p, tables) for p in error.problems if p.severity == "error"]
        raise InputError(list(dict.fromkeys(errors)), source) from None
    return dataset.warnings


def _in_sdtm_terms(problem: Problem, tables: Mapping[str, pl.DataFrame]) -> Problem:
    frame = tables.get(problem.where)
    if frame is None or problem.line is None or not 2 <= problem.line < frame.height + 2:
        return problem
    row = frame.row(problem.line - 2, named=True)
    column = problem.column and SDTM_VARIABLE[problem.where].get(problem.column, problem.column)
    context = f"{problem.where} record of '{row['subject_id']}'"
    if problem.where in DATE_COLUMN:
        context += f" on {row[DATE_COLUMN[problem.where]]}"
    return Problem(row[WHERE], row[LINE], column, f"{problem.message} ({context})")
