"""The one engine that applies a :class:`~itptrial.data.sdtm._domains.DomainMap`.

In order: the variables a domain must have; the records of the table (``select``) and the
subjects they belong to; the records left out, each counted under its reason; SDTM's own
checks (units, controlled terms, partial dates), which report a problem at the variable
and leave the native cell empty (the loader's "empty" report at the same cell is then
dropped, so one fault is one problem); and the native columns, as text, with each
record's SDTM line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from itptrial._errors import Problem
from itptrial.data._parse import MISSING_COLUMN, orphan_message, quoted
from itptrial.data._read import LINE
from itptrial.data.sdtm._domains import (
    DAY0,
    RANDOMIZED_ON,
    DomainMap,
    Dtc,
    LeaveOut,
    Recode,
    Take,
    Unit,
    normal_unit,
    normal_unit_expr,
)
from itptrial.data.sdtm._dtc import Dtc as DtcValue
from itptrial.data.sdtm._dtc import partial_message

FACTOR = "__factor_{}"
EMPTY = ""  # the mapping key of an empty value (TOML: related_map = { "" = true })


@dataclass(frozen=True)
class Tally:
    """A count for the import summary: ``count`` records of ``domain`` were ``what``."""

    domain: str
    outcome: str  # "read", "kept", "other", "left out", "imputed", "converted"
    count: int
    what: str


@dataclass(frozen=True)
class Subjects:
    """Which DM subjects are imported (``kept``) and which are in DM at all, and each
    kept subject's reference dates (for imputing partial dates and prior medication)."""

    in_dm: pl.Series
    kept: pl.Series
    references: pl.DataFrame | None = None  # USUBJID, RANDOMIZED_ON, DAY0 (dates)


@dataclass
class Mapped:
    """One native table made from a domain, with what happened on the way."""

    frame: pl.DataFrame
    problems: list[Problem] = field(default_factory=list)
    tallies: list[Tally] = field(default_factory=list)
    usable: bool = True  # False: variables missing, the domain could not be mapped


def _needed(domain_map: DomainMap) -> list[str]:
    """Every variable the map reads (absent optional ones are added as empty)."""
    names = [*domain_map.required, *domain_map.optional]
    for source in domain_map.columns.values():
        names += list(source.variables) if isinstance(source, Take) else [source.variable]
    names += [unit.variable for unit in domain_map.units]
    names += [variable for variable, _ in domain_map.checks]
    return list(dict.fromkeys(names))


def missing_variables(domain_map: DomainMap, frame: pl.DataFrame) -> list[Problem]:
    problems = [
        Problem(domain_map.domain, 1, v, _with_hint(MISSING_COLUMN, domain_map.hints.get(v)))
        for v in domain_map.required
        if v not in frame.columns
    ]
    for group in domain_map.required_any:
        if not any(v in frame.columns for v in group):
            message = f"{MISSING_COLUMN} ({' or '.join(group)})"
            problems.append(Problem(domain_map.domain, 1, group[0], message))
    return problems


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}; {hint}" if hint else message


def empty_native(domain_map: DomainMap) -> pl.DataFrame:
    schema = dict.fromkeys(domain_map.columns, pl.String)
    return pl.DataFrame(schema={**schema, LINE: pl.Int64})


def apply_map(
    domain_map: DomainMap,
    frame: pl.DataFrame,
    subjects: Subjects | None,
    impute_partial: bool,
) -> Mapped:
    """The native table of one domain (text columns and LINE), its problems and tallies."""
    domain = domain_map.domain
    missing = missing_variables(domain_map, frame)
    if any(p.column in domain_map.structural for p in missing):
        return Mapped(empty_native(domain_map), missing, usable=False)
    absent = [v for v in _needed(domain_map) if v not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(v) for v in absent)
    out = Mapped(frame, missing, tallies=[Tally(domain, "read", frame.height, "records")])
    frame = _selected(domain_map, frame, out)
    if subjects is not None and domain != "DM":
        frame = _own_records(domain, frame, subjects, out)
        if subjects.references is not None:
            frame = frame.join(subjects.references, on="USUBJID", how="left", maintain_order="left")
    references = [c for c in (RANDOMIZED_ON, DAY0) if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.Date).alias(c) for c in references)
    frame = _left_out(domain, [lo for lo in domain_map.leave_out if not lo.mapped], frame, out)
    frame = _with_unit_factors(domain_map, frame, out)
    native = frame.select(
        *(_column(domain_map, name, source, impute_partial) for name, source in _items(domain_map)),
        *_references(frame),
        pl.col(LINE),
    )
    absent_variables = {p.column for p in missing}  # reported once, at line 1
    out.problems += [
        p
        for p in _cell_problems(domain_map, frame, impute_partial)
        if p.column not in absent_variables
    ]
    out.tallies += _imputed_tallies(domain_map, frame, impute_partial)
    out.tallies += _empty_recoded_tallies(domain_map, frame)
    native = _left_out(domain, [lo for lo in domain_map.leave_out if lo.mapped], native, out)
    out.frame = native.drop(RANDOMIZED_ON, DAY0, strict=False)
    out.tallies.append(Tally(domain, "kept", out.frame.height, domain_map.select_what))
    return out


def _items(domain_map: DomainMap) -> list[tuple[str, Take | Dtc | Recode]]:
    return list(domain_map.columns.items())


def _references(frame: pl.DataFrame) -> list[pl.Expr]:
    return [pl.col(c) for c in (RANDOMIZED_ON, DAY0) if c in frame.columns]


def _selected(domain_map: DomainMap, frame: pl.DataFrame, out: Mapped) -> pl.DataFrame:
    if domain_map.select is None:
        return frame
    chosen = frame.with_columns(domain_map.select.fill_null(False).alias("__chosen"))
    others = chosen.filter(~pl.col("__chosen"))
    if others.height:
        by, outcome = domain_map.others_by, domain_map.others_outcome
        if by is None:
            out.tallies.append(
                Tally(domain_map.domain, outcome, others.height, domain_map.others_what)
            )
        else:
            counts = Counter(others.get_column(by).fill_null("").to_list())
            for value, n in sorted(counts.items()):
                what = f"{by} {value}" if value else f"{by} empty"
                out.tallies.append(Tally(domain_map.domain, outcome, n, what))
    return chosen.filter(pl.col("__chosen")).drop("__chosen")


def _own_records(domain: str, frame: pl.DataFrame, subjects: Subjects, out: Mapped) -> pl.DataFrame:
    """Records of kept subjects; of left-out subjects: counted; of nobody: errors."""
    usubjid = pl.col("USUBJID")
    in_dm = usubjid.is_in(subjects.in_dm.implode()).fill_null(False)
    kept = usubjid.is_in(subjects.kept.implode()).fill_null(False)
    for line, value in frame.filter(~in_dm).select(LINE, "USUBJID").iter_rows():
        message = "empty USUBJID" if value is None else orphan_message("USUBJID", value, "DM")
        out.problems.append(Problem(domain, line, "USUBJID", message))
    left_out = frame.filter(in_dm & ~kept).height
    if left_out:
        out.tallies.append(Tally(domain, "left out", left_out, "records of subjects left out"))
    return frame.filter(kept)


def _left_out(domain: str, rules: list[LeaveOut], frame: pl.DataFrame, out: Mapped) -> pl.DataFrame:
    for rule in rules:
        leaving = frame.filter(rule.when)
        if leaving.height:
            out.tallies.append(Tally(domain, "left out", leaving.height, rule.reason))
            frame = frame.filter(~rule.when)
    return frame


# --- units ------------------------------------------------------------------------------


def _factors(unit: Unit) -> dict[str, float]:
    return {normal_unit(spelling): factor for spelling, factor in unit.factors.items()}


def _with_unit_factors(domain_map: DomainMap, frame: pl.DataFrame, out: Mapped) -> pl.DataFrame:
    """Each unit's factor to the native unit (1 when the unit is not accepted: the value is
    left as written, so only the unit is reported), and a tally per conversion."""
    for unit in domain_map.units:
        factors = _factors(unit)
        normal = normal_unit_expr(pl.col(unit.variable))
        factor = normal.replace_strict(factors, default=1.0, return_dtype=pl.Float64)
        frame = frame.with_columns(factor.alias(FACTOR.format(unit.native)))
        converted = frame.filter(pl.col(FACTOR.format(unit.native)) != 1.0)
        for spelling, n in sorted(Counter(converted.get_column(unit.variable).to_list()).items()):
            what = f"{unit.variable} {spelling} (x {factors[normal_unit(spelling)]:g})"
            out.tallies.append(Tally(domain_map.domain, "converted", n, what))
    return frame


def _unit_problem(domain_map: DomainMap, unit: Unit) -> pl.Expr:
    """The problem of a unit cell, only where the value it qualifies is present."""
    source = domain_map.columns[unit.native]
    assert isinstance(source, Take)
    value = pl.col(source.variables[0])
    raw = pl.col(unit.variable)
    known = normal_unit_expr(raw).is_in(list(_factors(unit)))
    accepted = ", ".join(unit.factors)
    return (
        pl.when(value.is_null())
        .then(None)
        .when(raw.is_null())
        .then(pl.lit(f"empty {unit.variable}"))
        .when(~known)
        .then(
            pl.lit("unit ")
            + quoted(raw)
            + pl.lit(f" is not {unit.what} (accepted: {accepted}{unit.hint})")
        )
    )


# --- native columns ---------------------------------------------------------------------


def _column(domain_map: DomainMap, name: str, source: Take | Dtc | Recode, impute: bool) -> pl.Expr:
    if isinstance(source, Take):
        value = (
            pl.coalesce(source.variables)
            if len(source.variables) > 1
            else pl.col(source.variables[0])
        )
        if source.lower:
            value = value.str.to_lowercase()
        factor = FACTOR.format(name)
        if any(unit.native == name for unit in domain_map.units):
            raw_number = value.cast(pl.Float64, strict=False)
            number = (raw_number * pl.col(factor)).round_sig_figs(12)
            # Only a valid amount is converted: anything else reaches the loader as written,
            # so that its message quotes what the file says ('abc', '-1').
            convertible = raw_number.is_finite().fill_null(False) & (raw_number >= 0)
            converted = pl.when((pl.col(factor) != 1.0) & convertible).then(number.cast(pl.String))
            value = converted.otherwise(value)
        return value.alias(name)
    if isinstance(source, Dtc):
        dtc = DtcValue(source.variable)
        reference = pl.col(source.not_before) if source.not_before else None
        imputing = impute and not source.exact
        partial = dtc.imputed(reference) if imputing else pl.lit(None, dtype=pl.String)
        return pl.when(dtc.is_partial).then(partial).otherwise(dtc.complete).alias(name)
    code = pl.col(source.variable).str.to_uppercase()
    if EMPTY in source.values:  # the mapping recodes an empty value too
        code = code.fill_null(EMPTY)
    return code.replace_strict(dict(source.values), default=None, return_dtype=pl.String).alias(
        name
    )


def _cell_problems(domain_map: DomainMap, frame: pl.DataFrame, impute: bool) -> list[Problem]:
    """SDTM's own checks, one problem per failing cell."""
    checks: list[tuple[str, pl.Expr]] = list(domain_map.checks)
    checks += [(unit.variable, _unit_problem(domain_map, unit)) for unit in domain_map.units]
    for source in domain_map.columns.values():
        if isinstance(source, Recode):
            raw = pl.col(source.variable)
            unknown = raw.is_not_null() & ~raw.str.to_uppercase().is_in(list(source.values))
            message = pl.lit(f"expected {source.expected}, found ") + quoted(raw)
            checks.append((source.variable, pl.when(unknown).then(message)))
        elif isinstance(source, Dtc) and (source.exact or not impute):
            dtc = DtcValue(source.variable)
            said = partial_message(quoted(dtc.raw), never_imputed=source.exact and impute)
            checks.append((source.variable, pl.when(dtc.is_partial).then(said)))
    problems = []
    for variable, message in checks:
        failing = frame.select(LINE, message.alias("__message")).filter(
            pl.col("__message").is_not_null()
        )
        problems += [
            Problem(domain_map.domain, line, variable, text) for line, text in failing.iter_rows()
        ]
    return problems


def _empty_recoded_tallies(domain_map: DomainMap, frame: pl.DataFrame) -> list[Tally]:
    """Empty values a mapping recodes (``"" = true``), counted: never done unseen."""
    tallies = []
    for source in domain_map.columns.values():
        if isinstance(source, Recode) and EMPTY in source.values:
            n = frame.filter(pl.col(source.variable).is_null()).height
            if n:
                what = f"empty {source.variable} as {source.values[EMPTY]} (by the mapping)"
                tallies.append(Tally(domain_map.domain, "converted", n, what))
    return tallies


def _imputed_tallies(domain_map: DomainMap, frame: pl.DataFrame, impute: bool) -> list[Tally]:
    if not impute:
        return []
    tallies = []
    for source in domain_map.columns.values():
        if isinstance(source, Dtc) and not source.exact:
            n = frame.filter(DtcValue(source.variable).is_partial).height
            if n:
                what = f"partial {source.variable} to the first possible day"
                tallies.append(Tally(domain_map.domain, "imputed", n, what))
    return tallies
