"""Every protocol key the simulator reads is honoured: changing it changes the virtual
trial (and a key it cannot honour is rejected, tests/test_cli_errors.py).

Each case changes one key of the target020 preset and simulates the same small trial
with the same seed; the tables that key governs must differ from the preset's, and the
change must show in the direction the key means.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from itptrial import dataset_from_frames, load_protocol
from itptrial.sim import simulate_trial

SIZE = (30, 30)
VISITS = load_protocol("target020").visits.days  # type: ignore[union-attr]
SEED = 11
Tables = dict[str, pl.DataFrame]


def simulate(tmp_path: Path, extra: str = "") -> Tables:
    path = tmp_path / "protocol.toml"
    path.write_text('extends = "target020"\n' + extra, encoding="utf-8")
    protocol = load_protocol(str(path))
    tables = simulate_trial(protocol, SIZE, seed=SEED)
    dataset_from_frames(tables, protocol)  # the output always passes the loader
    return tables


@pytest.fixture(scope="module")
def preset(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    return simulate(tmp_path_factory.mktemp("preset"))


def days(tables: Tables, table: str, column: str = "date", **where: Any) -> pl.DataFrame:
    """A table with each record's study day ``t`` (and the subject's arm)."""
    subjects = tables["subjects"].select("subject_id", "arm", "treatment_start_date", "age")
    frame = tables[table].join(subjects, on="subject_id")
    frame = frame.with_columns(
        (pl.col(column) - pl.col("treatment_start_date")).dt.total_days().alias("t")
    )
    for key, value in where.items():
        frame = frame.filter(pl.col(key) == value)
    return frame


def dose_days(tables: Tables, drug: str) -> set[int]:
    return set(days(tables, "doses", drug=drug).get_column("t").to_list())


def record_days(tables: Tables, table: str) -> set[int]:
    return set(days(tables, table).get_column("t").to_list())


def day0_bleeding(tables: Tables, at_least: int) -> int:
    """Subjects with WHO bleeding of ``at_least`` or more at Day 0."""
    frame = days(tables, "bleeding").filter((pl.col("t") == 0) & (pl.col("who_grade") >= at_least))
    return frame.height


def tacrolimus_mg(tables: Tables) -> list[float]:
    return tables["doses"].filter(pl.col("drug") == "tacrolimus").get_column("dose_mg").to_list()


def one_dose_each(tables: Tables) -> bool:
    """Every subject's tacrolimus dose is the same on every day."""
    doses = tables["doses"].filter(pl.col("drug") == "tacrolimus")
    return bool(
        (doses.group_by("subject_id").agg(pl.col("dose_mg").n_unique())["dose_mg"] == 1).all()
    )


Check = Callable[[Tables, Tables], bool]
CASES: dict[str, tuple[str, Check]] = {
    "visits.days": (
        "[visits]\ndays = [0, 5, 9, 30, 60, 90, 150, 180]\n",
        lambda new, old: {5, 9} <= record_days(new, "platelets")
        and 3 not in record_days(new, "platelets"),
    ),
    "visits.jitter_days": (
        "[visits]\njitter_days = 0\n",
        lambda new, old: record_days(new, "platelets") <= set(VISITS),
    ),
    "visits.jitter_after_day": (
        "[visits]\njitter_after_day = 0\njitter_days = 1\n",
        lambda new, old: bool({2, 4} & record_days(new, "platelets")),
    ),
    "visits.miss_probability": (
        "[visits]\nmiss_probability = 0.5\n",
        lambda new, old: new["platelets"].height < 0.7 * old["platelets"].height,
    ),
    "eligibility.count_below": (
        "[eligibility]\ncount_below = 10\ncount_below_with_bleeding = 10\n",
        lambda new, old: days(new, "platelets").filter(pl.col("t") == 0)["count"].max()
        < days(old, "platelets").filter(pl.col("t") == 0)["count"].max(),
    ),
    "eligibility.count_below_with_bleeding": (
        "[eligibility]\ncount_below = 5\ncount_below_with_bleeding = 60\nbleeding_grade = 1\n",
        lambda new, old: day0_bleeding(new, 1) > day0_bleeding(old, 1),
    ),
    "eligibility.bleeding_grade": (
        "[eligibility]\ncount_below = 5\ncount_below_with_bleeding = 60\nbleeding_grade = 3\n",
        lambda new, old: day0_bleeding(new, 3) > 10 + day0_bleeding(old, 3),
    ),
    "eligibility.min_age": (
        "[eligibility]\nmin_age = 60\n",
        lambda new, old: new["subjects"]["age"].min() == 60 and old["subjects"]["age"].min() < 60,
    ),
    "eligibility.max_age": (
        "[eligibility]\nmax_age = 30\n",
        lambda new, old: new["subjects"]["age"].max() == 30,
    ),
    "regimens.dexamethasone.dose_mg": (
        "[regimens.dexamethasone]\ndose_mg = 20.0\n",
        lambda new, old: set(days(new, "doses", drug="dexamethasone")["dose_mg"]) == {20.0},
    ),
    "regimens.dexamethasone.days": (
        "[regimens.dexamethasone]\ndays = [0, 1]\n",
        lambda new, old: dose_days(new, "dexamethasone") - {14, 15, 16, 17} == {0, 1},
    ),
    "regimens.dexamethasone.repeat_days": (
        "[regimens.dexamethasone]\nrepeat_days = [21, 22, 23, 24]\n",
        lambda new, old: dose_days(new, "dexamethasone") - {0, 1, 2, 3} == {21, 22, 23, 24},
    ),
    "regimens.dexamethasone.repeat_assess_day": (
        "[regimens.dexamethasone]\nrepeat_assess_day = 3\n",
        lambda new, old: days(new, "doses", drug="dexamethasone", t=14).height
        != days(old, "doses", drug="dexamethasone", t=14).height,
    ),
    "regimens.dexamethasone.drug": (
        '[regimens.dexamethasone]\ndrug = "DXM 40"\n',
        lambda new, old: "DXM 40" in set(new["doses"]["drug"]),
    ),
    "regimens.tacrolimus.arms": (
        '[regimens.tacrolimus]\narms = ["TAC_DXM", "DXM"]\n',
        lambda new, old: set(days(new, "doses", drug="tacrolimus")["arm"]) == {"TAC_DXM", "DXM"},
    ),
    "regimens.tacrolimus.dose_mg_per_kg_day": (
        "[regimens.tacrolimus]\ndose_mg_per_kg_day = 0.06\n",
        lambda new, old: days(new, "doses", drug="tacrolimus", t=0)["dose_mg"].mean()
        > 1.5 * days(old, "doses", drug="tacrolimus", t=0)["dose_mg"].mean(),
    ),
    "regimens.tacrolimus.start_day": (
        "[regimens.tacrolimus]\nstart_day = 7\n",
        lambda new, old: min(dose_days(new, "tacrolimus")) == 7,
    ),
    "regimens.tacrolimus.duration_days": (
        "[regimens.tacrolimus]\nduration_days = 28\n",
        lambda new, old: max(dose_days(new, "tacrolimus")) == 27,
    ),
    "regimens.tacrolimus.dose_step_mg": (
        "[regimens.tacrolimus]\ndose_step_mg = 1.0\n",
        lambda new, old: all(v == int(v) for v in tacrolimus_mg(new))
        and any(v != int(v) for v in tacrolimus_mg(old)),
    ),
    "regimens.tacrolimus.tdm.trough_low_ng_ml": (
        "[regimens.tacrolimus.tdm]\ntrough_low_ng_ml = 4.5\n",
        lambda new, old: days(new, "doses", drug="tacrolimus", t=80)["dose_mg"].mean()
        > days(old, "doses", drug="tacrolimus", t=80)["dose_mg"].mean(),
    ),
    "regimens.tacrolimus.tdm.trough_high_ng_ml": (
        "[regimens.tacrolimus.tdm]\ntrough_high_ng_ml = 3.5\n",
        lambda new, old: days(new, "doses", drug="tacrolimus", t=80)["dose_mg"].mean()
        < days(old, "doses", drug="tacrolimus", t=80)["dose_mg"].mean(),
    ),
    "regimens.tacrolimus.tdm.measure_on_visits": (
        "[regimens.tacrolimus.tdm]\nmeasure_on_visits = false\nmeasure_days = [5, 40]\n",
        lambda new, old: record_days(new, "drug_levels") == {5, 40},
    ),
    "regimens.tacrolimus.tdm.measure_days": (
        "[regimens.tacrolimus.tdm]\nmeasure_days = [5]\n",
        lambda new, old: 5 in record_days(new, "drug_levels")
        and 5 not in record_days(old, "drug_levels"),
    ),
    "regimens.tacrolimus.tdm.max_daily_dose_mg": (
        "[regimens.tacrolimus.tdm]\nmax_daily_dose_mg = 1.5\n",
        lambda new, old: max(tacrolimus_mg(new)) == 1.5,
    ),
    "regimens.tacrolimus.tdm.strategy": (  # map: tests/test_tdm_evaluate.py (slow)
        '[regimens.tacrolimus.tdm]\nstrategy = "fixed"\n',
        lambda new, old: one_dose_each(new) and not one_dose_each(old),
    ),
    "rescue.count_below": (
        "[rescue]\ncount_below = 25\n",
        lambda new, old: new["rescue"].height > old["rescue"].height,
    ),
    "rescue.count_below_with_bleeding": (
        "[rescue]\ncount_below = 0\ncount_below_with_bleeding = 60\nbleeding_grade = 1\n",
        lambda new, old: new["rescue"].height > 0,
    ),
    "rescue.bleeding_grade": (
        "[rescue]\ncount_below = 0\ncount_below_with_bleeding = 60\nbleeding_grade = 4\n",
        lambda new, old: new["rescue"].height == 0,
    ),
    "rescue.from_day": (
        "[rescue]\nfrom_day = 60\n",
        lambda new, old: days(new, "rescue", "start_date")["t"].min() >= 60,
    ),
    "rescue.treatments": (
        '[rescue]\ntreatments = ["eltrombopag"]\n',
        lambda new, old: set(new["rescue"]["treatment"]) == {"eltrombopag"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(CASES))
def test_each_simulator_key_is_honoured(key: str, preset: Tables, tmp_path: Path) -> None:
    extra, check = CASES[key]
    changed = simulate(tmp_path, extra)
    assert check(changed, preset), key


def test_the_preset_itself_is_unchanged_by_an_empty_extension(
    preset: Tables, tmp_path: Path
) -> None:
    again = simulate(tmp_path)
    for name, frame in preset.items():
        assert frame.equals(again[name]), name
