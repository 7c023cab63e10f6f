"""Write the TACITP3 test study: a small SDTM submission of a three-arm ITP trial.

    python tests/sdtm_study/make_study.py [--out DIR]   # default: this script's folder

TACITP3 (hypothetical) randomizes adults with ITP to tacrolimus 2 mg BID (ARMCD TacHi),
tacrolimus 1 mg BID (TacLo) or placebo (Pbo) for 12 weeks (Day 0 to Day 83) and follows
them to Day 180. Eleven subjects signed consent at two sites: 3 per arm and 2 screen
failures (ARMCD Scrnfail). The domains carry what a real export carries and what an
importer has to cope with (tests/test_sdtm_study.py derives every count from the tables
below by hand):

- DM: RFXSTDTC for 4 treated subjects; empty for the other 4 treated subjects (2 of them
  on placebo, whose Day 0 is their first EXDOSE 0 record) and for the subject randomized
  but never treated (102-006).
- DS: informed consent, RANDOMIZED and the end of study for every randomized subject;
  consent and screen failure for the 2 others.
- EX: tacrolimus in mg BID with dose changes, an overlapping pair of records (101-005 on
  Day 27), a dose not taken (EXOCCUR N); placebo as EXDOSE 0 mg BID.
- LB: platelets as LBTESTCD PLT (not the CDISC PLAT) in 10^3/uL, one subject's in K/uL,
  one sample NOT DONE; HGB and WBC at screening; screen failures' samples.
- AE: graded by AESEV, the CDISC pilot's AEREL terms (POSSIBLE, PROBABLE, REMOTE, NONE),
  two partial AESTDTC.
- CM (CSV written as R's readr writes it, NA for missing): rescue under CMCAT RESCUE
  THERAPY, including two ITP rescues before randomization (prior medication) and one
  with a partial date in the randomization month; concomitant medications.
- PC: tacrolimus troughs (PCTPT PRE-DOSE) and three Day 7 profiles (1 to 8 h post
  dose), placebo samples below the limit of quantification, one NOT DONE; results in
  ug/mL.

The .xpt files are SAS XPORT version 5 with variable labels. XPORT headers carry the
time the file was written; it is set to a fixed time, so that running the script again
gives the same bytes (with the same pyreadstat).
"""

from __future__ import annotations

import argparse
import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyreadstat

STUDYID = "TACITP3"
HERE = Path(__file__).resolve().parent
XPORT_TIME = b"15OCT24:00:00:00"  # the data cut-off, written as the files' creation time

LABELS = {
    "STUDYID": "Study Identifier",
    "DOMAIN": "Domain Abbreviation",
    "USUBJID": "Unique Subject Identifier",
    "SUBJID": "Subject Identifier for the Study",
    "RFSTDTC": "Subject Reference Start Date/Time",
    "RFENDTC": "Subject Reference End Date/Time",
    "RFXSTDTC": "Date/Time of First Study Treatment",
    "RFXENDTC": "Date/Time of Last Study Treatment",
    "RFICDTC": "Date/Time of Informed Consent",
    "RFPENDTC": "Date/Time of End of Participation",
    "SITEID": "Study Site Identifier",
    "AGE": "Age",
    "AGEU": "Age Units",
    "SEX": "Sex",
    "RACE": "Race",
    "ARMCD": "Planned Arm Code",
    "ARM": "Description of Planned Arm",
    "ACTARMCD": "Actual Arm Code",
    "ACTARM": "Description of Actual Arm",
    "COUNTRY": "Country",
    "DSSEQ": "Sequence Number",
    "DSTERM": "Reported Term for the Disposition Event",
    "DSDECOD": "Standardized Disposition Term",
    "DSCAT": "Category for Disposition Event",
    "DSSTDTC": "Start Date/Time of Disposition Event",
    "EXSEQ": "Sequence Number",
    "EXTRT": "Name of Treatment",
    "EXDOSE": "Dose",
    "EXDOSU": "Dose Units",
    "EXDOSFRM": "Dose Form",
    "EXDOSFRQ": "Dosing Frequency per Interval",
    "EXROUTE": "Route of Administration",
    "EXOCCUR": "Occurrence",
    "EXSTDTC": "Start Date/Time of Treatment",
    "EXENDTC": "End Date/Time of Treatment",
    "LBSEQ": "Sequence Number",
    "LBTESTCD": "Lab Test or Examination Short Name",
    "LBTEST": "Lab Test or Examination Name",
    "LBCAT": "Category for Lab Test",
    "LBORRES": "Result or Finding in Original Units",
    "LBORRESU": "Original Units",
    "LBSTRESC": "Character Result/Finding in Std Format",
    "LBSTRESN": "Numeric Result/Finding in Standard Units",
    "LBSTRESU": "Standard Units",
    "LBSTAT": "Completion Status",
    "LBREASND": "Reason Test Not Done",
    "VISITNUM": "Visit Number",
    "VISIT": "Visit Name",
    "LBDTC": "Date/Time of Specimen Collection",
    "AESEQ": "Sequence Number",
    "AETERM": "Reported Term for the Adverse Event",
    "AEDECOD": "Dictionary-Derived Term",
    "AEBODSYS": "Body System or Organ Class",
    "AESEV": "Severity/Intensity",
    "AESER": "Serious Event",
    "AEREL": "Causality",
    "AESTDTC": "Start Date/Time of Adverse Event",
    "AEENDTC": "End Date/Time of Adverse Event",
    "PCSEQ": "Sequence Number",
    "PCTESTCD": "Pharmacokinetic Test Short Name",
    "PCTEST": "Pharmacokinetic Test Name",
    "PCSPEC": "Specimen Material Type",
    "PCORRES": "Result or Finding in Original Units",
    "PCORRESU": "Original Units",
    "PCSTRESC": "Character Result/Finding in Std Format",
    "PCSTRESN": "Numeric Result/Finding in Standard Units",
    "PCSTRESU": "Standard Units",
    "PCSTAT": "Completion Status",
    "PCREASND": "Reason Test Not Done",
    "PCTPT": "Planned Time Point Name",
    "PCTPTNUM": "Planned Time Point Number",
    "PCELTM": "Planned Elapsed Time from Time Point Ref",
    "PCTPTREF": "Time Point Reference",
    "PCDTC": "Date/Time of Specimen Collection",
}
FILE_LABELS = {
    "DM": "Demographics",
    "DS": "Disposition",
    "EX": "Exposure",
    "LB": "Laboratory Test Results",
    "AE": "Adverse Events",
    "PC": "Pharmacokinetics Concentrations",
}
ARMS = {
    "TacHi": "Tacrolimus 2 mg BID",
    "TacLo": "Tacrolimus 1 mg BID",
    "Pbo": "Placebo",
    "Scrnfail": "Screen Failure",
}


@dataclass(frozen=True)
class Exposure:
    """One EX record: ``dose`` mg BID from Day ``first`` to Day ``last`` (None: not taken)."""

    drug: str
    dose: float | None
    first: int
    last: int


@dataclass(frozen=True)
class Subject:
    number: str  # site-subject, e.g. "101-001"
    armcd: str
    sex: str
    age: int
    consent: date
    randomized: date | None = None  # None: screen failure
    day0: date | None = None  # first dose; None: never treated (or screen failure)
    rfxstdtc: str = ""  # DM.RFXSTDTC as written; "" for the subjects whose EX gives Day 0
    # platelets (10^9/L) at SCREENING, DAY 0, WEEK 1, 2, 4, 12, 26; None = NOT DONE
    platelets: tuple[int | None, ...] = ()
    exposure: tuple[Exposure, ...] = ()
    screen_failed: date | None = None

    @property
    def usubjid(self) -> str:
        return f"{STUDYID}-{self.number}"

    @property
    def site(self) -> str:
        return self.number[:3]

    def day(self, n: int) -> date:
        assert self.day0 is not None
        return self.day0 + timedelta(days=n)

    @property
    def end(self) -> date:
        """End of participation: Day 180, the day of withdrawal, or of screen failure."""
        if self.screen_failed is not None:
            return self.screen_failed
        if self.day0 is None:
            assert self.randomized is not None
            return self.randomized + timedelta(days=1)
        return self.day(180)


def tac(dose: float | None, first: int, last: int) -> Exposure:
    return Exposure("TACROLIMUS", dose, first, last)


def pbo(first: int, last: int) -> Exposure:
    return Exposure("PLACEBO", 0.0, first, last)


D = date.fromisoformat
# fmt: off
SUBJECTS = (
    Subject(
        "101-001", "TacHi", "F", 34, consent=D("2024-01-01"), randomized=D("2024-01-08"),
        day0=D("2024-01-09"), rfxstdtc="2024-01-09T08:00",
        platelets=(15, 12, 45, 88, 120, 150, 135),
        exposure=(tac(2.0, 0, 27), tac(1.5, 28, 83)),
    ),
    Subject(
        "101-002", "Pbo", "M", 52, consent=D("2024-01-08"), randomized=D("2024-01-15"),
        day0=D("2024-01-16"), rfxstdtc="2024-01-16",
        platelets=(25, 24, 28, 30, 26, 33, 29),
        exposure=(pbo(0, 83),),
    ),
    Subject(
        "101-003", "Scrnfail", "F", 41, consent=D("2024-01-17"), platelets=(62,),
        screen_failed=D("2024-01-24"),
    ),
    Subject(
        "101-004", "TacLo", "F", 28, consent=D("2024-01-22"), randomized=D("2024-01-29"),
        day0=D("2024-01-29"), rfxstdtc="2024-01-29",
        platelets=(18, 16, 30, None, 45, 62, 58),  # Week 2: NOT DONE
        exposure=(tac(1.0, 0, 83),),
    ),
    Subject(
        "101-005", "TacHi", "M", 63, consent=D("2024-01-29"), randomized=D("2024-02-05"),
        day0=D("2024-02-06"),
        platelets=(22, 20, 35, 60, 95, 80, 70),
        # the second record starts on the day the first ends: Day 27 is given twice
        exposure=(tac(2.0, 0, 27), tac(2.5, 27, 83)),
    ),
    Subject(
        "102-001", "Pbo", "F", 45, consent=D("2024-01-31"), randomized=D("2024-02-07"),
        day0=D("2024-02-08"),
        platelets=(14, 13, 18, 30, 22, 20, 19),  # in K/uL
        exposure=(pbo(0, 83),),
    ),
    Subject(
        "102-002", "TacLo", "M", 37, consent=D("2024-02-05"), randomized=D("2024-02-12"),
        day0=D("2024-02-13"),
        platelets=(6, 5, 14, 22, 40, 60, 75),
        exposure=(tac(1.0, 0, 13), tac(1.5, 14, 83)),
    ),
    Subject(
        "102-003", "Scrnfail", "M", 58, consent=D("2024-02-14"), platelets=(8,),
        screen_failed=D("2024-02-20"),
    ),
    Subject(
        "102-004", "TacHi", "F", 49, consent=D("2024-02-19"), randomized=D("2024-02-26"),
        day0=D("2024-02-27"), rfxstdtc="2024-02-27T08:00",
        platelets=(9, 8, 25, 40, 55, 28, 22),
        # Days 40 and 41 not taken (EXOCCUR N)
        exposure=(tac(2.0, 0, 39), tac(None, 40, 41), tac(2.0, 42, 83)),
    ),
    Subject(
        "102-005", "Pbo", "M", 31, consent=D("2024-02-26"), randomized=D("2024-03-04"),
        day0=D("2024-03-05"),
        platelets=(7, 6, 9, 8, 35, 18, 12),
        exposure=(pbo(0, 27), pbo(28, 83)),  # a new pack at Week 4
    ),
    Subject(
        # randomized, withdrew consent the next day: never treated
        "102-006", "TacLo", "F", 66, consent=D("2024-03-04"), randomized=D("2024-03-11"),
        platelets=(11,),
    ),
)
# fmt: on
BY_NUMBER = {s.number: s for s in SUBJECTS}
# The visits, by VISITNUM: (VISIT, study day; screening is before Day 0, see below)
VISITS: dict[int, tuple[str, int | None]] = {
    1: ("SCREENING", None),
    2: ("DAY 0", 0),
    3: ("WEEK 1", 7),
    4: ("WEEK 2", 14),
    5: ("WEEK 4", 28),
    6: ("WEEK 8", 56),
    7: ("WEEK 12", 84),
    8: ("WEEK 26", 180),
}
PLATELET_VISITS = (1, 2, 3, 4, 5, 7, 8)  # Subject.platelets, in this order
SCREENING = 5  # screening samples: 5 days before randomization (3 days after consent for
# screen failures)


def screening_day(subject: Subject) -> date:
    if subject.randomized is None:
        return subject.consent + timedelta(days=3)
    return subject.randomized - timedelta(days=SCREENING)


def visit_day(subject: Subject, visitnum: int) -> date:
    day = VISITS[visitnum][1]
    return screening_day(subject) if day is None else subject.day(day)


def iso(day: date | None, time: str = "") -> str:
    return "" if day is None else day.isoformat() + (f"T{time}" if time else "")


# --- the domains ---------------------------------------------------------------------------

Row = dict[str, object]


def dm() -> list[Row]:
    rows = []
    for s in SUBJECTS:
        treated = s.day0 is not None
        last_dose = s.day(max(e.last for e in s.exposure)) if treated else None
        actual = s.armcd if treated or s.randomized is None else "NOTTRT"
        rows.append(
            {
                "STUDYID": STUDYID,
                "DOMAIN": "DM",
                "USUBJID": s.usubjid,
                "SUBJID": s.number[4:],
                "RFSTDTC": iso(s.randomized),  # the sponsor's reference start: randomization
                "RFENDTC": iso(s.end) if s.randomized else "",
                "RFXSTDTC": s.rfxstdtc,
                "RFXENDTC": iso(last_dose, "20:00") if s.rfxstdtc else "",
                "RFICDTC": iso(s.consent),
                "RFPENDTC": iso(s.end),
                "SITEID": s.site,
                "AGE": float(s.age),
                "AGEU": "YEARS",
                "SEX": s.sex,
                "RACE": "ASIAN",
                "ARMCD": s.armcd,
                "ARM": ARMS[s.armcd],
                "ACTARMCD": actual,
                "ACTARM": "Not Treated" if actual == "NOTTRT" else ARMS[s.armcd],
                "COUNTRY": "CHN",
            }
        )
    return rows


SCREEN_FAILURES = {
    "101-003": "PLATELET COUNT ABOVE ELIGIBILITY LIMIT",
    "102-003": "RESCUE THERAPY NEEDED DURING SCREENING",
}


def ds() -> list[Row]:
    rows = []
    for s in SUBJECTS:
        # (DSCAT, DSTERM, DSDECOD, DSSTDTC)
        events = [("PROTOCOL MILESTONE", "INFORMED CONSENT OBTAINED", None, s.consent)]
        if s.randomized is None:
            assert s.screen_failed is not None
            term = SCREEN_FAILURES[s.number]
            events.append(("DISPOSITION EVENT", term, "SCREEN FAILURE", s.screen_failed))
        else:
            events.append(("PROTOCOL MILESTONE", "RANDOMIZED", None, s.randomized))
            if s.day0 is None:
                term = "SUBJECT WITHDREW CONSENT BEFORE FIRST DOSE"
                events.append(("DISPOSITION EVENT", term, "WITHDRAWAL BY SUBJECT", s.end))
            else:
                events.append(("DISPOSITION EVENT", "COMPLETED", None, s.end))
        for seq, (cat, term, decod, day) in enumerate(events, start=1):
            rows.append(
                {
                    "STUDYID": STUDYID,
                    "DOMAIN": "DS",
                    "USUBJID": s.usubjid,
                    "DSSEQ": float(seq),
                    "DSTERM": term,
                    "DSDECOD": decod or term,
                    "DSCAT": cat,
                    "DSSTDTC": iso(day),
                }
            )
    return rows


def ex() -> list[Row]:
    rows = []
    for s in SUBJECTS:
        for seq, e in enumerate(s.exposure, start=1):
            taken = e.dose is not None
            rows.append(
                {
                    "STUDYID": STUDYID,
                    "DOMAIN": "EX",
                    "USUBJID": s.usubjid,
                    "EXSEQ": float(seq),
                    "EXTRT": e.drug,
                    "EXDOSE": e.dose if e.dose is not None else float("nan"),
                    "EXDOSU": "mg" if taken else "",
                    "EXDOSFRM": "CAPSULE",
                    "EXDOSFRQ": "BID",
                    "EXROUTE": "ORAL",
                    "EXOCCUR": "Y" if taken else "N",
                    "EXSTDTC": iso(s.day(e.first), "08:00"),
                    "EXENDTC": iso(s.day(e.last), "20:00"),
                }
            )
    return rows


LAB_TESTS = {"PLT": "Platelets", "HGB": "Hemoglobin", "WBC": "Leukocytes"}
# HGB (g/dL) and WBC (10^3/uL) at screening; the screen failures have no WBC
SCREENING_LABS: dict[str, tuple[float, float | None]] = {
    "101-001": (12.1, 6.2),
    "101-002": (13.4, 7.1),
    "101-003": (11.8, None),
    "101-004": (12.6, 5.4),
    "101-005": (14.2, 8.3),
    "102-001": (11.9, 6.6),
    "102-002": (13.1, 4.9),
    "102-003": (10.7, None),
    "102-004": (12.3, 7.7),
    "102-005": (14.8, 5.8),
    "102-006": (12.9, 6.0),
}


def _lab(s: Subject, testcd: str, value: float | None, unit: str, visitnum: int) -> Row:
    text = "" if value is None else f"{value:g}"
    return {
        "STUDYID": STUDYID,
        "DOMAIN": "LB",
        "USUBJID": s.usubjid,
        "LBSEQ": 0.0,  # numbered per subject below
        "LBTESTCD": testcd,
        "LBTEST": LAB_TESTS[testcd],
        "LBCAT": "HEMATOLOGY",
        "LBORRES": text,
        "LBORRESU": unit if text else "",
        "LBSTRESC": text,
        "LBSTRESN": float("nan") if value is None else float(value),
        "LBSTRESU": unit if text else "",
        "LBSTAT": "" if text else "NOT DONE",
        "LBREASND": "" if text else "SAMPLE CLOTTED",
        "VISITNUM": float(visitnum),
        "VISIT": VISITS[visitnum][0],
        "LBDTC": iso(visit_day(s, visitnum), "08:30"),
    }


def lb() -> list[Row]:
    """Per subject: HGB, PLT, WBC at screening, then PLT at every later visit."""
    rows = []
    for s in SUBJECTS:
        plt_unit = "K/uL" if s.number == "102-001" else "10^3/uL"  # another lab's spelling
        hgb, wbc = SCREENING_LABS[s.number]
        own = [
            _lab(s, "HGB", hgb, "g/dL", 1),
            _lab(s, "PLT", s.platelets[0], plt_unit, 1),
        ]
        if wbc is not None:
            own.append(_lab(s, "WBC", wbc, "10^3/uL", 1))
        if s.day0 is not None:
            later = zip(PLATELET_VISITS[1:], s.platelets[1:], strict=True)
            own += [_lab(s, "PLT", count, plt_unit, visitnum) for visitnum, count in later]
        for seq, row in enumerate(own, start=1):
            row["LBSEQ"] = float(seq)
        rows += own
    return rows


# fmt: off
# (subject, AETERM, AEDECOD, AEBODSYS, AESEV, AESER, AEREL, AESTDTC, AEENDTC)
ADVERSE_EVENTS = (
    ("101-001", "HEADACHE", "Headache", "Nervous system disorders", "MILD", "N", "POSSIBLE",
     "2024-01-12", "2024-01-13"),
    ("101-001", "HAND TREMOR", "Tremor", "Nervous system disorders", "MILD", "N", "PROBABLE",
     "2024-01-20", "2024-02-10"),
    ("101-002", "HEADACHE", "Headache", "Nervous system disorders", "MILD", "N", "REMOTE",
     "2024-01-25", "2024-01-25"),
    ("101-003", "HEADACHE", "Headache", "Nervous system disorders", "MILD", "N", "NONE",
     "2024-01-20", "2024-01-21"),  # screen failure
    ("101-004", "COMMON COLD", "Nasopharyngitis", "Infections and infestations", "MILD", "N",
     "NONE", "2024-02-15", "2024-02-22"),
    ("101-005", "HIGH BLOOD PRESSURE", "Hypertension", "Vascular disorders", "MODERATE", "N",
     "PROBABLE", "2024-03-01", ""),
    ("102-001", "TIREDNESS", "Fatigue", "General disorders and administration site conditions",
     "MILD", "N", "POSSIBLE", "2024-02-20", "2024-03-01"),
    ("102-002", "NOSE BLEED", "Epistaxis", "Respiratory, thoracic and mediastinal disorders",
     "MODERATE", "N", "NONE", "2024-02-20", "2024-02-20"),
    ("102-004", "DIARRHOEA", "Diarrhoea", "Gastrointestinal disorders", "MILD", "N", "REMOTE",
     "2024-04", "2024-04"),  # partial: the subject remembered the month only
    ("102-005", "BRUISING", "Contusion", "Injury, poisoning and procedural complications",
     "MODERATE", "N", "NONE", "2024-03", ""),  # partial, in the month of Day 0
    ("102-005", "NOSE BLEED", "Epistaxis", "Respiratory, thoracic and mediastinal disorders",
     "SEVERE", "Y", "NONE", "2024-03-24", "2024-03-26"),
)
# (subject, CMTRT, CMDECOD, CMCAT, CMINDC, CMDOSE, CMDOSU, CMROUTE, CMSTDTC, CMENDTC);
# None is written NA
MEDICATIONS = (
    ("101-001", "IVIG", "IMMUNOGLOBULIN HUMAN NORMAL", "RESCUE THERAPY", "ITP", 70, "g",
     "INTRAVENOUS", "2023-09-21", "2023-09-22"),  # 109 days before randomization
    ("101-001", "OMEPRAZOLE", "OMEPRAZOLE", "CONCOMITANT MEDICATION", "GASTRIC PROTECTION",
     20, "mg", "ORAL", "2024-01-09", None),
    ("101-002", "PARACETAMOL", "PARACETAMOL", "CONCOMITANT MEDICATION", "HEADACHE", 500,
     "mg", "ORAL", "2024-01", "2024-01"),
    ("101-003", "CETIRIZINE", "CETIRIZINE", "CONCOMITANT MEDICATION", "HAY FEVER", 10, "mg",
     "ORAL", "2023-12-01", None),  # screen failure
    ("102-002", "IVIG", "IMMUNOGLOBULIN HUMAN NORMAL", "RESCUE THERAPY", "ITP", 35, "g",
     "INTRAVENOUS", "2024-02", "2024-02"),  # partial, in the month of randomization
    ("102-002", "CALCIUM CARBONATE", "CALCIUM CARBONATE", "CONCOMITANT MEDICATION",
     "PROPHYLAXIS", None, None, "ORAL", None, None),
    ("102-003", "IVIG", "IMMUNOGLOBULIN HUMAN NORMAL", "RESCUE THERAPY", "ITP", 80, "g",
     "INTRAVENOUS", "2024-02-18", "2024-02-19"),  # screen failure
    ("102-004", "METFORMIN", "METFORMIN", "PRIOR MEDICATION", "TYPE 2 DIABETES", 500, "mg",
     "ORAL", "2019-06", None),
    ("102-004", "PREDNISONE", "PREDNISONE", "RESCUE THERAPY", "ITP", 60, "mg", "ORAL",
     "2023", "2023"),  # first-line ITP treatment, the year only
    ("102-005", "PLATELET TRANSFUSION", "PLATELETS", "RESCUE THERAPY", "EPISTAXIS", 1, "UNIT",
     "INTRAVENOUS", "2024-03-25", "2024-03-25"),  # Day 20
)
# fmt: on
CM_VARIABLES = (
    *("STUDYID", "DOMAIN", "USUBJID", "CMSEQ", "CMTRT", "CMDECOD", "CMCAT", "CMINDC"),
    *("CMDOSE", "CMDOSU", "CMROUTE", "CMSTDTC", "CMENDTC"),
)


def ae() -> list[Row]:
    rows = []
    seqs: dict[str, int] = {}
    for number, term, decod, bodsys, sev, ser, rel, start, end in ADVERSE_EVENTS:
        seqs[number] = seqs.get(number, 0) + 1
        rows.append(
            {
                "STUDYID": STUDYID,
                "DOMAIN": "AE",
                "USUBJID": BY_NUMBER[number].usubjid,
                "AESEQ": float(seqs[number]),
                "AETERM": term,
                "AEDECOD": decod,
                "AEBODSYS": bodsys,
                "AESEV": sev,
                "AESER": ser,
                "AEREL": rel,
                "AESTDTC": start,
                "AEENDTC": end,
            }
        )
    return rows


def cm() -> list[list[str]]:
    rows = [list(CM_VARIABLES)]
    seqs: dict[str, int] = {}
    for number, *values in MEDICATIONS:
        seqs[number] = seqs.get(number, 0) + 1
        cells = [STUDYID, "CM", BY_NUMBER[number].usubjid, seqs[number], *values]
        rows.append(["NA" if v is None else str(v) for v in cells])
    return rows


# Tacrolimus whole-blood concentrations in ng/mL (PCSTRESN in ug/mL) by VISITNUM: the
# pre-dose troughs; None = NOT DONE. Placebo samples are all below the limit (BLQ).
TROUGHS: dict[str, dict[int, float | None]] = {
    "101-001": {3: 6.8, 4: 6.1, 5: 5.5, 6: 4.9},
    "101-004": {3: 3.1, 4: 3.5, 5: 2.9, 6: 3.8},
    "101-005": {3: 5.2, 4: 4.7, 5: 5.8, 6: 6.3},
    "102-002": {3: 2.4, 4: 3.3, 5: 4.1, 6: 3.9},
    "102-004": {3: 7.1, 4: 6.6, 5: None, 6: 5.9},
}
PLACEBO_TROUGHS = (3, 5)  # Week 1 and Week 4
# The Week 1 profiles after the morning dose (08:00), at these hours
PROFILE_HOURS = (1, 2, 4, 8)
PROFILES: dict[str, tuple[float | None, ...]] = {
    "101-001": (18.2, 21.5, 14.3, 9.8),
    "101-002": (None, None, None, None),  # placebo
    "101-004": (9.5, 11.2, 7.4, 4.9),
}
LLOQ = "<0.5"  # ng/mL


def _pc(s: Subject, visitnum: int, hour: int, value: float | None, done: bool) -> Row:
    pre = hour == 0
    if not done:
        original = standard = unit = ""
    elif value is None:
        original, standard, unit = LLOQ, "BLQ", "ug/mL"
    else:
        original, standard, unit = f"{value:g}", f"{value / 1000:g}", "ug/mL"
    return {
        "STUDYID": STUDYID,
        "DOMAIN": "PC",
        "USUBJID": s.usubjid,
        "PCSEQ": 0.0,  # numbered per subject below
        "PCTESTCD": "TACRO",
        "PCTEST": "Tacrolimus",
        "PCSPEC": "WHOLE BLOOD",
        "PCORRES": original,
        "PCORRESU": "ng/mL" if original else "",
        "PCSTRESC": standard,
        "PCSTRESN": float("nan") if value is None else value / 1000,
        "PCSTRESU": unit,
        "PCSTAT": "" if done else "NOT DONE",
        "PCREASND": "" if done else "SAMPLE NOT COLLECTED",
        "PCTPT": "PRE-DOSE" if pre else f"{hour}H POST-DOSE",
        "PCTPTNUM": float(hour),
        "PCELTM": "-PT10M" if pre else f"PT{hour}H",
        "PCTPTREF": "MORNING DOSE",
        "VISITNUM": float(visitnum),
        "VISIT": VISITS[visitnum][0],
        "PCDTC": iso(visit_day(s, visitnum), "07:50" if pre else f"{8 + hour:02d}:00"),
    }


def pc() -> list[Row]:
    rows = []
    for s in SUBJECTS:
        if s.number in TROUGHS:
            troughs = TROUGHS[s.number]
        elif s.armcd == "Pbo":
            troughs = dict.fromkeys(PLACEBO_TROUGHS)
        else:
            continue
        own = []
        for visitnum, value in troughs.items():
            done = not (s.number == "102-004" and visitnum == 5)
            own.append(_pc(s, visitnum, 0, value, done))
            if visitnum == 3 and s.number in PROFILES:
                for hour, level in zip(PROFILE_HOURS, PROFILES[s.number], strict=True):
                    own.append(_pc(s, visitnum, hour, level, True))
        for seq, row in enumerate(own, start=1):
            row["PCSEQ"] = float(seq)
        rows += own
    return rows


# --- writing ---------------------------------------------------------------------------------

XPORT_STAMP = re.compile(rb"\d\d(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d\d(:\d\d){3}")
OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD"


def write_xpt(path: Path, domain: str, rows: list[Row]) -> None:
    """SAS XPORT v5 with variable labels, its creation times set to XPORT_TIME."""
    frame = pd.DataFrame(rows)
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=FILE_LABELS[domain],
        column_labels=[LABELS[c] for c in frame.columns],
        table_name=domain,
        file_format_version=5,
    )
    data = path.read_bytes()
    end = data.index(OBS_HEADER)  # the times are in the library and member headers
    path.write_bytes(XPORT_STAMP.sub(XPORT_TIME, data[:end]) + data[end:])


DOMAINS = {"DM": dm, "DS": ds, "EX": ex, "LB": lb, "AE": ae, "PC": pc}


def write_study(out: Path) -> list[Path]:
    """Write the seven domain files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for domain, rows in DOMAINS.items():
        path = out / f"{domain.lower()}.xpt"
        write_xpt(path, domain, rows())
        written.append(path)
    path = out / "cm.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(cm())  # as readr::write_csv(na = "NA")
    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the TACITP3 SDTM test study.")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: this one)")
    for path in write_study(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
