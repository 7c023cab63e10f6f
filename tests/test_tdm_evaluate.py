"""`itptrial tdm evaluate` (itptrial.design._dosing) and the protocol key
`regimens.<key>.tdm.strategy` in the simulator.

The measures are checked on hand-built courses; the strategies' doses against the
rules written out here by hand; the PK of the evaluation against
`itptrial.pk.concentrations` on the doses it gave (the same model code, an independent
solver path); MAP-guided dosing in the virtual trial against `choose_dose` on the
patient's own history.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from itptrial import load_protocol
from itptrial.cli import main
from itptrial.design import (
    DosingSetup,
    PatientCourse,
    dosing_setup,
    evaluate_dosing,
    patient_measures,
    simulate_patient,
)
from itptrial.design._dosing import summarize
from itptrial.pk import Dosing, concentrations, load_tacrolimus_model
from itptrial.protocol import Protocol
from itptrial.sim import load_parameters
from itptrial.sim._trial import run_course
from itptrial.tdm import choose_dose, dosing_rules, titrated_dose, twice_daily_history

MODEL = load_tacrolimus_model()
PARAMS = load_parameters()
TARGET020 = load_protocol("target020")


def setup_of(strategies: tuple[str, ...] = ("map", "rule", "fixed")) -> DosingSetup:
    t = PARAMS.tacrolimus
    return dosing_setup(TARGET020, MODEL, t.weight_median_kg, t.omega_weight, strategies)


def course(reading: np.ndarray, true: np.ndarray | None = None) -> PatientCourse:
    """A hand-built course of one strategy (the PK fields unused by the measures)."""
    r = np.atleast_2d(reading).astype(float)
    return PatientCourse(
        weight_kg=60.0,
        pk=MODEL_PATIENT,
        second_course=False,
        daily_mg=np.full(r.shape, 2.0),
        given_mg=np.ones((*r.shape, 2)),
        true_trough=r if true is None else np.atleast_2d(true),
        reading=r,
    )


MODEL_PATIENT = simulate_patient(setup_of(("fixed",)), np.random.SeedSequence(0)).pk


def test_setup_comes_from_the_protocol() -> None:
    s = setup_of()
    assert s.rules.target == (3.0, 5.0) and s.rules.capsule_mg == 0.5
    assert s.rules.max_daily_mg == 6.0 and s.start_mg_per_kg_day == 0.03
    assert s.days == 84 and s.sample_days == (7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77)
    assert s.dex_days == (0, 1, 2, 3) and s.repeat_days == (14, 15, 16, 17)


def test_measures_by_hand() -> None:
    days = 28
    reading = np.zeros(days)
    reading[1:5] = 2.0  # below
    reading[5] = 3.0  # first in range on day 5 (the bound counts)
    reading[6:10] = 4.0
    reading[10:20] = 9.0  # above 8
    reading[20:] = 5.0
    m = patient_measures([course(reading)], (3.0, 5.0), days)
    # weeks 2-12 here: days 7..27 (21 days): in range 7,8,9 and 20..27 = 11; above 8: 10
    assert m["in_range_fraction"][0, 0] == pytest.approx(11 / 21)
    assert m["above_8_fraction"][0, 0] == pytest.approx(10 / 21)
    # weeks 1-4: days 1..27 (27 days): in range 5..9 and 20..27 = 13
    assert m["in_range_fraction_weeks_1_4"][0, 0] == pytest.approx(13 / 27)
    assert m["days_to_in_range"][0, 0] == 5.0


def test_day_zero_never_counts_and_never_in_range_is_the_last_day() -> None:
    reading = np.full(28, 1.0)
    reading[0] = 4.0  # the trough before the first dose is not a trough on treatment
    m = patient_measures([course(reading)], (3.0, 5.0), 28)
    assert m["days_to_in_range"][0, 0] == 28.0
    assert m["in_range_fraction_weeks_1_4"][0, 0] == 0.0


def test_bootstrap_intervals_contain_the_mean_and_vanish_for_equal_patients() -> None:
    s = setup_of(("rule", "fixed"))
    same = [course(np.tile(np.full(s.days, 4.0), (3, 1))) for _ in range(5)]
    results, _ = summarize(s, same, np.random.SeedSequence(1))
    assert results["rule"].in_range_fraction.ci95 == (1.0, 1.0)
    mixed = [course(np.tile(np.full(s.days, v), (3, 1))) for v in (1.0, 4.0, 4.0, 9.0, 4.0)]
    results, _ = summarize(s, mixed, np.random.SeedSequence(1))
    e = results["rule"].in_range_fraction
    assert e.value == pytest.approx((3 * (s.days - 7) / (s.days - 7)) / 5)
    assert e.ci95[0] < e.value < e.ci95[1]
    assert results["rule"].never_in_range_fraction == pytest.approx(0.4)


@pytest.fixture(scope="module")
def patients() -> list[PatientCourse]:
    s = setup_of(("rule", "fixed"))
    return [simulate_patient(s, np.random.SeedSequence(7, spawn_key=(k,))) for k in range(6)]


def test_fixed_strategy_keeps_the_protocol_dose(patients: list[PatientCourse]) -> None:
    for p in patients:
        start = max(0.5, min(6.0, np.round(0.03 * p.weight_kg / 0.5) * 0.5))
        assert (p.daily_mg[1] == start).all()
        assert p.daily_mg.shape[0] == 3  # rule, fixed, then the bound


def test_rule_strategy_is_proportional_titration_by_hand(patients: list[PatientCourse]) -> None:
    s = setup_of(("rule", "fixed"))
    changed = 0
    for p in patients:
        daily, reading = p.daily_mg[0], p.reading[0]
        for day in range(1, s.days):
            before = daily[day - 1]
            if day - 1 in s.sample_days and not 3.0 <= reading[day - 1] <= 5.0:
                expected = min(max(np.round(before * 4.0 / max(reading[day - 1], 0.1) * 2) / 2,
                                   0.5), 6.0)  # fmt: skip
                changed += expected != before
            else:
                expected = before
            assert daily[day] == expected, (day, before, reading[day - 1])
    assert changed >= 3  # the rule acted


def test_bound_is_the_oracle_dose_throughout(patients: list[PatientCourse]) -> None:
    """The bound's dose: of the allowed doses (1-6 mg in 0.5 mg steps), the one whose
    steady-state trough at the true CL/F, V/F and ka (Bateman superposition, written out
    here) is nearest 4 ng/mL."""
    for p in patients:
        cl, v, ka = p.pk.cl[0], p.pk.v[0], p.pk.ka[0]
        k = cl / v
        best, best_gap = 0.0, np.inf
        for daily in np.arange(2, 13) * 0.5:
            morning = np.ceil(daily / 2 / 0.5 - 1e-9) * 0.5
            trough = 0.0
            for dose, t in ((morning, 24.0), (daily - morning, 12.0)):
                trough += (dose * ka / (v * (ka - k)) * 1000.0
                           * (np.exp(-k * t) / (1 - np.exp(-k * 24.0))
                              - np.exp(-ka * t) / (1 - np.exp(-ka * 24.0))))  # fmt: skip
            if abs(trough - 4.0) < best_gap:
                best, best_gap = daily, abs(trough - 4.0)
        assert (p.daily_mg[-1] == best).all()


def test_rule_helper_by_hand() -> None:
    assert titrated_dose(2.0, 2.0, (3.0, 5.0), 0.5, 6.0) == 4.0
    assert titrated_dose(2.0, 4.9, (3.0, 5.0), 0.5, 6.0) == 2.0  # in range: unchanged
    assert titrated_dose(3.0, 9.0, (3.0, 5.0), 0.5, 6.0) == 1.5  # 1.333 -> 1.5
    assert titrated_dose(2.0, 0.0, (3.0, 5.0), 0.5, 6.0) == 6.0  # 0 read as 0.1, capped
    assert titrated_dose(0.5, 60.0, (3.0, 5.0), 0.5, 6.0) == 0.5  # at least one step


def test_evaluation_pk_is_the_shared_model(patients: list[PatientCourse]) -> None:
    """The day-by-day PK of the evaluation equals pk.concentrations, the solver the
    MAP uses, given the doses the evaluation recorded."""
    s = setup_of(("rule", "fixed"))
    for p in patients[:3]:
        for k in range(2):
            times = (np.arange(s.days)[:, None] * 24.0 + [8.0, 20.0]).ravel()
            dex = np.zeros(s.days, dtype=bool)
            dex[list(s.dex_days) + (list(s.repeat_days) if p.second_course else [])] = True
            dosing = Dosing(times, p.given_mg[k].reshape(1, -1), dex[None])
            expected = concentrations(MODEL, p.pk, dosing, np.arange(s.days) * 24.0 + 8.0)
            np.testing.assert_allclose(p.true_trough[k], expected[0], rtol=1e-9, atol=1e-12)


def test_strategies_share_the_patient_until_the_first_change(
    patients: list[PatientCourse],
) -> None:
    for p in patients:
        first = 8  # the first dose change is on day 8 at the earliest
        np.testing.assert_array_equal(p.true_trough[0, :first], p.true_trough[1, :first])
        np.testing.assert_array_equal(p.reading[0, :first], p.reading[1, :first])
    missed = np.concatenate([p.given_mg[1].ravel() == 0 for p in patients])
    assert 0.02 < missed.mean() < 0.09  # 1 in 20 doses missed


def test_patient_k_does_not_depend_on_how_many_are_evaluated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """evaluate_dosing gives patient k stream k of the seed's first child: the courses it
    simulates for N = 3 are the first three of N = 5, and equal simulate_patient on
    those streams; the same seed gives the same result."""
    import itptrial.design._dosing as dosing
    from itptrial._streams import children

    s = setup_of(("rule", "fixed"))
    original = dosing._patients
    simulated_all: list[PatientCourse] = []

    def recording(setup: DosingSetup, seeds: list[np.random.SeedSequence]) -> list[PatientCourse]:
        out = original(setup, seeds)
        simulated_all.extend(out)  # in task order: run here, without a cluster
        return out

    monkeypatch.setattr(dosing, "_patients", recording)
    small = evaluate_dosing(s, 3, 5).as_dict()
    three = list(simulated_all)
    simulated_all.clear()
    evaluate_dosing(s, 5, 5)
    five = list(simulated_all)
    assert len(three) == 3 and len(five) == 5
    streams = children(children(np.random.SeedSequence(5), 2)[0], 5)
    for k in range(3):
        np.testing.assert_array_equal(three[k].reading, five[k].reading)
        np.testing.assert_array_equal(three[k].reading, simulate_patient(s, streams[k]).reading)
    simulated_all.clear()
    assert evaluate_dosing(s, 3, 5).as_dict() == small


def test_map_strategy_and_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Two patients under all three strategies through the CLI (slow: MAP refits
    weekly), the spec's JSON keys, and MAP's doses: whole capsules, at least one per
    administration, changed only after a weekly trough."""
    with pytest.raises(SystemExit) as exit_info:
        main(["tdm", "evaluate", "--patients", "2", "--seed", "3", "--workers", "1", "--json"])
    assert exit_info.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert set(out["strategies"]) == {"map", "rule", "fixed"}
    for measures in out["strategies"].values():
        assert 0.0 <= measures["in_range_fraction"] <= 1.0
        lo, hi = measures["in_range_fraction_ci95"]
        assert lo <= measures["in_range_fraction"] <= hi
    assert set(out["differences"]) == {"map_minus_rule", "map_minus_fixed"}
    assert 0.0 <= out["bound"]["in_range_fraction"] <= 1.0
    s = setup_of(("map",))
    p = simulate_patient(s, np.random.SeedSequence(11))
    changes = np.flatnonzero(np.diff(p.daily_mg[0])) + 1
    assert set(changes - 1) <= set(s.sample_days)
    after = p.daily_mg[0, 8:]
    assert (after >= 1.0).all() and (after <= 6.0).all() and (after * 2 % 1 == 0).all()
    # the doses taken are the prescribed split, or 0 where missed
    for day in range(s.days):
        morning = np.ceil(p.daily_mg[0, day] / 2 / 0.5 - 1e-9) * 0.5
        split = (morning, p.daily_mg[0, day] - morning)
        assert all(g in (0.0, x) for g, x in zip(p.given_mg[0, day], split, strict=True))
    # each weekly dose is choose_dose of what was known that day, written out here: the
    # doses taken so far, the dexamethasone days so far, the weekly readings so far
    dex = list(s.dex_days) + (list(s.repeat_days) if p.second_course else [])
    for day in s.sample_days[:3]:
        sampled = [d for d in range(7, day + 1, 7)]
        history = twice_daily_history(
            p.given_mg[0, : day + 1], [d for d in dex if d <= day], sampled, p.reading[0, sampled]
        )
        expected = choose_dose(history, p.weight_kg, dosing_rules(TARGET020), model=MODEL)
        assert p.daily_mg[0, day + 1] == expected.daily_mg


def test_cli_refuses_a_protocol_without_trough_guided_dosing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    wei2016 = str(Path(__file__).parents[1] / "examples" / "calibration" / "wei2016.toml")
    with pytest.raises(SystemExit) as exit_info:
        main(["tdm", "evaluate", "--patients", "4", "--protocol", wei2016])
    assert exit_info.value.code == 2
    assert "no trough-guided regimen" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["tdm", "evaluate", "--patients", "4", "--workers", "1", "--scheduler", "tcp://x:1"])
    assert exit_info.value.code == 2


def map_protocol(tmp_path: Path) -> Protocol:
    path = tmp_path / "map.toml"
    path.write_text(
        'extends = "target020"\n[regimens.tacrolimus.tdm]\nstrategy = "map"\n', encoding="utf-8"
    )
    return load_protocol(str(path))


def test_virtual_trial_runs_map_guided_dosing(tmp_path: Path) -> None:
    """In the virtual trial, strategy map sets each patient's dose after a measured
    trough to choose_dose of their history so far (doses, dexamethasone days, troughs)."""
    protocol = map_protocol(tmp_path)
    arms = np.array(["TAC_DXM"] * 3)
    c = run_course(protocol, PARAMS, arms, np.random.SeedSequence(4))
    rules = dosing_rules(protocol)
    checked = 0
    for i in range(3):
        trough_days = np.flatnonzero(np.isfinite(c.troughs[i]))
        for day in trough_days[:2]:
            doses = c.schedule.tac_mg[i, : day + 1]
            morning = np.minimum(np.ceil(doses / 2 / 0.5 - 1e-9) * 0.5, doses)
            history = twice_daily_history(
                np.column_stack([morning, doses - morning]),
                list(np.flatnonzero(c.schedule.dex[i, : day + 1] > 0)),
                trough_days[trough_days <= day],
                c.troughs[i, trough_days[trough_days <= day]],
            )
            expected = choose_dose(history, float(c.population.weight[i]), rules, model=MODEL)
            assert c.schedule.tac_mg[i, day + 1] == expected.daily_mg
            checked += 1
    assert checked == 6
