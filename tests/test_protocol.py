"""Protocols: arms and the control, declared endpoints, inheritance (extends, replace,
remove), the resolved TOML of ``protocol show``, and the timeline outputs are drawn on."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrial import InputError, load_protocol
from itptrial.protocol import (
    PRESETS,
    Protocol,
    day_phrase,
    days_phrase,
    months,
    preset_text,
    protocol_toml,
    published_results,
    timeline,
)

EXAMPLES = Path(__file__).parent.parent / "examples"


def load_text(tmp_path: Path, text: str, name: str = "p.toml") -> Protocol:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_protocol(str(path))


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_text(tmp_path, text)
    return [f"{p.column}: {p.message}" for p in caught.value.problems]


ARM = 'code = "{code}"\nlabel = "{code}"\nexperimental = {experimental}\n'


def arms(*specs: tuple[str, bool]) -> str:
    return "".join(
        "[[arms]]\n" + ARM.format(code=code, experimental=str(e).lower()) for code, e in specs
    )


# --- arms ---------------------------------------------------------------------------------


def test_three_arms_with_one_control(tmp_path: Path) -> None:
    p = load_text(tmp_path, 'name = "three"\n' + arms(("A", True), ("B", True), ("C", False)))
    assert p.arm_codes == ("A", "B", "C")
    assert p.experimental_arms == ("A", "B") and p.control_arm == "C"


@pytest.mark.parametrize(
    ("specs", "found"),
    [
        ((("A", True), ("B", True)), "found 0"),
        ((("A", False), ("B", False), ("C", True)), "found 2 (A, B)"),
    ],
)
def test_no_control_or_two_controls_is_an_error(
    tmp_path: Path, specs: tuple[tuple[str, bool], ...], found: str
) -> None:
    listed = problems(tmp_path, 'name = "x"\n' + arms(*specs))
    assert len(listed) == 1
    assert "exactly one arm must have experimental = false (the control)" in listed[0]
    assert found in listed[0]


def test_primary_endpoint_must_be_binary(tmp_path: Path) -> None:
    base = 'extends = "target020"\nprimary_endpoint = "{name}"\n'
    assert load_text(tmp_path, base.format(name="initial_response")).primary_endpoint == (
        "initial_response"
    )
    for name in ("time_to_response", "sustained_response_9m"):
        listed = problems(tmp_path, base.format(name=name))
        assert any("is not a binary endpoint" in line for line in listed), listed


# --- declared endpoints -------------------------------------------------------------------

LANDMARK = """
[[endpoints.landmark]]
name = "{name}"
label = "A landmark"
kind = "{kind}"
{keys}
"""


def landmark(name: str = "lm", kind: str = "response_at_day", keys: str = "day = 90\nwindow = 7"):  # type: ignore[no-untyped-def]
    return LANDMARK.format(name=name, kind=kind, keys=keys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (landmark(name="Bad-Name"), "String should match pattern"),
        (landmark(name="relapse"), "built-in endpoint or column names"),
        (landmark(name="explanation"), "built-in endpoint or column names"),
        (landmark() + landmark(), "appear more than once"),
        (landmark(keys="day = 200\nwindow = 7"), "look past the horizon"),
        (landmark(keys="day = 90"), "needs window"),
        (landmark(keys="day = 90\nwindow = 7\nfrom_day = 1"), "does not use from_day"),
        (landmark(kind="response_in_window", keys="from_day = 9\nto_day = 3"), "to_day must be"),
        (landmark(keys="day = 5\nwindow = 7"), "day - window must be >= 1"),
        (
            landmark(kind="response_in_window", keys="from_day = 1\nto_day = 3\nlevel = 'x'"),
            "level",
        ),
        (landmark(keys="day = 90\nwindow = 7\nextra = 1"), "unknown key"),
    ],
)
def test_bad_declared_endpoints_are_named(tmp_path: Path, text: str, message: str) -> None:
    listed = problems(tmp_path, 'extends = "target020"\n' + text)
    assert any(message in line for line in listed), listed
    assert all(line.startswith("endpoints") for line in listed), listed


# --- extends, replace, remove ---------------------------------------------------------------


def test_other_arms_replace_the_inherited_regimens(tmp_path: Path) -> None:
    text = (
        'extends = "target020"\nname = "ab"\nreplace = ["regimens"]\n'
        + arms(("A", True), ("B", False))
        + '[regimens.dex]\ndrug = "dexamethasone"\nmodel = "dexamethasone"\narms = ["A", "B"]\n'
        "dose_mg = 40.0\ndays = [0, 1, 2, 3]\n"
    )
    p = load_text(tmp_path, text)
    assert list(p.regimens) == ["dex"] and p.arm_codes == ("A", "B")
    assert p.visits == load_protocol("target020").visits  # the rest is inherited


def test_without_replace_the_inherited_regimens_name_unknown_arms(tmp_path: Path) -> None:
    listed = problems(tmp_path, 'extends = "target020"\n' + arms(("A", True), ("B", False)))
    assert any("regimens.dexamethasone.arms names unknown arm(s)" in line for line in listed)


def test_remove_drops_inherited_tables_and_keys(tmp_path: Path) -> None:
    text = (
        'extends = "target020"\nremove = ["rescue", "regimens.tacrolimus", "visits.jitter_days"]\n'
    )
    text += "[regimens.dexamethasone]\narms = ['DXM']\n"
    p = load_text(tmp_path, text)
    assert p.rescue is None and list(p.regimens) == ["dexamethasone"]
    assert p.visits is not None and p.visits.jitter_days == 0  # back to its default
    assert p.regimens["dexamethasone"].arms == ("DXM",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('extends = "target020"\nremove = ["rescue.nothing"]\n', "is not in the parent"),
        ('extends = "target020"\nreplace = ["visits"]\n', "this file does not give it"),
        (
            'extends = "target020"\nremove = ["visits"]\n[visits]\ndays = [0]\n',
            "this file also gives it",
        ),
        ('extends = "target020"\nremove = "rescue"\n', "must be a list of dotted key names"),
        ('name = "x"\nremove = ["rescue"]\n' + arms(("A", True), ("B", False)), "only a protocol"),
    ],
)
def test_inheritance_mistakes_are_errors(tmp_path: Path, text: str, message: str) -> None:
    listed = problems(tmp_path, text)
    assert any(message in line for line in listed), listed


def test_extends_a_file_relative_to_the_extending_file(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "parent.toml").write_text(
        'extends = "target020"\nname = "parent"\n[endpoints]\nhorizon = 300\n'
    )
    (tmp_path / "base" / "child.toml").write_text(
        'extends = "parent.toml"\nname = "child"\n[endpoints]\nsustained_day = 270\n'
    )
    p = load_protocol(str(tmp_path / "base" / "child.toml"))
    assert (p.name, p.endpoints.horizon, p.endpoints.sustained_day) == ("child", 300, 270)


# --- protocol show: TOML that loads back as the same protocol --------------------------------


def same(a: Protocol, b: Protocol) -> bool:
    return a.model_dump() == b.model_dump()


def round_trip(protocol: Protocol, tmp_path: Path) -> Protocol:
    return load_text(tmp_path, protocol_toml(protocol), "shown.toml")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_round_trip(name: str, tmp_path: Path) -> None:
    protocol = load_protocol(name)
    assert same(round_trip(protocol, tmp_path), protocol)
    assert same(
        load_text(tmp_path, preset_text(name)) if name == "target020" else protocol, protocol
    )


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/protocol.toml")), ids=lambda p: p.parent.name
)
def test_example_protocols_round_trip(path: Path, tmp_path: Path) -> None:
    protocol = load_protocol(str(path))
    shown = protocol_toml(protocol)
    assert "extends" not in tomllib.loads(shown)
    assert same(round_trip(protocol, tmp_path), protocol)


ENDPOINT_VALUES = st.fixed_dictionaries(
    {
        "horizon": st.integers(200, 800),
        "baseline_window": st.integers(0, 30),
        "response_level": st.sampled_from([20.0, 30.0, 50.0]),
        "complete_level": st.sampled_from([100.0, 150.0]),
        "fold": st.sampled_from([0.0, 1.5, 2.0]),
        "bleeding_grade": st.integers(0, 5),
        "confirm_days": st.integers(0, 14),
        "initial_window": st.integers(1, 60),
        "loss_confirm": st.integers(1, 4),
        "sustained_day": st.integers(100, 199),
        "sustained_window": st.integers(0, 60),
    }
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    ENDPOINT_VALUES,
    st.lists(
        st.tuples(st.booleans(), st.integers(1, 150), st.integers(0, 40)),
        max_size=4,
        unique_by=lambda t: t[1],
    ),
)
def test_any_protocol_round_trips(
    endpoints: dict[str, Any], declared: list[tuple[bool, int, int]]
) -> None:
    landmarks = [
        {"name": f"lm_{i}", "label": f"Landmark {i}", "kind": "response_in_window",
         "from_day": a, "to_day": a + b}
        if in_window
        else {"name": f"lm_{i}", "label": f"Landmark {i}", "kind": "response_at_day",
              "day": a + b, "window": min(b, a + b - 1)}
        for i, (in_window, a, b) in enumerate(declared)
    ]  # fmt: skip
    raw = load_protocol("target020").model_dump(mode="json", exclude_none=True)
    raw["endpoints"] = {**endpoints, "landmark": landmarks}
    raw["endpoints"]["sustained_window"] = min(
        endpoints["sustained_window"], endpoints["sustained_day"] - 1
    )
    protocol = Protocol.model_validate(raw)
    shown = Protocol.model_validate(tomllib.loads(protocol_toml(protocol)))
    assert same(shown, protocol)


# --- the timeline: phrases, bins and grids from the protocol ----------------------------------


def test_day_phrases() -> None:
    assert [months(d) for d in (30, 180, 182, 365, 200, 7)] == [1, 6, 6, 12, None, None]
    assert day_phrase(180) == "6 months (day 180)" and day_phrase(30) == "1 month (day 30)"
    assert day_phrase(365) == "12 months (day 365)" and day_phrase(200) == "day 200"
    assert days_phrase(1, 28) == "days 1-28" and days_phrase(7, 7) == "day 7"


def test_target020_timeline() -> None:
    line = timeline(load_protocol("target020"))
    assert line.trajectory_edges == (-14, 1, 5, 9, 12, 18, 25, 42, 70, 98, 126, 154, 174, 195)
    assert line.risk_times == (0, 28, 56, 84, 112, 140, 168) and line.axis_end == 194


def test_timeline_without_visits_uses_the_endpoint_windows(tmp_path: Path) -> None:
    p = load_text(
        tmp_path,
        'extends = "target020"\nremove = ["visits"]\n[endpoints]\nhorizon = 400\n'
        "initial_window = 14\nsustained_day = 365\nsustained_window = 21\nbaseline_window = 7\n",
    )
    line = timeline(p)
    edges = line.trajectory_edges
    assert edges[:4] == (-7, 1, 8, 15) and edges[-3:] == (344, 387, 401)
    assert all(b > a for a, b in itertools.pairwise(edges))
    assert line.axis_end == 400 and line.risk_times[-1] <= 400 and len(line.risk_times) <= 9


def test_published_results_beside_the_preset() -> None:
    published = published_results("target020")
    assert published.arm_sizes() == {"TAC_DXM": 48, "DXM": 56}
    assert published.result("TAC_DXM", "sustained_response_6m").responders == 31
    assert published.result("DXM", "relapse").n == 31  # relapse: among initial responders
    with pytest.raises(KeyError):
        published_results("iwg2009")


def test_protocol_show_prints_toml_that_loads_back(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from itptrial.cli import app

    child = tmp_path / "child.toml"
    child.write_text(
        'extends = "iwg2009"\nname = "child"\nremove = ["rescue"]\n[endpoints]\nhorizon = 300\n'
        + LANDMARK.format(name="late", kind="response_at_day", keys="day = 250\nwindow = 10")
    )
    result = CliRunner().invoke(app, ["protocol", "show", str(child)])
    assert result.exit_code == 0, result.output
    shown = tmp_path / "shown.toml"
    shown.write_text(result.stdout)
    assert same(load_protocol(str(shown)), load_protocol(str(child)))
    preset = CliRunner().invoke(app, ["protocol", "show", "target020"])
    assert preset.stdout == preset_text("target020")  # the preset's own text, comments kept
