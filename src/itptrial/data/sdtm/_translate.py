"""The native loader's problems, said in SDTM terms.

The importer hands the native loader tables whose line numbers are SDTM file lines, so a
native problem needs only its table renamed to the domain and its column to the SDTM
variable, plus the few cells that came from another domain than their table's (a
randomization date from DS, a Day 0 from EX). Native column names inside the message
are renamed too (``empty subject_id`` -> ``empty USUBJID``), so that the user reads one
vocabulary; the wording is otherwise the loader's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from itptrial._errors import Problem
from itptrial.data._parse import MISSING_COLUMN

Cell = tuple[str, int | None, str | None]  # (where, line, column)
SUBJECT_ID = "subject_id"


@dataclass(frozen=True)
class Origin:
    """Where a native table's records came from."""

    domain: str
    variables: Mapping[str, str]  # native column -> SDTM variable
    moved: Mapping[tuple[int, str], tuple[str, int, str]] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)  # column -> said after a message
    alternatives: Mapping[str, str] = field(default_factory=dict)  # column -> "A and B"


def _renamed(message: str, words: Mapping[str, str]) -> str:
    """Native column names (identifiers with an underscore, never plain words such as
    ``date``) replaced by SDTM variable names."""
    for native, variable in words.items():
        if "_" in native:
            message = re.sub(rf"\b{re.escape(native)}\b", variable, message)
    return message.replace("is not in subjects", "is not in DM")


def to_sdtm(problem: Problem, origins: Mapping[str, Origin], words: Mapping[str, str]) -> Problem:
    """``problem`` at the SDTM file, line and variable it concerns."""
    origin = origins.get(problem.where)
    if origin is None:
        return problem
    own = {**words, **origin.variables}
    where, line = origin.domain, problem.line
    column = origin.variables.get(problem.column, problem.column) if problem.column else None
    if problem.line is not None and problem.column is not None:
        moved = origin.moved.get((problem.line, problem.column))
        if moved is not None:
            where, line, column = moved
            own[problem.column] = moved[2]
        elif problem.column not in origin.variables and SUBJECT_ID in origin.variables:
            # A cell looked up in another domain through the subject (a randomization
            # date from DS) with no record to come from: the record has no subject to
            # look up. That is its USUBJID's fault, reported there already ("empty
            # USUBJID"), so this is said at the same cell and merged away.
            column = origin.variables[SUBJECT_ID]
    if problem.column and problem.message == f"empty {problem.column}" and column:
        message = f"empty {origin.alternatives.get(problem.column, column)}"
    else:
        message = _renamed(problem.message, own)
    note = origin.notes.get(problem.column or "")
    if note:
        message = f"{message} ({note})"
    return Problem(where, line, column, message, problem.severity)


def merged(own: Iterable[Problem], native: Iterable[Problem]) -> list[Problem]:
    """The importer's problems and the translated native ones, each fault once: a native
    problem at a cell the importer reported already (it left the cell empty) is dropped,
    and so are repeats of one kind at one cell (a daily dose of an EX record over
    several days)."""
    own = list(own)
    claimed: set[Cell] = {(p.where, p.line, p.column) for p in own}
    # A variable missing from its domain is one problem (at line 1), not one per record.
    absent = {(p.where, p.column) for p in own if p.line == 1 and MISSING_COLUMN in p.message}
    seen: set[tuple[str, int | None, str | None, str]] = set()
    out = list(own)
    for problem in native:
        cell = (problem.where, problem.line, problem.column)
        key = (*cell, problem.kind)
        if cell in claimed or key in seen or (problem.where, problem.column) in absent:
            continue
        seen.add(key)
        out.append(problem)
    return list(dict.fromkeys(out))
