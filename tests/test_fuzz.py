"""A mutation fuzzer over a dataset's tables that keeps the input contract true.

Hypothesis (fixed seed, no shrinking of the slow cases) mutates the tables of a dataset:
cells, rows and columns deleted, duplicated or swapped; quotes, newlines, random
Unicode and bytes in fields; truncated files; header case and spacing; renamed or
missing files. For every mutant, ``validate`` and ``adjudicate`` run through the real
command line, and:

- the exit code is 0 or 2, with no traceback or internal error;
- every line on stderr is a problem (``where:line:column: message``, with an optional
  ``error: ``/``warning: `` prefix), a problem count, or a summary line;
- ``validate`` and ``adjudicate`` agree (same code, same problems);
- on failure nothing is written (no output file, no staging folder);
- a mutation that changes no value (CRLF line ends, a byte-order mark, every field
  quoted, rows or columns reordered) gives byte-identical endpoints.

Run it on your own export (docs/data.md)::

    ITPTRIAL_FUZZ_DATA=path/to/dataset ITPTRIAL_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from itptrial.cli import main

DATA = Path(
    os.environ.get(
        "ITPTRIAL_FUZZ_DATA", Path(__file__).parent.parent / "examples" / "target020_example"
    )
)
EXAMPLES = int(os.environ.get("ITPTRIAL_FUZZ_EXAMPLES", "500"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # a fixed sequence of cases: CI runs the same ones every time
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
PROBLEM = re.compile(r"^(error: |warning: )?.+?:(\d+|-):.*?: .+$")
COUNT = re.compile(r"^error: \d+ problem\(s\)( in .+)?:$")

Tables = dict[str, bytes]  # file name -> contents


def original() -> Tables:
    return {path.name: path.read_bytes() for path in sorted(DATA.iterdir()) if path.is_file()}


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")))


def to_csv(table: list[list[str]], quoting: int = csv.QUOTE_MINIMAL, eol: str = "\n") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, quoting=quoting, lineterminator=eol).writerows(table)
    return out.getvalue().encode("utf-8")


# --- mutations ---------------------------------------------------------------------------

Mutation = Callable[[Tables], Tables]

ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "nan",
            "inf",
            "-inf",
            "1e30",
            "-1",
            "5001",
            "2.5",
            "0000-01-01",
            "2021-02-30",
            "2021-3-5",
            "03/05/2021",
            "true",
            "TRUE",
            "maybe",
            "NA",
            "null",
            "M",
            "x\ny",
            '"quoted"',
            'a"b',
            "a,b",
            "\u202e",
            "\x00",
            "platelets:2:count: fake",
            ":100:",
            "[bold]markup[/bold]",
            "\ufeff",
            "é",
            "x" * 5000,
        ]
    ),
    st.text(max_size=12),
    st.integers(-10, 10_000).map(str),
)


@dataclass(frozen=True)
class Change:
    """One mutation, and whether it keeps every value (then endpoints must not change)."""

    name: str
    apply: Mutation
    keeps_values: bool = False


def _csv_names(tables: Tables) -> list[str]:
    return sorted(name for name in tables if name.endswith(".csv"))


@st.composite
def cell_change(draw: st.DrawFn) -> Change:
    value = draw(ODD_VALUES)
    pick = draw(st.integers(0, 10**6))

    def apply(tables: Tables) -> Tables:
        name = _csv_names(tables)[pick % len(_csv_names(tables))]
        table = rows(tables[name])
        if len(table) > 1:
            row = table[1 + pick % (len(table) - 1)]
            if row:
                row[pick % len(row)] = value
        return {**tables, name: to_csv(table)}

    return Change(f"cell={value[:20]!r}", apply)


@st.composite
def row_change(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(["delete", "duplicate", "swap"]))
    pick = draw(st.integers(0, 10**6))

    def apply(tables: Tables) -> Tables:
        name = _csv_names(tables)[pick % len(_csv_names(tables))]
        table = rows(tables[name])
        if len(table) < 3:
            return tables
        i, j = 1 + pick % (len(table) - 1), 1 + (pick // 7) % (len(table) - 1)
        if kind == "delete":
            del table[i]
        elif kind == "duplicate":
            table.insert(j, list(table[i]))
        else:
            table[i], table[j] = table[j], table[i]
        return {**tables, name: to_csv(table)}

    return Change(f"row {kind}", apply, keeps_values=kind == "swap")


@st.composite
def column_change(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "case", "space"]))
    pick = draw(st.integers(0, 10**6))

    def apply(tables: Tables) -> Tables:
        name = _csv_names(tables)[pick % len(_csv_names(tables))]
        table = rows(tables[name])
        width = len(table[0]) if table else 0
        if width < 2:
            return tables
        i, j = pick % width, (pick // 7) % width
        for row in table:
            if len(row) != width:
                continue
            if kind == "delete":
                del row[i]
            elif kind == "duplicate":
                row.insert(j, row[i])
            elif kind == "swap":
                row[i], row[j] = row[j], row[i]
        if kind == "case":
            table[0][i] = table[0][i].upper()
        elif kind == "space":
            table[0][i] = f" {table[0][i]}"
        return {**tables, name: to_csv(table)}

    return Change(f"column {kind}", apply, keeps_values=kind == "swap")


@st.composite
def byte_change(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(["truncate", "insert", "unicode"]))
    pick = draw(st.integers(0, 10**6))
    noise = draw(st.binary(min_size=1, max_size=8))
    text = draw(st.text(min_size=1, max_size=6))

    def apply(tables: Tables) -> Tables:
        name = sorted(tables)[pick % len(tables)]
        data = tables[name]
        at = pick % (len(data) + 1)
        if kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + noise + data[at:]
        else:
            data = data[:at] + text.encode("utf-8", errors="replace") + data[at:]
        return {**tables, name: data}

    return Change(f"bytes {kind}", apply)


@st.composite
def file_change(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(["upper", "dash", "extension", "delete", "title"]))
    pick = draw(st.integers(0, 10**6))

    def apply(tables: Tables) -> Tables:
        name = sorted(tables)[pick % len(tables)]
        stem, _, ext = name.rpartition(".")
        renamed = {
            "upper": name.upper(),
            "dash": name.replace("_", "-"),
            "extension": f"{stem}.{ext.upper()}",
            "title": name.title(),
            "delete": None,
        }[kind]
        out = {k: v for k, v in tables.items() if k != name}
        if renamed is not None:
            out[renamed] = tables[name]
        return out

    return Change(f"file {kind}", apply)


@st.composite
def encoding_change(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(["crlf", "bom", "quote_all"]))

    def apply(tables: Tables) -> Tables:
        out = dict(tables)
        for name in _csv_names(tables):
            if kind == "crlf":
                out[name] = to_csv(rows(tables[name]), eol="\r\n")
            elif kind == "bom":
                out[name] = b"\xef\xbb\xbf" + tables[name]
            else:
                out[name] = to_csv(rows(tables[name]), quoting=csv.QUOTE_ALL)
        return out

    return Change(f"encoding {kind}", apply, keeps_values=True)


MUTANTS = st.lists(
    st.one_of(cell_change(), row_change(), column_change(), byte_change(), file_change()),
    min_size=1,
    max_size=3,
)

# --- running the command line -------------------------------------------------------------


def run(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exited:
            code = exited.code if isinstance(exited.code, int) else 1
    return code, err.getvalue()


def write(tables: Tables, folder: Path) -> Path:
    folder.mkdir()
    for name, data in tables.items():
        (folder / name).write_bytes(data)
    return folder


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("summary: ")]


OUTCOMES: dict[int, int] = {0: 0, 2: 0}  # how often the fuzzer saw each exit code
MESSAGES: set[str] = set()  # the kinds of problem it reached


def check(tables: Tables) -> tuple[int, bytes | None]:
    """Run validate and adjudicate on ``tables``; assert the invariants; return the exit
    code and the endpoints file (None on failure)."""
    root = Path(tempfile.mkdtemp(prefix="itptrial-fuzz-"))
    try:
        data = write(tables, root / "data")
        out = root / "out" / "endpoints.csv"
        code_v, err_v = run(["validate", str(data)])
        code_a, err_a = run(["adjudicate", str(data), "--out", str(out)])
        for code, err in ((code_v, err_v), (code_a, err_a)):
            assert code in (0, 2), err
            assert "Traceback" not in err and "internal error" not in err, err
            for line in err.splitlines():
                assert PROBLEM.match(line) or COUNT.match(line) or line.startswith("summary: "), (
                    line
                )
        assert code_v == code_a, (err_v, err_a)
        assert problem_lines(err_v) == problem_lines(err_a)
        OUTCOMES[code_a] += 1
        MESSAGES.update(m.group(0) for m in re.finditer(r"(?<=: )[a-z][a-z ]{6,30}", err_a))
        if code_a == 2:
            assert not out.exists()
            assert not (root / "out").exists() or not list((root / "out").iterdir())
            return code_a, None
        return code_a, out.read_bytes()
    finally:
        shutil.rmtree(root, ignore_errors=True)


BASELINE = check(original())


def test_the_dataset_itself_is_valid() -> None:
    assert BASELINE[0] == 0, f"{DATA} does not load: fuzz a valid export"


@SETTINGS
@given(MUTANTS)
def test_any_mutation_exits_0_or_2_with_one_line_problems(changes: list[Change]) -> None:
    tables = original()
    for change in changes:
        tables = change.apply(tables)
    check(tables)


@settings(SETTINGS, max_examples=max(20, EXAMPLES // 10))
@given(
    st.lists(st.one_of(encoding_change(), row_change(), column_change()), min_size=1, max_size=3)
)
def test_a_mutation_that_keeps_every_value_keeps_the_endpoints(changes: list[Change]) -> None:
    kept = [change for change in changes if change.keeps_values]
    tables = original()
    for change in kept:
        tables = change.apply(tables)
    code, endpoints = check(tables)
    assert code == 0, [c.name for c in kept]
    assert endpoints == BASELINE[1], [c.name for c in kept]


@pytest.mark.parametrize("mutant", ["truncated_header", "empty_file", "only_bom", "binary"])
def test_fixed_corner_cases(mutant: str) -> None:
    tables = original()
    name = "platelets.csv"
    tables[name] = {
        "truncated_header": tables[name][:7],
        "empty_file": b"",
        "only_bom": b"\xef\xbb\xbf",
        "binary": bytes(range(256)) * 4,
    }[mutant]
    code, _ = check(tables)
    assert code == 2


def test_the_fuzzer_reached_accepted_and_rejected_inputs() -> None:
    """Guard against a fuzzer that silently stops making interesting inputs (runs after
    the fuzz tests above, in file order)."""
    if OUTCOMES[2] == 0:  # run on its own: run the fuzzer first
        test_any_mutation_exits_0_or_2_with_one_line_problems()
    assert OUTCOMES[0] >= 10 and OUTCOMES[2] >= 10 * (EXAMPLES // 100), OUTCOMES
    assert len(MESSAGES) >= 10, sorted(MESSAGES)
