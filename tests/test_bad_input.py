"""Every "Bad input" rule of data.md, through the real command line.

Each rule is checked on CSV folders; a representative subset also on Parquet folders and
on a DuckDB file holding the same tables. Every rule with an SDTM counterpart is checked
again on the SDTM domains holding the same records (CSV; a subset also SAS XPORT),
through ``import-sdtm``, with the same problems said at their SDTM domain, line and
variable (see sdtm_source). For an error the command must exit 2, print the exact
``table:line:column: message`` line of every problem (all of them, together), print no
traceback, and (``adjudicate``, ``import-sdtm``) write no output. Warnings are listed
with a ``warning: `` prefix and loading goes on (exit 0).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner, Result

from itptrial.cli import app
from itptrial.data import load_dataset

from sdtm_source import NOT_IN_SDTM, sdtm_problems, to_sdtm, write_sdtm

# --- a small valid dataset, as text ------------------------------------------------

Rows = list[dict[str, str]]
Tables = dict[str, tuple[list[str], Rows]]

SUBJECT_COLUMNS = [
    "subject_id",
    "site_id",
    "arm",
    "randomization_date",
    "treatment_start_date",
    "stratum",
    "sex",
    "age",
    "last_contact_date",
]


def _rows(columns: Sequence[str], *values: Sequence[str]) -> Rows:
    return [dict(zip(columns, row, strict=True)) for row in values]


def _table(columns: Sequence[str], *values: Sequence[str]) -> tuple[list[str], Rows]:
    return list(columns), _rows(columns, *values)


BASE: Tables = {
    "subjects": _table(
        SUBJECT_COLUMNS,
        ["S1", "A", "TAC_DXM", "2021-03-01", "2021-03-03", "x", "M", "40", ""],  # line 2
        ["S2", "A", "DXM", "2021-03-01", "2021-03-03", "", "F", "", ""],  # line 3
        ["S3", "B", "DXM", "2021-03-02", "", "", "", "", ""],  # line 4: never treated
    ),
    "platelets": _table(
        ["subject_id", "date", "count"],
        ["S1", "2021-03-03", "12"],  # line 2
        ["S2", "2021-03-02", "15"],  # line 3
        ["S1", "2021-03-17", "45"],  # line 4
        ["S2", "2021-03-17", "20"],  # line 5
    ),
    "rescue": _table(["subject_id", "start_date", "treatment"], ["S2", "2021-03-20", "IVIG"]),
    "bleeding": _table(["subject_id", "date", "who_grade"], ["S1", "2021-03-03", "1"]),
    "adverse_events": _table(
        ["subject_id", "term", "start_date", "ctcae_grade", "serious", "related"],
        ["S1", "headache", "2021-03-05", "1", "false", "true"],
    ),
    "doses": _table(["subject_id", "date", "drug", "dose_mg"], ["S1", "2021-03-03", "dxm", "40"]),
    "drug_levels": _table(
        ["subject_id", "date", "drug", "trough_ng_ml"], ["S1", "2021-03-10", "tac", "4.2"]
    ),
}


def base() -> Tables:
    return copy.deepcopy(BASE)


def add(tables: Tables, name: str, **values: str) -> int:
    """Append a record (unnamed columns empty); returns its line number."""
    columns, rows = tables[name]
    unknown = set(values) - set(columns)
    assert not unknown, unknown
    rows.append({c: values.get(c, "") for c in columns})
    return len(rows) + 1


def put(tables: Tables, name: str, line: int, **values: str) -> None:
    """Overwrite cells of the record at ``line``."""
    tables[name][1][line - 2].update(values)


def drop_column(tables: Tables, name: str, column: str) -> None:
    columns, rows = tables[name]
    columns.remove(column)
    for row in rows:
        del row[column]


# --- writing the same tables as CSV, Parquet, or DuckDB ----------------------------


def write_csv(folder: Path, tables: Tables) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (columns, rows) in tables.items():
        lines = [",".join(columns)] + [",".join(row[c] for c in columns) for row in rows]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _frame(columns: list[str], rows: Rows) -> pl.DataFrame:
    """All-text frame; an empty cell is a null, as a database would hold it."""
    data = {c: [row[c] or None for row in rows] for c in columns}
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))


def write_parquet(folder: Path, tables: Tables) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (columns, rows) in tables.items():
        _frame(columns, rows).write_parquet(folder / f"{name}.parquet")
    return folder


def write_duckdb_frames(path: Path, frames: dict[str, pl.DataFrame]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    try:
        for name, frame in frames.items():
            connection.register("incoming", frame.to_arrow())
            connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
            connection.unregister("incoming")
    finally:
        connection.close()
    return path


def write_duckdb(path: Path, tables: Tables) -> Path:
    frames = {name: _frame(columns, rows) for name, (columns, rows) in tables.items()}
    return write_duckdb_frames(path, frames)


WRITERS: dict[str, Callable[[Path, Tables], Path]] = {
    "csv": lambda tmp, tables: write_csv(tmp / "data", tables),
    "parquet": lambda tmp, tables: write_parquet(tmp / "data", tables),
    "duckdb": lambda tmp, tables: write_duckdb(tmp / "trial.duckdb", tables),
}

# --- running the command line and reading what it printed ---------------------------

runner = CliRunner()


def invoke(*args: str | Path) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    # Only typer's own exit may end the command: no exception escaped.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    return result


HEADER = re.compile(r"^error: \d+ problem\(s\)( in .*)?:$")


def listed(result: Result) -> tuple[set[str], set[str]]:
    """(error lines, warning lines without their prefix) printed on stderr; a lone
    problem of an argument is one line ``error: <problem>``."""
    lines = [line for line in result.stderr.splitlines() if not HEADER.match(line)]
    errors = {line.removeprefix("error: ") for line in lines if not line.startswith("warning: ")}
    warnings = {line.removeprefix("warning: ") for line in lines if line.startswith("warning: ")}
    return errors, warnings


def assert_rejected(result: Result, expected: set[str], data: Path | None = None) -> set[str]:
    """Exit 2 with exactly the ``expected`` problem lines (all of them); returns warnings."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    errors, warnings = listed(result)
    assert errors == expected, f"\nmissing: {expected - errors}\nextra: {errors - expected}"
    lines = result.stderr.splitlines()
    only = next(iter(expected)) if len(expected) == 1 else ""
    if not warnings and only and (data is None or only.startswith(f"{data}:")):
        assert lines == [f"error: {only}"]  # a lone problem of an argument or source: one line
        return warnings
    where = f" in {data}" if data is not None else ""
    assert lines[0] == f"error: {len(expected)} problem(s){where}:"
    return warnings


def validate(data: Path, *args: str) -> Result:
    return invoke("validate", data, *args)


def adjudicate_writes_nothing(data: Path, tmp_path: Path, *args: str) -> Result:
    """``adjudicate`` on bad input: same listing as validate, and no file written."""
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / "endpoints.csv"
    result = invoke("adjudicate", data, "--out", out, *args)
    assert not out.exists()
    assert list(out_dir.iterdir()) == []  # no temporary leftovers either
    return result


def check_rejected(data: Path, tmp_path: Path, expected: set[str], *args: str) -> set[str]:
    """Both commands reject ``data`` with exactly ``expected``; returns the warnings."""
    warnings = assert_rejected(validate(data, *args), expected, data)
    assert assert_rejected(adjudicate_writes_nothing(data, tmp_path, *args), expected, data) == (
        warnings
    )
    return warnings


def test_base_dataset_is_valid_in_every_format(tmp_path: Path) -> None:
    for fmt, writer in WRITERS.items():
        data = writer(tmp_path / fmt, base())
        result = validate(data)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        assert (
            result.stdout.strip() == f"valid: {data} (3 subjects, 4 platelet counts, 0 warning(s))"
        )


# --- the error rules, one case each -------------------------------------------------
# Each rule adds its own records (own subjects, own dates), so that all of them can also
# be applied to one dataset at once without one hiding or changing another.

ARMS = "(protocol arms: TAC_DXM, DXM)"
DATE = "(expected YYYY-MM-DD)"


def subject(t: Tables, subject_id: str, **values: str) -> int:
    """Add a valid, untreated subject with some cells overridden; returns its line."""
    row = {"site_id": "A", "arm": "DXM", "randomization_date": "2021-03-01", **values}
    return add(t, "subjects", subject_id=subject_id, **row)


def count(t: Tables, subject_id: str, date: str, value: str) -> int:
    return add(t, "platelets", subject_id=subject_id, date=date, count=value)


def _missing_table(t: Tables) -> set[str]:
    del t["platelets"]
    return {"platelets:-:-: missing required table"}


def _missing_both_tables(t: Tables) -> set[str]:
    del t["platelets"], t["subjects"]
    return {"platelets:-:-: missing required table", "subjects:-:-: missing required table"}


def _missing_columns(t: Tables) -> set[str]:
    drop_column(t, "subjects", "site_id")
    drop_column(t, "platelets", "count")
    drop_column(t, "bleeding", "who_grade")
    return {
        "subjects:1:site_id: missing required column",
        "platelets:1:count: missing required column",
        "bleeding:1:who_grade: missing required column",
    }


def _empty_subject_id(t: Tables) -> set[str]:
    empty = subject(t, "")
    blank = subject(t, "  ")
    record = count(t, "", "2021-03-04", "50")
    return {
        f"subjects:{empty}:subject_id: empty subject_id",
        f"subjects:{blank}:subject_id: empty subject_id",
        f"platelets:{record}:subject_id: empty subject_id",
    }


def _duplicate_subject_id(t: Tables) -> set[str]:
    first = subject(t, "S1", site_id="B")
    second = add(t, "subjects", **BASE["subjects"][1][0])  # an identical copy of line 2
    message = "duplicate subject_id 'S1' (first at line 2)"
    return {f"subjects:{first}:subject_id: {message}", f"subjects:{second}:subject_id: {message}"}


def _orphan(t: Tables) -> set[str]:
    record = count(t, "S9", "2021-03-05", "50")
    bleed = add(t, "bleeding", subject_id="s1", date="2021-03-05", who_grade="0")  # ids: case
    return {
        f"platelets:{record}:subject_id: subject_id 'S9' is not in subjects",
        f"bleeding:{bleed}:subject_id: subject_id 's1' is not in subjects",
    }


def _unknown_arm(t: Tables) -> set[str]:
    placebo = subject(t, "U1", arm="PLACEBO")
    lower = subject(t, "U2", arm="dxm")
    empty = subject(t, "U3", arm="")
    return {
        f"subjects:{placebo}:arm: unknown arm code 'PLACEBO' {ARMS}",
        f"subjects:{lower}:arm: unknown arm code 'dxm' {ARMS}",
        f"subjects:{empty}:arm: empty arm",
    }


def _bad_dates(t: Tables) -> set[str]:
    feb30 = subject(t, "D1", randomization_date="2021-02-30")
    short = subject(t, "D2", treatment_start_date="2021-3-5")
    us = subject(t, "D3", last_contact_date="03/05/2021")
    record = count(t, "S1", "2021-13-01", "40")
    rescue = add(t, "rescue", subject_id="S2", start_date="yesterday", treatment="IVIG")
    return {
        f"subjects:{feb30}:randomization_date: unparseable date '2021-02-30' {DATE}",
        f"subjects:{short}:treatment_start_date: unparseable date '2021-3-5' {DATE}",
        f"subjects:{us}:last_contact_date: unparseable date '03/05/2021' {DATE}",
        f"platelets:{record}:date: unparseable date '2021-13-01' {DATE}",
        f"rescue:{rescue}:start_date: unparseable date 'yesterday' {DATE}",
    }


def _bad_numbers(t: Tables) -> set[str]:
    word = count(t, "S1", "2021-03-20", "abc")
    dots = count(t, "S1", "2021-03-21", "1.2.3")
    age = subject(t, "N1", age="forty")
    dose = add(t, "doses", subject_id="S1", date="2021-03-04", drug="dxm", dose_mg="ten")
    grade = add(t, "bleeding", subject_id="S1", date="2021-03-20", who_grade="two")
    return {
        f"platelets:{word}:count: unparseable number 'abc'",
        f"platelets:{dots}:count: unparseable number '1.2.3'",
        f"subjects:{age}:age: unparseable number 'forty'",
        f"doses:{dose}:dose_mg: unparseable number 'ten'",
        f"bleeding:{grade}:who_grade: unparseable integer 'two'",
    }


def _negative_or_non_finite_count(t: Tables) -> set[str]:
    values = {"2021-03-22": "-1", "2021-03-23": "inf", "2021-03-24": "nan", "2021-03-25": "-inf"}
    lines = [count(t, "S2", date, value) for date, value in values.items()]
    return {
        f"platelets:{lines[0]}:count: count below 0: '-1'",
        f"platelets:{lines[1]}:count: non-finite count 'inf'",
        f"platelets:{lines[2]}:count: non-finite count 'nan'",
        f"platelets:{lines[3]}:count: non-finite count '-inf'",
    }


def _count_above_5000(t: Tables) -> set[str]:
    count(t, "S2", "2021-03-26", "5000")  # the limit itself is fine
    half = count(t, "S2", "2021-03-27", "5000.5")
    above = count(t, "S2", "2021-03-28", "5001")
    return {
        f"platelets:{half}:count: count above 5000: '5000.5'",
        f"platelets:{above}:count: count above 5000: '5001'",
    }


def _who_grade(t: Tables) -> set[str]:
    add(t, "bleeding", subject_id="S2", date="2021-03-04", who_grade="0")  # 0 and 4 are fine
    add(t, "bleeding", subject_id="S2", date="2021-03-05", who_grade="4")
    high = add(t, "bleeding", subject_id="S2", date="2021-03-06", who_grade="5")
    low = add(t, "bleeding", subject_id="S2", date="2021-03-07", who_grade="-1")
    half = add(t, "bleeding", subject_id="S2", date="2021-03-08", who_grade="2.5")
    return {
        f"bleeding:{high}:who_grade: who_grade above 4: '5'",
        f"bleeding:{low}:who_grade: who_grade below 0: '-1'",
        f"bleeding:{half}:who_grade: not a whole number '2.5'",
    }


def _ctcae_grade(t: Tables) -> set[str]:
    event = {"subject_id": "S1", "term": "rash", "serious": "false", "related": "false"}
    add(t, "adverse_events", **event, start_date="2021-03-06", ctcae_grade="5")  # fine
    low = add(t, "adverse_events", **event, start_date="2021-03-07", ctcae_grade="0")
    high = add(t, "adverse_events", **event, start_date="2021-03-08", ctcae_grade="6")
    return {
        f"adverse_events:{low}:ctcae_grade: ctcae_grade below 1: '0'",
        f"adverse_events:{high}:ctcae_grade: ctcae_grade above 5: '6'",
    }


def _conflicting_counts(t: Tables) -> set[str]:
    second = count(t, "S1", "2021-03-03", "13")
    third = count(t, "S1", "2021-03-03", "30")
    message = "for subject 'S1' on 2021-03-03 (line 2 has 12)"
    return {
        f"platelets:{second}:count: conflicting count 13 {message}",
        f"platelets:{third}:count: conflicting count 30 {message}",
    }


def _treatment_before_randomization(t: Tables) -> set[str]:
    early = subject(t, "T1", randomization_date="2021-03-01", treatment_start_date="2021-02-28")
    subject(t, "T2", randomization_date="2021-03-01", treatment_start_date="2021-03-01")  # fine
    return {
        f"subjects:{early}:treatment_start_date: treatment_start_date 2021-02-28 is before "
        "randomization_date 2021-03-01"
    }


RULES: dict[str, Callable[[Tables], set[str]]] = {
    "missing_table": _missing_table,
    "missing_both_tables": _missing_both_tables,
    "missing_columns": _missing_columns,
    "empty_subject_id": _empty_subject_id,
    "duplicate_subject_id": _duplicate_subject_id,
    "orphan": _orphan,
    "unknown_arm": _unknown_arm,
    "bad_dates": _bad_dates,
    "bad_numbers": _bad_numbers,
    "negative_or_non_finite_count": _negative_or_non_finite_count,
    "count_above_5000": _count_above_5000,
    "who_grade": _who_grade,
    "ctcae_grade": _ctcae_grade,
    "conflicting_counts": _conflicting_counts,
    "treatment_before_randomization": _treatment_before_randomization,
}
# The rules also checked on Parquet folders and DuckDB files (line = row number + 1).
TYPED_SUBSET = [
    "missing_table",
    "missing_columns",
    "duplicate_subject_id",
    "orphan",
    "unknown_arm",
    "bad_dates",
    "negative_or_non_finite_count",
    "count_above_5000",
    "who_grade",
    "conflicting_counts",
    "treatment_before_randomization",
]
CASES = [(rule, "csv") for rule in RULES] + [
    (rule, fmt) for fmt in ("parquet", "duckdb") for rule in TYPED_SUBSET
]


@pytest.mark.parametrize(("rule", "fmt"), CASES, ids=[f"{r}-{f}" for r, f in CASES])
def test_each_rule(rule: str, fmt: str, tmp_path: Path) -> None:
    tables = base()
    expected = RULES[rule](tables)
    data = WRITERS[fmt](tmp_path, tables)
    assert check_rejected(data, tmp_path, expected) == set()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "duckdb"])
def test_all_rules_at_once_are_listed_together(fmt: str, tmp_path: Path) -> None:
    """Every error of every table in one run (tables stay present: no rule hides another)."""
    tables = base()
    expected: set[str] = set()
    for rule, change in RULES.items():
        if rule not in ("missing_table", "missing_both_tables", "missing_columns"):
            expected |= change(tables)
    data = WRITERS[fmt](tmp_path, tables)
    check_rejected(data, tmp_path, expected)


# --- the same rules over SDTM: itptrial import-sdtm ------------------------------------
# The native tables of each rule are written as the SDTM domains holding them (see
# sdtm_source: DM + DS, LB, CM, AE, EX, PC, each also with records to pass over), and its
# expected lines said in SDTM terms: the domain, the SDTM file line of the record that
# carried the native record, the variable, and the loader's one wording in SDTM's
# vocabulary. A problem of the bleeding table is dropped (SDTM has none).

# Rules with no SDTM counterpart at all, and why (every other rule runs).
SDTM_SKIPPED = {
    "unknown_arm": "SDTM arm values are not protocol arm codes: import-sdtm keeps every "
    "ARMCD but SCRNFAIL, NOTASSGN and empty (never randomized; SDTMIG 3.3+ leaves ARMCD "
    "empty), leaves those out and counts them, by design (docs/interface.md); with "
    "[arms] values listed, unlisted ones are left out and counted too. The protocol's arm "
    "codes are checked by validate on the imported dataset",
    "who_grade": f"only bleeding records: {NOT_IN_SDTM['bleeding']}",
}
# The rules also checked on SAS XPORT files: those whose numeric variables (AGE,
# LBSTRESN, EXDOSE, PCSTRESN) hold numbers; XPORT cannot hold text, inf or NaN there.
SDTM_XPT = [
    "missing_table",
    "missing_both_tables",
    "missing_columns",
    "empty_subject_id",
    "duplicate_subject_id",
    "orphan",
    "bad_dates",
    "count_above_5000",
    "ctcae_grade",
    "conflicting_counts",
    "treatment_before_randomization",
]
SDTM_CASES = [(rule, "csv") for rule in RULES if rule not in SDTM_SKIPPED] + [
    (rule, "xpt") for rule in SDTM_XPT
]


def import_sdtm_writes_nothing(sdtm: Path, tmp_path: Path) -> Result:
    """``import-sdtm`` on bad input: no output folder at all."""
    out = tmp_path / "out"
    result = invoke("import-sdtm", sdtm, "--out", out)
    assert not out.exists()
    return result


def check_sdtm_rejected(tables: Tables, tmp_path: Path, native: set[str], fmt: str) -> set[str]:
    """``tables`` as SDTM: import-sdtm rejects them with exactly the SDTM lines of the
    ``native`` problems; returns the warnings."""
    sdtm = to_sdtm(tables)
    folder = write_sdtm(tmp_path / "sdtm", sdtm, fmt)
    expected = sdtm_problems(native, sdtm)
    return assert_rejected(import_sdtm_writes_nothing(folder, tmp_path), expected, folder)


def test_every_rule_runs_over_sdtm_or_says_why_not() -> None:
    assert set(SDTM_SKIPPED) <= set(RULES)
    assert set(SDTM_XPT) <= {rule for rule, _ in SDTM_CASES}
    for rule, change in RULES.items():
        tables = base()
        said = sdtm_problems(change(tables), to_sdtm(tables))
        # A skipped rule whose problems all have no SDTM counterpart is dropped by the
        # translation itself; a rule that runs checks something.
        if rule == "who_grade":
            assert said == set()
        elif rule not in SDTM_SKIPPED:
            assert said, rule


@pytest.mark.parametrize("fmt", ["csv", "xpt"])
def test_base_dataset_as_sdtm_imports_to_the_same_tables(fmt: str, tmp_path: Path) -> None:
    """The converter is faithful: the SDTM of the valid base imports cleanly into the
    base's own tables (so a rule's SDTM source differs from it only by the rule)."""
    folder = write_sdtm(tmp_path / "sdtm", to_sdtm(base()), fmt)
    result = invoke("import-sdtm", folder, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    native = load_dataset(write_csv(tmp_path / "native", base()))
    imported = load_dataset(tmp_path / "out")
    assert imported.warnings == native.warnings == ()
    for name in ("subjects", "platelets", "rescue", "adverse_events", "doses", "drug_levels"):
        assert imported.table(name).equals(native.table(name)), name


@pytest.mark.parametrize(("rule", "fmt"), SDTM_CASES, ids=[f"{r}-{f}" for r, f in SDTM_CASES])
def test_each_rule_over_sdtm(rule: str, fmt: str, tmp_path: Path) -> None:
    tables = base()
    expected = RULES[rule](tables)
    assert check_sdtm_rejected(tables, tmp_path, expected, fmt) == set()


def test_all_rules_at_once_over_sdtm_are_listed_together(tmp_path: Path) -> None:
    """Every SDTM error of every domain in one run (as the native test: domains and
    variables stay present, so that no rule hides another)."""
    tables = base()
    expected: set[str] = set()
    for rule, change in RULES.items():
        if rule not in ("missing_table", "missing_both_tables", "missing_columns", *SDTM_SKIPPED):
            expected |= change(tables)
    assert check_sdtm_rejected(tables, tmp_path, expected, "csv") == set()


def test_unknown_arm_over_sdtm_is_imported_or_left_out_and_counted(tmp_path: Path) -> None:
    """What SDTM_SKIPPED says of unknown_arm: unknown ARMCD values are imported as
    written (validate then rejects them against the protocol), an empty one left out and
    counted."""
    tables = base()
    _unknown_arm(tables)
    folder = write_sdtm(tmp_path / "sdtm", to_sdtm(tables))
    result = invoke("import-sdtm", folder, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert "left out 2 [ARMCD empty 1, ARMCD SCRNFAIL 1]" in result.stdout
    assert_rejected(
        validate(tmp_path / "out"),
        {  # U1 and U2 at lines 5 and 6 of the imported subjects (after S1, S2, S3)
            f"subjects:5:arm: unknown arm code 'PLACEBO' {ARMS}",
            f"subjects:6:arm: unknown arm code 'dxm' {ARMS}",
        },
        tmp_path / "out",
    )


@pytest.mark.parametrize("variable", ["DSDECOD", "USUBJID"])
def test_sdtm_domain_that_cannot_be_mapped_is_one_problem(variable: str, tmp_path: Path) -> None:
    """A variable without which a domain's records cannot be chosen is one problem, not
    one more per subject whose randomization date DS would have given."""
    sdtm = to_sdtm(base())
    sdtm.domains["DS"].variables.remove(variable)
    folder = write_sdtm(tmp_path / "sdtm", sdtm)
    expected = {f"DS:1:{variable}: missing required column"}
    assert_rejected(import_sdtm_writes_nothing(folder, tmp_path), expected, folder)


def test_one_file_with_many_different_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_csv(data, base())
    (data / "subjects.csv").write_text(
        ",".join(SUBJECT_COLUMNS) + "\n"
        "S1,A,TAC_DXM,2021-03-01,2021-03-03,,M,40,\n"  # 2: fine
        ",A,DXM,2021-03-01,,,,,\n"  # 3: empty subject_id
        "S1,A,DXM,2021-03-01,,,,,\n"  # 4: duplicate
        "S2,A,ABC,2021-03-01,2021-03-03,,,,\n"  # 5: unknown arm
        "S3,A,DXM,2021-02-30,,,X,-3,\n"  # 6: bad date, bad sex, age below 0
        "S4,A,DXM,2021-03-05,2021-03-04,,,,2021-3-5\n"  # 7: treated before randomized
    )
    expected = {
        "subjects:3:subject_id: empty subject_id",
        "subjects:4:subject_id: duplicate subject_id 'S1' (first at line 2)",
        "subjects:5:arm: unknown arm code 'ABC' (protocol arms: TAC_DXM, DXM)",
        "subjects:6:randomization_date: unparseable date '2021-02-30' (expected YYYY-MM-DD)",
        "subjects:6:sex: expected M or F, found 'X'",
        "subjects:6:age: age below 0: '-3'",
        "subjects:7:treatment_start_date: treatment_start_date 2021-03-04 is before "
        "randomization_date 2021-03-05",
        "subjects:7:last_contact_date: unparseable date '2021-3-5' (expected YYYY-MM-DD)",
    }
    check_rejected(data, tmp_path, expected)


def test_missing_column_does_not_hide_the_other_problems(tmp_path: Path) -> None:
    tables = base()
    drop_column(tables, "subjects", "site_id")
    put(tables, "subjects", 3, arm="XX")
    add(tables, "subjects", subject_id="S1", arm="DXM", randomization_date="2021-03-01")
    drop_column(tables, "platelets", "date")
    put(tables, "platelets", 2, count="-5")
    data = write_csv(tmp_path / "data", tables)
    check_rejected(
        data,
        tmp_path,
        {
            "subjects:1:site_id: missing required column",
            "subjects:3:arm: unknown arm code 'XX' (protocol arms: TAC_DXM, DXM)",
            "subjects:5:subject_id: duplicate subject_id 'S1' (first at line 2)",
            "platelets:1:date: missing required column",
            "platelets:2:count: count below 0: '-5'",
        },
    )


def test_unreadable_subjects_still_lets_other_tables_be_checked(tmp_path: Path) -> None:
    """Orphans cannot be judged without subjects, but conflicts and cells still are."""
    tables = base()
    _conflicting_counts(tables)
    put(tables, "platelets", 3, count="inf", subject_id="S9")
    data = write_csv(tmp_path / "data", tables)
    (data / "subjects.csv").write_bytes(b"")
    check_rejected(
        data,
        tmp_path,
        {
            "subjects:1:-: empty file: no header row (subjects.csv)",
            "platelets:3:count: non-finite count 'inf'",
            "platelets:6:count: conflicting count 13 for subject 'S1' on 2021-03-03 "
            "(line 2 has 12)",
            "platelets:7:count: conflicting count 30 for subject 'S1' on 2021-03-03 "
            "(line 2 has 12)",
        },
    )


# --- typed Parquet and DuckDB columns ------------------------------------------------


def _typed_frames() -> dict[str, pl.DataFrame]:
    d = dt.date
    return {
        "subjects": pl.DataFrame(
            {
                "subject_id": ["S1", "S2", "S1"],
                "site_id": ["A", "A", "A"],
                "arm": ["TAC_DXM", "DXM", "DXM"],
                "randomization_date": [d(2021, 3, 1), d(2021, 3, 1), d(2021, 3, 1)],
                "treatment_start_date": [d(2021, 3, 3), d(2021, 2, 1), None],
                "age": [40, None, 30],
            }
        ),
        "platelets": pl.DataFrame(
            {
                "subject_id": ["S1", "S1", "S2", "S2", "S9", "S1"],
                "date": [
                    d(2021, 3, 3),
                    d(2021, 3, 4),
                    d(2021, 3, 3),
                    d(2021, 3, 4),
                    d(2021, 3, 4),
                    d(2021, 3, 3),
                ],
                "count": [12.0, float("inf"), -1.0, float("nan"), 50.0, 12.5],
            }
        ),
        "bleeding": pl.DataFrame(
            {"subject_id": ["S1", "S2"], "date": [d(2021, 3, 3)] * 2, "who_grade": [4, 7]}
        ),
        "adverse_events": pl.DataFrame(
            {
                "subject_id": ["S1", "S1"],
                "term": ["rash", "rash"],
                "start_date": [d(2021, 3, 4)] * 2,
                "ctcae_grade": [0, 2],
                "serious": [True, None],  # a null boolean is empty, never "false"
                "related": [False, False],
            }
        ),
    }


TYPED_EXPECTED = {
    "subjects:4:subject_id: duplicate subject_id 'S1' (first at line 2)",
    "subjects:3:treatment_start_date: treatment_start_date 2021-02-01 is before "
    "randomization_date 2021-03-01",
    "platelets:3:count: non-finite count 'inf'",
    "platelets:4:count: count below 0: '-1.0'",
    "platelets:5:count: non-finite count 'NaN'",
    "platelets:6:subject_id: subject_id 'S9' is not in subjects",
    "platelets:7:count: conflicting count 12.5 for subject 'S1' on 2021-03-03 (line 2 has 12)",
    "bleeding:3:who_grade: who_grade above 4: '7'",
    "adverse_events:2:ctcae_grade: ctcae_grade below 1: '0'",
    "adverse_events:3:serious: empty serious",
}


def test_typed_parquet_columns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in _typed_frames().items():
        frame.write_parquet(data / f"{name}.parquet")
    check_rejected(data, tmp_path, TYPED_EXPECTED)


def test_typed_duckdb_columns(tmp_path: Path) -> None:
    data = write_duckdb_frames(tmp_path / "trial.duckdb", _typed_frames())
    check_rejected(data, tmp_path, TYPED_EXPECTED)


def test_duckdb_missing_tables_and_columns(tmp_path: Path) -> None:
    tables = base()
    del tables["platelets"]
    drop_column(tables, "subjects", "randomization_date")
    data = write_duckdb(tmp_path / "trial.duckdb", tables)
    check_rejected(
        data,
        tmp_path,
        {
            "platelets:-:-: missing required table",
            "subjects:1:randomization_date: missing required column",
        },
    )


def test_no_such_data(tmp_path: Path) -> None:
    data = tmp_path / "nothing-here"
    check_rejected(data, tmp_path, {f"{data}:-:-: no such dataset folder or DuckDB file"})


def test_a_file_that_is_not_a_duckdb_database(tmp_path: Path) -> None:
    data = tmp_path / "notes.txt"
    data.write_text("hello\n")
    for result in (validate(data), adjudicate_writes_nothing(data, tmp_path)):
        assert result.exit_code == 2
        errors, _ = listed(result)
        assert len(errors) == 1
        prefix = f"{data}:-:-: not a dataset: it is not a DuckDB database"
        assert next(iter(errors)).startswith(prefix)


# --- warnings: reported, loading goes on ---------------------------------------------


def test_warnings_are_listed_and_loading_goes_on(tmp_path: Path) -> None:
    tables = base()
    repeat = add(tables, "platelets", subject_id="S1", date="2021-03-03", count="12")
    # S1's platelets line 4 (2021-03-17) is after it; drug_levels line 2 is on the day.
    put(tables, "subjects", 2, last_contact_date="2021-03-10")
    untreated_baseline = add(
        tables,
        "subjects",
        subject_id="S4",
        site_id="B",
        arm="TAC_DXM",
        randomization_date="2021-03-01",
        treatment_start_date="2021-04-01",
    )
    add(tables, "platelets", subject_id="S4", date="2021-03-01", count="9")  # day -31
    data = write_csv(tmp_path / "data", tables)

    expected = {
        f"platelets:{repeat}:-: identical repeated record (first at line 2); used once",
        "platelets:4:date: record dated 2021-03-17 is after last_contact_date 2021-03-10 "
        "of subject 'S1'",
        f"subjects:{untreated_baseline}:subject_id: subject 'S4' has no platelet count in "
        "the baseline window (days -14 to 0): not evaluable",
    }
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    errors, warnings = listed(result)
    assert errors == set()
    assert warnings == expected
    assert all(line.startswith("warning: ") for line in result.stderr.splitlines())
    assert "(4 subjects, 5 platelet counts, 3 warning(s))" in result.stdout

    dataset = load_dataset(data)
    s1_day0 = dataset.platelets.filter(
        (pl.col("subject_id") == "S1") & (pl.col("date") == dt.date(2021, 3, 3))
    )
    assert s1_day0.height == 1  # the repeat is used once
    assert dataset.platelets.height == 5

    # adjudicate lists the same warnings and goes on to write its output.
    out = tmp_path / "endpoints.csv"
    result = invoke("adjudicate", data, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert listed(result) == (set(), expected)
    assert out.exists()


def test_warnings_are_listed_beside_errors(tmp_path: Path) -> None:
    tables = base()
    repeat = add(tables, "bleeding", subject_id="S1", date="2021-03-03", who_grade="1")
    put(tables, "subjects", 2, arm="XX")
    data = write_csv(tmp_path / "data", tables)
    warnings = check_rejected(
        data, tmp_path, {"subjects:2:arm: unknown arm code 'XX' (protocol arms: TAC_DXM, DXM)"}
    )
    assert warnings == {
        f"bleeding:{repeat}:-: identical repeated record (first at line 2); used once"
    }


def test_identical_repeat_in_parquet_and_duckdb_is_used_once(tmp_path: Path) -> None:
    tables = base()
    add(tables, "platelets", subject_id="S2", date="2021-03-17", count="20")
    for fmt in ("parquet", "duckdb"):
        data = WRITERS[fmt](tmp_path / fmt, tables)
        result = validate(data)
        assert result.exit_code == 0, result.stderr
        assert listed(result)[1] == {
            "platelets:6:-: identical repeated record (first at line 5); used once"
        }
        assert load_dataset(data).platelets.height == 4


# --- what is not an error -------------------------------------------------------------


def test_extra_columns_are_kept_and_ignored(tmp_path: Path) -> None:
    tables = base()
    for columns, rows in tables.values():
        columns.append("notes")
        for i, row in enumerate(rows):
            row["notes"] = "not-a-date" if i % 2 else ""
    data = write_csv(tmp_path / "data", tables)
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    dataset = load_dataset(data)
    assert dataset.subjects["notes"].to_list() == [None, "not-a-date", None]
    assert dataset.platelets.schema["notes"] == pl.String


def test_column_order_is_free(tmp_path: Path) -> None:
    tables = base()
    for columns, _ in tables.values():
        columns.reverse()
    data = write_csv(tmp_path / "data", tables)
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    reference = load_dataset(write_csv(tmp_path / "reference", base()))
    dataset = load_dataset(data)
    for name in BASE:
        columns = reference.table(name).columns
        assert dataset.table(name).select(columns).equals(reference.table(name)), name


def test_optional_columns_may_be_empty_or_absent(tmp_path: Path) -> None:
    tables = base()
    for column in ("stratum", "sex", "age", "last_contact_date"):
        drop_column(tables, "subjects", column)
    data = write_csv(tmp_path / "absent", tables)
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert load_dataset(data).subjects["sex"].null_count() == 3

    drop_column(tables, "subjects", "treatment_start_date")  # nobody treated: still valid
    result = validate(write_csv(tmp_path / "untreated", tables))
    assert result.exit_code == 0, result.stderr


def test_missing_optional_tables_are_fine(tmp_path: Path) -> None:
    tables = {name: value for name, value in base().items() if name in ("subjects", "platelets")}
    data = write_csv(tmp_path / "data", tables)
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    dataset = load_dataset(data)
    assert dataset.bleeding.height == 0
    assert "who_grade" in dataset.bleeding.columns


def test_header_only_files_have_no_records(tmp_path: Path) -> None:
    tables = base()
    for name in ("rescue", "bleeding", "adverse_events", "doses", "drug_levels"):
        tables[name][1].clear()
    data = write_csv(tmp_path / "data", tables)
    (data / "rescue.csv").write_text("subject_id,start_date,treatment")  # no final newline
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    assert load_dataset(data).rescue.height == 0

    # Header-only required tables: a dataset with no subjects, valid but empty.
    (data / "subjects.csv").write_text(",".join(SUBJECT_COLUMNS) + "\n")
    (data / "platelets.csv").write_text("subject_id,date,count\n")
    for name in ("bleeding", "adverse_events", "doses", "drug_levels"):
        (data / f"{name}.csv").unlink()
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    assert "(0 subjects, 0 platelet counts, 0 warning(s))" in result.stdout


def test_empty_file_without_header_is_an_error(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    (data / "bleeding.csv").write_text("")
    check_rejected(data, tmp_path, {"bleeding:1:-: empty file: no header row (bleeding.csv)"})


def test_protocol_preset_iwg2009_is_accepted(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    assert validate(data, "--protocol", "iwg2009").exit_code == 0


# --- the shape of CSV files -------------------------------------------------------------


def test_ragged_lines_are_errors_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    (data / "subjects.csv").write_text(
        ",".join(SUBJECT_COLUMNS) + "\n"
        "S1,A,TAC_DXM,2021-03-01,2021-03-03,,,,\n"  # 2: fine
        "S2,A,DXM,2021-03-01,2021-03-03,,,\n"  # 3: too few fields
        "S3,B,DXM,2021-03-02,,,,,,\n"  # 4: too many (trailing comma)
        "S4,B,ABC,2021-03-02,,,,,\n"  # 5: unknown arm, still found
    )
    (data / "platelets.csv").write_text(
        "subject_id,date,count\nS1,2021-03-03,12\nS2,2021-03-02\nS2,2021-03-03,15,1\nS1,x,3\n"
    )
    check_rejected(
        data,
        tmp_path,
        {
            "subjects:3:-: expected 9 fields as in the header, found 8",
            "subjects:4:-: expected 9 fields as in the header, found 10",
            "subjects:5:arm: unknown arm code 'ABC' (protocol arms: TAC_DXM, DXM)",
            "platelets:3:-: expected 3 fields as in the header, found 2",
            "platelets:4:-: expected 3 fields as in the header, found 4",
            "platelets:5:date: unparseable date 'x' (expected YYYY-MM-DD)",
            # No "S2/S3 is not in subjects": the subjects of ragged lines are unknown.
        },
    )


def test_quoted_fields_and_line_numbers(tmp_path: Path) -> None:
    """Quoted commas are not separators; a quoted newline makes a record span lines."""
    data = write_csv(tmp_path / "data", base())
    (data / "subjects.csv").write_text(
        ",".join(SUBJECT_COLUMNS) + "\r\n"
        '"S1","Site, ""A""",TAC_DXM,2021-03-01,2021-03-03,,,,\r\n'  # 2
        'S2,"two\r\nlines",DXM,2021-03-01,2021-03-03,,,,\r\n'  # 3-4
        "S3,B,DXM,2021-03-02,,,,\r\n"  # 5: too few fields
        'S4,"B,C",NOPE,2021-03-02,,,,,\r\n'  # 6: unknown arm
    )
    check_rejected(
        data,
        tmp_path,
        {
            "subjects:5:-: expected 9 fields as in the header, found 8",
            "subjects:6:arm: unknown arm code 'NOPE' (protocol arms: TAC_DXM, DXM)",
        },
    )
    (data / "subjects.csv").write_text(
        ",".join(SUBJECT_COLUMNS) + "\n"
        '"S1","Site, A",TAC_DXM,2021-03-01,2021-03-03,,,,\n'
        '"S2","B",DXM,"2021-03-01","2021-03-03",,,,\n'
        '"S3","B",DXM,"2021-03-02",,,,,\n'
    )
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    assert load_dataset(data).subjects["site_id"].to_list() == ["Site, A", "B", "B"]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    (data / "platelets.csv").write_text(
        "subject_id,date,count\n\nS1,2021-03-03,12\n\n\nS2,2021-03-02,-2\n,,\n\n"
    )
    check_rejected(
        data,
        tmp_path,
        {
            "platelets:6:count: count below 0: '-2'",
            # A line of empty fields is a record, not a blank line.
            "platelets:7:subject_id: empty subject_id",
            "platelets:7:date: empty date",
            "platelets:7:count: empty count",
        },
    )


def test_non_utf8_lines_are_errors_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    (data / "subjects.csv").write_bytes(
        (",".join(SUBJECT_COLUMNS) + "\n").encode()
        + b"S1,A,TAC_DXM,2021-03-01,2021-03-03,,,,\n"
        + b"S2,S\xe9ville,DXM,2021-03-01,2021-03-03,,,,\n"  # 3: Latin-1
        + "S3,Zürich,PLACEBO,2021-03-02,,,,,\n".encode()  # 4: UTF-8 is fine
        + b"S5,A\xff,DXM,2021-03-02,,,,,\n"  # 5: invalid byte
    )
    check_rejected(
        data,
        tmp_path,
        {
            "subjects:3:-: not valid UTF-8 (subjects.csv); save the file as UTF-8",
            "subjects:5:-: not valid UTF-8 (subjects.csv); save the file as UTF-8",
            "subjects:4:arm: unknown arm code 'PLACEBO' (protocol arms: TAC_DXM, DXM)",
        },
    )


def test_utf8_bom_and_crlf_are_fine(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    for path in data.iterdir():
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    result = validate(data)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_both_csv_and_parquet_of_one_table(tmp_path: Path) -> None:
    tables = base()
    data = write_csv(tmp_path / "data", tables)
    _frame(*tables["platelets"]).write_parquet(data / "platelets.parquet")
    _frame(*tables["bleeding"]).write_parquet(data / "bleeding.parquet")
    check_rejected(
        data,
        tmp_path,
        {
            "platelets:-:-: both platelets.csv and platelets.parquet exist; keep one",
            "bleeding:-:-: both bleeding.csv and bleeding.parquet exist; keep one",
        },
    )


def test_duplicate_column_in_header(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    (data / "rescue.csv").write_text("subject_id,start_date,treatment,start_date\n")
    check_rejected(data, tmp_path, {"rescue:1:start_date: column appears twice in the header"})


# --- --protocol -----------------------------------------------------------------------


def test_unknown_protocol_preset(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    expected = {"target2020:-:-: no such protocol file, and not a preset (target020, iwg2009)"}
    for args in (("--protocol", "target2020"), ("-p", "target2020")):
        assert_rejected(validate(data, *args), expected)
        assert_rejected(adjudicate_writes_nothing(data, tmp_path, *args), expected)


def test_protocol_file_with_unknown_key_and_out_of_range_value(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    protocol = tmp_path / "mine.toml"
    protocol.write_text(
        'extends = "target020"\n[endpoints]\nhorizn = 200\nresponse_level = -5\n'
        "[visits]\ndays = [0, 7]\nmiss_probability = 1.5\n"
    )
    for result in (
        validate(data, "--protocol", str(protocol)),
        adjudicate_writes_nothing(data, tmp_path, "--protocol", str(protocol)),
    ):
        assert result.exit_code == 2, result.stderr
        errors, _ = listed(result)
        assert f"{protocol}:-:endpoints.horizn: unknown key" in errors
        keys = {line.split(":")[2] for line in errors}
        assert keys == {"endpoints.horizn", "endpoints.response_level", "visits.miss_probability"}
        assert all(line.startswith(f"{protocol}:-:") for line in errors)


def test_protocol_file_problems_name_the_file(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data", base())
    cases = {
        "syntax.toml": b'extends = "target020"\n[endpoints\n',
        "latin1.toml": b'extends = "target020"\ntitle = "S\xe9ville"\n',
        "arms.toml": b'extends = "target020"\n[[arms]]\ncode = "A"\nlabel = "a"\n'
        b"experimental = true\n",
    }
    for name, text in cases.items():
        protocol = tmp_path / name
        protocol.write_bytes(text)
        result = validate(data, "--protocol", str(protocol))
        assert result.exit_code == 2, (name, result.stderr)
        errors, _ = listed(result)
        assert errors and all(line.startswith(f"{protocol}:") for line in errors), errors
    assert listed(validate(data, "-p", str(tmp_path / "latin1.toml")))[0] == {
        f"{tmp_path / 'latin1.toml'}:2:-: not valid UTF-8"
    }


def test_protocol_arms_are_used_for_arm_codes(tmp_path: Path) -> None:
    protocol = tmp_path / "arms.toml"
    protocol.write_text(
        'name = "ab"\n[[arms]]\ncode = "A"\nlabel = "a"\nexperimental = true\n'
        '[[arms]]\ncode = "DXM"\nlabel = "b"\nexperimental = false\n'
    )
    data = write_csv(tmp_path / "data", base())
    assert_rejected(
        validate(data, "--protocol", str(protocol)),
        {"subjects:2:arm: unknown arm code 'TAC_DXM' (protocol arms: A, DXM)"},
        data,
    )


# --- the installed console command (real process, real exit codes) ----------------------

ITPTRIAL = Path(sys.executable).with_name("itptrial")


def run_command(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ITPTRIAL), *map(str, args)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("fmt", ["csv", "duckdb"])
def test_console_command(fmt: str, tmp_path: Path) -> None:
    tables = base()
    expected = _duplicate_subject_id(tables) | _count_above_5000(tables) | _bad_dates(tables)
    data = WRITERS[fmt](tmp_path, tables)
    out = tmp_path / "endpoints.parquet"
    for args in (("validate", data), ("adjudicate", data, "--out", out)):
        process = run_command(*args)
        assert process.returncode == 2, process.stderr
        assert process.stdout == ""
        assert "Traceback" not in process.stderr
        lines = process.stderr.splitlines()
        assert lines[0] == f"error: {len(expected)} problem(s) in {data}:"
        assert set(lines[1:]) == expected
        assert not out.exists()
    process = run_command("validate", data, "--protocol", "nonesuch")
    assert process.returncode == 2
    assert "nonesuch:-:-: no such protocol file" in process.stderr
    assert "Traceback" not in process.stderr


def test_console_command_import_sdtm(tmp_path: Path) -> None:
    tables = base()
    native = _duplicate_subject_id(tables) | _count_above_5000(tables) | _bad_dates(tables)
    sdtm = to_sdtm(tables)
    folder = write_sdtm(tmp_path / "sdtm", sdtm)
    expected = sdtm_problems(native, sdtm)
    out = tmp_path / "out"
    process = run_command("import-sdtm", folder, "--out", out)
    assert process.returncode == 2, process.stderr
    assert process.stdout == ""
    assert "Traceback" not in process.stderr
    lines = process.stderr.splitlines()
    assert lines[0] == f"error: {len(expected)} problem(s) in {folder}:"
    assert set(lines[1:]) == expected
    assert not out.exists()
