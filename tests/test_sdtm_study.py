"""The TACITP3 test study (tests/sdtm_study): a three-arm SDTM submission imported through
its mapping file, every count checked.

Every expected value below is derived by hand from the tables of
tests/sdtm_study/make_study.py (never copied from the importer's output); the comments
give the derivation. Dates: 2024 is a leap year; "doy" is the day of the year (Jan d = d,
Feb d = 31 + d, Mar d = 60 + d, Apr d = 91 + d, May d = 121 + d, Jul d = 182 + d,
Aug d = 213 + d, Sep d = 244 + d), and Day n = Day 0 + n days.

The study (make_study.py), by subject: randomization date R, Day 0 and where it comes from.

| subject | ARMCD    | R          | Day 0 (doy) from         | EX (line: mg BID, days)            |
|---------|----------|------------|--------------------------|------------------------------------|
| 101-001 | TacHi    | 2024-01-08 | 2024-01-09 (9) RFXSTDTC  | 2: 2 mg 0-27; 3: 1.5 mg 28-83      |
| 101-002 | Pbo      | 2024-01-15 | 2024-01-16 (16) RFXSTDTC | 4: placebo 0-83                    |
| 101-003 | Scrnfail | -          | -                        | -                                  |
| 101-004 | TacLo    | 2024-01-29 | 2024-01-29 (29) RFXSTDTC | 5: 1 mg 0-83                       |
| 101-005 | TacHi    | 2024-02-05 | 2024-02-06 (37) EX 6     | 6: 2 mg 0-27; 7: 2.5 mg 27-83      |
| 102-001 | Pbo      | 2024-02-07 | 2024-02-08 (39) EX 8     | 8: placebo 0-83                    |
| 102-002 | TacLo    | 2024-02-12 | 2024-02-13 (44) EX 9     | 9: 1 mg 0-13; 10: 1.5 mg 14-83     |
| 102-003 | Scrnfail | -          | -                        | -                                  |
| 102-004 | TacHi    | 2024-02-26 | 2024-02-27 (58) RFXSTDTC | 11: 2 mg 0-39; 12: EXOCCUR N 40-41 |
|         |          |            |                          | 13: 2 mg 42-83                     |
| 102-005 | Pbo      | 2024-03-04 | 2024-03-05 (65) EX 14    | 14: placebo 0-27; 15: 28-83        |
| 102-006 | TacLo    | 2024-03-11 | none: never treated      | -                                  |

Platelets (LB, PLT, 10^9/L) at screening (R - 5), Day 0 and Days 7, 14, 28, 84, 180:
101-001 15 12 45 88 120 150 135; 101-002 25 24 28 30 26 33 29; 101-004 18 16 30 [NOT DONE]
45 62 58; 101-005 22 20 35 60 95 80 70; 102-001 14 13 18 30 22 20 19 (in K/uL); 102-002 6 5
14 22 40 60 75; 102-004 9 8 25 40 55 28 22; 102-005 7 6 9 8 35 18 12; 102-006 11 (screening
only); screen failures 101-003 62, 102-003 8.
"""

from __future__ import annotations

import csv
import runpy
from pathlib import Path

import pyreadstat
import pytest
from typer.testing import CliRunner

from itptrial import adjudicate, load_dataset, load_protocol
from itptrial.cli import app
from itptrial.data.sdtm import BLEEDING_NOTE, ImportSummary, import_sdtm

STUDY = Path(__file__).parent / "sdtm_study"
MAPPING = STUDY / "mapping.toml"
PROTOCOL = STUDY / "protocol.toml"
XPT_DOMAINS = ("dm", "ds", "ex", "lb", "ae", "pc")
TABLES = ("subjects", "platelets", "rescue", "adverse_events", "doses", "drug_levels")


def uid(number: str) -> str:
    return f"TACITP3-{number}"


def rows(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImportSummary, Path]:
    out = tmp_path_factory.mktemp("tacitp3") / "data"
    return import_sdtm(STUDY, out, mapping=MAPPING), out


# --- the committed files are what make_study.py writes -----------------------------------


def test_committed_files_are_what_make_study_writes(tmp_path: Path) -> None:
    """cm.csv byte for byte. The .xpt files are compared decoded (every value, variable
    name and label, the table name and the file label): make_study.py fixes the creation
    time that XPORT headers carry, but other pyreadstat versions may still lay out the
    header bytes differently."""
    make_study = runpy.run_path(str(STUDY / "make_study.py"), run_name="make_study")
    written = make_study["write_study"](tmp_path)
    assert sorted(p.name for p in written) == sorted([*(f"{d}.xpt" for d in XPT_DOMAINS), "cm.csv"])
    assert (tmp_path / "cm.csv").read_bytes() == (STUDY / "cm.csv").read_bytes()
    for domain in XPT_DOMAINS:
        fresh, fresh_meta = pyreadstat.read_xport(str(tmp_path / f"{domain}.xpt"))
        committed, meta = pyreadstat.read_xport(str(STUDY / f"{domain}.xpt"))
        assert fresh.equals(committed), domain
        assert fresh_meta.column_names_to_labels == meta.column_names_to_labels, domain
        assert (fresh_meta.table_name, fresh_meta.file_label) == (meta.table_name, meta.file_label)
        assert meta.table_name == domain.upper()
        assert meta.column_names_to_labels["USUBJID"] == "Unique Subject Identifier"
        # SAS XPORT version 5 (a version 8 file starts with a LIBV8 header)
        head = (STUDY / f"{domain}.xpt").read_bytes()[:80]
        assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")


# --- what the import says it did ------------------------------------------------------------

# (domain, outcome, count, what), derived by hand:
TALLIES = {
    # DM: 11 subjects; 3 per arm kept, recoded to the protocol's codes; 101-003 and 102-003
    # (ARMCD Scrnfail, not listed under [arms]) left out.
    ("DM", "read", 11, "records"),
    ("DM", "kept", 9, "subjects of the listed ARMCD values"),
    ("DM", "arm", 3, "ARMCD Pbo as PBO"),  # 101-002, 102-001, 102-005
    ("DM", "arm", 3, "ARMCD TacHi as TAC_HI"),  # 101-001, 101-005, 102-004
    ("DM", "arm", 3, "ARMCD TacLo as TAC_LO"),  # 101-004, 102-002, 102-006
    ("DM", "left out", 2, "ARMCD Scrnfail"),
    # DS: 9 randomized subjects x 3 (consent, RANDOMIZED, completed or withdrawn) + 2
    # screen failures x 2 (consent, screen failure) = 31; 9 RANDOMIZED, 22 others.
    ("DS", "read", 31, "records"),
    ("DS", "kept", 9, "randomization records (DSDECOD RANDOMIZED)"),
    ("DS", "other", 22, "other dispositions"),
    # EX: 2 + 1 + 1 + 2 + 1 + 2 + 3 + 2 = 14 records (lines 2-15); line 12 (102-004, Days
    # 40-41) is EXOCCUR N. Daily doses (days = last - first + 1; BID = 2 doses a day):
    #   101-001: 28 days x 4 mg + 56 x 3 mg           = 84 days, 280 mg
    #   101-002: 84 days of placebo                   = 84 days,   0 mg
    #   101-004: 84 days x 2 mg                       = 84 days, 168 mg
    #   101-005: 28 x 4 mg + 57 x 5 mg (Day 27 twice) = 84 days, 397 mg (Day 27: 9 mg)
    #   102-001: 84 days of placebo                   = 84 days,   0 mg
    #   102-002: 14 x 2 mg + 70 x 3 mg                = 84 days, 238 mg
    #   102-004: 40 x 4 mg + 42 x 4 mg (not 40, 41)   = 82 days, 328 mg
    #   102-005: 28 + 56 days of placebo              = 84 days,   0 mg
    # daily doses 7 x 84 + 82 = 670; tacrolimus 280 + 168 + 397 + 238 + 328 = 1411 mg.
    ("EX", "read", 14, "records"),
    ("EX", "left out", 1, "EXOCCUR N (not taken)"),
    ("EX", "kept", 13, "exposure records"),
    ("EX", "derived", 670, "daily doses (one per subject, drug and day)"),
    ("EX", "dose", 0, "placebo"),
    ("EX", "dose", 1411, "tacrolimus"),
    # LB: per treated subject HGB, PLT, WBC at screening + PLT at 6 visits = 9 (x 8 = 72);
    # 102-006 (never treated): HGB, PLT, WBC = 3; screen failures: HGB, PLT = 2 each.
    # 72 + 3 + 4 = 79 records. PLT: 8 x 7 + 1 + 2 = 59; HGB 8 + 1 + 2 = 11; WBC 8 + 1 = 9.
    # Not PLT: 11 + 9 = 20 other tests. PLT: 2 of screen failures; 101-004's Week 2 NOT
    # DONE; 59 - 3 = 56 kept. (No unit conversion: 10^3/uL and K/uL equal 10^9/L.)
    ("LB", "read", 79, "records"),
    ("LB", "other", 20, "other tests"),
    ("LB", "left out", 2, "records of subjects left out"),
    ("LB", "left out", 1, "LBSTAT NOT DONE"),
    ("LB", "kept", 56, "platelet counts (LBTESTCD PLT)"),
    # CM (lines 2-11): CMCAT RESCUE THERAPY on lines 2, 6, 8, 10, 11; the other 5 are other
    # medications. Line 8 is screen failure 102-003's. Line 2 (101-001, IVIG 2023-09-21,
    # 109 days before R 2024-01-08) and line 10 (102-004, "2023" -> 2023-01-01, R
    # 2024-02-26 is not in 2023) start before randomization: prior medication. Kept: line 6
    # (102-002, "2024-02" -> R 2024-02-12, which lies in February) and line 11. Imputed:
    # the partial dates of lines 6 and 10 (the imputed date decides that line 10 is prior).
    ("CM", "read", 10, "records"),
    ("CM", "other", 5, "other medications"),
    ("CM", "left out", 1, "records of subjects left out"),
    ("CM", "left out", 2, "prior medication (started before randomization)"),
    ("CM", "imputed", 2, "partial CMSTDTC to the first possible day"),
    ("CM", "kept", 2, "rescue records (CMCAT RESCUE THERAPY)"),
    # AE (lines 2-12): line 5 is screen failure 101-003's; partial AESTDTC on lines 10, 11.
    ("AE", "read", 11, "records"),
    ("AE", "left out", 1, "records of subjects left out"),
    ("AE", "imputed", 2, "partial AESTDTC to the first possible day"),
    ("AE", "kept", 10, "adverse events"),
    # PC: troughs (PRE-DOSE) at Weeks 1, 2, 4, 8 for the 5 tacrolimus subjects treated
    # (20), at Weeks 1 and 4 for the 3 on placebo (6); Week 1 profiles of 4 samples (1, 2,
    # 4, 8 h) for 101-001, 101-002, 101-004 (12): 38 records. Troughs 26: 102-004's Week 4
    # NOT DONE, the 6 placebo troughs below the limit (PCSTRESN empty, PCORRES <0.5); 19
    # kept, each converted from ug/mL. The 12 profile samples are not troughs.
    ("PC", "read", 38, "records"),
    ("PC", "other", 12, "samples that are not pre-dose troughs"),
    ("PC", "left out", 1, "PCSTAT NOT DONE"),
    ("PC", "left out", 6, "below the limit of quantification (BLQ or < in PCORRES/PCSTRESC)"),
    ("PC", "converted", 19, "PCSTRESU ug/mL (x 1000)"),
    ("PC", "kept", 19, "pre-dose troughs (pre-dose values of PCTPT, PCTPTNUM, PCELTM)"),
}
RECORDS = {
    "subjects": 9,
    "platelets": 56,
    "rescue": 2,
    "adverse_events": 10,
    "doses": 670,
    "drug_levels": 19,
}
# Day 0: RFXSTDTC for 101-001, 101-002, 101-004, 102-004; the first EX record for 101-005,
# 102-001 (placebo), 102-002, 102-005 (placebo); none for 102-006.
NOTES = (
    # the study folder also holds its script, mapping and protocol: listed, never read
    "not read (not a mapped domain): make_study.py, mapping.toml, protocol.toml",
    "randomization_date: DS.DSSTDTC of the DSDECOD RANDOMIZED record",
    "treatment_start_date (Day 0): DM.RFXSTDTC for 4, the first EX record for 4, none (never "
    "treated) for 1 of 9 subjects",
    BLEEDING_NOTE,
)
# 101-005: EX line 6 (2 mg BID, Days 0-27) and line 7 (2.5 mg BID from Day 27) both give
# Day 27 = doy 37 + 27 = 64 = 2024-03-04: 4 + 5 = 9 mg.
OVERLAP = (
    "EX:7:EXSTDTC: EX records at lines 6 and 7 of subject 'TACITP3-101-005' both give "
    "tacrolimus on 2024-03-04: their doses are added (9 mg a day); if one replaces the "
    "other, end the first one the day before (EXENDTC)"
)
# The summary as printed, from the tallies above (the DM arm values sorted).
REPORT = (
    "DM: 11 records: kept 9 subjects of the listed ARMCD values [ARMCD Pbo as PBO 3, ARMCD "
    "TacHi as TAC_HI 3, ARMCD TacLo as TAC_LO 3]; left out 2 [ARMCD Scrnfail 2]",
    "DS: 31 records: kept 9 randomization records (DSDECOD RANDOMIZED); other data 22 "
    "[other dispositions 22]",
    "EX: 14 records: kept 13 exposure records; left out 1 [EXOCCUR N (not taken) 1]; made "
    "670 daily doses (one per subject, drug and day); mg in all: placebo 0, tacrolimus 1411",
    "LB: 79 records: kept 56 platelet counts (LBTESTCD PLT); other data 20 [other tests 20]; "
    "left out 3 [records of subjects left out 2, LBSTAT NOT DONE 1]",
    "CM: 10 records: kept 2 rescue records (CMCAT RESCUE THERAPY); other data 5 [other "
    "medications 5]; left out 3 [records of subjects left out 1, prior medication (started "
    "before randomization) 2]; imputed 2 partial CMSTDTC to the first possible day",
    "AE: 11 records: kept 10 adverse events; left out 1 [records of subjects left out 1]; "
    "imputed 2 partial AESTDTC to the first possible day",
    "PC: 38 records: kept 19 pre-dose troughs (pre-dose values of PCTPT, PCTPTNUM, PCELTM); "
    "other data 12 [samples that are not pre-dose troughs 12]; left out 7 [PCSTAT NOT DONE "
    "1, below the limit of quantification (BLQ or < in PCORRES/PCSTRESC) 6]; converted 19 "
    "PCSTRESU ug/mL (x 1000)",
    *NOTES,
)


def report(out: Path) -> str:
    counts = ", ".join(f"{name} {n}" for name, n in RECORDS.items())
    return "\n".join([f"wrote {out}: {counts}", *REPORT])


def test_the_summary_counts_every_record(imported: tuple[ImportSummary, Path]) -> None:
    summary, out = imported
    found = [(t.domain, t.outcome, t.count, t.what) for t in summary.tallies]
    assert len(found) == len(set(found))
    assert set(found) == TALLIES
    assert dict(summary.records) == RECORDS
    assert summary.notes == NOTES
    assert [str(w) for w in summary.warnings] == [OVERLAP]  # said, not silently added
    assert summary.report() == report(out)


@pytest.mark.parametrize(
    ("domain", "read", "kept", "other", "left_out"),
    [
        ("DM", 11, 9, 0, 2),
        ("DS", 31, 9, 22, 0),
        ("EX", 14, 13, 0, 1),
        ("LB", 79, 56, 20, 3),
        ("CM", 10, 2, 5, 3),
        ("AE", 11, 10, 0, 1),
        ("PC", 38, 19, 12, 7),
    ],
)
def test_every_record_read_is_kept_other_or_left_out(
    imported: tuple[ImportSummary, Path],
    domain: str,
    read: int,
    kept: int,
    other: int,
    left_out: int,
) -> None:
    summary, _ = imported
    assert summary.tally(domain, "read") == read == kept + other + left_out
    assert (summary.tally(domain, "kept"), summary.tally(domain, "other")) == (kept, other)
    assert summary.tally(domain, "left out") == left_out


def test_tallies_by_kind(imported: tuple[ImportSummary, Path]) -> None:
    summary, _ = imported
    assert summary.tally("DM", "arm") == 9
    assert summary.tally("EX", "dose", "tacrolimus") == 1411
    assert summary.tally("EX", "dose", "placebo") == 0
    assert summary.tally("EX", "derived") == 670
    assert summary.tally("LB", "left out", "LBSTAT NOT DONE") == 1
    assert summary.tally("CM", "imputed") == summary.tally("AE", "imputed") == 2
    assert summary.tally("PC", "converted") == 19
    # no other domain has a partial date among its imported records
    assert {t.domain for t in summary.tallies if t.outcome == "imputed"} == {"CM", "AE"}


# --- the native tables ------------------------------------------------------------------

# last_contact_date = RFPENDTC = Day 180: 101-001 doy 9 + 180 = 189 = Jul 7; 101-002 196 =
# Jul 14; 101-004 209 = Jul 27; 101-005 217 = Aug 4; 102-001 219 = Aug 6; 102-002 224 =
# Aug 11; 102-004 238 = Aug 25; 102-005 245 = Sep 1; 102-006 withdrew on R + 1 = Mar 12.
# No STRATUM in DM: stratum empty. AGE is a number (written 34.0).
SUBJECTS = [
    (uid("101-001"), "101", "TAC_HI", "2024-01-08", "2024-01-09", "", "F", "34.0", "2024-07-07"),
    (uid("101-002"), "101", "PBO", "2024-01-15", "2024-01-16", "", "M", "52.0", "2024-07-14"),
    (uid("101-004"), "101", "TAC_LO", "2024-01-29", "2024-01-29", "", "F", "28.0", "2024-07-27"),
    (uid("101-005"), "101", "TAC_HI", "2024-02-05", "2024-02-06", "", "M", "63.0", "2024-08-04"),
    (uid("102-001"), "102", "PBO", "2024-02-07", "2024-02-08", "", "F", "45.0", "2024-08-06"),
    (uid("102-002"), "102", "TAC_LO", "2024-02-12", "2024-02-13", "", "M", "37.0", "2024-08-11"),
    (uid("102-004"), "102", "TAC_HI", "2024-02-26", "2024-02-27", "", "F", "49.0", "2024-08-25"),
    (uid("102-005"), "102", "PBO", "2024-03-04", "2024-03-05", "", "M", "31.0", "2024-09-01"),
    (uid("102-006"), "102", "TAC_LO", "2024-03-11", "", "", "F", "66.0", "2024-03-12"),
]


def test_subjects_kept_by_arm_and_left_out(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    assert [tuple(r.values()) for r in rows(out, "subjects")] == SUBJECTS
    ids = {r["subject_id"] for r in rows(out, "subjects")}
    assert not ids & {uid("101-003"), uid("102-003")}  # the screen failures
    for table in ("platelets", "rescue", "adverse_events", "doses", "drug_levels"):
        assert {r["subject_id"] for r in rows(out, table)} <= ids, table


def test_platelets(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    platelets = rows(out, "platelets")
    per_subject: dict[str, int] = {}
    for r in platelets:
        per_subject[r["subject_id"]] = per_subject.get(r["subject_id"], 0) + 1
    # 7 per treated subject (screening + 6 visits), 101-004 one fewer (Week 2 NOT DONE),
    # 102-006 its screening count only: 7 x 7 + 6 + 1 = 56.
    seven = ("101-001", "101-002", "101-005", "102-001", "102-002", "102-004", "102-005")
    assert per_subject == {
        **{uid(n): 7 for n in seven},
        uid("101-004"): 6,
        uid("102-006"): 1,
    }
    # 101-004 (Day 0 Jan 29, doy 29): screening R - 5 = Jan 24; Week 1 doy 36 = Feb 5;
    # [Week 2 doy 43 = Feb 12 NOT DONE]; Week 4 doy 57 = Feb 26; Week 12 doy 113 = Apr 22;
    # Week 26 doy 209 = Jul 27.
    assert [(r["date"], r["count"]) for r in platelets if r["subject_id"] == uid("101-004")] == [
        ("2024-01-24", "18.0"),
        ("2024-01-29", "16.0"),
        ("2024-02-05", "30.0"),
        ("2024-02-26", "45.0"),
        ("2024-04-22", "62.0"),
        ("2024-07-27", "58.0"),
    ]
    # 102-001, in K/uL (= 10^9/L, taken as written; Day 0 doy 39): screening Feb 2; Day 0
    # Feb 8; Week 1 doy 46 = Feb 15; Week 2 doy 53 = Feb 22; Week 4 doy 67 = Mar 7; Week 12
    # doy 123 = May 2; Week 26 doy 219 = Aug 6.
    assert [(r["date"], r["count"]) for r in platelets if r["subject_id"] == uid("102-001")] == [
        ("2024-02-02", "14.0"),
        ("2024-02-08", "13.0"),
        ("2024-02-15", "18.0"),
        ("2024-02-22", "30.0"),
        ("2024-03-07", "22.0"),
        ("2024-05-02", "20.0"),
        ("2024-08-06", "19.0"),
    ]


def test_daily_doses_and_totals(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    doses = rows(out, "doses")
    days: dict[tuple[str, str], int] = {}
    mg: dict[str, float] = {}
    for r in doses:
        key = (r["subject_id"], r["drug"])
        days[key] = days.get(key, 0) + 1
        mg[r["drug"]] = mg.get(r["drug"], 0.0) + float(r["dose_mg"])
    assert days == {
        (uid("101-001"), "tacrolimus"): 84,
        (uid("101-002"), "placebo"): 84,
        (uid("101-004"), "tacrolimus"): 84,
        (uid("101-005"), "tacrolimus"): 84,
        (uid("102-001"), "placebo"): 84,
        (uid("102-002"), "tacrolimus"): 84,
        (uid("102-004"), "tacrolimus"): 82,
        (uid("102-005"), "placebo"): 84,
    }
    assert mg == {"tacrolimus": 1411.0, "placebo": 0.0}
    assert {r["dose_mg"] for r in doses if r["drug"] == "placebo"} == {"0.0"}
    by_day = {(r["subject_id"], r["date"]): r["dose_mg"] for r in doses}
    # 101-005: Day 26 = Mar 3 (line 6 only), Day 27 = Mar 4 (both), Day 28 = Mar 5 (line 7)
    five = uid("101-005")
    assert [by_day[(five, f"2024-03-0{d}")] for d in (3, 4, 5)] == ["4.0", "9.0", "5.0"]
    # 102-004 (Day 0 doy 58): Day 39 = doy 97 = Apr 6, Days 40-41 = Apr 7-8 not taken,
    # Day 42 = Apr 9.
    four = uid("102-004")
    assert [(four, f"2024-04-0{d}") in by_day for d in (6, 7, 8, 9)] == [True, False, False, True]
    # 101-001: 2 mg BID to Day 27 = doy 36 = Feb 5, then 1.5 mg BID from Feb 6 to Day 83 =
    # doy 92 = Apr 1.
    one = uid("101-001")
    assert [by_day.get((one, d)) for d in ("2024-01-09", "2024-02-05", "2024-02-06")] == [
        "4.0",
        "4.0",
        "3.0",
    ]
    assert (one, "2024-04-01") in by_day and (one, "2024-04-02") not in by_day
    # Placebo Day 0 comes from the first EX record: 102-005's starts on 2024-03-05.
    assert min(r["date"] for r in doses if r["subject_id"] == uid("102-005")) == "2024-03-05"


def test_rescue_prior_medication_left_out(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    # CM line 6: "2024-02" imputed to R 2024-02-12 (admiral "first" with the randomization
    # date as the minimum); line 11: Day 20 = doy 65 + 20 = 85 = Mar 25. The IVIG of
    # 101-001 (2023-09-21) and the prednisone of 102-004 ("2023") are prior medication.
    assert [tuple(r.values()) for r in rows(out, "rescue")] == [
        (uid("102-002"), "2024-02-12", "IVIG"),
        (uid("102-005"), "2024-03-25", "PLATELET TRANSFUSION"),
    ]


def test_adverse_events(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    # AESEV MILD/MODERATE/SEVERE -> 1/2/3; AEREL POSSIBLE/PROBABLE -> true, REMOTE/NONE ->
    # false; AESER Y/N. AE line 10 (102-004) "2024-04": Day 0 Feb 27 is not in April ->
    # 2024-04-01. Line 11 (102-005) "2024-03": Day 0 2024-03-05 lies in March and is later
    # than the 1st -> 2024-03-05. Line 5 (screen failure 101-003) is left out.
    assert [tuple(r.values()) for r in rows(out, "adverse_events")] == [
        (uid("101-001"), "Headache", "2024-01-12", "1", "false", "true"),
        (uid("101-001"), "Tremor", "2024-01-20", "1", "false", "true"),
        (uid("101-002"), "Headache", "2024-01-25", "1", "false", "false"),
        (uid("101-004"), "Nasopharyngitis", "2024-02-15", "1", "false", "false"),
        (uid("101-005"), "Hypertension", "2024-03-01", "2", "false", "true"),
        (uid("102-001"), "Fatigue", "2024-02-20", "1", "false", "true"),
        (uid("102-002"), "Epistaxis", "2024-02-20", "2", "false", "false"),
        (uid("102-004"), "Diarrhoea", "2024-04-01", "1", "false", "false"),
        (uid("102-005"), "Contusion", "2024-03-05", "2", "false", "false"),
        (uid("102-005"), "Epistaxis", "2024-03-24", "3", "true", "false"),
    ]


def test_drug_levels_are_the_troughs_in_ng_ml(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    # Weeks 1, 2, 4, 8 = Days 7, 14, 28, 56; ug/mL x 1000. 101-001 (doy 9): doy 16, 23, 37,
    # 65; 101-004 (doy 29): 36, 43, 57, 85; 101-005 (doy 37): 44, 51, 65, 93; 102-002 (doy
    # 44): 51, 58, 72, 100; 102-004 (doy 58): 65, 72, [86 NOT DONE], 114.
    expected = [
        ("101-001", "2024-01-16", "6.8"),
        ("101-001", "2024-01-23", "6.1"),
        ("101-001", "2024-02-06", "5.5"),
        ("101-001", "2024-03-05", "4.9"),
        ("101-004", "2024-02-05", "3.1"),
        ("101-004", "2024-02-12", "3.5"),
        ("101-004", "2024-02-26", "2.9"),
        ("101-004", "2024-03-25", "3.8"),
        ("101-005", "2024-02-13", "5.2"),
        ("101-005", "2024-02-20", "4.7"),
        ("101-005", "2024-03-05", "5.8"),
        ("101-005", "2024-04-02", "6.3"),
        ("102-002", "2024-02-20", "2.4"),
        ("102-002", "2024-02-27", "3.3"),
        ("102-002", "2024-03-12", "4.1"),
        ("102-002", "2024-04-09", "3.9"),
        ("102-004", "2024-03-05", "7.1"),
        ("102-004", "2024-03-12", "6.6"),
        ("102-004", "2024-04-23", "5.9"),
    ]
    assert [tuple(r.values()) for r in rows(out, "drug_levels")] == [
        (uid(n), d, "tacrolimus", level) for n, d, level in expected
    ]


# --- adjudication under the three-arm protocol ---------------------------------------------

# Hand-adjudicated under target020's rules (baseline = Day 0's count; response: count >= 30
# and >= 2 x baseline, before any rescue; initial window Days 1-28; sustained at Day 180):
# (subject, evaluable, baseline, initial_response, response_day, sustained_response_6m)
ADJUDICATED = [
    ("101-001", 1, 12.0, 1, 7, 1),  # Day 7: 45 >= 24; Day 180: 135
    ("101-002", 1, 24.0, 0, None, 0),  # placebo; best 30 < 48
    ("101-004", 1, 16.0, 1, 28, 1),  # Day 7: 30 < 32; Day 28: 45; Day 180: 58
    ("101-005", 1, 20.0, 1, 14, 1),  # Day 7: 35 < 40; Day 14: 60; Day 180: 70
    ("102-001", 1, 13.0, 1, 14, 0),  # placebo; Day 14: 30 >= 26; Day 180: 19
    ("102-002", 1, 5.0, 0, None, 0),  # rescue IVIG imputed to R = Day -1 blocks every day
    ("102-004", 1, 8.0, 1, 14, 0),  # Day 7: 25 < 30; Day 14: 40; Day 180: 22
    ("102-005", 1, 6.0, 0, None, 0),  # placebo; Day 28: 35 is after the transfusion (Day 20)
    ("102-006", 0, None, 0, None, 0),  # never treated
]


def test_placebo_subjects_are_treated_and_evaluable(imported: tuple[ImportSummary, Path]) -> None:
    _, out = imported
    protocol = load_protocol(str(PROTOCOL))
    assert protocol.arm_codes == ("TAC_HI", "TAC_LO", "PBO") and protocol.control_arm == "PBO"
    data = load_dataset(out, protocol)
    # 102-006's screening count (R - 5 = 2024-03-06, the last of the 56 counts: line 57)
    # precedes randomization, and without a Day 0 no baseline window covers it.
    assert [str(w) for w in data.warnings] == [
        "platelets:57:date: record dated 2024-03-06 is before randomization_date 2024-03-11 "
        "of subject 'TACITP3-102-006'"
    ]
    endpoints = adjudicate(data, protocol)
    found = [
        (
            r["subject_id"],
            r["evaluable"],
            r["baseline_count"],
            r["initial_response"],
            r["response_day"],
            r["sustained_response_6m"],
        )
        for r in endpoints.iter_rows(named=True)
    ]
    assert found == [(uid(n), *rest) for n, *rest in ADJUDICATED]
    explanations = dict(zip(endpoints["subject_id"], endpoints["explanation"], strict=True))
    for number in ("101-002", "102-001", "102-005"):  # placebo: Day 0 from EXDOSE 0 or DM
        assert "never treated" not in explanations[uid(number)]
    assert explanations[uid("102-006")] == "not evaluable: never treated (no treatment_start_date)"
    assert "rescue IVIG on day -1" in explanations[uid("102-002")]
    # the prior rescues of 101-001 and 102-004 were left out: they respond
    assert "rescue" not in explanations[uid("101-001")] + explanations[uid("102-004")]


def test_adjudicate_command_on_the_imported_study(
    imported: tuple[ImportSummary, Path], tmp_path: Path
) -> None:
    _, out = imported
    target = tmp_path / "endpoints.csv"
    args = ["adjudicate", str(out), "--protocol", str(PROTOCOL), "--out", str(target)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    by_subject = {r["subject_id"]: r for r in rows(tmp_path, "endpoints")}
    assert {uid(n): by_subject[uid(n)]["arm"] for n in ("101-002", "102-001", "102-005")} == {
        uid(n): "PBO" for n in ("101-002", "102-001", "102-005")
    }
    assert [by_subject[uid(n)]["evaluable"] for n, *_ in ADJUDICATED] == [
        str(evaluable) for _, evaluable, *_ in ADJUDICATED
    ]


# --- the command line ------------------------------------------------------------------------


def test_cli_imports_through_the_mapping_and_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "data"
    args = ["import-sdtm", str(STUDY), "--out", str(out), "--mapping", str(MAPPING)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == report(out) + "\n"
    assert result.stderr == f"warning: {OVERLAP}\n"
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(TABLES)


# Without the mapping, the defaults: AETOXGR, CDISC's AEREL terms, partial dates rejected,
# LBTESTCD PLAT, CMCAT RESCUE. One run lists every problem (sorted by domain, line,
# variable), the warnings among them:
# - AE has AESEV, no AETOXGR (line 1, with the hint);
# - AEREL REMOTE (lines 4, 10) and NONE (lines 6, 9, 11, 12) of kept subjects (line 5,
#   NONE, is the screen failure's: not imported, not checked);
# - partial AESTDTC on lines 10 ('2024-04') and 11 ('2024-03');
# - CM: no CMCAT RESCUE (a warning; values by frequency: RESCUE THERAPY 5, CONCOMITANT
#   MEDICATION 4, PRIOR MEDICATION 1); the partial CMSTDTC are then not imported, so not
#   checked;
# - EX: the overlap warning, as with the mapping;
# - LB: no PLAT (values by frequency: PLT 59, HGB 11, WBC 9).
# DM is fine: without [arms] the ARMCD values are kept as written, Scrnfail (any case)
# left out; PC's PRE-DOSE is recognised as a trough without a mapping.
CAUSALITY = (
    "expected a causality such as RELATED, POSSIBLY RELATED, NOT RELATED, Y or N (a study's "
    "own terms go under [adverse_events] related_map), found "
)
PARTIAL = (
    ": a complete date YYYY-MM-DD is needed (or impute the first day with [dates] partial = "
    '"first" in the mapping)'
)
WITHOUT_MAPPING = [
    f"error: 10 problem(s) in {STUDY}:",
    "AE:1:AETOXGR: missing required column; if AE grades with AESEV, set [adverse_events] "
    'grade = "AESEV" (and grade_map) in the mapping',
    f"AE:4:AEREL: {CAUSALITY}'REMOTE'",
    f"AE:6:AEREL: {CAUSALITY}'NONE'",
    f"AE:9:AEREL: {CAUSALITY}'NONE'",
    f"AE:10:AEREL: {CAUSALITY}'REMOTE'",
    f"AE:10:AESTDTC: partial date '2024-04'{PARTIAL}",
    f"AE:11:AEREL: {CAUSALITY}'NONE'",
    f"AE:11:AESTDTC: partial date '2024-03'{PARTIAL}",
    f"AE:12:AEREL: {CAUSALITY}'NONE'",
    "warning: CM:-:CMCAT: no CM record is rescue therapy by CMCAT RESCUE, so none is imported "
    "(CMCAT values present: RESCUE THERAPY, CONCOMITANT MEDICATION, PRIOR MEDICATION); choose "
    "the rescue records under [rescue] in the mapping",
    f"warning: {OVERLAP}",
    "LB:-:LBTESTCD: no LB record has LBTESTCD PLAT, so there would be no platelet count "
    "(LBTESTCD values present: PLT, HGB, WBC); list the platelet test code under [platelets] "
    "testcd in the mapping",
]


def test_without_the_mapping_every_problem_in_one_run(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = CliRunner().invoke(app, ["import-sdtm", str(STUDY), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == WITHOUT_MAPPING
    assert not out.exists()


def test_a_randomized_subject_left_out_by_the_mapping_is_a_warning(tmp_path: Path) -> None:
    # Without Pbo under [arms], the three placebo subjects (DM lines 3, 7 and 11: 101-002,
    # 102-001, 102-005) are left out although DS says each was randomized.
    text = MAPPING.read_text(encoding="utf-8").replace('Pbo = "PBO"\n', "")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(text, encoding="utf-8")
    summary = import_sdtm(STUDY, tmp_path / "out", mapping=mapping)
    said = [str(w) for w in summary.warnings if w.where == "DM"]
    assert said == [
        f"DM:{line}:ARMCD: subject '{uid(n)}' has a DS record with DSDECOD RANDOMIZED "
        "but is left out (ARMCD 'Pbo'): list the arm under [arms] in the mapping if it is "
        "one of the trial's"
        for line, n in ((3, "101-002"), (7, "102-001"), (11, "102-005"))
    ]
