"""The bad-input suite's native tables as an SDTM source, and its expected problem lines
as the ones ``itptrial import-sdtm`` must print for that source.

:func:`to_sdtm` writes each native record as the SDTM record(s) a sponsor would hold for
it (docs/sdtm.md read backwards): ``subjects`` -> DM plus a DS RANDOMIZED record,
``platelets`` -> LB (LBTESTCD PLAT, 10^9/L), ``rescue`` -> CM (CMCAT RESCUE),
``adverse_events`` -> AE, ``doses`` -> EX (one day, mg), ``drug_levels`` -> PC (a
pre-dose trough, ng/mL). Every domain also holds records the importer must pass over (a
screen failure with its own records, another lab test, a medication that is not rescue, a
dose not taken, a post-dose sample), so that an SDTM line is not the native line and the
translation of line numbers is really checked.

:func:`sdtm_problems` says a native problem line ``table:line:column: message`` again as
the SDTM problem line of the same fault: the domain, the file line of the SDTM record that
carried the native record, the SDTM variable, and the native wording with the native
vocabulary replaced by SDTM's (one fault, one message, in the reader's vocabulary):

- a column name with an underscore in a message becomes its variable (``ctcae_grade
  below 1`` -> ``AETOXGR below 1``); plain words (``count``, ``date``) stay;
- ``empty <column>`` becomes ``empty <variable>``;
- ``is not in subjects`` becomes ``is not in DM``; line numbers inside a message
  (``first at line 2``, ``line 2 has 12``) become SDTM lines;
- ``missing required table`` becomes the importer's ``missing required domain (lb.xpt or
  lb.csv)``.

A problem of a native table that SDTM does not have (``bleeding``: WHO bleeding grade has
no SDTM variable) has no SDTM counterpart and is dropped; :data:`NOT_IN_SDTM` says why.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyreadstat

Rows = list[dict[str, str]]
Tables = dict[str, tuple[list[str], Rows]]  # as in test_bad_input

# Native tables with no SDTM domain: their records are not written, their problems dropped.
NOT_IN_SDTM = {
    "bleeding": "SDTM has no bleeding table (WHO bleeding grade has no standard variable); "
    "import-sdtm writes none and the user adds bleeding.csv",
}
DOMAIN = {
    "subjects": "DM",
    "platelets": "LB",
    "rescue": "CM",
    "adverse_events": "AE",
    "doses": "EX",
    "drug_levels": "PC",
}
# Native column -> SDTM variable, per table. subjects.randomization_date lives in DS.
VARIABLES = {
    "subjects": {
        "subject_id": "USUBJID",
        "site_id": "SITEID",
        "arm": "ARMCD",
        "randomization_date": "DSSTDTC",
        "treatment_start_date": "RFXSTDTC",
        "stratum": "STRATUM",
        "sex": "SEX",
        "age": "AGE",
        "last_contact_date": "RFPENDTC",
    },
    "platelets": {"subject_id": "USUBJID", "date": "LBDTC", "count": "LBSTRESN"},
    "rescue": {"subject_id": "USUBJID", "start_date": "CMSTDTC", "treatment": "CMTRT"},
    "adverse_events": {
        "subject_id": "USUBJID",
        "term": "AETERM",
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
# (table, column) whose native cell lives in another domain than the table's.
MOVED = {("subjects", "randomization_date"): "DS"}
# (table, column) filled from the first non-empty of several variables: an empty one is
# reported at the first, naming all (docs/sdtm.md: AEDECOD, else AETERM).
ALTERNATIVES = {
    ("adverse_events", "term"): ("AEDECOD", "AEDECOD and AETERM"),
    ("drug_levels", "drug"): ("PCTEST", "PCTEST and PCTESTCD"),
}
NUMERIC = {"AGE", "LBSTRESN", "EXDOSE", "PCSTRESN"}  # numeric variables in .xpt files
SCREEN_FAILURE = "SCR-01"
STUDY = "T020"
YES_NO = {"true": "Y", "false": "N"}

Record = dict[str, str]


@dataclass
class Domain:
    variables: list[str]
    records: list[Record] = field(default_factory=list)

    def add(self, **values: str) -> int:
        """Append a record (variables not named are empty); returns its file line."""
        self.records.append({v: values.get(v, "") for v in self.variables})
        return len(self.records) + 1


@dataclass
class Sdtm:
    """The SDTM domains made from native tables, and where each native record went."""

    domains: dict[str, Domain] = field(default_factory=dict)
    # (native table, native line) -> SDTM line of the record that carries it (in the
    # table's domain; for subjects.randomization_date, see ``ds_lines``).
    lines: dict[tuple[str, int], int] = field(default_factory=dict)
    ds_lines: dict[int, int] = field(default_factory=dict)  # subjects line -> DS line

    def where(self, table: str, line: int, column: str | None) -> tuple[str, int]:
        """The (domain, SDTM line) of a native cell."""
        if column is not None and MOVED.get((table, column)) == "DS":
            return "DS", self.ds_lines[line]
        return DOMAIN[table], self.lines[(table, line)]


def _variables(table: str, columns: list[str], fixed: list[str], tail: list[str]) -> list[str]:
    """``fixed`` variables, then those of the native columns present, then ``tail``."""
    mapped = [VARIABLES[table][c] for c in columns if c in VARIABLES[table]]
    return list(dict.fromkeys([*fixed, *mapped, *tail]))


def to_sdtm(tables: Tables) -> Sdtm:
    """The SDTM domains holding ``tables`` (a native table absent: its domain absent; a
    native column absent: its variable absent)."""
    sdtm = Sdtm()
    if "subjects" in tables:
        _subjects(sdtm, *tables["subjects"])
    converters = {
        "platelets": _platelets,
        "rescue": _rescue,
        "adverse_events": _adverse_events,
        "doses": _doses,
        "drug_levels": _drug_levels,
    }
    for table, convert in converters.items():
        if table in tables:
            convert(sdtm, *tables[table])
    return sdtm


def _subjects(sdtm: Sdtm, columns: list[str], rows: Rows) -> None:
    names = [c for c in columns if c != "randomization_date"]
    dm = Domain(_variables("subjects", names, ["STUDYID"], ["RFSTDTC", "AGEU"]))
    ds_variables = ["STUDYID", "USUBJID", "DSCAT", "DSDECOD"]
    if "randomization_date" in columns:
        ds_variables.append("DSSTDTC")
    ds = Domain(ds_variables)
    # A screen failure first: in DM (left out by ARMCD SCRNFAIL) and DS (another
    # disposition), so that no native line is its SDTM line.
    dm.add(STUDYID=STUDY, USUBJID=SCREEN_FAILURE, SITEID="A", ARMCD="SCRNFAIL", SEX="F")
    ds.add(
        STUDYID=STUDY,
        USUBJID=SCREEN_FAILURE,
        DSCAT="DISPOSITION EVENT",
        DSDECOD="SCREEN FAILURE",
        DSSTDTC="2021-02-20",
    )
    randomized: set[str] = set()
    for line, row in enumerate(rows, start=2):
        values = {VARIABLES["subjects"][c]: row[c] for c in names}
        age = row.get("age", "")
        extra = {"RFSTDTC": row.get("treatment_start_date", ""), "AGEU": "YEARS" if age else ""}
        sdtm.lines[("subjects", line)] = dm.add(STUDYID=STUDY, **values, **extra)
        # One DS RANDOMIZED record per subject: none for a record without USUBJID (its
        # fault is the empty USUBJID in DM), none again for a repeated USUBJID (its
        # fault is the duplicate in DM; SDTM holds one randomization per subject).
        subject_id = row["subject_id"].strip()
        if not subject_id or subject_id in randomized:
            continue
        randomized.add(subject_id)
        date = {"DSSTDTC": row["randomization_date"]} if "randomization_date" in columns else {}
        sdtm.ds_lines[line] = ds.add(
            STUDYID=STUDY,
            USUBJID=row["subject_id"],
            DSCAT="PROTOCOL MILESTONE",
            DSDECOD="RANDOMIZED",
            **date,
        )
    sdtm.domains["DM"] = dm
    sdtm.domains["DS"] = ds


def _records(sdtm: Sdtm, table: str, domain: Domain, rows: Rows, **fixed: str) -> None:
    """One SDTM record per native row: the mapped cells, plus ``fixed`` values, plus
    per-row values computed by :func:`_derived`."""
    for line, row in enumerate(rows, start=2):
        values = {VARIABLES[table][c]: v for c, v in row.items() if c in VARIABLES[table]}
        values = {**fixed, **values, **_derived(table, row)}
        values = {k: v for k, v in values.items() if k in domain.variables}
        sdtm.lines[(table, line)] = domain.add(**values)
    sdtm.domains[DOMAIN[table]] = domain


def _derived(table: str, row: Record) -> Record:
    """Variables whose value is not the native cell as written."""
    if table == "platelets":
        return {"LBSTRESU": "10^9/L" if row.get("count", "").strip() else ""}
    if table == "adverse_events":
        return {
            v: YES_NO.get(row[c], row[c])
            for c, v in (("serious", "AESER"), ("related", "AEREL"))
            if c in row
        }
    if table in ("doses", "drug_levels") and "drug" in row:
        return {VARIABLES[table]["drug"]: row["drug"].upper()}
    return {}


def _platelets(sdtm: Sdtm, columns: list[str], rows: Rows) -> None:
    lb = Domain(_variables("platelets", columns, ["STUDYID", "LBTESTCD"], ["LBSTRESU"]))
    # The screen failure's count (left out with its subject) and another test of a
    # randomized subject (not a platelet count; its partial date is no error).
    lb.add(
        STUDYID=STUDY,
        USUBJID=SCREEN_FAILURE,
        LBTESTCD="PLAT",
        LBDTC="2021-02-20",
        LBSTRESN="150",
        LBSTRESU="10^9/L",
    )
    lb.add(
        STUDYID=STUDY, USUBJID="S1", LBTESTCD="HGB", LBDTC="2021-03", LBSTRESN="120", LBSTRESU="g/L"
    )
    _records(sdtm, "platelets", lb, rows, STUDYID=STUDY, LBTESTCD="PLAT")


def _rescue(sdtm: Sdtm, columns: list[str], rows: Rows) -> None:
    cm = Domain(_variables("rescue", columns, ["STUDYID"], ["CMCAT"]))
    cm.add(STUDYID=STUDY, USUBJID="S1", CMTRT="PARACETAMOL", CMCAT="CONCOMITANT", CMSTDTC="2021")
    _records(sdtm, "rescue", cm, rows, STUDYID=STUDY, CMCAT="RESCUE")


def _adverse_events(sdtm: Sdtm, columns: list[str], rows: Rows) -> None:
    ae = Domain(_variables("adverse_events", columns, ["STUDYID"], []))
    ae.add(
        STUDYID=STUDY,
        USUBJID=SCREEN_FAILURE,
        AETERM="Headache",
        AESTDTC="2021-02-20",
        AETOXGR="1",
        AESER="N",
        AEREL="N",
    )  # a screen failure's event: left out with its subject
    _records(sdtm, "adverse_events", ae, rows, STUDYID=STUDY)


def _doses(sdtm: Sdtm, columns: list[str], rows: Rows) -> None:
    tail = ["EXDOSU", "EXDOSFRQ", "EXENDTC", "EXOCCUR"]
    ex = Domain(_variables("doses", columns, ["STUDYID"], tail))
    ex.add(
        STUDYID=STUDY,
        USUBJID="S1",
        EXTRT="TAC",
        EXDOSE="1",
        EXDOSU="mg",
        EXDOSFRQ="BID",
        EXSTDTC="2021-03-03",
        EXOCCUR="N",
    )  # a planned dose not taken: passed over
    # One record per native daily dose: one day (no EXENDTC), once a day, in mg.
    _records(sdtm, "doses", ex, rows, STUDYID=STUDY, EXDOSU="mg", EXDOSFRQ="QD", EXOCCUR="Y")


def _drug_levels(sdtm: Sdtm, columns: list[str], rows: Rows) -> None:
    pc = Domain(_variables("drug_levels", columns, ["STUDYID"], ["PCSTRESU", "PCTPT"]))
    pc.add(
        STUDYID=STUDY,
        USUBJID="S1",
        PCTEST="TAC",
        PCDTC="2021-03-10T10:00",
        PCSTRESN="12.5",
        PCSTRESU="ng/mL",
        PCTPT="2H POST-DOSE",
    )  # not a trough: passed over
    _records(sdtm, "drug_levels", pc, rows, STUDYID=STUDY, PCSTRESU="ng/mL", PCTPT="PRE-DOSE")


# --- writing ------------------------------------------------------------------------------


def write_sdtm(folder: Path, sdtm: Sdtm, fmt: str = "csv") -> Path:
    """One file per domain, ``dm.csv`` or ``DM.xpt`` (XPORT v5 via pyreadstat; the
    NUMERIC variables as numbers, so a value that is not one cannot be written)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, domain in sdtm.domains.items():
        rows = [[r[v] for v in domain.variables] for r in domain.records]
        if fmt == "csv":
            with (folder / f"{name.lower()}.csv").open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([domain.variables, *rows])
            continue
        frame = pd.DataFrame(rows, columns=domain.variables, dtype=object)
        for variable in NUMERIC & set(domain.variables):
            frame[variable] = frame[variable].map(_xpt_number).astype(float)
        pyreadstat.write_xport(frame, str(folder / f"{name}.xpt"), table_name=name)
    return folder


def _xpt_number(value: str) -> float | None:
    """An XPORT number (IBM floating point: no text, no infinity, no NaN), else an error."""
    if not value.strip():
        return None
    number = float(value)  # ValueError: the rule cannot be written as .xpt
    if not math.isfinite(number):
        raise ValueError(f"XPORT cannot hold {value!r}")
    return number


# --- the expected problems, in SDTM terms -------------------------------------------------

PROBLEM = re.compile(r"^(?P<table>\w+):(?P<line>-|\d+):(?P<column>-|\w+): (?P<message>.*)$")
LINE_REFERENCES = re.compile(r"(?<=\(first at line )\d+(?=\))|(?<=\(line )\d+(?= has )")


def sdtm_problem(native: str, sdtm: Sdtm) -> str | None:
    """The SDTM problem line of the fault ``native`` reports (None: no SDTM counterpart)."""
    match = PROBLEM.match(native)
    assert match, native
    table, line_text, column_text, message = match.group("table", "line", "column", "message")
    if table in NOT_IN_SDTM:
        return None
    domain = DOMAIN[table]
    column = None if column_text == "-" else column_text
    variable = VARIABLES[table].get(column, column) if column else None
    if line_text == "-":
        if message == "missing required table":
            name = domain.lower()
            return f"{domain}:-:-: missing required domain ({name}.xpt or {name}.csv)"
        return f"{domain}:-:{variable or '-'}: {message}"
    line = int(line_text)
    if line == 1:  # the header: a missing column is a missing variable
        where = MOVED.get((table, column), domain) if column else domain
        return f"{where}:1:{variable or '-'}: {message}"
    where, sdtm_line = sdtm.where(table, line, column)
    if column and (table, column) in ALTERNATIVES and message == f"empty {column}":
        variable, said = ALTERNATIVES[(table, column)]
        return f"{where}:{sdtm_line}:{variable}: empty {said}"
    if column and message == f"empty {column}":
        return f"{where}:{sdtm_line}:{variable}: empty {variable}"
    return f"{where}:{sdtm_line}:{variable or '-'}: {sdtm_message(message, table, sdtm)}"


def sdtm_message(message: str, table: str, sdtm: Sdtm) -> str:
    """A native message in SDTM vocabulary (the wording is the loader's own)."""
    words = {**VARIABLES["subjects"], **VARIABLES[table]}  # a table's own names first
    for native, variable in words.items():
        if "_" in native:
            message = re.sub(rf"\b{re.escape(native)}\b", variable, message)
    message = message.replace("is not in subjects", "is not in DM")
    return LINE_REFERENCES.sub(lambda m: str(sdtm.lines[(table, int(m.group()))]), message)


def sdtm_problems(native: set[str], sdtm: Sdtm) -> set[str]:
    """Every native problem line said as an SDTM one (those with no counterpart dropped)."""
    said = {sdtm_problem(line, sdtm) for line in native}
    return {line for line in said if line is not None}
