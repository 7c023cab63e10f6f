"""The fast engine's compiled closed loop (itptrial.sim._loop) against the Python day loop.

The two are separate implementations of the same protocol rules (measured counts,
bleeding, the repeated course, rescue, doses, the twice-daily tacrolimus split, the PK
day, trough-guided dose changes) around the same compiled RK4 day step, fed the same
random draws. They must give the same trial to the last bit, on the shipped protocols and
on random variants of TARGET 020's rules (hypothesis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import itptrial.sim._trial as trial_module
from itptrial import load_protocol
from itptrial.protocol import Protocol
from itptrial.sim import load_parameters
from itptrial.sim._simulate import allocate
from itptrial.sim._trial import Course, run_course

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_parameters()
TARGET020 = load_protocol("target020")


def both(protocol: Protocol, sizes: tuple[int, ...], seed: int) -> tuple[Course, Course]:
    arms = allocate(protocol, sizes, np.random.default_rng(seed))
    compiled = run_course(protocol, PARAMS, arms, np.random.SeedSequence(seed))
    python = run_course(protocol, PARAMS, arms, np.random.SeedSequence(seed), python_loop=True)
    return compiled, python


def assert_same_trial(compiled: Course, python: Course) -> None:
    for name in ("counts", "bleeding", "troughs", "true_counts"):
        a, b = getattr(compiled, name), getattr(python, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=True), f"{name} differ"
    for name in ("dex", "tac_mg", "rescue", "tac_ng_ml"):
        a, b = getattr(compiled.schedule, name), getattr(python.schedule, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), f"schedule.{name} differ"
    assert compiled.schedule.given.keys() == python.schedule.given.keys()
    for key, doses in python.schedule.given.items():
        assert np.array_equal(compiled.schedule.given[key], doses), f"given {key} differ"


def exercised(course: Course) -> dict[str, bool]:
    """Which rules acted in the trial (so a variant that never rescues is not all we test)."""
    return {
        "rescue": bool(course.schedule.rescue.any()),
        "repeat course": bool((course.schedule.dex[:, 5:] > 0).any()),
        "trough": bool(np.isfinite(course.troughs).any()),
        "dose change": bool(
            (np.diff(course.schedule.tac_mg, axis=1)[course.schedule.tac_mg[:, 1:] > 0] != 0).any()
        ),
    }


def test_target020_compiled_loop_is_the_python_loop() -> None:
    compiled, python = both(TARGET020, (150, 150), seed=11)
    assert all(exercised(python).values()), exercised(python)
    assert_same_trial(compiled, python)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "examples" / "scenarios").glob("*.toml")),
    ids=lambda p: p.stem,
)
def test_scenario_protocols(path: Path) -> None:
    protocol = load_protocol(path)
    assert_same_trial(*both(protocol, (60,) * len(protocol.arms), seed=5))


def test_wei2016_protocol_with_an_arm_left_out() -> None:
    """Confirmation over 7 days and a day-10 repeat rule; the prednisone arm has no
    patients, so its regimen is not given."""
    protocol = load_protocol(ROOT / "examples" / "calibration" / "wei2016.toml")
    compiled, python = both(protocol, (200, 0), seed=3)
    assert list(python.schedule.given) == ["dexamethasone"]
    assert_same_trial(compiled, python)


def test_patients_split_across_calls_give_the_same_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled loop runs patients in chunks (progress, Ctrl-C); chunk edges change
    nothing, and progress adds up to the course's days."""
    arms = allocate(TARGET020, (60, 61), np.random.default_rng(1))
    whole = run_course(TARGET020, PARAMS, arms, np.random.SeedSequence(1))
    monkeypatch.setattr(trial_module, "CHUNK_PATIENTS", 17)
    steps: list[int] = []
    split = run_course(TARGET020, PARAMS, arms, np.random.SeedSequence(1), progress=steps.append)
    assert_same_trial(split, whole)
    assert len(steps) == 8 and sum(steps) == TARGET020.endpoints.horizon + 1


def variant(base: Protocol, change: dict[str, Any], rescue: dict[str, Any] | None) -> Protocol:
    data = base.model_dump()
    dex, tac = data["regimens"]["dexamethasone"], data["regimens"]["tacrolimus"]
    dex["repeat_assess_day"] = change["assess_day"]
    dex["repeat_days"] = tuple(change["assess_day"] + d for d in range(4))
    tac["dose_mg_per_kg_day"] = change["mg_per_kg"]
    tac["dose_step_mg"] = change["step_mg"]
    tac["duration_days"] = change["duration"]
    tac["tdm"].update(change["tdm"])
    data["endpoints"].update(change["endpoints"])
    data["visits"]["miss_probability"] = change["miss"]
    data["rescue"] = rescue
    return Protocol.model_validate(data)


tdm_rules = st.tuples(
    st.floats(1.0, 6.0),
    st.floats(0.5, 5.0),
    st.booleans(),
    st.floats(0.5, 10.0),  # below two capsules too (the compiled loop allows it)
    st.sampled_from(["rule", "fixed"]),  # "map" runs only in the Python loop
).map(
    lambda t: {
        "trough_low_ng_ml": t[0],
        "trough_high_ng_ml": t[0] + t[1],
        "measure_on_visits": t[2],
        "measure_days": () if t[2] else (2, 5, 9, 16, 30, 45, 60),
        "max_daily_dose_mg": t[3],
        "strategy": t[4],
    }
)
rescue_rules = st.one_of(
    st.none(),
    st.tuples(st.floats(5, 30), st.floats(0, 30), st.integers(1, 3), st.integers(0, 20)).map(
        lambda t: {
            "count_below": t[0],
            "count_below_with_bleeding": t[0] + t[1],
            "bleeding_grade": t[2],
            "from_day": t[3],
            "treatments": ("IVIG",),
        }
    ),
)
changes = st.fixed_dictionaries(
    {
        "assess_day": st.integers(3, 21),
        "mg_per_kg": st.floats(0.01, 0.1),
        "step_mg": st.sampled_from([0.5, 1.0]),
        "duration": st.integers(20, 194),
        "tdm": tdm_rules,
        "endpoints": st.fixed_dictionaries(
            {"response_level": st.sampled_from([20, 30, 50]), "fold": st.floats(1.5, 3.0)}
        ),
        "miss": st.floats(0.0, 0.5),
    }
)


@settings(max_examples=8, deadline=None)
@given(change=changes, rescue=rescue_rules, seed=st.integers(0, 2**32 - 1))
def test_random_protocol_rules_give_the_same_trial(
    change: dict[str, Any], rescue: dict[str, Any] | None, seed: int
) -> None:
    protocol = variant(TARGET020, change, rescue)
    assert_same_trial(*both(protocol, (40, 40), seed))
