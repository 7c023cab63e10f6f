"""SDTM import (itptrial.data.sdtm): a small hand-made SDTM sample, as CSV and as XPORT.

The expected native records below are worked out by hand from the sample; comments give
the SDTM file line (header = line 1) each record or problem comes from.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from itptrial import InputError, load_dataset
from itptrial.data.sdtm import BLEEDING_NOTE, import_sdtm

Domains = dict[str, list[list[str]]]  # domain -> [header, record, record, ...]

NUMERIC = {"AGE", "LBSTRESN", "EXDOSE", "PCSTRESN"}  # numeric variables in the .xpt files


def sample() -> Domains:
    """A fresh copy of the sample (tests edit it)."""
    return {
        "DM": [
            [
                "STUDYID",
                "USUBJID",
                "SITEID",
                "ARMCD",
                "RFSTDTC",
                "RFXSTDTC",
                "RFPENDTC",
                "SEX",
                "AGE",
                "AGEU",
                "STRATUM",
            ],
            [
                "T020",
                "S01-001",
                "01",
                "TAC_DXM",
                "2021-03-01",
                "2021-03-01T09:30",
                "2021-09-30",
                "F",
                "34",
                "YEARS",
                "newly diagnosed",
            ],  # line 2
            ["T020", "S01-002", "01", "SCRNFAIL", "", "", "", "M", "45", "YEARS", ""],
            [
                "T020",
                "S02-003",
                "02",
                "DXM",
                "2021-03-04",
                "",
                "2021-10-02",
                "U",
                "51",
                "YEARS",
                "persistent",
            ],  # line 4
            ["T020", "S02-004", "02", "SCRNFAIL", "", "", "", "F", "29", "YEARS", ""],
            [
                "T020",
                "S02-005",
                "02",
                "DXM",
                "2021-03-08",
                "",
                "2021-03-20",
                "M",
                "",
                "",
                "",
            ],  # line 6
            ["T020", "S02-006", "02", "NOTASSGN", "", "", "", "F", "60", "YEARS", ""],
            ["T020", "S02-007", "02", "", "", "", "", "M", "38", "YEARS", ""],  # line 8
        ],
        "DS": [
            ["USUBJID", "DSCAT", "DSDECOD", "DSSTDTC"],
            ["S01-001", "PROTOCOL MILESTONE", "INFORMED CONSENT OBTAINED", "2021-02-20"],
            ["S01-001", "PROTOCOL MILESTONE", "RANDOMIZED", "2021-02-27"],  # line 3
            ["S01-002", "DISPOSITION EVENT", "SCREEN FAILURE", "2021-02-25"],
            ["S02-003", "PROTOCOL MILESTONE", "RANDOMIZED", "2021-03-03T14:00"],  # line 5
            ["S02-005", "PROTOCOL MILESTONE", "RANDOMIZED", "2021-03-07"],
        ],
        "LB": [
            ["USUBJID", "LBTESTCD", "LBDTC", "LBSTRESN", "LBSTRESU", "LBSTAT"],
            ["S01-001", "PLAT", "2021-02-27T08:00", "18", "10^9/L", ""],  # line 2
            ["S01-001", "HGB", "2021-02", "120", "g/L", ""],  # not PLAT: partial date is fine
            ["S01-001", "PLAT", "2021-03-08", "62", "GI/L", ""],  # line 4
            ["S01-002", "PLAT", "2021-02-25", "15", "10^9/L", ""],  # screen failure
            ["S02-003", "PLAT", "2021-03-04", "22", "x10^9/l", ""],  # line 6
            ["S02-003", "PLAT", "2021-03-11", "", "", "NOT DONE"],
            ["S02-005", "PLAT", "2021-03-07", "9", "10*9/L", ""],  # line 8
        ],
        "CM": [
            ["USUBJID", "CMTRT", "CMCAT", "CMSCAT", "CMSTDTC"],
            ["S01-001", "IVIG", "RESCUE", "", "2021-03-05"],  # line 2
            ["S01-001", "PARACETAMOL", "CONCOMITANT", "", "2021-03"],  # not rescue
            [
                "S02-003",
                "PLATELET TRANSFUSION",
                "PRIOR/CONCOMITANT",
                "rescue",
                "2021-03-10T12:00",
            ],  # line 4
        ],
        "AE": [
            ["USUBJID", "AETERM", "AEDECOD", "AESTDTC", "AETOXGR", "AESER", "AEREL"],
            ["S01-001", "headache", "Headache", "2021-03-02", "1", "N", "POSSIBLY RELATED"],
            ["S01-001", "high sugar", "Hyperglycaemia", "2021-03-03", "2", "N", "Y"],  # 3
            ["S02-003", "Insomnia", "", "2021-03-06", "1", "N", "NOT RELATED"],  # line 4
            ["S02-003", "nose bleed", "Epistaxis", "2021-03-12", "3", "Y", "unlikely related"],
        ],
        "EX": [
            ["USUBJID", "EXTRT", "EXDOSE", "EXDOSU", "EXDOSFRQ", "EXSTDTC", "EXENDTC"],
            ["S01-001", "DEXAMETHASONE", "40", "mg", "QD", "2021-03-01", "2021-03-04"],  # 2
            [
                "S01-001",
                "TACROLIMUS",
                "1",
                "mg",
                "BID",
                "2021-03-01T08:00",
                "2021-03-03T20:00",
            ],  # line 3
            ["S01-001", "Tacrolimus", "0.5", "MG", "ONCE", "2021-03-03", ""],  # line 4
            ["S02-003", "DEXAMETHASONE", "40", "mg", "", "2021-03-04", ""],  # line 5
        ],
        "PC": [
            ["USUBJID", "PCTESTCD", "PCTEST", "PCDTC", "PCSTRESN", "PCSTRESU", "PCSTAT"],
            ["S01-001", "TACRO", "Tacrolimus", "2021-03-03T07:45", "4.2", "ng/mL", ""],
            ["S01-001", "TACRO", "Tacrolimus", "2021-03-08", "", "", "NOT DONE"],
        ],
        "VS": [["USUBJID", "VSTESTCD"], ["S01-001", "WEIGHT"]],
    }


def write_sdtm(folder: Path, domains: Domains, fmt: str = "csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (header, *records) in domains.items():
        if fmt == "csv":
            with (folder / f"{name.lower()}.csv").open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([header, *records])
            continue
        frame = pd.DataFrame(records, columns=header, dtype=object)
        for column in NUMERIC & set(header):
            frame[column] = pd.to_numeric(frame[column].replace("", None)).astype(float)
        pyreadstat.write_xport(frame, str(folder / f"{name}.xpt"), table_name=name)
    return folder


def read_table(folder: Path, name: str) -> list[tuple[str, ...]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        return [tuple(row) for row in csv.reader(f)]


SUBJECTS_HEADER = (
    "subject_id",
    "site_id",
    "arm",
    "randomization_date",
    "treatment_start_date",
    "stratum",
    "sex",
    "age",
    "last_contact_date",
)
EXPECTED = {
    "subjects": [
        SUBJECTS_HEADER,
        # randomization_date from DS; Day 0 from RFXSTDTC (001), the first EX dose (003),
        # never exposed (005); SEX U -> empty.
        (
            "S01-001",
            "01",
            "TAC_DXM",
            "2021-02-27",
            "2021-03-01",
            "newly diagnosed",
            "F",
            "34.0",
            "2021-09-30",
        ),
        (
            "S02-003",
            "02",
            "DXM",
            "2021-03-03",
            "2021-03-04",
            "persistent",
            "",
            "51.0",
            "2021-10-02",
        ),
        ("S02-005", "02", "DXM", "2021-03-07", "", "", "M", "", "2021-03-20"),
    ],
    "platelets": [
        ("subject_id", "date", "count"),
        ("S01-001", "2021-02-27", "18.0"),
        ("S01-001", "2021-03-08", "62.0"),
        ("S02-003", "2021-03-04", "22.0"),
        ("S02-005", "2021-03-07", "9.0"),
    ],
    "rescue": [
        ("subject_id", "start_date", "treatment"),
        ("S01-001", "2021-03-05", "IVIG"),  # CMCAT RESCUE (CMSCAT is not looked at)
    ],
    "adverse_events": [
        ("subject_id", "term", "start_date", "ctcae_grade", "serious", "related"),
        ("S01-001", "Headache", "2021-03-02", "1", "false", "true"),
        ("S01-001", "Hyperglycaemia", "2021-03-03", "2", "false", "true"),
        ("S02-003", "Insomnia", "2021-03-06", "1", "false", "false"),  # AETERM fallback
        ("S02-003", "Epistaxis", "2021-03-12", "3", "true", "false"),
    ],
    "doses": [
        ("subject_id", "date", "drug", "dose_mg"),
        ("S01-001", "2021-03-01", "dexamethasone", "40.0"),  # EX line 2, QD over 4 days
        ("S01-001", "2021-03-02", "dexamethasone", "40.0"),
        ("S01-001", "2021-03-03", "dexamethasone", "40.0"),
        ("S01-001", "2021-03-04", "dexamethasone", "40.0"),
        ("S01-001", "2021-03-01", "tacrolimus", "2.0"),  # EX line 3: 1 mg BID
        ("S01-001", "2021-03-02", "tacrolimus", "2.0"),
        ("S01-001", "2021-03-03", "tacrolimus", "2.5"),  # + 0.5 mg ONCE (EX line 4)
        ("S02-003", "2021-03-04", "dexamethasone", "40.0"),  # no EXENDTC: one day
    ],
    "drug_levels": [
        ("subject_id", "date", "drug", "trough_ng_ml"),
        ("S01-001", "2021-03-03", "tacrolimus", "4.2"),
    ],
}

NOTES_WITH_DS = (
    "not read (not a mapped domain): {vs}",
    "randomization_date: DS.DSSTDTC of the DSDECOD RANDOMIZED record",
    "treatment_start_date (Day 0): DM.RFXSTDTC for 1, the first EX record for 1, "
    "none (never treated) for 1 of 3 subjects",
    BLEEDING_NOTE,
)
# (domain, outcome, count, what), worked out from the sample by hand.
TALLIES = {
    ("DM", "read", 7, "records"),
    ("DM", "kept", 3, "randomized subjects (ARMCD not SCRNFAIL, NOTASSGN or empty)"),
    ("DM", "arm", 2, "ARMCD DXM"),
    ("DM", "arm", 1, "ARMCD TAC_DXM"),
    ("DM", "left out", 1, "ARMCD empty"),
    ("DM", "left out", 1, "ARMCD NOTASSGN"),
    ("DM", "left out", 2, "ARMCD SCRNFAIL"),
    ("DS", "read", 5, "records"),
    ("DS", "other", 2, "other dispositions"),
    ("DS", "kept", 3, "randomization records (DSDECOD RANDOMIZED)"),
    ("EX", "read", 4, "records"),
    ("EX", "kept", 4, "exposure records"),
    ("EX", "derived", 8, "daily doses (one per subject, drug and day)"),
    ("EX", "dose", 200, "dexamethasone"),  # 4 days x 40 mg + 40 mg
    ("EX", "dose", 6, "tacrolimus"),  # 1 mg BID x 3 days (+ 0.5 mg): 6.5, rounded
    ("LB", "read", 7, "records"),
    ("LB", "other", 1, "other tests"),
    ("LB", "left out", 1, "records of subjects left out"),
    ("LB", "left out", 1, "LBSTAT NOT DONE"),
    ("LB", "kept", 4, "platelet counts (LBTESTCD PLAT)"),
    ("CM", "read", 3, "records"),
    ("CM", "other", 2, "other medications"),
    ("CM", "kept", 1, "rescue records (CMCAT RESCUE)"),
    ("AE", "read", 4, "records"),
    ("AE", "kept", 4, "adverse events"),
    ("PC", "read", 2, "records"),
    ("PC", "left out", 1, "PCSTAT NOT DONE"),
    ("PC", "kept", 1, "samples (PC has no time point variable: each is a trough)"),
}
OVERLAP = (
    "EX:4:EXSTDTC: EX records at lines 3 and 4 of subject 'S01-001' both give tacrolimus "
    "on 2021-03-03: their doses are added (2.5 mg a day); if one replaces the other, end "
    "the first one the day before (EXENDTC)"
)


@pytest.mark.parametrize("fmt", ["csv", "xpt"])
def test_sample_gives_the_hand_worked_records(tmp_path: Path, fmt: str) -> None:
    sdtm = write_sdtm(tmp_path / "sdtm", sample(), fmt)
    summary = import_sdtm(sdtm, tmp_path / "data")
    for name, rows in EXPECTED.items():
        assert read_table(tmp_path / "data", name) == rows, name
    assert not (tmp_path / "data" / "bleeding.csv").exists()
    assert dict(summary.records) == {name: len(rows) - 1 for name, rows in EXPECTED.items()}
    vs = "vs.csv" if fmt == "csv" else "VS.xpt"
    assert summary.notes == tuple(n.format(vs=vs) for n in NOTES_WITH_DS)
    assert {(t.domain, t.outcome, t.count, t.what) for t in summary.tallies} == TALLIES
    assert [str(w) for w in summary.warnings] == [OVERLAP]
    dataset = load_dataset(tmp_path / "data")  # no protocol: must load without errors
    assert dataset.warnings == ()
    assert dataset.subjects.height == 3


def test_every_record_read_is_accounted_for(tmp_path: Path) -> None:
    """Per domain: records read = kept + other data + left out."""
    summary = import_sdtm(write_sdtm(tmp_path / "sdtm", sample()), tmp_path / "data")
    for domain in ("DM", "DS", "EX", "LB", "CM", "AE", "PC"):
        parts = sum(summary.tally(domain, o) for o in ("kept", "other", "left out"))
        assert summary.tally(domain, "read") == parts, domain


def test_csv_and_xpt_give_identical_datasets(tmp_path: Path) -> None:
    for fmt in ("csv", "xpt"):
        import_sdtm(write_sdtm(tmp_path / f"sdtm_{fmt}", sample(), fmt), tmp_path / fmt)
    for name in EXPECTED:
        csv_bytes = (tmp_path / "csv" / f"{name}.csv").read_bytes()
        assert csv_bytes == (tmp_path / "xpt" / f"{name}.csv").read_bytes()


@pytest.mark.parametrize("ds", ["absent", "without RANDOMIZED"])
def test_without_ds_randomization_date_is_rfstdtc(tmp_path: Path, ds: str) -> None:
    domains = sample()
    if ds == "absent":
        del domains["DS"]
    else:
        domains["DS"] = [r for r in domains["DS"] if r[2] != "RANDOMIZED"]
    summary = import_sdtm(write_sdtm(tmp_path / "sdtm", domains), tmp_path / "data")
    subjects = read_table(tmp_path / "data", "subjects")
    assert [(r[0], r[3]) for r in subjects[1:]] == [
        ("S01-001", "2021-03-01"),
        ("S02-003", "2021-03-04"),
        ("S02-005", "2021-03-08"),
    ]
    note = (
        "randomization_date: DM.RFSTDTC (DS holds no DSDECOD RANDOMIZED record); "
        "check that RFSTDTC is the randomization date in this study"
    )
    assert note in summary.notes


def test_domain_file_names_are_case_insensitive_and_optional(tmp_path: Path) -> None:
    domains = {name: sample()[name] for name in ("DM", "LB")}
    sdtm = write_sdtm(tmp_path / "sdtm", domains)
    (sdtm / "dm.csv").rename(sdtm / "Dm.CSV")
    summary = import_sdtm(sdtm, tmp_path / "data")
    assert summary.records["rescue"] == summary.records["doses"] == 0
    assert read_table(tmp_path / "data", "adverse_events") == [EXPECTED["adverse_events"][0]]
    # Without EX and DS: Day 0 only from RFXSTDTC, randomization from RFSTDTC.
    assert [r[3:5] for r in read_table(tmp_path / "data", "subjects")[1:]] == [
        ("2021-03-01", "2021-03-01"),
        ("2021-03-04", ""),
        ("2021-03-08", ""),
    ]
    load_dataset(tmp_path / "data")


@pytest.mark.parametrize(
    ("mapping", "treatments"),
    [
        ("", ["IVIG"]),  # the default: CMCAT RESCUE
        ('[rescue]\nCMCAT = ["RESCUE"]\nCMSCAT = ["rescue"]', ["IVIG", "PLATELET TRANSFUSION"]),
        ('[rescue]\nCMCAT = ["prior/concomitant"]', ["PLATELET TRANSFUSION"]),
        ('[rescue]\nCMTRT = ["ivig"]', ["IVIG"]),
        ('[rescue]\nCMDECOD = ["IVIG"]', []),  # CM has no CMDECOD: see the next test
    ],
)
def test_rescue_is_selected_by_any_of_four_variables(
    tmp_path: Path, mapping: str, treatments: list[str]
) -> None:
    domains = sample()
    domains["CM"][0].append("CMDECOD")
    for row in domains["CM"][1:]:
        row.append("")
    sdtm = write_sdtm(tmp_path / "sdtm", domains)
    (tmp_path / "mapping.toml").write_text(mapping + "\n")
    summary = import_sdtm(sdtm, tmp_path / "data", mapping=tmp_path / "mapping.toml")
    assert [r[2] for r in read_table(tmp_path / "data", "rescue")[1:]] == treatments
    hints = [w for w in summary.warnings if w.where == "CM"]
    assert bool(hints) == (not treatments)


def test_a_rescue_selection_matching_nothing_says_what_is_there(tmp_path: Path) -> None:
    sdtm = write_sdtm(tmp_path / "sdtm", sample())
    (tmp_path / "mapping.toml").write_text('[rescue]\nCMCAT = ["RESCUE MEDICATION"]\n')
    summary = import_sdtm(sdtm, tmp_path / "data", mapping=tmp_path / "mapping.toml")
    assert [str(w) for w in summary.warnings if w.where == "CM"] == [
        "CM:-:CMCAT: no CM record is rescue therapy by CMCAT RESCUE MEDICATION, so none is "
        "imported (CMCAT values present: RESCUE, CONCOMITANT, PRIOR/CONCOMITANT); choose the "
        "rescue records under [rescue] in the mapping"
    ]


def set_cell(domain: str, line: int, column: str, value: str) -> Callable[[Domains], None]:
    def edit(domains: Domains) -> None:
        rows = domains[domain]
        rows[line - 1][rows[0].index(column)] = value

    return edit


def add_record(domain: str, **values: str) -> Callable[[Domains], None]:
    def edit(domains: Domains) -> None:
        header = domains[domain][0]
        domains[domain].append([values.get(c, "") for c in header])

    return edit


def add_tacrolimus_sample(domains: Domains, when: str, ng_ml: str, **values: str) -> None:
    """One more PC record of S01-001's tacrolimus, in ng/mL."""
    add_record(
        "PC",
        USUBJID="S01-001",
        PCTESTCD="TACRO",
        PCTEST="Tacrolimus",
        PCDTC=when,
        PCSTRESN=ng_ml,
        PCSTRESU="ng/mL",
        **values,
    )(domains)


def drop_column(domain: str, column: str) -> Callable[[Domains], None]:
    def edit(domains: Domains) -> None:
        index = domains[domain][0].index(column)
        domains[domain] = [[v for i, v in enumerate(r) if i != index] for r in domains[domain]]

    return edit


def drop_domain(domain: str) -> Callable[[Domains], None]:
    def edit(domains: Domains) -> None:
        del domains[domain]

    return edit


PLAT = {"LBTESTCD": "PLAT", "LBSTRESU": "10^9/L"}

# (edit, expected problems as (domain, line, variable), a word of the message)
ERROR_CASES = {
    "partial LBDTC": (set_cell("LB", 4, "LBDTC", "2021-03"), [("LB", 4, "LBDTC")], "partial"),
    "unparseable LBDTC": (
        set_cell("LB", 2, "LBDTC", "03/01/2021"),
        [("LB", 2, "LBDTC")],
        "unparseable",
    ),
    "non-numeric LBSTRESN": (
        set_cell("LB", 6, "LBSTRESN", "<10"),
        [("LB", 6, "LBSTRESN")],
        "unparseable number",
    ),
    "LBSTRESN out of range": (
        set_cell("LB", 2, "LBSTRESN", "6000"),
        [("LB", 2, "LBSTRESN")],
        "above 5000",
    ),
    "platelet unit": (set_cell("LB", 8, "LBSTRESU", "g/L"), [("LB", 8, "LBSTRESU")], "10^9/L"),
    "empty platelet unit": (set_cell("LB", 8, "LBSTRESU", ""), [("LB", 8, "LBSTRESU")], "empty"),
    "missing LB variable": (
        drop_column("LB", "LBSTRESU"),
        [("LB", 1, "LBSTRESU")],
        "missing required column",
    ),
    "two counts on one day": (
        add_record("LB", USUBJID="S01-001", LBDTC="2021-03-08T16:00", LBSTRESN="70", **PLAT),
        [("LB", 9, "LBSTRESN")],
        "(line 4 has 62)",
    ),
    "subject not in DM": (
        add_record("LB", USUBJID="S09-999", LBDTC="2021-03-08", LBSTRESN="70", **PLAT),
        [("LB", 9, "USUBJID")],
        "not in DM",
    ),
    "missing DM": (drop_domain("DM"), [("DM", None, None)], "missing required domain"),
    "missing LB": (drop_domain("LB"), [("LB", None, None)], "missing required domain"),
    "duplicate USUBJID": (
        add_record("DM", USUBJID="S02-004", SITEID="02", ARMCD="SCRNFAIL"),
        [("DM", 9, "USUBJID")],
        "first at line 5",
    ),
    "empty SITEID": (set_cell("DM", 4, "SITEID", ""), [("DM", 4, "SITEID")], "empty"),
    "age unit": (set_cell("DM", 2, "AGEU", "MONTHS"), [("DM", 2, "AGEU")], "YEARS"),
    "sex": (set_cell("DM", 4, "SEX", "X"), [("DM", 4, "SEX")], "M, F, U"),
    "partial RFXSTDTC": (
        set_cell("DM", 2, "RFXSTDTC", "2021-03"),
        [("DM", 2, "RFXSTDTC")],
        "partial",
    ),
    "no DS RANDOMIZED record": (
        set_cell("DS", 6, "DSDECOD", "COMPLETED"),
        [("DM", 6, "USUBJID")],
        "no DS record",
    ),
    "partial DSSTDTC (no cascade)": (
        set_cell("DS", 5, "DSSTDTC", "2021-03"),
        [("DS", 5, "DSSTDTC")],
        "partial",
    ),
    "two randomization dates": (
        add_record("DS", USUBJID="S01-001", DSDECOD="RANDOMIZED", DSSTDTC="2021-02-28"),
        [("DS", 7, "DSSTDTC")],
        "second randomization date",
    ),
    "RFXSTDTC before randomization": (
        set_cell("DS", 3, "DSSTDTC", "2021-03-02"),
        [("DM", 2, "RFXSTDTC")],
        "RFXSTDTC 2021-03-01 is before DSSTDTC 2021-03-02",
    ),
    "first EX dose before randomization": (
        set_cell("DS", 5, "DSSTDTC", "2021-03-05"),
        [("EX", 5, "EXSTDTC")],
        "EXSTDTC 2021-03-04 is before DSSTDTC 2021-03-05",
    ),
    "rescue start partial": (
        set_cell("CM", 2, "CMSTDTC", "2021"),
        [("CM", 2, "CMSTDTC")],
        "partial",
    ),
    "AEREL unknown": (set_cell("AE", 3, "AEREL", "UNKNOWN"), [("AE", 3, "AEREL")], "causality"),
    "AESER": (set_cell("AE", 2, "AESER", "YES"), [("AE", 2, "AESER")], "Y or N"),
    "AETOXGR above 5": (set_cell("AE", 5, "AETOXGR", "6"), [("AE", 5, "AETOXGR")], "above 5"),
    "AETOXGR not whole": (set_cell("AE", 5, "AETOXGR", "2.5"), [("AE", 5, "AETOXGR")], "whole"),
    "no AE term": (set_cell("AE", 4, "AETERM", ""), [("AE", 4, "AEDECOD")], "AETERM"),
    "AE partial start": (
        set_cell("AE", 2, "AESTDTC", "2021---02"),
        [("AE", 2, "AESTDTC")],
        "partial",
    ),
    "EXDOSFRQ": (set_cell("EX", 2, "EXDOSFRQ", "QOD"), [("EX", 2, "EXDOSFRQ")], "BID"),
    "EXDOSU": (set_cell("EX", 3, "EXDOSU", "mg/kg"), [("EX", 3, "EXDOSU")], "mg"),
    "EXENDTC before EXSTDTC": (
        set_cell("EX", 2, "EXENDTC", "2021-02-28"),
        [("EX", 2, "EXENDTC")],
        "before EXSTDTC",
    ),
    # 60000 mg BID: a daily total of 120000 mg on 1, 2 and 3 (+0.5 mg) March: one
    # problem for the record, not one per day.
    "daily total above the schema bound": (
        set_cell("EX", 3, "EXDOSE", "60000"),
        [("EX", 3, "EXDOSE")],
        "EXDOSE above 100000: '120000.0' (the daily total in mg",
    ),
    "missing EX variable": (drop_column("EX", "EXDOSU"), [("EX", 1, "EXDOSU")], "missing"),
    "PC unit": (set_cell("PC", 2, "PCSTRESU", "nmol/L"), [("PC", 2, "PCSTRESU")], "ng/mL"),
    "errors in several domains are all listed": (
        lambda d: [
            f(d)
            for f in (
                set_cell("LB", 4, "LBDTC", "2021-03"),
                set_cell("AE", 3, "AEREL", "?"),
                set_cell("EX", 2, "EXDOSFRQ", "PRN"),
            )
        ],
        [("AE", 3, "AEREL"), ("EX", 2, "EXDOSFRQ"), ("LB", 4, "LBDTC")],
        "",
    ),
}
CSV_ONLY = {"non-numeric LBSTRESN"}  # an .xpt numeric variable cannot hold text


@pytest.mark.parametrize(
    ("case", "fmt"),
    [(c, f) for c in ERROR_CASES for f in ("csv", "xpt") if not (f == "xpt" and c in CSV_ONLY)],
)
def test_each_error_names_domain_line_and_variable(tmp_path: Path, case: str, fmt: str) -> None:
    edit, expected, word = ERROR_CASES[case]
    domains = sample()
    edit(domains)
    sdtm = write_sdtm(tmp_path / "sdtm", domains, fmt)
    with pytest.raises(InputError) as caught:
        import_sdtm(sdtm, tmp_path / "data")
    problems = [p for p in caught.value.problems if p.severity == "error"]
    assert [(p.where, p.line, p.column) for p in problems] == expected, caught.value.report()
    assert word in problems[0].message
    assert not (tmp_path / "data").exists()


def test_only_imported_records_are_checked(tmp_path: Path) -> None:
    """Choosing CONCOMITANT as rescue makes the partial date of that record matter."""
    sdtm = write_sdtm(tmp_path / "sdtm", sample())
    (tmp_path / "mapping.toml").write_text('[rescue]\nCMCAT = ["CONCOMITANT"]\n')
    with pytest.raises(InputError) as caught:
        import_sdtm(sdtm, tmp_path / "data", mapping=tmp_path / "mapping.toml")
    assert [str(p) for p in caught.value.problems if p.severity == "error"] == [
        "CM:3:CMSTDTC: partial date '2021-03': a complete date YYYY-MM-DD is needed (or "
        'impute the first day with [dates] partial = "first" in the mapping)'
    ]


def test_two_files_for_one_domain_and_ragged_csv(tmp_path: Path) -> None:
    sdtm = write_sdtm(tmp_path / "sdtm", sample())
    write_sdtm(sdtm, {"AE": sample()["AE"]}, "xpt")
    with (sdtm / "lb.csv").open("a", encoding="utf-8") as f:
        f.write("S01-001,PLAT,2021-03-09\n")  # line 9: three fields of six
    with pytest.raises(InputError) as caught:
        import_sdtm(sdtm, tmp_path / "data")
    assert [str(p) for p in caught.value.problems if p.severity == "error"] == [
        "AE:-:-: several files (AE.xpt, ae.csv); keep one",
        "LB:9:-: expected 6 fields as in the header, found 3",
    ]
    assert not (tmp_path / "data").exists()


def test_missing_sdtm_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="1 problem"):
        import_sdtm(tmp_path / "nowhere", tmp_path / "data")


def test_reimport_keeps_a_user_supplied_bleeding_table(tmp_path: Path) -> None:
    sdtm = write_sdtm(tmp_path / "sdtm", sample(), "csv")
    import_sdtm(sdtm, tmp_path / "data")
    bleeding = tmp_path / "data" / "bleeding.csv"
    bleeding.write_text("subject_id,date,who_grade\n")
    import_sdtm(sdtm, tmp_path / "data")
    assert bleeding.read_text() == "subject_id,date,who_grade\n"
    for name in EXPECTED:
        assert read_table(tmp_path / "data", name) == EXPECTED[name], name


def test_cli_imports_and_reports(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from itptrial.cli import app

    sdtm = write_sdtm(tmp_path / "sdtm", sample(), "csv")
    result = CliRunner().invoke(app, ["import-sdtm", str(sdtm), "--out", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "left out 4 [ARMCD empty 1, ARMCD NOTASSGN 1, ARMCD SCRNFAIL 2]" in result.output
    assert read_table(tmp_path / "data", "platelets") == EXPECTED["platelets"]


def test_cli_error_exits_2_without_output(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from itptrial.cli import app

    domains = sample()
    set_cell("LB", 4, "LBDTC", "2021-03")(domains)
    sdtm = write_sdtm(tmp_path / "sdtm", domains, "csv")
    result = CliRunner().invoke(app, ["import-sdtm", str(sdtm), "--out", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "LB:4:LBDTC:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()


def test_an_empty_aerel_is_recoded_only_when_the_mapping_says_so(tmp_path: Path) -> None:
    domains = sample()
    set_cell("AE", 4, "AEREL", "")(domains)  # S02-003 Insomnia: causality not recorded
    sdtm = write_sdtm(tmp_path / "sdtm", domains)
    with pytest.raises(InputError) as raised:
        import_sdtm(sdtm, tmp_path / "refused")
    assert "AE:4:AEREL: empty AEREL" in [str(p) for p in raised.value.problems]
    (tmp_path / "mapping.toml").write_text('[adverse_events]\nrelated_map = { "" = true }\n')
    summary = import_sdtm(sdtm, tmp_path / "data", mapping=tmp_path / "mapping.toml")
    related = [r[5] for r in read_table(tmp_path / "data", "adverse_events")[1:]]
    assert related == ["true", "true", "true", "false"]  # line 4 is the third record
    assert summary.tally("AE", "converted", "empty AEREL as true (by the mapping)") == 1


def test_a_blq_sample_is_left_out_whatever_pcstresn_holds(tmp_path: Path) -> None:
    # The CDISC pilot writes PCSTRESN 0 beside PCSTRESC "<BLQ": that is no concentration.
    domains = sample()
    domains["PC"][0].append("PCSTRESC")
    for row in domains["PC"][1:]:
        row.append(row[4])
    add_tacrolimus_sample(domains, "2021-03-05T07:50", "0", PCSTRESC="<BLQ")
    summary = import_sdtm(write_sdtm(tmp_path / "sdtm", domains), tmp_path / "data")
    assert [r[3] for r in read_table(tmp_path / "data", "drug_levels")[1:]] == ["4.2"]
    below = "below the limit of quantification (BLQ or < in PCORRES/PCSTRESC)"
    assert summary.tally("PC", "left out", below) == 1


def test_a_missing_rescue_variable_says_how_to_choose_another(tmp_path: Path) -> None:
    domains = sample()
    drop_column("CM", "CMCAT")(domains)
    with pytest.raises(InputError) as raised:
        import_sdtm(write_sdtm(tmp_path / "sdtm", domains), tmp_path / "data")
    assert [str(p) for p in raised.value.problems if p.severity == "error"] == [
        "CM:1:CMCAT: missing required column; choose the rescue records by a variable CM has "
        '([rescue] CMCAT, CMSCAT, CMDECOD or CMTRT), or skip CM ([skip] domains = ["CM"])'
    ]


def test_the_cdisc_pilot_mapping_and_protocol_load() -> None:
    # examples/cdiscpilot01 (docs/sdtm.md): the data are not shipped; the files must stay
    # valid against the mapping and protocol models.
    from itptrial import load_protocol
    from itptrial.data.sdtm import load_mapping

    folder = Path(__file__).parents[1] / "examples" / "cdiscpilot01"
    mapping = load_mapping(folder / "mapping.toml")
    protocol = load_protocol(str(folder / "protocol.toml"))
    assert (
        set(mapping.arms.codes.values()) == set(protocol.arm_codes) == {"XAN_HI", "XAN_LO", "PBO"}
    )
    assert mapping.adverse_events.related_map[""] is True


def test_cli_reimport_keeps_a_user_supplied_bleeding_table(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from itptrial.cli import app

    sdtm = write_sdtm(tmp_path / "sdtm", sample(), "csv")
    out = tmp_path / "data"
    args = ["import-sdtm", str(sdtm), "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    (out / "bleeding.csv").write_text("subject_id,date,who_grade\nS01-001,2021-03-02,1\n")
    result = CliRunner().invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert (out / "bleeding.csv").read_text().endswith("S01-001,2021-03-02,1\n")


def test_skip_names_are_case_insensitive(tmp_path: Path) -> None:
    sdtm = write_sdtm(tmp_path / "sdtm", sample())
    (tmp_path / "mapping.toml").write_text('[skip]\ndomains = ["pc", "Ae"]\n')
    summary = import_sdtm(sdtm, tmp_path / "data", mapping=tmp_path / "mapping.toml")
    assert read_table(tmp_path / "data", "drug_levels")[1:] == []
    assert read_table(tmp_path / "data", "adverse_events")[1:] == []
    assert "skipped by the mapping ([skip] domains): ae.csv, pc.csv" in summary.notes


def test_a_domain_in_another_format_is_an_error_and_absent_ones_are_named(
    tmp_path: Path,
) -> None:
    domains = sample()
    del domains["PC"]
    sdtm = write_sdtm(tmp_path / "sdtm", domains)
    (sdtm / "ae.csv").rename(sdtm / "ae.sas7bdat")
    (sdtm / "notes.txt").write_text("site notes")
    with pytest.raises(InputError) as raised:
        import_sdtm(sdtm, tmp_path / "data")
    assert [str(p) for p in raised.value.problems if p.severity == "error"] == [
        "AE:-:-: ae.sas7bdat is not read: only SAS XPORT (.xpt) and CSV (.csv) files are; "
        "write it as ae.xpt or ae.csv"
    ]
    (sdtm / "ae.sas7bdat").unlink()
    summary = import_sdtm(sdtm, tmp_path / "data")
    assert "not read (not a mapped domain): notes.txt, vs.csv" in summary.notes
    assert "no file, so no records: AE, PC" in summary.notes


def _errors(tmp_path: Path, domains: Domains, mapping: str | None = None) -> list[str]:
    sdtm = write_sdtm(tmp_path / "sdtm", domains)
    path = None
    if mapping is not None:
        path = tmp_path / "mapping.toml"
        path.write_text(mapping)
    with pytest.raises(InputError) as raised:
        import_sdtm(sdtm, tmp_path / "data", mapping=path)
    return [str(p) for p in raised.value.problems if p.severity == "error"]


def test_reference_dates_are_never_imputed(tmp_path: Path) -> None:
    # Day 0 and exposure dates decide every study day: a guessed day is an error even
    # with partial = "first" (which still imputes an AE or CM date).
    domains = sample()
    set_cell("DM", 2, "RFXSTDTC", "2021-03")(domains)
    set_cell("EX", 5, "EXSTDTC", "2021-03")(domains)
    never = (
        "a complete date YYYY-MM-DD is needed; dates of randomization, Day 0 and exposure "
        "are never imputed"
    )
    assert _errors(tmp_path, domains, '[dates]\npartial = "first"\n') == [
        f"DM:2:RFXSTDTC: partial date '2021-03': {never}",
        f"EX:5:EXSTDTC: partial date '2021-03': {never}",
    ]


def test_an_exposure_over_ten_years_is_a_typo_not_daily_doses(tmp_path: Path) -> None:
    domains = sample()
    set_cell("EX", 2, "EXENDTC", "2204-01-04")(domains)
    days = (dt.date(2204, 1, 4) - dt.date(2021, 3, 1)).days  # 66,867
    assert _errors(tmp_path, domains) == [
        f"EX:2:EXENDTC: EXENDTC 2204-01-04 is {days} days after EXSTDTC 2021-03-01: more than "
        "3660 days of daily doses in one record; check the year"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "unparseable number 'abc'"), ("-1", "PCSTRESN below 0: '-1'")],
)
def test_a_bad_value_in_a_converted_unit_is_quoted_as_written(
    tmp_path: Path, value: str, message: str
) -> None:
    domains = sample()
    set_cell("PC", 2, "PCSTRESN", value)(domains)
    set_cell("PC", 2, "PCSTRESU", "ug/mL")(domains)
    assert _errors(tmp_path, domains) == [f"PC:2:PCSTRESN: {message}"]


def test_platelet_units_with_the_micro_sign(tmp_path: Path) -> None:
    domains = sample()
    set_cell("LB", 2, "LBSTRESU", "K/µL")(domains)
    set_cell("LB", 3, "LBSTRESU", "10^3/µL")(domains)
    import_sdtm(write_sdtm(tmp_path / "sdtm", domains), tmp_path / "data")
    assert read_table(tmp_path / "data", "platelets") == EXPECTED["platelets"]


def test_daily_doses_after_last_contact_are_one_warning_per_ex_record(tmp_path: Path) -> None:
    # S01-001 last contact 2021-03-02: EX line 2 (dexamethasone 03-01 to 03-04) has two
    # daily doses after it, said once; line 3 (tacrolimus to 03-03) has one.
    domains = sample()
    set_cell("DM", 2, "RFPENDTC", "2021-03-02")(domains)
    summary = import_sdtm(write_sdtm(tmp_path / "sdtm", domains), tmp_path / "data")
    ex = [str(w) for w in summary.warnings if w.where == "EX" and "RFPENDTC" in w.message]
    assert ex == [
        "EX:2:EXSTDTC: record dated 2021-03-03 to 2021-03-04 (2 days) is after RFPENDTC "
        "2021-03-02 of subject 'S01-001'",
        "EX:3:EXSTDTC: record dated 2021-03-03 is after RFPENDTC 2021-03-02 of subject 'S01-001'",
    ]


def test_a_dm_without_records_says_so(tmp_path: Path) -> None:
    domains = sample()
    domains["DM"] = domains["DM"][:1]
    assert "DM:-:-: DM has no records, so no subject" in _errors(tmp_path, domains)


@pytest.mark.parametrize("values", ["[-0.5]", '["-0.50"]'])
def test_trough_time_points_by_pctptnum_are_numbers(tmp_path: Path, values: str) -> None:
    domains = sample()
    domains["PC"][0].append("PCTPTNUM")
    domains["PC"][1].append("-0.5")  # line 2: the pre-dose sample, 4.2 ng/mL
    domains["PC"][2].append("2")  # line 3: not a trough time point (other data)
    add_tacrolimus_sample(domains, "2021-03-03T10:00", "9.9", PCTPTNUM="2")  # 2 h post-dose
    (tmp_path / "mapping.toml").write_text(f"[drug_levels]\ntrough = {{ PCTPTNUM = {values} }}\n")
    summary = import_sdtm(
        write_sdtm(tmp_path / "sdtm", domains), tmp_path / "data", mapping=tmp_path / "mapping.toml"
    )
    assert [r[3] for r in read_table(tmp_path / "data", "drug_levels")[1:]] == ["4.2"]
    assert summary.tally("PC", "other") == 2  # lines 3 and 4


def test_a_pctptnum_time_point_that_is_no_number_is_a_mapping_error(tmp_path: Path) -> None:
    (tmp_path / "mapping.toml").write_text('[drug_levels]\ntrough = { PCTPTNUM = ["PRE"] }\n')
    with pytest.raises(InputError) as raised:
        import_sdtm(
            write_sdtm(tmp_path / "sdtm", sample()),
            tmp_path / "d",
            mapping=tmp_path / "mapping.toml",
        )
    (problem,) = raised.value.problems
    assert "PCTPTNUM values are numbers, not 'PRE'" in problem.message
