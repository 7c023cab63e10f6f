"""The public API a newcomer uses, and the house rules that keep the package navigable:
no package imports another's private module, nothing imports the CLI, and the CLI holds
no domain content."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import itptrial
from itptrial.data import SUBJECT_KEY

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "src" / "itptrial"
EXAMPLE = ROOT / "examples" / "target020_example"


def test_top_level_api_end_to_end(tmp_path: Path) -> None:
    protocol = itptrial.load_protocol("target020")
    data = itptrial.load_dataset(EXAMPLE, protocol)
    analysis = itptrial.analyze(data, protocol)
    out = itptrial.write_analysis(analysis, tmp_path / "out")
    results = json.loads((out / "results.json").read_text())
    assert results["n"] == {"TAC_DXM": 10, "DXM": 10}
    assert json.loads(itptrial.results_json(analysis)) == results

    tables = itptrial.simulate_trial(protocol, (5, 4), seed=3)
    simulated = itptrial.dataset_from_frames(tables, protocol)
    assert simulated.subjects.height == 9
    trials = list(itptrial.simulate_trials(protocol, (5, 4), trials=2, seed=3))
    assert trials[0]["platelets"].equals(tables["platelets"])  # trial 1 of K = the single

    with pytest.raises(itptrial.InputError):
        itptrial.import_sdtm(tmp_path / "no-sdtm", tmp_path / "native")
    assert set(itptrial.__all__) <= set(dir(itptrial))
    for name in itptrial.__all__:
        assert getattr(itptrial, name) is not None, name


def test_dataset_frames_are_clean() -> None:
    data = itptrial.load_dataset(EXAMPLE, itptrial.load_protocol("target020"))
    for name in itptrial.data.TABLES:
        frame = data.table(name)
        assert not [c for c in frame.columns if c.startswith("__")], name
        assert frame.columns[: len(itptrial.data.TABLES[name].columns)] == list(
            itptrial.data.TABLES[name].column_names
        )
        keyed = data.keyed(name)
        assert SUBJECT_KEY in keyed.columns and keyed.height == frame.height
    assert data.subjects.equals(data.table("subjects"))


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = (
        "import sys, itptrial, itptrial.cli; "
        "print(sorted(m for m in ('scipy', 'numba', 'matplotlib', 'statsmodels') "
        "if m in sys.modules))"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "[]"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


def _package_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else ""


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_package_imports_another_packages_private_module(path: Path) -> None:
    own = _package_of(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "itptrial" or len(parts) < 3:
            continue  # other libraries, or the root's shared modules (itptrial._errors)
        package, module = parts[1], parts[2]
        if package != own and not package.startswith("_"):
            assert not module.startswith("_"), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_imports_the_cli(path: Path) -> None:
    if path.name == "cli.py":
        return
    assert not [n for n in _imports(path) if n.startswith("itptrial.cli")], path


def test_the_cli_holds_no_domain_content() -> None:
    """Trial numbers, arm codes, drugs and published figures live in the protocol, its
    published results and the parameter file, never in the command line."""
    text = (PACKAGE / "cli.py").read_text()
    for domain in ("TAC_DXM", "DXM\"", "tacrolimus", "dexamethasone", "48", "56", "37/48",
                   "sustained_response_6m", "6 months", "initial_window"):  # fmt: skip
        assert domain not in text, domain
