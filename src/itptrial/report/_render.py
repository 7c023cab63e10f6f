"""The self-contained HTML report: the analysis (data) turned into tables and figures."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from itptrial.analysis import Analysis
from itptrial.analysis._binary import LABELS as BINARY_LABELS
from itptrial.analysis._tte import LABELS as TTE_LABELS
from itptrial.analysis._tte import TIME_TO_EVENT
from itptrial.report import _format as f
from itptrial.report._figures import km_figure, trajectory_figure

RISK_TIMES = {
    "time_to_response": (0, 7, 14, 21, 28, 60, 90, 120, 150, 180),
    "duration_of_response": (0, 30, 60, 90, 120, 150, 180),
}
LISTING_HEADERS = (
    "Subject",
    "Arm",
    "Baseline",
    "Initial",
    "Response day",
    "Relapse day",
    "Sustained",
    "Explanation",
)
KM_STYLE = {  # endpoint -> (plot 1 - S?, y label, caption)
    "time_to_response": (
        True,
        "Cumulative proportion responded",
        "Cumulative response (1 - Kaplan-Meier), censored at rescue or the last count",
    ),
    "duration_of_response": (
        False,
        "Proportion still in response",
        "Kaplan-Meier estimate of remaining in response, from the response day",
    ),
}
LISTING_COLUMNS = (
    "subject_id",
    "arm",
    "baseline_count",
    "initial_response_category",
    "response_day",
    "relapse_day",
    "sustained_response_category",
    "explanation",
)


@dataclass
class Notes:
    """Footnotes for statistics that are undefined (shown as n/a with a mark)."""

    items: list[str] = field(default_factory=list)

    def mark(self, note: str | None) -> str:
        if not note:
            return ""
        if note not in self.items:
            self.items.append(note)
        return f"[{self.items.index(note) + 1}]"


def _labels(analysis: Analysis) -> dict[str, str]:
    return {arm.code: arm.label for arm in analysis.protocol.arms}


def _binary_rows(analysis: Analysis, notes: Notes) -> list[dict[str, Any]]:
    rows = []
    for name, result in analysis.binary.items():
        arms = []
        for arm in analysis.arms:
            p = result.by_arm[arm]
            arms.append(
                {
                    "count": f"{p.responders}/{p.n}",
                    "rate": f.pct(p.rate) + notes.mark(p.note),
                    "ci": f.interval(p.ci, "pct"),
                }
            )
        d = result.difference
        row: dict[str, Any] = {
            "label": BINARY_LABELS[name],
            "arms": arms,
            "difference": f.signed_pct(d.estimate) + notes.mark(d.note),
            "newcombe": f.signed_interval(d.newcombe),
            "mn": f.signed_interval(d.miettinen_nurminen),
            "odds_ratio": f.num(result.fisher.odds_ratio) + notes.mark(result.fisher.note),
            "or_ci": f.interval(result.fisher.ci),
            "p_chisq": f.p_value(result.chi_square.p_value) + notes.mark(result.chi_square.note),
            "p_fisher": f.p_value(result.fisher.p_value),
            "stratified": None,
        }
        if result.stratified is not None:
            s = result.stratified
            row["stratified"] = {
                "strata": ", ".join(s.strata),
                "difference": f.signed_pct(s.difference.estimate) + notes.mark(s.difference.note),
                "mn": f.signed_interval(s.difference.miettinen_nurminen),
                "p_cmh": f.p_value(s.cmh.p_value) + notes.mark(s.cmh.note),
            }
        rows.append(row)
    return rows


def _tte_sections(analysis: Analysis, notes: Notes) -> list[dict[str, Any]]:
    labels = _labels(analysis)
    sections = []
    for name, result in analysis.time_to_event.items():
        time, event = TIME_TO_EVENT[name]
        censored = {
            arm: analysis.endpoints.filter((pl.col("arm") == arm) & (pl.col(event) == 0))
            .get_column(time)
            .cast(pl.Float64)
            .to_list()
            for arm in analysis.arms
        }
        arms = [
            {
                "label": labels[arm],
                "n": km.n,
                "events": km.events,
                "median": f.days(km.median) if km.n else "n/a",
                "ci": f.interval(km.median_ci, digits=0).replace("NE", "not reached")
                if km.n
                else "n/a",
            }
            for arm, km in result.by_arm.items()
        ]
        hr = result.hazard_ratio
        sections.append(
            {
                "label": TTE_LABELS[name],
                "arms": arms,
                "p_logrank": f.p_value(result.logrank.p_value) + notes.mark(result.logrank.note),
                "hr": f.num(hr.estimate) + notes.mark(hr.note),
                "hr_ci": f.interval(hr.ci),
                "figure_name": f"km_{name}.svg",
                "caption": KM_STYLE[name][2],
                "figure": km_figure(
                    result.by_arm,
                    censored,
                    labels,
                    "Days",
                    KM_STYLE[name][1],
                    RISK_TIMES[name],
                    cumulative=KM_STYLE[name][0],
                ),
            }
        )
    return sections


def _baseline_rows(analysis: Analysis) -> list[dict[str, Any]]:
    def cont(values: Any, digits: int = 0) -> str:
        if values.n == 0:
            return "n/a"
        return (
            f"{values.median:.{digits}f} [{values.q1:.{digits}f}{f.DASH}"
            f"{values.q3:.{digits}f}] (n={values.n})"
        )

    rows: list[dict[str, Any]] = [
        {
            "label": "Age, years: median [IQR]",
            "arms": [cont(analysis.baseline[a].age) for a in analysis.arms],
        },
        {
            "label": "Baseline platelets, x10^9/L: median [IQR]",
            "arms": [cont(analysis.baseline[a].baseline_count) for a in analysis.arms],
        },
    ]
    for title, attribute in (("Sex", "sex"), ("Stratum", "stratum")):
        levels = sorted(
            {k for a in analysis.arms for k in getattr(analysis.baseline[a], attribute)}
        )
        for level in levels:
            cells = []
            for arm in analysis.arms:
                summary = analysis.baseline[arm]
                count = getattr(summary, attribute).get(level, 0)
                share = f" ({100 * count / summary.n:.0f}%)" if summary.n else ""
                cells.append(f"{count}{share}")
            rows.append({"label": f"{title}: {level}", "arms": cells})
    return rows


def _safety(analysis: Analysis) -> dict[str, Any]:
    summary = [
        {"label": label, "arms": [getattr(analysis.safety[a], attr) for a in analysis.arms]}
        for label, attr in (
            ("Any adverse event", "any_ae"),
            ("Grade 3 or higher", "grade_3_plus"),
            ("Serious", "serious"),
            ("Related to study drug", "related"),
        )
    ]
    terms = [
        {
            "term": term,
            "arms": [
                [grades[g] for g in ("1", "2", "3", "4", "5")]
                for grades in (by_arm[a] for a in analysis.arms)
            ],
        }
        for term, by_arm in analysis.safety_terms.items()
    ]
    return {"summary": summary, "terms": terms}


def _listing(analysis: Analysis) -> list[dict[str, str]]:
    table = analysis.endpoints.select(LISTING_COLUMNS)
    rows = []
    for row in table.iter_rows(named=True):
        rows.append(
            {
                k: "" if v is None else (f.num(v) if isinstance(v, float) else str(v))
                for k, v in row.items()
            }
        )
    return rows


WARNINGS_SHOWN = 100  # the rest: `itptrial validate` lists every one
INLINE_LISTING_LIMIT = 5000  # above this, the listing is packed and drawn by the page


def _packed_listing(rows: list[dict[str, str]]) -> str:
    """The listing as gzip-compressed JSON in base64 (explanations repeat a lot, so a
    100,000-subject listing stays within a few MB); mtime=0 keeps the bytes stable."""
    table = [[row[c] for c in LISTING_COLUMNS] for row in rows]
    raw = json.dumps(table, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode()


def report_context(analysis: Analysis) -> dict[str, Any]:
    notes = Notes()
    labels = _labels(analysis)
    p = analysis.protocol
    context = {
        "title": p.title or p.name,
        "protocol": p,
        "labels": [labels[a] for a in analysis.arms],
        "codes": list(analysis.arms),
        "n": [analysis.n[a] for a in analysis.arms],
        "flow": [analysis.flow[a] for a in analysis.arms],
        "baseline": _baseline_rows(analysis),
        "binary": _binary_rows(analysis, notes),
        "tte": _tte_sections(analysis, notes),
        "trajectory": trajectory_figure(
            analysis.trajectories,
            labels,
            (p.endpoints.response_level, p.endpoints.complete_level),
        ),
        "safety": _safety(analysis),
        "warnings": [str(w) for w in analysis.warnings[:WARNINGS_SHOWN]],
        "warnings_total": len(analysis.warnings),
        "listing": [],
        "packed_listing": "",
        "listing_columns": LISTING_COLUMNS,
        "listing_headers": LISTING_HEADERS,
        "parameters": p.endpoints.model_dump(),
        "software_version": analysis.software_version,
        "input_sha256": analysis.input_sha256,
        "source": analysis.dataset.source,
    }
    listing = _listing(analysis)
    if len(listing) <= INLINE_LISTING_LIMIT:
        context["listing"] = listing
    else:
        context["packed_listing"] = _packed_listing(listing)
    context["notes"] = notes.items
    primary = analysis.binary["sustained_response_6m"]
    context["primary"] = {
        "arms": [
            f"{primary.by_arm[a].responders}/{primary.by_arm[a].n} "
            f"({f.pct(primary.by_arm[a].rate)})"
            for a in analysis.arms
        ],
        "difference": f.signed_pct(primary.difference.estimate),
        "ci": f.signed_interval(primary.difference.newcombe),
        "p": f.p_value(primary.chi_square.p_value),
    }
    return context


_ENVIRONMENT = Environment(
    loader=PackageLoader("itptrial.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Report:
    """The report page and, separately, the figures it embeds (SVG text by file name)."""

    html: str
    figures: dict[str, str]


def render_report(analysis: Analysis) -> Report:
    """The report as one self-contained HTML document (figures inline as SVG)."""
    context = report_context(analysis)
    figures = {section["figure_name"]: section["figure"] for section in context["tte"]}
    figures["platelet_trajectories.svg"] = context["trajectory"]
    html = _ENVIRONMENT.get_template("report.html.j2").render(**context)
    return Report(html, figures)
