"""Inputs that once changed a result silently or crashed (data.md "Near misses", the new
warnings, "no crash on any input"): each example of the data-safety issue, through the
real command line. Every one must exit 2 (or warn) with table:line:column and one line
per problem."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from itptrial.cli import app

EXAMPLE = Path(__file__).parent.parent / "examples" / "target020_example"
ITPTRIAL = Path(sys.executable).with_name("itptrial")


def copy(tmp: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp / "data"))


def validate(data: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr.splitlines()


def errors(lines: list[str]) -> list[str]:
    return [
        line.removeprefix("error: ")
        for line in lines
        if not line.startswith(("warning: ", "summary: ")) and "problem(s)" not in line
    ]


def set_cell(data: Path, table: str, column: str, row: int, value: str) -> None:
    """Rewrite one cell of a table (row 0 = the first record)."""
    frame = pl.read_csv(data / f"{table}.csv", infer_schema=False)
    changed = pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column))
    frame.with_columns(changed.alias(column)).write_csv(data / f"{table}.csv")


def rename_header(data: Path, table: str, old: str, new: str) -> None:
    path = data / f"{table}.csv"
    lines = path.read_text().split("\n")
    lines[0] = ",".join(new if name == old else name for name in lines[0].split(","))
    path.write_text("\n".join(lines))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("treatment_start_date", "Treatment_Start_Date"),
        ("age", "age "),
        ("last_contact_date", "LAST_CONTACT_DATE"),
    ],
)
def test_a_near_miss_header_is_an_error(tmp_path: Path, old: str, new: str) -> None:
    data = copy(tmp_path)
    rename_header(data, "subjects", old, new)
    code, lines = validate(data)
    assert code == 2
    expected = (
        f"subjects:1:{new}: column '{new}' is not read: the schema's column is '{old}' "
        "(check its case and spaces)"
    )
    assert expected in errors(lines)


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("rescue", "rescue.CSV"),
        ("bleeding", "Bleeding.csv"),
        ("adverse_events", "adverse-events.csv"),
    ],
)
def test_a_near_miss_file_name_is_an_error(tmp_path: Path, table: str, name: str) -> None:
    data = copy(tmp_path)
    (data / f"{table}.csv").rename(data / name)
    code, lines = validate(data)
    assert code == 2
    assert errors(lines) == [
        f"{table}:-:-: file '{name}' is not read: the {table} table must be named exactly "
        f"{table}.csv or {table}.parquet (rename it)"
    ]


@pytest.mark.parametrize("kind", ["broken_link", "loop", "folder", "fifo"])
def test_a_table_path_that_cannot_be_read_is_an_error(tmp_path: Path, kind: str) -> None:
    data = copy(tmp_path)
    path = data / "rescue.csv"
    path.unlink()
    if kind == "broken_link":
        path.symlink_to(tmp_path / "nowhere.csv")
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    code, lines = validate(data)
    assert code == 2
    (only,) = errors(lines)
    assert only.startswith("rescue:-:-: rescue.csv exists but "), only


def test_files_that_are_not_tables_are_one_warning(tmp_path: Path) -> None:
    data = copy(tmp_path)
    (data / "README.txt").write_text("notes")
    (data / "exports").mkdir()
    code, lines = validate(data)
    assert code == 0
    stray = [line for line in lines if "not tables of the dataset" in line]
    assert stray == [
        f"warning: {data}:-:-: not tables of the dataset, so not read: README.txt, exports/"
    ]


def test_a_folder_of_stray_files_still_misses_its_required_tables(tmp_path: Path) -> None:
    # The stray-file warning is about the folder; it must not hide that nothing was read.
    data = tmp_path / "notes"
    data.mkdir()
    (data / "protocol.toml").write_text("name = 'x'\n")
    code, lines = validate(data)
    assert code == 2
    assert errors(lines) == [
        "platelets:-:-: missing required table",
        "subjects:-:-: missing required table",
    ]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e30", "1e400"])
@pytest.mark.parametrize(
    ("table", "column"), [("bleeding", "who_grade"), ("adverse_events", "ctcae_grade")]
)
def test_non_finite_or_huge_grades_are_problems(
    tmp_path: Path, table: str, column: str, value: str
) -> None:
    data = copy(tmp_path)
    set_cell(data, table, column, 0, value)
    code, lines = validate(data)
    assert code == 2
    (only,) = errors(lines)
    assert only.startswith(f"{table}:2:{column}: "), only


def test_year_zero_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    data = copy(tmp_path)
    text = (data / "subjects.csv").read_text().replace(",2021-03-02,", ",0000-03-02,", 1)
    (data / "subjects.csv").write_text(text)
    code, lines = validate(data)
    assert code == 2
    assert errors(lines) == [
        "subjects:2:treatment_start_date: impossible date '0000-03-02' (there is no year 0)"
    ]


def test_dates_out_of_range_and_before_randomization_are_warnings(tmp_path: Path) -> None:
    data = copy(tmp_path)
    subjects = (data / "subjects.csv").read_text().split("\n")
    subjects[1] = subjects[1].replace(",2021-08-29,", ",2019-01-01,")  # contact before randomized
    (data / "subjects.csv").write_text("\n".join(subjects))
    (data / "rescue.csv").write_text(
        (data / "rescue.csv").read_text() + "T01,2021-02-01,IVIG\nT01,2221-01-01,IVIG\n"
    )
    (data / "doses.csv").write_text((data / "doses.csv").read_text() + "T09,2021-05-01,dxm,40\n")
    code, lines = validate(data)
    assert code == 0
    warned = " | ".join(lines)
    assert "subjects:2:last_contact_date: last_contact_date 2019-01-01 is before" in warned
    assert "rescue:5:start_date: record dated 2021-02-01 is before randomization_date" in warned
    assert "rescue:6:start_date: date 2221-01-01 is before 1900 or after 2100" in warned
    assert "but no treatment_start_date (never treated)" in warned
    assert "summary: " in warned  # more than 50 warnings: a summary by table and kind


@pytest.mark.parametrize("column", ["term", "scenario"])
def test_a_huge_field_is_no_crash(tmp_path: Path, column: str) -> None:
    data = copy(tmp_path)
    table = "adverse_events" if column == "term" else "subjects"
    set_cell(data, table, column, 0, "x" * (200 * 1024))
    code, lines = validate(data)
    if column == "term":  # a schema column: reported, quoted short
        assert code == 2
        (only,) = errors(lines)
        assert only.startswith(f"{table}:2:term: value longer than 4096 bytes: 'xxx")
        assert len(only) < 300
    else:  # an extra column is kept as given
        assert code == 0


def test_a_cell_with_a_newline_or_a_fake_problem_is_one_line(tmp_path: Path) -> None:
    data = copy(tmp_path)
    cell = "12\nplatelets:2:count: fake problem\u202e"
    set_cell(data, "platelets", "count", 3, cell)
    code, lines = validate(data)
    assert code == 2
    assert errors(lines) == [
        "platelets:5:count: unparseable number '12\\nplatelets:2:count: fake problem\\u202e'"
    ]


def test_a_problem_on_line_100_is_not_an_emoji(tmp_path: Path) -> None:
    data = copy(tmp_path)
    lines = (data / "platelets.csv").read_text().split("\n")
    lines[99] = lines[99].rsplit(",", 1)[0] + ",abc"
    (data / "platelets.csv").write_text("\n".join(lines))
    process = subprocess.run([str(ITPTRIAL), "validate", str(data)], capture_output=True, text=True)
    assert process.returncode == 2
    assert "platelets:100:count: unparseable number 'abc'" in process.stderr
    assert "\U0001f4af" not in process.stderr  # rich's :100: emoji


def test_a_sqlite_file_is_refused_without_touching_the_network(tmp_path: Path) -> None:
    path = tmp_path / "trial.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE subjects (subject_id TEXT)")
    connection.commit()
    connection.close()
    code, lines = validate(path)
    assert code == 2
    assert lines == [
        f"error: {path}:-:-: not a dataset: it is a SQLite database; DATA is a folder with "
        "one file per table, or a DuckDB file"
    ]


def test_a_duckdb_near_miss_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "trial.duckdb"
    connection = duckdb.connect(str(path))
    for name in ("subjects", "platelets", "rescue"):
        frame = pl.read_csv(EXAMPLE / f"{name}.csv", infer_schema=False)
        connection.register("incoming", frame.to_arrow())
        table = "Rescue" if name == "rescue" else name
        connection.execute(f'CREATE TABLE "{table}" AS SELECT * FROM incoming')
        connection.unregister("incoming")
    connection.close()
    code, lines = validate(path)
    assert code == 2
    assert "rescue:-:-: table 'Rescue' is not read: it must be named exactly rescue" in errors(
        lines
    )


def test_an_sdtm_domain_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    sdtm = tmp_path / "sdtm"
    sdtm.mkdir()
    os.mkfifo(sdtm / "dm.csv")  # reading it would block for ever
    result = CliRunner().invoke(app, ["import-sdtm", str(sdtm), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "DM:-:-: dm.csv exists but is not a regular file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_report_says_how_many_subjects_the_stratified_analysis_leaves_out(
    tmp_path: Path,
) -> None:
    data = copy(tmp_path)
    set_cell(data, "subjects", "stratum", 0, "")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["analyze", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "1 without a stratum left out" in html
    results = (out / "results.json").read_text()
    assert '"subjects_without_stratum": 1' in results
