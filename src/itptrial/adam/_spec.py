"""The ADaM datasets of docs/interface.md ("CDISC: SDTM in, ADaM out"), as data.

Each dataset lists its variables in output order: name (at most 8 characters), label (at
most 40), type and derivation, the way a define.xml lists them. The builders
(:mod:`._derive`) make exactly these columns, the writers (:mod:`._write`) take labels
and the metadata table from here, and a test checks the XPORT v5 limits on this list.
Names and conventions follow the ADaM Implementation Guide v1.3 as admiral applies them
(PARAMCD/AVAL/AVALC, CNSR 1 = censored, ADY without a day 0, Y/N population flags).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VarType = Literal["text", "integer", "float", "date"]

EXPLAN_LENGTH = 200  # XPORT v5 holds at most 200 characters per value
STUDY_DAY = (
    "ADT - TRTSDT + 1 when ADT >= TRTSDT, else ADT - TRTSDT (CDISC study day, no day 0; "
    "the study day t of docs/endpoints.md is ADY - 1 from TRTSDT on)"
)


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    type: VarType
    derivation: str


@dataclass(frozen=True)
class AdamDataset:
    name: str  # the dataset name (file name in lower case)
    label: str
    structure: str
    variables: tuple[Variable, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)


def _v(name: str, label: str, type_: VarType, derivation: str) -> Variable:
    return Variable(name, label, type_, derivation)


STUDYID = _v("STUDYID", "Study Identifier", "text", "the protocol name")
USUBJID = _v("USUBJID", "Unique Subject Identifier", "text", "subjects.subject_id")
ARMCD = _v("ARMCD", "Planned Arm Code", "text", "subjects.arm (the protocol arm code)")
TRT01P = _v("TRT01P", "Planned Treatment for Period 01", "text", "the protocol label of ARMCD")
STRATA = _v("STRATA", "Randomization Stratum", "text", "subjects.stratum")
PARAMCD = _v("PARAMCD", "Parameter Code", "text", "see PARAM")
PARAMN = _v("PARAMN", "Parameter (N)", "integer", "the order of PARAMCD")
ADT = _v("ADT", "Analysis Date", "date", "TRTSDT + the study day of the decision")
ADY = _v("ADY", "Analysis Relative Day", "integer", STUDY_DAY)

ADSL = AdamDataset(
    "ADSL",
    "Subject-Level Analysis Dataset",
    "one record per randomized subject",
    (
        STUDYID,
        USUBJID,
        _v("SITEID", "Study Site Identifier", "text", "subjects.site_id"),
        _v("ARM", "Description of Planned Arm", "text", "the protocol label of ARMCD"),
        ARMCD,
        TRT01P,
        _v("TRT01PN", "Planned Treatment for Period 01 (N)", "integer", "order of the arm"),
        _v("RANDDT", "Date of Randomization", "date", "subjects.randomization_date"),
        _v("TRTSDT", "Date of First Exposure to Treatment", "date", "Day 0: treatment_start"),
        _v("TRTEDT", "Date of Last Exposure to Treatment", "date", "last doses.date, if any"),
        _v("ITTFL", "Intent-To-Treat Population Flag", "text", "Y for every randomized subject"),
        _v("EFFFL", "Efficacy Population Flag", "text", "Y when evaluable (treated, baseline)"),
        _v("SAFFL", "Safety Population Flag", "text", "Y when treated (TRTSDT present)"),
        _v("AGE", "Age", "float", "subjects.age"),
        _v("AGEU", "Age Units", "text", "YEARS when AGE is present"),
        _v("SEX", "Sex", "text", "subjects.sex"),
        STRATA,
        _v("BASEPLAT", "Baseline Platelet Count (10^9/L)", "float", "endpoints.baseline_count"),
    ),
)

# The subject keys every BDS dataset carries from ADSL (so that each analyses alone), and
# the parameter variables of an endpoint.
SUBJECT_KEYS = (STUDYID, USUBJID, ARMCD, TRT01P, STRATA)
ENDPOINT_PARAMETER = (
    PARAMCD,
    _v("PARAM", "Parameter", "text", "the protocol's label of the endpoint"),
    PARAMN,
)
ADRS_BODY = (
    _v("AVAL", "Analysis Value", "integer", "1 responder/event, 0 not; empty when undefined"),
    _v("AVALC", "Analysis Value (C)", "text", "CR/PR/NR/NE for INITRESP and SUST6M, else Y/N"),
    ADT,
    ADY,
    _v("ANL01FL", "Analysis Flag 01", "text", "Y when in the endpoint's denominator"),
)
EXPLAN = _v("EXPLAN", "Explanation of the Adjudication", "text", "endpoints.explanation")


def explan_variables(chunks: int) -> tuple[Variable, ...]:
    """EXPLAN, EXPLAN2, ...: the explanation cut at spaces into values of at most
    EXPLAN_LENGTH characters (join them with one space to read it whole)."""
    rest = tuple(
        _v(f"EXPLAN{i}", f"Explanation of the Adjudication ({i})", "text", f"part {i} of EXPLAN")
        for i in range(2, chunks + 1)
    )
    return (EXPLAN, *rest)


def adrs(chunks: int) -> AdamDataset:
    return AdamDataset(
        "ADRS",
        "Response Analysis Dataset",
        "one record per subject per response parameter",
        (*SUBJECT_KEYS, *ENDPOINT_PARAMETER, *ADRS_BODY, *explan_variables(chunks)),
    )


ADTTE = AdamDataset(
    "ADTTE",
    "Time-to-Event Analysis Dataset",
    "one record per subject per parameter, for subjects in its population",
    (
        *SUBJECT_KEYS,
        *ENDPOINT_PARAMETER,
        _v("AVAL", "Analysis Value", "float", "days from STARTDT: ttr_days, dor_days"),
        _v("CNSR", "Censor", "integer", "1 censored, 0 event (1 - ttr_event / dor_event)"),
        _v("STARTDT", "Time-to-Event Origin Date", "date", "TRTSDT (TTR); response date (DOR)"),
        _v("ADT", "Analysis Date", "date", "STARTDT + AVAL"),
        ADY,
        _v("EVNTDESC", "Event or Censoring Description", "text", "what ended the time"),
    ),
)

ADLB = AdamDataset(
    "ADLB",
    "Laboratory Analysis Dataset",
    "one record per platelet count",
    (
        *SUBJECT_KEYS[:4],
        _v("PARAMCD", "Parameter Code", "text", "PLAT"),
        _v("PARAM", "Parameter", "text", "Platelets (10^9/L)"),
        _v("AVAL", "Analysis Value", "float", "platelets.count"),
        _v("ADT", "Analysis Date", "date", "platelets.date"),
        ADY,
        _v("BASE", "Baseline Value", "float", "the baseline count of docs/endpoints.md"),
        _v("CHG", "Change from Baseline", "float", "AVAL - BASE after the baseline date"),
        _v("ABLFL", "Baseline Record Flag", "text", "Y on the record that is the baseline"),
        _v("ANL01FL", "Analysis Flag 01", "text", "Y on the baseline and days 1 to the horizon"),
    ),
)
