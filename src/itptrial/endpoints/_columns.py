"""Names of the working columns that pass between the engine's modules.

The observation table (one row per subject and day) and the per-subject frame carry
these besides the output columns of endpoints.csv. Every module refers to them by these
constants, never by a literal, so a newcomer can find where each is made and read.
"""

from __future__ import annotations

# --- the observation table -------------------------------------------------------------
SUBJECT = "sid"  # integer subject key (the loader's subject key), fast to group on
DAY = "t"  # study day: days from treatment_start_date
COUNT = "count"  # platelet count that day, null on a bleeding-only day
BLEED_GRADE = "bleed_grade"  # worst WHO grade >= BLEEDING_GRADE that day, or null
BASELINE = "baseline_count"  # the subject's baseline count (broadcast onto its rows)
RESCUE_DAY = "rescue_day"  # t_r: the subject's earliest rescue start, null when none
RESCUE_TREATMENT = "rescue_treatment"  # the treatment of that first rescue
ROW = "row"  # row number in (subject, day) order

# Per-observation flags (itptrial.endpoints._criteria.observation_flags), by level name.
QUALIFIES = "qualifies_{level}"  # qualifies at the level
CONFIRMED = "confirmed_{level}"  # starts a confirmed run at the level
CONFIRMED_LOSS = "confirmed_loss"  # a confirmed loss of response

# --- the per-subject frame --------------------------------------------------------------
TREATED = "treated"  # has a treatment_start_date
# Subject-level quantities that several endpoints share (made by _derive.shared_columns).
EVALUABLE = "is_evaluable"  # treated and with a baseline count
INITIAL = "is_initial_responder"  # an initial response
LOSS_DAY = "loss_of_response_day"  # the earliest loss of response (rescue or count)
RELAPSED = "has_relapsed"  # initial responder with a loss day within the horizon
ASSESSED = "has_sustained_assessment"  # evaluable with a sustained assessment count
LAST_COUNT_DAY = "last_count_day_or_0"  # last count day in [1, HORIZON], 0 if none


def qualifies(level: str) -> str:
    return QUALIFIES.format(level=level)


def confirmed(level: str) -> str:
    return CONFIRMED.format(level=level)


def landmark_column(name: str) -> str:
    """The working name of a declared endpoint's output column (renamed to ``name`` on
    output): a colon cannot occur in a declared name, so it never meets another column."""
    return f"landmark:{name}"
