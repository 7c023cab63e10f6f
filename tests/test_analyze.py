"""`itptrial analyze`: results.json keys and values, the report, reproducibility."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from itptrial.cli import app

from builders import Subject, write

EXAMPLE = Path(__file__).parent.parent / "examples" / "target020_example"
BINARY = (
    "initial_response",
    "initial_complete_response",
    "sustained_response_6m",
    "sustained_complete_response_6m",
    "relapse",
)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def example_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analysis") / "out"
    code, output = run("analyze", str(EXAMPLE), "--out", str(out))
    assert code == 0, output
    return out


def published_trial() -> list[Subject]:
    """48 vs 56 subjects whose endpoints give TARGET 020's published counts (domain.md):
    initial 37/48 vs 31/56, relapse 7/37 vs 9/31, sustained 31/48 vs 23/56."""
    plans = {
        "TAC_DXM": {"kept": 30, "relapsed": 7, "late": 1, "none": 10},
        "DXM": {"kept": 22, "relapsed": 9, "late": 1, "none": 24},
    }
    shapes = {
        "kept": {0: 10, 7: 60, 28: 80, 180: 90},  # initial, no relapse, sustained
        "relapsed": {0: 10, 7: 60, 28: 15, 180: 12},  # initial, relapse on 28, not sustained
        "late": {0: 10, 14: 20, 56: 50, 180: 70},  # late responder, sustained
        "none": {0: 10, 7: 15, 28: 18, 180: 20},  # no response at all
    }
    subjects = []
    for arm, plan in plans.items():
        for shape, count in plan.items():
            subjects += [
                Subject(f"{arm}-{shape}-{i:02d}", dict(shapes[shape]), arm=arm)
                for i in range(count)
            ]
    return subjects


def test_outputs_and_exact_top_level_keys(example_out: Path) -> None:
    names = {p.name for p in example_out.iterdir()}
    assert {"endpoints.csv", "results.json", "report.html", "figures"} <= names
    results = json.loads((example_out / "results.json").read_text())
    assert list(results) == [
        "protocol",
        "software_version",
        "input_sha256",
        "arms",
        "n",
        "binary",
        "time_to_event",
        "safety",
    ]
    assert results["protocol"] == "target020"
    assert results["arms"] == {"experimental": "TAC_DXM", "control": "DXM"}
    assert results["n"] == {"TAC_DXM": 10, "DXM": 10}
    assert set(results["binary"]) == set(BINARY)
    for endpoint in BINARY:
        entry = results["binary"][endpoint]
        assert {"by_arm", "difference", "odds_ratio", "p_chisq", "p_fisher"} <= set(entry)
        assert set(entry["difference"]) == {"estimate", "newcombe", "miettinen_nurminen"}
        for arm in ("TAC_DXM", "DXM"):
            assert set(entry["by_arm"][arm]) == {"responders", "n", "rate", "ci"}
    assert set(results["time_to_event"]) == {"time_to_response", "duration_of_response"}
    for entry in results["time_to_event"].values():
        assert {"by_arm", "p_logrank", "hazard_ratio", "comparisons"} <= set(entry)
        single = entry["comparisons"]["TAC_DXM vs DXM"]
        assert single["p_logrank"] == entry["p_logrank"]  # two arms: the one comparison
        assert single["hazard_ratio"] == entry["hazard_ratio"]
        for arm in ("TAC_DXM", "DXM"):
            assert {"n", "events", "median", "median_ci"} <= set(entry["by_arm"][arm])
    assert set(results["safety"]) == {"by_arm", "by_term", "pre_treatment"}
    assert set(results["safety"]["by_arm"]["TAC_DXM"]) == {
        "any_ae",
        "grade_3_plus",
        "serious",
        "related",
    }


def test_results_agree_with_the_endpoints_file(example_out: Path) -> None:
    endpoints = pl.read_csv(example_out / "endpoints.csv")
    results = json.loads((example_out / "results.json").read_text())
    for arm in ("TAC_DXM", "DXM"):
        mine = endpoints.filter(pl.col("arm") == arm)
        sustained = results["binary"]["sustained_response_6m"]["by_arm"][arm]
        assert sustained["responders"] == mine["sustained_response_6m"].sum()
        assert sustained["n"] == mine.height  # ITT: NE counts as non-response
        relapse = results["binary"]["relapse"]["by_arm"][arm]
        assert relapse["n"] == mine["initial_response"].sum()
        assert relapse["responders"] == mine["relapse"].fill_null(0).sum()
        dor = results["time_to_event"]["duration_of_response"]["by_arm"][arm]
        assert dor["n"] == mine["dor_days"].is_not_null().sum()
        assert dor["events"] == mine["dor_event"].fill_null(0).sum()
    # the example's safety records (examples/make_example.py): T05 epistaxis grade 2
    assert results["safety"]["by_term"]["epistaxis"]["TAC_DXM"] == {
        "1": 0,
        "2": 1,
        "3": 0,
        "4": 0,
        "5": 0,
    }
    assert results["safety"]["by_arm"]["TAC_DXM"]["serious"] == 1  # T10 pneumonia


def test_no_nan_or_infinity_in_json(example_out: Path) -> None:
    text = (example_out / "results.json").read_text()
    assert not re.search(r"\b(NaN|Infinity)\b", text)


def test_published_trial_reproduces_the_published_p_values(tmp_path: Path) -> None:
    data = write(published_trial(), tmp_path / "data")
    code, output = run("analyze", str(data), "--out", str(tmp_path / "out"))
    assert code == 0, output
    binary = json.loads((tmp_path / "out" / "results.json").read_text())["binary"]
    sustained = binary["sustained_response_6m"]
    assert sustained["by_arm"]["TAC_DXM"]["responders"] == 31
    assert sustained["by_arm"]["DXM"]["responders"] == 23
    assert sustained["p_chisq"] == pytest.approx(0.0167, abs=5e-5)  # domain.md (R)
    assert sustained["p_fisher"] == pytest.approx(0.0193, abs=5e-5)
    assert sustained["difference"]["estimate"] == pytest.approx(31 / 48 - 23 / 56)
    assert binary["initial_response"]["p_chisq"] == pytest.approx(0.0202, abs=5e-5)
    assert binary["relapse"]["by_arm"]["TAC_DXM"] == {
        **binary["relapse"]["by_arm"]["TAC_DXM"],
        "responders": 7,
        "n": 37,
    }
    assert binary["relapse"]["p_chisq"] == pytest.approx(0.327, abs=5e-4)


def test_same_input_gives_byte_identical_outputs(tmp_path: Path, example_out: Path) -> None:
    code, output = run("analyze", str(EXAMPLE), "--out", str(tmp_path / "again"))
    assert code == 0, output
    for path in sorted(example_out.rglob("*")):
        if path.is_file():
            again = tmp_path / "again" / path.relative_to(example_out)
            assert again.read_bytes() == path.read_bytes(), path.name


def test_report_is_self_contained(example_out: Path) -> None:
    html = (example_out / "report.html").read_text()
    assert len(html.encode()) < 5_000_000
    # no request can leave the page: no external src/href/url()/@import
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", html)
    assert "@import" not in html and "<link" not in html
    assert html.count("<svg") == 3  # two Kaplan-Meier plots and the trajectories
    for section in (
        "flow",
        "baseline",
        "efficacy",
        "tte",
        "trajectories",
        "safety",
        "quality",
        "listing-section",
        "methods",
    ):
        assert f'id="{section}"' in html
    for subject in pl.read_csv(EXAMPLE / "subjects.csv")["subject_id"]:
        assert f"<td>{subject}</td>" in html
    assert "identical repeated record" in html  # data-quality warnings are shown
    assert "SHA-256" in html and "itptrial" in html


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    data = write([Subject("A", {0: 10, 7: 50})], tmp_path / "data")
    (data / "platelets.csv").write_text("subject_id,date,count\nA,2021-03-01,abc\n")
    code, output = run("analyze", str(data), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "platelets:2:count: unparseable number 'abc'" in output
    assert not (tmp_path / "out").exists()


def test_empty_control_arm_gives_nulls_and_reasons(tmp_path: Path) -> None:
    subjects = [Subject(f"T{i}", {0: 10, 7: 50 + i, 180: 60}) for i in range(3)]
    data = write(subjects, tmp_path / "data")
    code, output = run("analyze", str(data), "--out", str(tmp_path / "out"))
    assert code == 0, output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    sustained = results["binary"]["sustained_response_6m"]
    assert sustained["by_arm"]["DXM"]["rate"] is None
    assert sustained["difference"]["estimate"] is None
    assert sustained["p_chisq"] is None
    dor = results["time_to_event"]["duration_of_response"]
    assert dor["hazard_ratio"]["estimate"] is None and dor["p_logrank"] is None
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Notes on undefined statistics" in html


def _nulls_without_notes(value: object, path: str = "") -> list[str]:
    """Every null (or list holding one) of results.json that has no sibling note."""
    missing: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            undefined = item is None or (isinstance(item, list) and None in item)
            if undefined and not isinstance(value.get(f"{key}_note"), str):
                missing.append(f"{path}.{key}")
            missing += _nulls_without_notes(item, f"{path}.{key}")
    return missing


DEGENERATE = {
    "empty control arm": [Subject(f"T{i}", {0: 10, 7: 50 + i, 180: 60}) for i in range(3)],
    "nobody responds": [
        Subject(f"{arm}{i}", {0: 10, 7: 12, 180: 11}, arm=arm)
        for arm in ("TAC_DXM", "DXM")
        for i in range(3)
    ],
    "everybody responds at one time": [
        Subject(f"{arm}{i}", {0: 10, 7: 80, 180: 90}, arm=arm)
        for arm in ("TAC_DXM", "DXM")
        for i in range(3)
    ],
    "no control responder": [
        *(Subject(f"T{i}", {0: 10, 7: 80, 180: 90}) for i in range(4)),
        *(Subject(f"C{i}", {0: 10, 7: 12, 180: 11}, arm="DXM") for i in range(4)),
    ],
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_every_null_says_why(case: str, tmp_path: Path) -> None:
    data = write(DEGENERATE[case], tmp_path / "data")
    code, output = run("analyze", str(data), "--out", str(tmp_path / "out"))
    assert code == 0, output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert _nulls_without_notes(results) == []
    if case == "no control responder":
        odds = results["binary"]["initial_response"]["odds_ratio"]
        assert odds["estimate"] is None and odds["estimate_note"] == "infinite"
        assert odds["ci"][1] is None and odds["ci_note"] == "upper: infinite"
        html = (tmp_path / "out" / "report.html").read_text()
        assert "∞" in html  # an infinite upper limit is shown as such, not as "NE"
    if case == "everybody responds at one time":
        ttr = results["time_to_event"]["time_to_response"]
        assert ttr["p_logrank"] is None and ttr["p_logrank_note"] == "zero variance"
