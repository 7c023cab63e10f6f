"""ADaM export (itptrial.adam, ``itptrial export-adam``).

- The round trip of the spec: every statistic of results.json recomputed from the
  exported ADRS and ADTTE alone (read back from the XPORT files) is the same number. The
  binary tests are recomputed with scipy and statsmodels, independent of itptrial; the
  time-to-event ones with itptrial's R-validated functions, on ADTTE's columns only.
- Hand-worked records of named subjects of examples/target020_example.
- XPORT v5 limits and labels, read back with pyreadstat; metadata.csv matches the files.
- CSV and Parquet hold the same values; equal inputs give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyreadstat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable
from typer.testing import CliRunner

import itptrial
from itptrial.adam import (
    ADAM_FORMATS,
    DATASETS,
    EXPLAN_LENGTH,
    adam_datasets,
    adam_file_names,
    explanation_parts,
)
from itptrial.cli import app
from itptrial.endpoints import endpoint_registry
from itptrial.stats import (
    cox_hazard_ratio,
    kaplan_meier,
    logrank,
    stratified_cox_hazard_ratio,
    stratified_logrank,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "target020_example"
THREE_ARM = ROOT / "tests" / "reference" / "three_arm" / "data"
PHASE3 = ROOT / "examples" / "phase3" / "protocol.toml"
runner = CliRunner()


def export(data: Path, out: Path, *args: str) -> None:
    result = runner.invoke(app, ["export-adam", str(data), "--out", str(out), *args])
    assert result.exit_code == 0, result.output


def analyze(data: Path, out: Path, protocol: str) -> dict[str, Any]:
    result = runner.invoke(app, ["analyze", str(data), "--out", str(out), "-p", protocol])
    assert result.exit_code == 0, result.output
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    return results


def read_xpt(folder: Path, name: str) -> tuple[pd.DataFrame, Any]:
    return pyreadstat.read_xport(str(folder / f"{name}.xpt"))


@pytest.fixture(scope="module")
def three_arm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("adam3")
    export(THREE_ARM, folder / "adam", "--protocol", str(PHASE3))
    return folder / "adam", analyze(THREE_ARM, folder / "analysis", str(PHASE3))


# --- the round trip ---------------------------------------------------------------------


def _binary_counts(adrs: pd.DataFrame, paramcd: str, arm: str) -> tuple[int, int]:
    rows = adrs[(adrs["PARAMCD"] == paramcd) & (adrs["ARMCD"] == arm) & (adrs["ANL01FL"] == "Y")]
    return int(rows["AVAL"].sum()), len(rows)


def _close(ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is theirs
    return abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs))


def test_binary_statistics_recomputed_from_adrs_equal_results_json(
    three_arm: tuple[Path, dict[str, Any]],
) -> None:
    folder, results = three_arm
    adrs, _ = read_xpt(folder, "adrs")
    protocol = itptrial.load_protocol(str(PHASE3))
    codes = protocol.endpoints.paramcds()
    # every binary endpoint of the protocol is in both (7 = 5 built-in + 2 declared)
    binary = {e.name for e in endpoint_registry(protocol.endpoints) if e.kind == "binary"}
    assert set(results["binary"]) == binary and len(binary) == 7
    assert set(adrs["PARAMCD"]) == {codes[name] for name in binary}
    for endpoint, block in results["binary"].items():
        paramcd = codes[endpoint]
        for arm, shown in block["by_arm"].items():
            assert _binary_counts(adrs, paramcd, arm) == (shown["responders"], shown["n"])
        for key, comparison in block["comparisons"].items():
            experimental, control = key.split(" vs ")
            x1, n1 = _binary_counts(adrs, paramcd, experimental)
            x0, n0 = _binary_counts(adrs, paramcd, control)
            table = [[x1, n1 - x1], [x0, n0 - x0]]
            chi2 = sps.chi2_contingency(table, correction=False).pvalue
            assert _close(chi2, comparison["p_chisq"]), (endpoint, key)
            assert _close(sps.fisher_exact(table).pvalue, comparison["p_fisher"])
            tables = []
            pair = adrs[(adrs["PARAMCD"] == paramcd) & adrs["ARMCD"].isin([experimental, control])]
            for stratum in comparison["stratified"]["strata"]:
                rows = pair[pair["STRATA"] == stratum]
                a, m = _binary_counts(rows, paramcd, experimental)
                b, k = _binary_counts(rows, paramcd, control)
                tables.append([[a, m - a], [b, k - b]])
            cmh = StratifiedTable(tables).test_null_odds(correction=False)
            assert _close(cmh.pvalue, comparison["stratified"]["cmh"]["p_value"])


def _survival(rows: pd.DataFrame) -> tuple[list[float], list[int]]:
    return rows["AVAL"].tolist(), (1 - rows["CNSR"]).astype(int).tolist()


def test_time_to_event_statistics_recomputed_from_adtte_equal_results_json(
    three_arm: tuple[Path, dict[str, Any]],
) -> None:
    folder, results = three_arm
    adtte, _ = read_xpt(folder, "adtte")
    codes = itptrial.load_protocol(str(PHASE3)).endpoints.paramcds()
    assert set(adtte["PARAMCD"]) == {"TTR", "DOR"}
    for endpoint, block in results["time_to_event"].items():
        rows = adtte[adtte["PARAMCD"] == codes[endpoint]]
        for arm, shown in block["by_arm"].items():
            km = kaplan_meier(*_survival(rows[rows["ARMCD"] == arm]))
            assert (km.n, km.events, km.median) == (shown["n"], shown["events"], shown["median"])
        for key, comparison in block["comparisons"].items():
            experimental, control = key.split(" vs ")
            pair = rows[rows["ARMCD"].isin([experimental, control])]
            times, events = _survival(pair)
            groups = (pair["ARMCD"] == experimental).astype(int).tolist()
            strata = pair["STRATA"].tolist()
            assert _close(logrank(times, events, groups).p_value, comparison["p_logrank"])
            hr = cox_hazard_ratio(times, events, groups)
            assert _close(hr.estimate, comparison["hazard_ratio"]["estimate"])
            stratified = comparison["stratified"]
            p = stratified_logrank(times, events, groups, strata).p_value
            assert _close(p, stratified["p_logrank"])
            hr = stratified_cox_hazard_ratio(times, events, groups, strata)
            assert _close(hr.estimate, stratified["hazard_ratio"]["estimate"])


def test_adsl_counts_equal_results_json(three_arm: tuple[Path, dict[str, Any]]) -> None:
    folder, results = three_arm
    adsl, _ = read_xpt(folder, "adsl")
    assert adsl["ARMCD"].value_counts().to_dict() == results["n"]
    assert set(adsl.ITTFL) == {"Y"}
    assert adsl["USUBJID"].is_unique


# --- hand-worked records ----------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("adam") / "adam"
    export(EXAMPLE, folder)
    return folder


def _records(frame: pd.DataFrame, subject: str, columns: list[str]) -> list[tuple[Any, ...]]:
    rows = frame[frame["USUBJID"] == subject][columns]
    return [tuple(None if pd.isna(v) else v for v in row) for row in rows.itertuples(False)]


D = dt.date


def test_subject_t02_initial_cr_relapse_sustained_cr(example: Path) -> None:
    # T02: Day 0 2021-03-09 (baseline 12 that day); 110 on day 7 (CR), 24 on day 14 (a
    # loss: relapse), 120 on day 183 (the assessment closest to 180 in 166..194: CR).
    # ADY = t + 1 from Day 0 on (no day 0).
    adrs, _ = read_xpt(example, "adrs")
    assert _records(adrs, "T02", ["PARAMCD", "AVAL", "AVALC", "ADT", "ADY", "ANL01FL"]) == [
        ("INITRESP", 1, "CR", D(2021, 3, 16), 8, "Y"),
        ("INITCR", 1, "Y", None, None, "Y"),
        ("RELAPSE", 1, "Y", D(2021, 3, 23), 15, "Y"),
        ("SUST6M", 1, "CR", D(2021, 9, 8), 184, "Y"),
        ("SUSTCR6M", 1, "Y", D(2021, 9, 8), 184, "Y"),
    ]
    adtte, _ = read_xpt(example, "adtte")
    columns = ["PARAMCD", "AVAL", "CNSR", "STARTDT", "ADT", "EVNTDESC"]
    assert _records(adtte, "T02", columns) == [
        ("TTR", 7, 0, D(2021, 3, 9), D(2021, 3, 16), "RESPONSE"),
        ("DOR", 7, 0, D(2021, 3, 16), D(2021, 3, 23), "LOSS OF RESPONSE: PLATELETS OR BLEEDING"),
    ]
    adlb, _ = read_xpt(example, "adlb")
    assert _records(adlb, "T02", ["ADT", "AVAL", "ADY", "BASE", "CHG", "ABLFL"]) == [
        (D(2021, 3, 9), 12, 1, 12, None, "Y"),
        (D(2021, 3, 16), 110, 8, 12, 98, ""),
        (D(2021, 3, 23), 24, 15, 12, 12, ""),
        (D(2021, 3, 30), 150, 22, 12, 138, ""),
        (D(2021, 5, 4), 140, 57, 12, 128, ""),
        (D(2021, 6, 29), 130, 113, 12, 118, ""),
        (D(2021, 9, 8), 120, 184, 12, 108, ""),
    ]


def test_censoring_reasons_and_not_evaluable_subjects(example: Path) -> None:
    adtte, _ = read_xpt(example, "adtte")
    adrs, _ = read_xpt(example, "adrs")
    # C06: no response; rescue (platelet transfusion) on day 10 ends the time to response.
    assert _records(adtte, "C06", ["PARAMCD", "AVAL", "CNSR", "EVNTDESC"]) == [
        ("TTR", 10, 1, "CENSORED AT RESCUE THERAPY")
    ]
    # T06: no response, last count on day 180, no rescue.
    assert _records(adtte, "T06", ["PARAMCD", "AVAL", "CNSR", "EVNTDESC"]) == [
        ("TTR", 180, 1, "CENSORED AT LAST PLATELET COUNT")
    ]
    # T09 never treated: NE, counted as non-response (ITT); relapse undefined; no ADTTE.
    assert _records(adrs, "T09", ["PARAMCD", "AVAL", "AVALC", "ANL01FL"]) == [
        ("INITRESP", 0, "NE", "Y"),
        ("INITCR", 0, "N", "Y"),
        ("RELAPSE", None, "", "N"),
        ("SUST6M", 0, "NE", "Y"),
        ("SUSTCR6M", 0, "N", "Y"),
    ]
    assert _records(adtte, "T09", ["PARAMCD"]) == []
    adsl, _ = read_xpt(example, "adsl")
    assert _records(adsl, "T09", ["SAFFL", "EFFFL", "ITTFL", "TRTSDT"]) == [("N", "N", "Y", None)]
    assert _records(adsl, "C05", ["SAFFL", "EFFFL", "BASEPLAT"]) == [("Y", "N", None)]


def test_explanation_is_carried_whole(example: Path) -> None:
    adrs, _ = read_xpt(example, "adrs")
    data = itptrial.load_dataset(EXAMPLE, itptrial.load_protocol("target020"))
    explained = itptrial.adjudicate(data, itptrial.load_protocol("target020"))
    parts = [c for c in adrs.columns if c.startswith("EXPLAN")]
    assert parts == ["EXPLAN", "EXPLAN2"]  # the longest explanation has 211 characters
    for subject, text in explained.select("subject_id", "explanation").iter_rows():
        for row in adrs[adrs["USUBJID"] == subject][parts].itertuples(False):
            assert " ".join(p for p in row if p) == text


@given(st.lists(st.text("abc<>=();:0123456789", min_size=1, max_size=40), max_size=40))
def test_explanation_parts_rejoin_and_fit(words: list[str]) -> None:
    text = " ".join(words)
    parts = explanation_parts(text)
    assert all(len(p) <= EXPLAN_LENGTH for p in parts)
    assert " ".join(parts) == text


def test_a_word_longer_than_a_part_is_cut_hard() -> None:
    assert explanation_parts("x" * 450) == ["x" * 200, "x" * 200, "x" * 50]


# --- the files --------------------------------------------------------------------------


def test_xport_limits_labels_and_metadata(three_arm: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = three_arm
    with (folder / "metadata.csv").open(encoding="utf-8") as handle:
        metadata = list(csv.DictReader(handle))
    assert {row["dataset"] for row in metadata} == set(DATASETS)
    for name in DATASETS:
        frame, meta = read_xpt(folder, name.lower())
        rows = [row for row in metadata if row["dataset"] == name]
        assert meta.table_name == name
        assert meta.file_label.endswith("Analysis Dataset")
        assert list(frame.columns) == [row["variable"] for row in rows]
        assert meta.column_names_to_labels == {row["variable"]: row["label"] for row in rows}
        for row in rows:
            variable = row["variable"]
            assert len(variable) <= 8 and variable == variable.upper(), variable
            assert 0 < len(row["label"]) <= 40
            assert row["derivation"]
            width = meta.variable_storage_width[variable]
            assert width == int(row["length"]) <= 200, (name, variable)
            if row["type"] == "date":
                assert meta.original_variable_types[variable] == "DATE9."
    adrs, _ = read_xpt(folder, "adrs")
    # the phase-3 protocol's two declared endpoints get LMK1 and LMK2, in protocol order
    assert list(dict.fromkeys(adrs["PARAMCD"])) == [
        "INITRESP",
        "INITCR",
        "RELAPSE",
        "SUST6M",
        "SUSTCR6M",
        "LMK1",
        "LMK2",
    ]


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.all().cast(pl.String))


def test_csv_parquet_and_python_hold_the_same_values(tmp_path: Path) -> None:
    protocol = itptrial.load_protocol("target020")
    data = adam_datasets(itptrial.load_dataset(EXAMPLE, protocol), protocol)
    for fmt in ("csv", "parquet"):
        export(EXAMPLE, tmp_path / fmt, "--format", fmt)
        assert sorted(p.name for p in (tmp_path / fmt).iterdir()) == sorted(
            [".itptrial-manifest.json", *adam_file_names(fmt)]
        )
    for name in DATASETS:
        frame = data.frames[name]
        parquet = pl.read_parquet(tmp_path / "parquet" / f"{name.lower()}.parquet")
        assert parquet.equals(frame)
        text = pl.read_csv(tmp_path / "csv" / f"{name.lower()}.csv", infer_schema=False)
        assert text.equals(_as_text(frame)), name


def test_equal_inputs_give_identical_files(tmp_path: Path) -> None:
    export(EXAMPLE, tmp_path / "a")
    export(EXAMPLE, tmp_path / "b")
    for name in adam_file_names("xpt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # the header's created/modified stamp is the data's latest date, not the clock
    assert b"09JAN22:00:00:00" in (tmp_path / "a" / "adsl.xpt").read_bytes()[:600]


def test_a_value_xport_cannot_hold_is_exit_2_with_nothing_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for path in EXAMPLE.glob("*.csv"):
        text = path.read_text(encoding="utf-8").replace("PKU01", "PKÜ01")
        (data / path.name).write_text(text, encoding="utf-8")
    out = tmp_path / "adam"
    result = runner.invoke(app, ["export-adam", str(data), "--out", str(out)])
    assert result.exit_code == 2
    assert (
        "adsl:-:SITEID: value 'PKÜ01' holds characters other than ASCII, which XPORT v5 "
        "cannot store; write --format csv or parquet, or change the value in the data"
    ) in result.output
    assert not out.exists()
    export(data, out, "--format", "csv")  # the same data is fine as CSV
    assert "PKÜ01" in (out / "adsl.csv").read_text(encoding="utf-8")


def test_an_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "x"
    result = runner.invoke(app, ["export-adam", str(EXAMPLE), "--out", str(out), "--format", "sas"])
    assert result.exit_code == 2
    assert not out.exists()


def test_formats_are_those_of_the_spec() -> None:
    assert ADAM_FORMATS == ("xpt", "csv", "parquet")


def test_declared_paramcd_and_clashes(tmp_path: Path) -> None:
    base = PHASE3.read_text(encoding="utf-8")
    given_code = base.replace(
        'name = "sustained_response_12m"', 'name = "sustained_response_12m"\nparamcd = "SUST12M"'
    )
    assert given_code != base
    path = tmp_path / "p.toml"
    path.write_text(given_code, encoding="utf-8")
    codes = itptrial.load_protocol(str(path)).endpoints.paramcds()
    assert codes["sustained_response_12m"] == "SUST12M"
    path.write_text(given_code.replace("SUST12M", "TTR"), encoding="utf-8")
    with pytest.raises(itptrial.InputError) as raised:
        itptrial.load_protocol(str(path))
    (problem,) = raised.value.problems
    assert "landmark paramcd(s) ['TTR'] appear more than once" in problem.message


def test_sdtm_in_adam_out(tmp_path: Path) -> None:
    # The CDISC round trip on the three-arm test study (tests/sdtm_study): SDTM through
    # its mapping into a native dataset, then ADaM. 9 randomized subjects, 3 per arm;
    # 102-006 is never treated, so it alone is outside the safety population; the placebo
    # subjects (EXDOSE 0) are treated, and evaluable.
    study = ROOT / "tests" / "sdtm_study"
    native, adam = tmp_path / "native", tmp_path / "adam"
    result = runner.invoke(
        app,
        ["import-sdtm", str(study), "--out", str(native), "--mapping", str(study / "mapping.toml")],
    )
    assert result.exit_code == 0, result.output
    export(native, adam, "--protocol", str(study / "protocol.toml"))
    adsl, _ = read_xpt(adam, "adsl")
    assert adsl["ARMCD"].value_counts().to_dict() == {"TAC_HI": 3, "TAC_LO": 3, "PBO": 3}
    assert adsl.loc[adsl["SAFFL"] == "N", "USUBJID"].tolist() == ["TACITP3-102-006"]
    placebo = adsl[adsl["ARMCD"] == "PBO"]
    assert placebo["SAFFL"].tolist() == ["Y"] * 3 and placebo["EFFFL"].tolist() == ["Y"] * 3
    adrs, _ = read_xpt(adam, "adrs")
    never = adrs[(adrs["USUBJID"] == "TACITP3-102-006") & (adrs["PARAMCD"] == "INITRESP")]
    assert never["AVALC"].tolist() == ["NE"]


def test_each_baseline_flag_marks_the_adjudicated_baseline(
    three_arm: tuple[Path, dict[str, Any]],
) -> None:
    # ABLFL is found from the dates (the latest count in the baseline window); BASE is
    # the adjudication's baseline count: they must agree for every subject, and CHG is
    # AVAL - BASE after the baseline date only.
    folder, _ = three_arm
    adlb, _ = read_xpt(folder, "adlb")
    flagged = adlb[adlb["ABLFL"] == "Y"]
    assert flagged["USUBJID"].is_unique
    assert (flagged["AVAL"] == flagged["BASE"]).all()
    with_base = set(adlb.loc[adlb["BASE"].notna(), "USUBJID"])
    assert set(flagged["USUBJID"]) == with_base
    baseline_day = flagged.set_index("USUBJID")["ADT"]
    after = adlb[adlb["USUBJID"].map(baseline_day).lt(adlb["ADT"]).fillna(False)]
    assert (after["CHG"] == after["AVAL"] - after["BASE"]).all()
    assert adlb.loc[~adlb.index.isin(after.index), "CHG"].isna().all()
