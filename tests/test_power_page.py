"""The power-curve page of ``itptrial design power --simulate`` over a grid of designs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from itptrial.report import render_power

LABEL = "Sustained response at 6 months (day 180)"


def design(n: int, power: float, mc_se: float, analytic: float, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trials": 1000,
        "power": power,
        "mc_se": mc_se,
        "endpoint": "sustained_response_6m",
        "endpoint_label": LABEL,
        "n_per_arm": {"TAC_DXM": n, "DXM": n},
        "experimental": "TAC_DXM",
        "control": "DXM",
        "alpha": 0.05,
        "seed": 17,
        "posterior": None,
        "rejection_probability": power,
        "pooled_rates": {"TAC_DXM": 0.567, "DXM": 0.474},
        "analytic_power": analytic,
        "assurance": 0.70,
        "assurance_prior": "TARGET 020: 31/48 vs 23/56",
        "looks": None,
        "note": "virtual trials from the calibrated model",
        "reference": "Julious 2010, Sample sizes for clinical trials",
        "endpoints": {"ignored": True},
    }
    return base | extra


def grid() -> list[dict[str, Any]]:
    return [
        design(120, 0.912, 0.009, 0.905, assurance=0.74),
        design(40, 0.4, 0.0155, 0.41, assurance=0.55),
        design(80, 0.81, 0.0124, 0.79, assurance=0.70),
    ]


def rows(html: str) -> list[str]:
    table = html[html.index("<h2>Designs</h2>") :]
    return re.findall(r"<tr><td.*?</tr>", table, flags=re.S)


def svg(html: str) -> str:
    return html[html.index("<svg") : html.index("</svg>")]


def test_page_is_standalone() -> None:
    html = render_power(grid())
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert f"<h1>Simulated power: {LABEL}</h1>" in html
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)


def test_numbers_in_table() -> None:
    row = rows(render_power(grid()))[1]  # the 80 + 80 design
    for text in (
        "80 + 80",
        ">160<",
        "56.7% / 47.4%",
        ">79.0%<",
        "81.0% \u00b1 1.2%",
        "[78.6%, 83.4%]",
        ">70.0%<",
    ):
        assert text in row, text


def test_interval_clipped() -> None:
    html = render_power([design(200, 0.995, 0.004, 0.99)])
    assert "[98.7%, 100.0%]" in rows(html)[0]


def test_arm_codes_in_header_in_key_order() -> None:
    unequal = design(60, 0.7, 0.01, 0.69, n_per_arm={"DXM": 40, "TAC_DXM": 80})
    html = render_power([unequal])
    assert "n per arm (DXM + TAC_DXM)" in html
    assert "40 + 80" in rows(html)[0]
    assert "47.4% / 56.7%" in rows(html)[0]


def test_three_series_with_legend() -> None:
    figure = svg(render_power(grid()))
    for gid in ("series-analytic_power", "series-power", "series-assurance"):
        assert f'id="{gid}"' in figure
    for label in (
        "analytic power (chi-square, pooled rates)",
        "simulated power",
        "assurance (phase-2 Beta posteriors)",
        "80%",
    ):
        assert label in figure, label


def test_deterministic() -> None:
    assert render_power(grid()) == render_power(grid())


def test_sorted_by_total_size() -> None:
    html = render_power(grid())
    assert [r.split("</td>")[0].split(">")[-1] for r in rows(html)] == [
        "40 + 40",
        "80 + 80",
        "120 + 120",
    ]
    assert render_power(list(reversed(grid()))) == html


def test_no_assurance() -> None:
    designs = [design(n, 0.5, 0.01, 0.5, assurance=None, assurance_prior=None) for n in (40, 80)]
    html = render_power(designs)
    assert all(r.count(">\u2014<") == 1 for r in rows(html))
    figure = svg(html)
    assert "series-assurance" not in figure and "Beta posteriors" not in figure
    assert "O'Hagan" not in html


def test_partial_assurance() -> None:
    designs = grid()
    designs[0]["assurance"] = None
    html = render_power(designs)
    assert ">\u2014<" in rows(html)[2]
    assert 'id="series-assurance"' in svg(html)
    assert "TARGET 020: 31/48 vs 23/56" in html


def test_escapes_labels() -> None:
    evil = '<b>rate & "x"</b>'
    designs = [design(40, 0.5, 0.01, 0.5, endpoint_label=evil, assurance_prior=evil, note=evil)]
    html = render_power(designs)
    assert "<b>rate" not in html
    assert "&lt;b&gt;rate &amp; &#34;x&#34;&lt;/b&gt;" in html


def test_posterior_labels_assurance() -> None:
    designs = [d | {"posterior": "target020"} for d in grid()]
    html = render_power(designs)
    assert "simulated assurance (posterior)" in svg(html)
    assert "simulated assurance (posterior) \u00b1 MC SE" in html
    assert "<code>target020</code>" in html
    assert "simulated power" not in svg(render_power(designs))


def test_looks_columns() -> None:
    looks = {
        "boundary": "obf",
        "type_i_error": 0.049,
        "type_i_error_mc_se": 0.007,
        "power": 0.8,
        "expected_subjects": 140.2,
    }
    designs = grid()
    designs[2]["looks"] = looks
    html = render_power(designs)
    assert "type I error \u00b1 MC SE" in html and "expected subjects" in html
    row = rows(html)[1]
    assert "4.9% \u00b1 0.7%" in row and ">140.2<" in row
    assert rows(html)[0].count(">\u2014<") == 2
    assert "obf boundary" in html
    assert "type I error" not in render_power(grid())


def test_footer() -> None:
    html = render_power(grid())
    footer = html[html.index("<footer") :]
    assert "1000 virtual trials" in footer and "seed 17" in footer and "alpha 0.05" in footer
    assert "virtual trials from the calibrated model" in footer
    assert "Julious 2010" in footer


def test_no_designs() -> None:
    with pytest.raises(ValueError):
        render_power([])
