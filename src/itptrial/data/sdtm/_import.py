"""Import SDTM domains through the native loader (docs/sdtm.md).

The domain maps (:mod:`._domains`) turn each domain into a native table as text, with
the SDTM file line of every record as its line; :func:`dataset_from_raw` then checks
those tables with every rule of docs/data.md, and its problems are said again in SDTM
terms (:mod:`._translate`). What needs more than one record of a domain is done here:
which subjects are imported, randomization dates from DS, Day 0 and daily doses from EX,
and which PC samples are troughs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from itptrial._errors import InputError, Problem
from itptrial.data._dataset import Dataset, dataset_from_raw, raw_problems
from itptrial.data._parse import MISSING_COLUMN, PARSED, duplicate_id_problems, parse_table
from itptrial.data._read import LINE, RawSource
from itptrial.data._schema import SUBJECT_ID, TABLES, Column, Table
from itptrial.data._write import write_dataset
from itptrial.data.sdtm._domains import (
    DAY0,
    PRE_DOSE_ELTM,
    PRE_DOSE_TPT,
    RANDOMIZED_ON,
    DomainMap,
    ae_map,
    cm_map,
    dm_map,
    ds_map,
    ex_map,
    lb_map,
    pc_map,
)
from itptrial.data.sdtm._engine import Mapped, Subjects, Tally, apply_map
from itptrial.data.sdtm._mapping import DOMAINS, SdtmMapping, load_mapping
from itptrial.data.sdtm._read import Domains, read_domains
from itptrial.data.sdtm._summary import ImportSummary
from itptrial.data.sdtm._translate import Origin, merged, to_sdtm

# One EX record spread over more days than this is a typo in a year (2204 for 2024), not
# a treatment: it is an error before any daily dose is made.
MAX_EXPOSURE_DAYS = 3660
OUTPUT_TABLES = ("subjects", "platelets", "rescue", "adverse_events", "doses", "drug_levels")
BLEEDING_NOTE = (
    "no bleeding table: WHO bleeding grade has no standard SDTM variable; add bleeding.csv "
    "to the output folder yourself (a later import-sdtm into the same folder keeps it)"
)
# One EX record, before it is spread over the days it covers; checked by the native
# parser like any table (numbers, dates, bounds).
EXPOSURE = Table(
    "exposure",
    required=False,
    columns=(
        SUBJECT_ID,
        Column("start_date", "date"),
        Column("end_date", "date", required=False),
        Column("drug", "text"),
        Column("dose_mg", "number", low=0, high=100000),
        Column("per_day", "integer", required=False),
    ),
)
SHOWN_VALUES = 8  # values of a variable listed in a hint


def import_sdtm(
    sdtm_dir: str | Path,
    out: str | Path,
    *,
    mapping: SdtmMapping | str | Path | None = None,
) -> ImportSummary:
    """Convert the SDTM domains in ``sdtm_dir`` into a native CSV dataset folder ``out``.

    ``mapping`` is a mapping file (docs/sdtm.md) or an :class:`SdtmMapping`; without one
    the defaults of docs/interface.md apply. Raises :class:`InputError` listing every
    problem at its SDTM file, line and variable; then nothing is written.
    """
    settings = mapping if isinstance(mapping, SdtmMapping) else load_mapping(mapping)
    folder = Path(sdtm_dir)
    run = _Import(settings, read_domains(folder, settings.skip.domains, settings.missing.values))
    run.map_all()
    dataset = run.checked(str(folder))
    tables = {name: dataset.table(name) for name in OUTPUT_TABLES}
    write_dataset(tables, out, command="import-sdtm")
    return ImportSummary(
        out=Path(out),
        records={name: frame.height for name, frame in tables.items()},
        tallies=tuple(run.tallies),
        notes=(*run.notes, BLEEDING_NOTE),
        warnings=tuple(run.warnings),
    )


@dataclass
class _Import:
    settings: SdtmMapping
    domains: Domains
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    native: list[Problem] = field(default_factory=list)  # the loader's, in SDTM terms
    tallies: list[Tally] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    incomplete: set[str] = field(default_factory=set)
    words: dict[str, str] = field(default_factory=dict)  # subject columns -> variables

    @property
    def impute(self) -> bool:
        return self.settings.dates.partial == "first"

    def _apply(self, domain_map: DomainMap, subjects: Subjects | None) -> Mapped:
        mapped = apply_map(
            domain_map, self.domains.frames[domain_map.domain], subjects, self.impute
        )
        self.problems += mapped.problems
        self.tallies += mapped.tallies
        return mapped

    # --- the whole import ---------------------------------------------------------------

    def map_all(self) -> None:
        self.problems += self.domains.problems
        self._file_notes()
        frames = self.domains.frames
        ds_has_randomization = "DS" in frames and _records_randomization(frames["DS"])
        subjects = self._subjects(ds_has_randomization) if "DM" in frames else None
        if subjects is None:  # DM missing or unusable: its problems are listed already
            self.incomplete.add("subjects")
            self._set_empty("subjects")
        for name, step in (
            ("LB", self._platelets),
            ("CM", self._rescue),
            ("AE", self._adverse_events),
            ("PC", self._drug_levels),
        ):
            if name in frames:
                step(subjects)
        if "platelets" not in self.tables:
            self._set_empty("platelets")

    def _set_empty(self, table: str) -> None:
        columns = TABLES[table].column_names
        self.tables[table] = pl.DataFrame(
            schema={**dict.fromkeys(columns, pl.String), LINE: pl.Int64}
        )

    def _file_notes(self) -> None:
        if self.domains.not_read:
            self.notes.append(f"not read (not a mapped domain): {', '.join(self.domains.not_read)}")
        if self.domains.skipped:
            self.notes.append(
                f"skipped by the mapping ([skip] domains): {', '.join(self.domains.skipped)}"
            )
        skipped = {Path(name).stem.upper() for name in self.domains.skipped}
        absent = [
            d
            for d in DOMAINS
            if d not in self.domains.frames
            and d not in skipped
            and not any(p.where == d for p in self.domains.problems)
        ]
        if absent:
            self.notes.append(f"no file, so no records: {', '.join(absent)}")

    # --- DM, DS, EX: the subjects ------------------------------------------------------

    def _subjects(self, ds_has_randomization: bool) -> Subjects | None:
        dm = self.domains.frames["DM"]
        domain_map = dm_map(self.settings, None if ds_has_randomization else "RFSTDTC")
        mapped = self._apply(domain_map, None)
        if not mapped.usable:
            return None
        self.problems += _dm_id_problems(dm)
        self.words |= {
            "subject_id": "USUBJID",
            "last_contact_date": "RFPENDTC",
            "randomization_date": "DSSTDTC" if ds_has_randomization else "RFSTDTC",
            "treatment_start_date": "RFXSTDTC",
        }
        kept_ids = mapped.frame.get_column("subject_id").drop_nulls()
        subjects = Subjects(in_dm=dm.get_column("USUBJID").drop_nulls(), kept=kept_ids)
        self._arm_tallies(dm, mapped.frame)
        self._randomized_but_left_out(dm, kept_ids)
        frame = mapped.frame
        moved: dict[tuple[int, str], tuple[str, int, str]] = {}
        variables = domain_map.variables()
        if ds_has_randomization:
            frame, ds_moved = self._randomization(frame, subjects)
            moved |= ds_moved
            self.notes.append("randomization_date: DS.DSSTDTC of the DSDECOD RANDOMIZED record")
        else:
            self.notes.append(
                "randomization_date: DM.RFSTDTC (DS holds no DSDECOD RANDOMIZED record); "
                "check that RFSTDTC is the randomization date in this study"
            )
        frame, ex_moved = self._day0(frame, dm, subjects)
        moved |= ex_moved
        self.tables["subjects"] = frame.select(*TABLES["subjects"].column_names, LINE)
        self.origins["subjects"] = Origin("DM", variables, moved)
        if kept_ids.is_empty() and dm.height:
            self.problems.append(_nothing_kept_problem(dm, self.settings.arms.variable))
        elif dm.height == 0:
            self.problems.append(Problem("DM", None, None, "DM has no records, so no subject"))
        references = frame.select(
            pl.col("subject_id").alias("USUBJID"),
            pl.col("randomization_date").str.to_date("%Y-%m-%d", strict=False).alias(RANDOMIZED_ON),
            pl.col("treatment_start_date").str.to_date("%Y-%m-%d", strict=False).alias(DAY0),
        ).filter(pl.col("USUBJID").is_not_null())
        return Subjects(subjects.in_dm, kept_ids, references.unique("USUBJID", keep="first"))

    def _randomized_but_left_out(self, dm: pl.DataFrame, kept_ids: pl.Series) -> None:
        """A left-out subject whom DS says was randomized: the ITT population shrinks, so
        it is said (a value missing from [arms], or a typo in it)."""
        ds = self.domains.frames.get("DS")
        if ds is None or not {"USUBJID", "DSDECOD"} <= set(ds.columns):
            return
        randomized = ds.filter(pl.col("DSDECOD").str.to_uppercase() == "RANDOMIZED")
        arm = self.settings.arms.variable
        left_out = dm.filter(
            ~pl.col("USUBJID").is_in(kept_ids.implode())
            & pl.col("USUBJID").is_in(randomized.get_column("USUBJID").implode())
        )
        for line, sid, value in left_out.select(LINE, "USUBJID", arm).iter_rows():
            message = (
                f"subject '{sid}' has a DS record with DSDECOD RANDOMIZED but is left out "
                f"({arm} {'empty' if value is None else repr(value)}): list the arm under "
                "[arms] in the mapping if it is one of the trial's"
            )
            self.warnings.append(Problem("DM", line, arm, message, "warning"))

    def _arm_tallies(self, dm: pl.DataFrame, kept: pl.DataFrame) -> None:
        variable = self.settings.arms.variable
        raw = dm.join(kept.select(LINE, "arm"), on=LINE, how="inner")
        counts = Counter(
            zip(raw.get_column(variable).to_list(), raw.get_column("arm").to_list(), strict=True)
        )
        for (value, code), n in sorted(counts.items(), key=lambda item: str(item[0])):
            what = f"{variable} {value}" + (f" as {code}" if code != value else "")
            self.tallies.append(Tally("DM", "arm", n, what))

    def _randomization(
        self, subjects_frame: pl.DataFrame, subjects: Subjects
    ) -> tuple[pl.DataFrame, dict[tuple[int, str], tuple[str, int, str]]]:
        """Each kept subject's DS randomization record (one per subject)."""
        domain_map = ds_map()
        mapped = self._apply(domain_map, subjects)
        if not mapped.usable:  # its one problem (a structural variable) stands for all
            missing = next(
                p.column
                for p in mapped.problems
                if p.line == 1 and p.column in domain_map.structural
            )
            assert missing is not None
            unmapped = {
                (line, "randomization_date"): ("DS", 1, missing)
                for line in subjects_frame.get_column(LINE).to_list()
            }
            empty = pl.lit(None, dtype=pl.String).alias("randomization_date")
            return subjects_frame.with_columns(empty), unmapped
        records = mapped.frame.rename({LINE: "__ds_line"})
        self.problems += _second_randomizations(records)
        first = records.sort("__ds_line").unique("subject_id", keep="first", maintain_order=True)
        frame = subjects_frame.join(first, on="subject_id", how="left", maintain_order="left")
        without = frame.filter(pl.col("__ds_line").is_null() & pl.col("subject_id").is_not_null())
        if mapped.usable:
            for line, sid, arm in without.select(LINE, "subject_id", "arm").iter_rows():
                message = f"subject '{sid}' (arm {arm}) has no DS record with DSDECOD RANDOMIZED"
                self.problems.append(Problem("DM", line, "USUBJID", message))
        with_ds = frame.filter(pl.col("__ds_line").is_not_null()).select(LINE, "__ds_line")
        moved = {
            (line, "randomization_date"): ("DS", ds_line, "DSSTDTC")
            for line, ds_line in with_ds.iter_rows()
        }
        # Without a DS record the date is empty: that is the problem above, not another.
        moved |= {
            (line, "randomization_date"): ("DM", line, "USUBJID")
            for line in without.get_column(LINE).to_list()
        }
        return frame.drop("__ds_line"), moved

    def _day0(
        self, frame: pl.DataFrame, dm: pl.DataFrame, subjects: Subjects
    ) -> tuple[pl.DataFrame, dict[tuple[int, str], tuple[str, int, str]]]:
        """Day 0: DM.RFXSTDTC, else the first EX record of any study treatment (placebo,
        EXDOSE 0, included), else none (never treated)."""
        first = self._doses(subjects) if "EX" in self.domains.frames else None
        raw = dm.select(
            LINE,
            pl.col("RFXSTDTC").alias("__rfxstdtc")
            if "RFXSTDTC" in dm.columns
            else pl.lit(None, dtype=pl.String).alias("__rfxstdtc"),
        )
        frame = frame.join(raw, on=LINE, how="left", maintain_order="left")
        if first is not None:
            frame = frame.join(first, on="subject_id", how="left", maintain_order="left")
        else:
            frame = frame.with_columns(
                pl.lit(None, dtype=pl.String).alias("__first"),
                pl.lit(None, dtype=pl.Int64).alias("__first_line"),
            )
        from_ex = pl.col("__rfxstdtc").is_null() & pl.col("__first").is_not_null()
        frame = frame.with_columns(
            pl.when(from_ex)
            .then(pl.col("__first"))
            .otherwise(pl.col("treatment_start_date"))
            .alias("treatment_start_date"),
            from_ex.alias("__from_ex"),
        )
        moved = {
            (line, "treatment_start_date"): ("EX", ex_line, "EXSTDTC")
            for line, ex_line in frame.filter(pl.col("__from_ex"))
            .select(LINE, "__first_line")
            .iter_rows()
        }
        kept = frame.filter(pl.col("subject_id").is_not_null())
        n_dm = kept.filter(pl.col("__rfxstdtc").is_not_null()).height
        n_ex = kept.filter(pl.col("__from_ex")).height
        never = kept.height - n_dm - n_ex
        self.notes.append(
            f"treatment_start_date (Day 0): DM.RFXSTDTC for {n_dm}, the first EX record for "
            f"{n_ex}, none (never treated) for {never} of {kept.height} subjects"
        )
        return frame.drop("__rfxstdtc", "__first", "__first_line", "__from_ex"), moved

    def _doses(self, subjects: Subjects) -> pl.DataFrame | None:
        """The doses table (one record per subject, drug and day) and each subject's first
        EX record (``__first`` date text, ``__first_line``)."""
        domain_map = ex_map()
        mapped = self._apply(domain_map, subjects)
        self.origins["exposure"] = Origin("EX", domain_map.variables())
        self.origins["doses"] = Origin(
            "EX",
            {"dose_mg": "EXDOSE", "date": "EXSTDTC", "drug": "EXTRT", "subject_id": "USUBJID"},
            notes={"dose_mg": "the daily total in mg of the EX records covering that day"},
        )
        if not mapped.usable:
            return None
        typed, problems = parse_table(EXPOSURE, mapped.frame, None)
        self.native += [to_sdtm(p, self.origins, self.words) for p in problems]
        valid = typed.filter(pl.col(PARSED))
        backwards = valid.filter(pl.col("end_date") < pl.col("start_date"))
        for line, start, end in backwards.select(LINE, "start_date", "end_date").iter_rows():
            self.problems.append(
                Problem("EX", line, "EXENDTC", f"EXENDTC {end} is before EXSTDTC {start}")
            )
        span = (pl.col("end_date") - pl.col("start_date")).dt.total_days()
        too_long = valid.filter(span > MAX_EXPOSURE_DAYS)
        for line, start, end in too_long.select(LINE, "start_date", "end_date").iter_rows():
            message = (
                f"EXENDTC {end} is {(end - start).days} days after EXSTDTC {start}: more than "
                f"{MAX_EXPOSURE_DAYS} days of daily doses in one record; check the year"
            )
            self.problems.append(Problem("EX", line, "EXENDTC", message))
        valid = valid.filter(
            ~((pl.col("end_date") < pl.col("start_date")) | (span > MAX_EXPOSURE_DAYS)).fill_null(
                False
            )
        )
        daily, overlaps = _daily_doses(valid)
        self.warnings += overlaps
        self.tables["doses"] = daily
        self.tallies.append(
            Tally("EX", "derived", daily.height, "daily doses (one per subject, drug and day)")
        )
        for drug, total in (
            daily.group_by("drug")
            .agg(pl.col("dose_mg").cast(pl.Float64).sum())
            .sort("drug")
            .iter_rows()
        ):
            self.tallies.append(Tally("EX", "dose", round(total), drug))
        first = valid.sort("start_date", LINE).unique(
            "subject_id", keep="first", maintain_order=True
        )
        return first.select(
            "subject_id",
            pl.col("start_date").dt.strftime("%Y-%m-%d").alias("__first"),
            pl.col(LINE).alias("__first_line"),
        )

    # --- LB, CM, AE, PC ------------------------------------------------------------------

    def _table(self, domain_map: DomainMap, subjects: Subjects | None) -> Mapped:
        mapped = self._apply(domain_map, subjects)
        self.tables[domain_map.table] = mapped.frame
        self.origins[domain_map.table] = Origin(
            domain_map.domain, domain_map.variables(), alternatives=domain_map.alternatives()
        )
        if not mapped.usable:
            self.incomplete.add(domain_map.table)
        return mapped

    def _platelets(self, subjects: Subjects | None) -> None:
        mapped = self._table(lb_map(self.settings), subjects)
        lb = self.domains.frames["LB"]
        if not mapped.usable or not mapped.frame.is_empty():
            return
        testcd = ", ".join(self.settings.platelets.testcd)
        if _selected_any(mapped):
            reasons = ", ".join(
                f"{t.count} {t.what}" for t in mapped.tallies if t.outcome == "left out"
            )
            message = (
                f"every LB record with LBTESTCD {testcd} is left out ({reasons}), so there "
                "would be no platelet count"
            )
        else:
            message = (
                f"no LB record has LBTESTCD {testcd}, so there would be no platelet count "
                f"(LBTESTCD values present: {_values(lb, 'LBTESTCD')}); list the platelet "
                "test code under [platelets] testcd in the mapping"
            )
        self.problems.append(Problem("LB", None, "LBTESTCD", message))

    def _rescue(self, subjects: Subjects | None) -> None:
        mapped = self._table(cm_map(self.settings), subjects)
        cm = self.domains.frames["CM"]
        if mapped.usable and cm.height and not _selected_any(mapped):
            selection = self.settings.rescue.selection()
            present = "; ".join(f"{v} values present: {_values(cm, v)}" for v in selection)
            described = "; ".join(f"{v} {', '.join(values)}" for v, values in selection.items())
            message = (
                f"no CM record is rescue therapy by {described}, so none is imported "
                f"({present}); choose the rescue records under [rescue] in the mapping"
            )
            self.warnings.append(Problem("CM", None, next(iter(selection)), message, "warning"))

    def _adverse_events(self, subjects: Subjects | None) -> None:
        self._table(ae_map(self.settings), subjects)

    def _drug_levels(self, subjects: Subjects | None) -> None:
        pc = self.domains.frames["PC"]
        trough, what, problems = _trough_rule(pc, self.settings)
        if problems:
            self.problems += problems
            self.incomplete.add("drug_levels")
            return
        mapped = self._table(pc_map(trough, what), subjects)
        if not mapped.usable:
            return
        if trough is None:
            self.problems += _several_per_day(mapped.frame)
        elif mapped.frame.is_empty() and not _selected_any(mapped) and pc.height:
            present = "; ".join(
                f"{v} values present: {_values(pc, v)}"
                for v in ("PCTPT", "PCTPTNUM", "PCELTM")
                if v in pc.columns
            )
            message = (
                f"no PC record is a pre-dose trough by {what} ({present}): a PK profile is not "
                "a trough; name the trough time point under [drug_levels] trough in the "
                "mapping, or skip PC"
            )
            self.problems.append(Problem("PC", None, None, message))

    # --- the native checks ---------------------------------------------------------------

    def checked(self, location: str) -> Dataset:
        """The dataset, loaded by the native loader; InputError with every problem."""
        raw = RawSource(location)
        raw.tables = {name: frame for name, frame in self.tables.items() if name in TABLES}
        raw.incomplete = set(self.incomplete)
        if any(p.severity == "error" for p in self.problems):
            native = self.native + [self._said(p) for p in raw_problems(raw, None)]
            raise InputError(merged(self.problems, native) + self.warnings, source=location)
        try:
            dataset = dataset_from_raw(raw, None)
        except InputError as error:
            native = self.native + [self._said(p) for p in error.problems]
            raise InputError(
                merged(self.problems, native) + self.warnings, source=location
            ) from None
        if any(p.severity == "error" for p in self.native):
            raise InputError(merged(self.problems, self.native) + self.warnings, source=location)
        self.warnings += _one_per_record([self._said(p) for p in dataset.warnings])
        return dataset

    def _said(self, problem: Problem) -> Problem:
        return to_sdtm(problem, self.origins, self.words)


# --- helpers -----------------------------------------------------------------------------

# "record dated 2021-03-04 is after ..." -> the message without its date, and the date
_DATED = re.compile(r"^record dated (\d{4}-\d{2}-\d{2}) (.*)$")


def _one_per_record(warnings: list[Problem]) -> list[Problem]:
    """The loader warns once per daily dose; many daily doses come from one EX record,
    so the same warning at one EX line is said once, with its first and last dates."""
    groups: dict[tuple[str, int | None, str | None, str], list[str]] = {}
    order: list[Problem | tuple[str, int | None, str | None, str]] = []
    for w in warnings:
        found = _DATED.match(w.message) if w.where == "EX" else None
        if found is None:
            order.append(w)
            continue
        key = (w.where, w.line, w.column, found.group(2))
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append(found.group(1))
    said = []
    for item in order:
        if isinstance(item, Problem):
            said.append(item)
            continue
        where, line, column, rest = item
        dates = sorted(groups[item])
        span = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]} ({len(dates)} days)"
        said.append(Problem(where, line, column, f"record dated {span} {rest}", "warning"))
    return said


def _records_randomization(ds: pl.DataFrame) -> bool:
    """Whether DS records randomization (a DS without DSDECOD is reported by its map)."""
    if "DSDECOD" not in ds.columns:
        return True
    return not ds.filter(pl.col("DSDECOD").str.to_uppercase() == "RANDOMIZED").is_empty()


def _dm_id_problems(dm: pl.DataFrame) -> list[Problem]:
    """Empty and repeated USUBJIDs over every DM record, imported or not."""
    empty = dm.filter(pl.col("USUBJID").is_null()).get_column(LINE).to_list()
    problems = [Problem("DM", line, "USUBJID", "empty USUBJID") for line in empty]
    return problems + duplicate_id_problems(dm, "DM", "USUBJID")


def _nothing_kept_problem(dm: pl.DataFrame, variable: str) -> Problem:
    message = (
        f"no DM subject is imported ({variable} values present: {_values(dm, variable)}); "
        "list the arms under [arms] in the mapping"
    )
    return Problem("DM", None, variable, message)


def _values(frame: pl.DataFrame, variable: str) -> str:
    """The most frequent values of a variable, for a hint."""
    if variable not in frame.columns:
        return f"none ({variable} is absent)"
    counts = frame.get_column(variable).fill_null("(empty)").value_counts(sort=True)
    shown = counts.head(SHOWN_VALUES).get_column(variable).to_list()
    more = counts.height - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _selected_any(mapped: Mapped) -> bool:
    """Whether the map selected any record (before subjects and leave-outs)."""
    read = sum(t.count for t in mapped.tallies if t.outcome == "read")
    other = sum(t.count for t in mapped.tallies if t.outcome == "other")
    return read > other


def _second_randomizations(records: pl.DataFrame) -> list[Problem]:
    dated = records.filter(pl.col("randomization_date").is_not_null()).sort("__ds_line")
    firsts = dated.unique("subject_id", keep="first", maintain_order=True).select(
        "subject_id",
        pl.col("__ds_line").alias("__first_line"),
        pl.col("randomization_date").alias("__first_date"),
    )
    later = dated.join(firsts, on="subject_id").filter(
        (pl.col("__ds_line") != pl.col("__first_line"))
        & (pl.col("randomization_date") != pl.col("__first_date"))
    )
    return [
        Problem(
            "DS",
            line,
            "DSSTDTC",
            f"second randomization date {date} for subject '{sid}' (line {first} has {first_date})",
        )
        for line, sid, date, first, first_date in later.select(
            "__ds_line", "subject_id", "randomization_date", "__first_line", "__first_date"
        ).iter_rows()
    ]


def _daily_doses(exposure: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """One record per subject, drug (EXTRT, lower case) and day covered by an EX record:
    EXDOSE x doses per day (EXDOSFRQ, default 1), in mg. Records of one drug covering the
    same day add up, each such overlap with a warning at the later record."""
    records = exposure.with_columns(
        pl.col("drug").str.to_lowercase(),
        (pl.col("dose_mg") * pl.col("per_day").fill_null(1)).alias("__daily"),
        pl.coalesce("end_date", "start_date").alias("end_date"),
    )
    covered = pl.date_ranges("start_date", "end_date", "1d").alias("date")
    days = records.with_columns(covered).explode("date")
    key = ["subject_id", "drug", "date"]
    per_day = days.group_by(key, maintain_order=True).agg(
        pl.col("__daily").sum().alias("dose_mg"), pl.col(LINE).min(), pl.col(LINE).alias("__lines")
    )
    warnings = _overlap_warnings(per_day.filter(pl.col("__lines").list.len() > 1))
    frame = per_day.sort(LINE, "date").select(
        "subject_id",
        pl.col("date").dt.strftime("%Y-%m-%d"),
        "drug",
        pl.col("dose_mg").round_sig_figs(12).cast(pl.String),
        LINE,
    )
    return frame, warnings


def _overlap_warnings(overlapping: pl.DataFrame) -> list[Problem]:
    """One warning per set of overlapping EX records, with the days and the total."""
    groups = overlapping.group_by("subject_id", "drug", "__lines", maintain_order=True).agg(
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
        pl.len().alias("days"),
        pl.col("dose_mg").first(),
    )
    warnings = []
    for sid, drug, lines, first, last, days, dose in groups.iter_rows():
        span = f"{first}" if days == 1 else f"{first} to {last} ({days} days)"
        others = ", ".join(str(line) for line in lines[:-1])
        message = (
            f"EX records at lines {others} and {lines[-1]} of subject '{sid}' both give "
            f"{drug} on {span}: their doses are added ({dose:g} mg a day); if one "
            "replaces the other, end the first one the day before (EXENDTC)"
        )
        warnings.append(Problem("EX", max(lines), "EXSTDTC", message, "warning"))
    return warnings


def _trough_rule(
    pc: pl.DataFrame, settings: SdtmMapping
) -> tuple[pl.Expr | None, str, list[Problem]]:
    """Which PC records are pre-dose troughs: the mapping's time points, else the
    recognised pre-dose values of PCTPT / PCTPTNUM / PCELTM, else (no time point
    variable at all) every sample, as long as there is one per subject and day."""
    given = settings.drug_levels.trough
    if given:
        missing = [v for v in given if v not in pc.columns]
        if missing:
            return (
                None,
                "",
                [Problem("PC", 1, v, f"{MISSING_COLUMN} ([drug_levels] trough)") for v in missing],
            )
        chosen = pl.any_horizontal(_is_time_point(v, values) for v, values in given.items())
        what = "; ".join(f"{v} {', '.join(map(str, values))}" for v, values in given.items())
        return chosen, what, []
    present = [v for v in ("PCTPT", "PCTPTNUM", "PCELTM") if v in pc.columns]
    if not present:
        return None, "", []
    rules = {
        "PCTPT": pl.col("PCTPT").str.contains(PRE_DOSE_TPT),
        "PCTPTNUM": pl.col("PCTPTNUM").cast(pl.Float64, strict=False) <= 0,
        "PCELTM": pl.col("PCELTM").str.contains(PRE_DOSE_ELTM),
    }
    chosen = pl.any_horizontal(rules[v].fill_null(False) for v in present)
    return chosen, f"pre-dose values of {', '.join(present)}", []


def _is_time_point(variable: str, values: tuple[str | float, ...]) -> pl.Expr:
    """A PC record at one of the mapping's time points: numbers compared as numbers
    (PCTPTNUM "0" is 0.0), text without case."""
    if variable == "PCTPTNUM":
        wanted = [float(v) for v in values]
        return pl.col(variable).cast(pl.Float64, strict=False).is_in(wanted).fill_null(False)
    words = [str(v).upper() for v in values]
    return pl.col(variable).str.to_uppercase().is_in(words).fill_null(False)


def _several_per_day(levels: pl.DataFrame) -> list[Problem]:
    """Without any time point, two samples of one drug on one day are a PK profile."""
    key = ["subject_id", "drug", "date"]
    ranked = (
        levels.filter(pl.col("date").is_not_null())
        .sort(LINE)
        .with_columns(pl.col(LINE).first().over(key).alias("__first"))
    )
    later = ranked.filter(pl.col(LINE) != pl.col("__first"))
    return [
        Problem(
            "PC",
            line,
            "PCDTC",
            f"a second sample of {drug} for subject '{sid}' on {date} (first at line {first}), "
            "and PC has no time point (PCTPT, PCTPTNUM, PCELTM): a PK profile cannot be "
            "read as troughs; name the trough time point under [drug_levels] trough",
        )
        for line, sid, drug, date, first in later.select(
            LINE, "subject_id", "drug", "date", "__first"
        ).iter_rows()
    ]
