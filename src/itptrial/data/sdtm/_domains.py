"""One declarative map per SDTM domain: which records, which variable fills which native
column, and how controlled terms are recoded (admiral-style: the rules are data, one
engine in :mod:`itptrial.data.sdtm._engine` applies them).

A map never checks what the native loader checks (numbers, bounds, calendar dates,
duplicates): it hands the values on as text and the loader reports them, in SDTM terms,
with its one wording. A map checks only what is SDTM's own: partial dates, units,
controlled terms, and the variables a domain must have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from itptrial.data.sdtm._mapping import SdtmMapping

NOT_DONE = "NOT DONE"
# ARMCD of subjects never randomized (SDTMIG 3.1/3.2); SDTMIG 3.3+ leaves ARMCD empty
# and gives the reason in ARMNRS.
NOT_RANDOMIZED = ("SCRNFAIL", "NOTASSGN")
# Subject-level reference dates joined onto each record before its own dates are mapped
# (parsed from the subject's native randomization_date and treatment_start_date).
RANDOMIZED_ON = "__randomized_on"
DAY0 = "__day0"

SEXES: dict[str, str | None] = {"M": "M", "F": "F", "U": None, "UNDIFFERENTIATED": None}
SERIOUS: dict[str, str | None] = {"Y": "true", "N": "false"}
# AEREL as CDISC and common sponsor terms say it; [adverse_events] related_map adds or
# overrides terms (e.g. the CDISC pilot's REMOTE and NONE).
RELATED: dict[str, bool] = {
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
# AESEV, the CDISC codelist (C66769), when the mapping gives no grade_map.
SEVERITY_GRADES = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
# Units equal to 10^9/L (1 uL = 1 mm3 = 10^-6 L; 1 nL = 10^-9 L), compared without spaces
# and case; [platelets] units adds a study's own spelling.
PLATELET_UNITS = (
    "10^9/L",
    "GI/L",
    "x10^9/L",
    "10*9/L",
    "10E9/L",
    "10^3/uL",
    "x10^3/uL",
    "10*3/uL",
    "K/uL",
    "10^3/µL",
    "x10^3/µL",
    "K/µL",
    "10^3/mm3",
    "/nL",
)
# Concentration units -> factor to ng/mL.
LEVEL_UNITS = {
    "ng/mL": 1.0,
    "ug/L": 1.0,
    "µg/L": 1.0,
    "mcg/L": 1.0,
    "ug/mL": 1000.0,
    "µg/mL": 1000.0,
    "mcg/mL": 1000.0,
    "mg/L": 1000.0,
    "ng/L": 0.001,
}
DOSE_UNITS = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "µg": 0.001, "mcg": 0.001}
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
# PCTPT values and PCELTM durations of a pre-dose (trough) sample.
PRE_DOSE_TPT = r"(?i)^\s*(pre[- ]?dose|trough|c ?trough|c0|0 ?h(ours?)?( pre-?dose)?)\s*$"
PRE_DOSE_ELTM = r"^(-P|P(T)?0+([HMS]|D)?$|PT0+[HMS]$)"


def normal_unit(unit: str) -> str:
    """A unit spelling compared without spaces and case (``x10^9/l`` = ``x10^9 / L``)."""
    return unit.replace(" ", "").replace("\u00d7", "x").replace("μ", "µ").lower()


def normal_unit_expr(unit: pl.Expr) -> pl.Expr:
    """:func:`normal_unit` as an expression."""
    return (
        unit.str.replace_all(" ", "", literal=True)
        .str.replace_all("\u00d7", "x", literal=True)  # the multiplication sign
        .str.replace_all("μ", "µ", literal=True)
        .str.to_lowercase()
    )


@dataclass(frozen=True)
class Take:
    """The native column is the first non-empty of these variables, as written (or in
    lower case: drug names, compared with the protocol's)."""

    variables: tuple[str, ...]
    lower: bool = False


@dataclass(frozen=True)
class Dtc:
    """The native column is the date of this ``--DTC`` variable; ``not_before`` names the
    subject reference date a partial value is never imputed before."""

    variable: str
    not_before: str | None = None
    # Never imputed, even with partial = "first": the dates every study day counts from
    # (randomization, Day 0, exposure), where a guessed day would move every endpoint.
    exact: bool = False


@dataclass(frozen=True)
class Recode:
    """A controlled term recoded (case-insensitively) to a native value; None = empty."""

    variable: str
    values: Mapping[str, str | None]
    expected: str
    required: bool = True


@dataclass(frozen=True)
class Unit:
    """The unit of a numeric variable: accepted spellings (compared by
    :func:`normal_unit`) with their factor to the native unit; ``native`` is the column
    to multiply (left as written when the factor is 1)."""

    variable: str
    factors: Mapping[str, float]
    native: str
    what: str
    hint: str = ""


@dataclass(frozen=True)
class LeaveOut:
    """Records not imported, counted under ``reason``; ``mapped`` conditions see the
    native columns (dates as mapped), the others the SDTM variables."""

    reason: str
    when: pl.Expr
    mapped: bool = False


Source = Take | Dtc | Recode


@dataclass(frozen=True)
class DomainMap:
    """How one SDTM domain becomes one native table."""

    domain: str
    table: str
    required: tuple[str, ...]
    columns: Mapping[str, Source]
    select: pl.Expr | None = None  # the records of this table (others are other data)
    select_what: str = "records"  # what the selected records are, for the summary
    others_what: str = "other records"
    others_by: str | None = None  # count the other records by this variable's values
    others_outcome: str = "other"  # "other" (other data) or "left out" (e.g. screen failures)
    optional: tuple[str, ...] = ()
    required_any: tuple[tuple[str, ...], ...] = ()  # at least one of each group
    # Without these the records cannot even be chosen: the domain is not mapped. Without
    # another required variable it is, so that every other problem is found in one run.
    structural: tuple[str, ...] = ("USUBJID",)
    hints: Mapping[str, str] = field(default_factory=dict)  # variable -> said if missing
    leave_out: tuple[LeaveOut, ...] = ()
    units: tuple[Unit, ...] = ()
    checks: tuple[tuple[str, pl.Expr], ...] = field(default=())  # (variable, message|null)

    def alternatives(self) -> dict[str, str]:
        """Native column -> its variables in words, where it has several (``AEDECOD and
        AETERM``), for an "empty" message."""
        return {
            column: " and ".join(source.variables)
            for column, source in self.columns.items()
            if isinstance(source, Take) and len(source.variables) > 1
        }

    def variables(self) -> dict[str, str]:
        """Native column -> the SDTM variable it comes from (for messages)."""
        out = {}
        for column, source in self.columns.items():
            if isinstance(source, Take):
                out[column] = source.variables[0]
            else:
                out[column] = source.variable
        return out


def _code(variable: str) -> pl.Expr:
    return pl.col(variable).str.to_uppercase()


def _is(variable: str, values: list[str]) -> pl.Expr:
    return _code(variable).is_in([v.upper() for v in values]).fill_null(False)


def _not_done(status: str) -> LeaveOut:
    return LeaveOut(f"{status} {NOT_DONE}", (_code(status) == NOT_DONE).fill_null(False))


def dm_map(mapping: SdtmMapping, randomization: str | None) -> DomainMap:
    """DM -> subjects. ``randomization`` is RFSTDTC when DS holds no randomization."""
    arm = mapping.arms.variable
    codes = {k.upper(): v for k, v in mapping.arms.codes.items()}
    if codes:  # only the listed values, each recoded to its protocol arm code
        kept = _is(arm, list(codes))
        kept_what = f"subjects of the listed {arm} values"
    else:  # every value but the SDTMIG codes of subjects never randomized
        kept = pl.col(arm).is_not_null() & ~_is(arm, list(NOT_RANDOMIZED))
        kept_what = f"randomized subjects ({arm} not {', '.join(NOT_RANDOMIZED)} or empty)"
    values: dict[str, str | None] = dict(codes)
    columns: dict[str, Source] = {
        "subject_id": Take(("USUBJID",)),
        "site_id": Take(("SITEID",)),
        "arm": Recode(arm, values, "") if codes else Take((arm,)),
        "treatment_start_date": Dtc("RFXSTDTC", exact=True),
        "stratum": Take(("STRATUM",)),
        "sex": Recode("SEX", SEXES, "M, F, U or empty", required=False),
        "age": Take(("AGE",)),
        "last_contact_date": Dtc("RFPENDTC"),
    }
    if randomization:
        columns["randomization_date"] = Dtc(randomization, exact=True)
    ageu = pl.col("AGEU")
    age_unit = pl.when(
        pl.col("AGE").is_not_null() & ageu.is_not_null() & (ageu.str.to_uppercase() != "YEARS")
    ).then(pl.lit("age unit must be YEARS, found '") + ageu + pl.lit("'"))
    return DomainMap(
        "DM",
        "subjects",
        required=("USUBJID", "SITEID", arm, *([randomization] if randomization else [])),
        optional=("SEX", "AGE", "AGEU", "RFXSTDTC", "RFPENDTC", "STRATUM"),
        columns=columns,
        select=kept,
        structural=("USUBJID", arm),
        select_what=kept_what,
        others_what="subjects left out",
        others_by=arm,
        others_outcome="left out",
        checks=(("AGEU", age_unit),),
    )


def ds_map() -> DomainMap:
    """DS records of randomization -> each subject's randomization date."""
    return DomainMap(
        "DS",
        "randomization",
        required=("USUBJID", "DSDECOD", "DSSTDTC"),
        columns={
            "subject_id": Take(("USUBJID",)),
            "randomization_date": Dtc("DSSTDTC", exact=True),
        },
        select=_is("DSDECOD", ["RANDOMIZED"]),
        structural=("USUBJID", "DSDECOD"),
        select_what="randomization records (DSDECOD RANDOMIZED)",
        others_what="other dispositions",
    )


def lb_map(mapping: SdtmMapping) -> DomainMap:
    testcd = list(mapping.platelets.testcd)
    units = dict.fromkeys((*PLATELET_UNITS, *mapping.platelets.units), 1.0)
    return DomainMap(
        "LB",
        "platelets",
        required=("USUBJID", "LBTESTCD", "LBDTC", "LBSTRESN", "LBSTRESU"),
        optional=("LBSTAT",),
        columns={
            "subject_id": Take(("USUBJID",)),
            "date": Dtc("LBDTC"),
            "count": Take(("LBSTRESN",)),
        },
        select=_is("LBTESTCD", testcd),
        structural=("USUBJID", "LBTESTCD"),
        select_what=f"platelet counts (LBTESTCD {', '.join(testcd)})",
        others_what="other tests",
        leave_out=(_not_done("LBSTAT"),),
        units=(
            Unit(
                "LBSTRESU",
                units,
                "count",
                "a unit equal to 10^9/L",
                "; a study's own spelling goes under [platelets] units",
            ),
        ),
    )


def cm_map(mapping: SdtmMapping) -> DomainMap:
    selection = mapping.rescue.selection()
    chosen = pl.any_horizontal(_is(variable, list(v)) for variable, v in selection.items())
    described = "; ".join(f"{var} {', '.join(v)}" for var, v in selection.items())
    started = pl.col("start_date").str.to_date("%Y-%m-%d", strict=False)
    return DomainMap(
        "CM",
        "rescue",
        required=("USUBJID", "CMTRT", "CMSTDTC", *selection),
        columns={
            "subject_id": Take(("USUBJID",)),
            "start_date": Dtc("CMSTDTC", not_before=RANDOMIZED_ON),
            "treatment": Take(("CMTRT",)),
        },
        select=chosen,
        structural=("USUBJID", *selection),
        hints=dict.fromkeys(
            selection,
            "choose the rescue records by a variable CM has ([rescue] CMCAT, CMSCAT, CMDECOD "
            'or CMTRT), or skip CM ([skip] domains = ["CM"])',
        ),
        select_what=f"rescue records ({described})",
        others_what="other medications",
        leave_out=(
            LeaveOut(
                "prior medication (started before randomization)",
                (started < pl.col(RANDOMIZED_ON)).fill_null(False),
                mapped=True,
            ),
        ),
    )


def related_terms(mapping: SdtmMapping) -> dict[str, str | None]:
    terms = {**RELATED, **{k.upper(): v for k, v in mapping.adverse_events.related_map.items()}}
    return {term: "true" if related else "false" for term, related in terms.items()}


def ae_map(mapping: SdtmMapping) -> DomainMap:
    events = mapping.adverse_events
    grade: Source
    if events.grade == "AESEV":
        grades = events.grade_map or SEVERITY_GRADES
        listed = ", ".join(grades)
        grade = Recode(
            "AESEV",
            {k.upper(): str(v) for k, v in grades.items()},
            f"a severity of [adverse_events] grade_map ({listed})",
        )
    else:
        grade = Take(("AETOXGR",))
    return DomainMap(
        "AE",
        "adverse_events",
        select_what="adverse events",
        required=("USUBJID", "AESTDTC", events.grade, "AESER", "AEREL"),
        optional=("AEDECOD", "AETERM"),
        required_any=(("AEDECOD", "AETERM"),),
        hints={
            "AETOXGR": 'if AE grades with AESEV, set [adverse_events] grade = "AESEV" '
            "(and grade_map) in the mapping"
        },
        columns={
            "subject_id": Take(("USUBJID",)),
            "term": Take(("AEDECOD", "AETERM")),
            "start_date": Dtc("AESTDTC", not_before=DAY0),
            "ctcae_grade": grade,
            "serious": Recode("AESER", SERIOUS, "Y or N"),
            "related": Recode(
                "AEREL",
                related_terms(mapping),
                "a causality such as RELATED, POSSIBLY RELATED, NOT RELATED, Y or N "
                "(a study's own terms go under [adverse_events] related_map)",
            ),
        },
    )


def ex_map() -> DomainMap:
    """EX -> one exposure record per EX record (expanded to daily doses afterwards)."""
    frequencies: dict[str, str | None] = {k: str(v) for k, v in DOSES_PER_DAY.items()}
    return DomainMap(
        "EX",
        "exposure",
        select_what="exposure records",
        required=("USUBJID", "EXTRT", "EXDOSE", "EXDOSU", "EXSTDTC"),
        optional=("EXENDTC", "EXDOSFRQ", "EXOCCUR"),
        columns={
            "subject_id": Take(("USUBJID",)),
            "start_date": Dtc("EXSTDTC", exact=True),
            "end_date": Dtc("EXENDTC", exact=True),
            "drug": Take(("EXTRT",), lower=True),
            "dose_mg": Take(("EXDOSE",)),
            "per_day": Recode(
                "EXDOSFRQ",
                frequencies,
                f"one of {', '.join(DOSES_PER_DAY)} or empty",
                required=False,
            ),
        },
        leave_out=(LeaveOut("EXOCCUR N (not taken)", (_code("EXOCCUR") == "N").fill_null(False)),),
        units=(Unit("EXDOSU", DOSE_UNITS, "dose_mg", "mg"),),
    )


def pc_map(trough: pl.Expr | None, trough_what: str) -> DomainMap:
    """PC -> drug_levels; ``trough`` selects the pre-dose samples (None: all are)."""
    # Marked below the limit in the text result, whatever PCSTRESN holds: some studies
    # put 0 or half the limit there (the CDISC pilot writes PCSTRESN 0 for "<BLQ").
    below_limit = pl.any_horizontal(
        pl.col(v).str.contains(r"(?i)BLQ|BLOQ|LLOQ|^<").fill_null(False)
        for v in ("PCORRES", "PCSTRESC")
    )
    return DomainMap(
        "PC",
        "drug_levels",
        required=("USUBJID", "PCDTC", "PCSTRESN", "PCSTRESU"),
        optional=("PCTEST", "PCTESTCD", "PCSTAT", "PCORRES", "PCSTRESC"),
        required_any=(("PCTEST", "PCTESTCD"),),
        columns={
            "subject_id": Take(("USUBJID",)),
            "date": Dtc("PCDTC"),
            "drug": Take(("PCTEST", "PCTESTCD"), lower=True),
            "trough_ng_ml": Take(("PCSTRESN",)),
        },
        select=trough,
        select_what=(
            f"pre-dose troughs ({trough_what})"
            if trough is not None
            else "samples (PC has no time point variable: each is a trough)"
        ),
        others_what="samples that are not pre-dose troughs",
        leave_out=(
            _not_done("PCSTAT"),
            LeaveOut(
                "below the limit of quantification (BLQ or < in PCORRES/PCSTRESC)", below_limit
            ),
        ),
        units=(
            Unit(
                "PCSTRESU",
                LEVEL_UNITS,
                "trough_ng_ml",
                "a concentration unit",
            ),
        ),
    )
