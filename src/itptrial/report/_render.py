"""The self-contained HTML report: the analysis (data) turned into tables and figures.

Everything shown comes from the analysis and its protocol: every arm in protocol
order, every comparison with the control, labels from the endpoint registry, and the
time axes and bins of the protocol's timeline.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from itptrial.analysis import GRADES, Analysis, BinaryComparison, TimeToEventComparison
from itptrial.report import _format as f
from itptrial.report._figures import arm_colour, km_figure, trajectory_figure

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
SAFETY_ROWS = (
    ("Any adverse event", "any_ae"),
    ("Grade 3 or higher", "grade_3_plus"),
    ("Serious", "serious"),
    ("Related to study drug", "related"),
)
HOLM_LABEL = "Holm-adjusted"


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


def _arms(analysis: Analysis) -> list[dict[str, Any]]:
    """Every arm in protocol order, with its label, code, size and colour."""
    protocol = analysis.protocol
    return [
        {
            "code": code,
            "label": protocol.arm_label(code),
            "n": analysis.n[code],
            "colour": arm_colour(index),
            "control": code == analysis.control,
        }
        for index, code in enumerate(analysis.arms)
    ]


def _holm(adjusted: dict[str, float | None], key: str) -> str | None:
    """The Holm-adjusted p-value of one test, or None when there is one comparison."""
    return f.p_value(adjusted[key]) if key in adjusted else None


def _strata(strata: tuple[str, ...], left_out: int) -> dict[str, Any]:
    return {"strata": ", ".join(strata), "left_out": left_out}


def _odds_ratio(c: BinaryComparison, notes: Notes) -> str:
    """The odds ratio, '∞' when it is infinite (no responder in the control arm)."""
    note = c.fisher.note
    if c.fisher.odds_ratio is None and note and "odds ratio infinite" in note:
        return f.INFINITY + notes.mark(note)
    return f.num(c.fisher.odds_ratio) + notes.mark(note)


def _binary_comparison(c: BinaryComparison, notes: Notes) -> dict[str, Any]:
    d = c.difference
    row: dict[str, Any] = {
        "pair": f"{c.experimental} vs {c.control}",
        "difference": f.signed_pct(d.estimate) + notes.mark(d.note),
        "newcombe": f.signed_interval(d.newcombe),
        "mn": f.signed_interval(d.miettinen_nurminen),
        "odds_ratio": _odds_ratio(c, notes),
        "or_ci": f.interval(c.fisher.ci, infinite_upper=f.infinite(c.fisher.note)),
        "p_chisq": f.p_value(c.chi_square.p_value) + notes.mark(c.chi_square.note),
        "p_fisher": f.p_value(c.fisher.p_value),
        "holm_chisq": _holm(c.holm, "p_chisq"),
        "holm_fisher": _holm(c.holm, "p_fisher"),
        "stratified": None,
    }
    if c.stratified is not None:
        s = c.stratified
        row["stratified"] = _strata(s.strata, s.left_out) | {
            "difference": f.signed_pct(s.difference.estimate) + notes.mark(s.difference.note),
            "mn": f.signed_interval(s.difference.miettinen_nurminen),
            "p_cmh": f.p_value(s.cmh.p_value) + notes.mark(s.cmh.note),
            "holm_cmh": _holm(c.holm, "p_cmh"),
        }
    return row


def _binary(analysis: Analysis, notes: Notes) -> list[dict[str, Any]]:
    rows = []
    for result in analysis.binary.values():
        rates = []
        for arm in analysis.arms:
            p = result.by_arm[arm]
            rates.append(
                {
                    "count": f"{p.responders}/{p.n}",
                    "rate": f.pct(p.rate) + notes.mark(p.note),
                    "ci": f.interval(p.ci, "pct"),
                }
            )
        rows.append(
            {
                "label": result.label,
                "primary": result.endpoint == analysis.protocol.primary_endpoint,
                "denominator": result.denominator,
                "rates": rates,
                "comparisons": [_binary_comparison(c, notes) for c in result.comparisons.values()],
            }
        )
    return rows


def _tte_comparison(c: TimeToEventComparison, notes: Notes) -> dict[str, Any]:
    hr = c.hazard_ratio
    row: dict[str, Any] = {
        "pair": f"{c.experimental} vs {c.control}",
        "p_logrank": f.p_value(c.logrank.p_value) + notes.mark(c.logrank.note),
        "holm_logrank": _holm(c.holm, "p_logrank"),
        "hr": f.num(hr.estimate) + notes.mark(hr.note),
        "hr_ci": f.interval(hr.ci, infinite_upper=f.infinite(hr.note)),
        "stratified": None,
    }
    if c.stratified is not None:
        s = c.stratified
        row["stratified"] = _strata(s.strata, s.left_out) | {
            "p_logrank": f.p_value(s.logrank.p_value) + notes.mark(s.logrank.note),
            "holm_logrank": _holm(c.holm, "p_logrank_stratified"),
            "hr": f.num(s.hazard_ratio.estimate) + notes.mark(s.hazard_ratio.note),
            "hr_ci": f.interval(s.hazard_ratio.ci),
        }
    return row


def _tte(analysis: Analysis, notes: Notes) -> list[dict[str, Any]]:
    labels = {code: analysis.protocol.arm_label(code) for code in analysis.arms}
    sections = []
    for endpoint in analysis.registry:
        if endpoint.kind != "time_to_event":
            continue
        result = analysis.time_to_event[endpoint.name]
        assert endpoint.figure is not None and endpoint.time and endpoint.event
        censored = {
            arm: analysis.endpoints.filter((pl.col("arm") == arm) & (pl.col(endpoint.event) == 0))
            .get_column(endpoint.time)
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
        sections.append(
            {
                "label": result.label,
                "denominator": result.denominator,
                "arms": arms,
                "comparisons": [_tte_comparison(c, notes) for c in result.comparisons.values()],
                "figure_name": f"km_{endpoint.name}.svg",
                "caption": endpoint.figure.caption,
                "figure": km_figure(
                    result.by_arm,
                    censored,
                    labels,
                    "Days",
                    endpoint.figure.y_label,
                    analysis.timeline.risk_times,
                    analysis.timeline.axis_end,
                    cumulative=endpoint.figure.cumulative,
                ),
            }
        )
    return sections


def _continuous(values: Any, digits: int = 0) -> str:
    if values.n == 0:
        return "n/a"
    return (
        f"{values.median:.{digits}f} [{values.q1:.{digits}f}{f.DASH}"
        f"{values.q3:.{digits}f}] (n={values.n})"
    )


def _baseline_rows(analysis: Analysis) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "label": "Age, years: median [IQR]",
            "arms": [_continuous(analysis.baseline[a].age) for a in analysis.arms],
        },
        {
            "label": "Baseline platelets, x10^9/L: median [IQR]",
            "arms": [_continuous(analysis.baseline[a].baseline_count) for a in analysis.arms],
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
        for label, attr in SAFETY_ROWS
    ]
    terms = [
        {
            "term": term,
            "arms": [[grades[g] for g in GRADES] for grades in (by_arm[a] for a in analysis.arms)],
        }
        for term, by_arm in analysis.safety_terms.items()
    ]
    before = [
        {
            "subject": row["subject_id"],
            "arm": row["arm"],
            "term": row["term"],
            "date": str(row["start_date"]),
            "grade": row["ctcae_grade"],
            "serious": "yes" if row["serious"] else "no",
        }
        for row in analysis.pre_treatment.iter_rows(named=True)
    ]
    return {"summary": summary, "terms": terms, "grades": GRADES, "before": before}


def _listing(analysis: Analysis) -> list[dict[str, str]]:
    table = analysis.endpoints.select(LISTING_COLUMNS)
    return [
        {
            k: "" if v is None else (f.num(v) if isinstance(v, float) else str(v))
            for k, v in row.items()
        }
        for row in table.iter_rows(named=True)
    ]


WARNINGS_SHOWN = 100  # the rest: `itptrial validate` lists every one
INLINE_LISTING_LIMIT = 5000  # above this, the listing is packed and drawn by the page


def _packed_listing(rows: list[dict[str, str]]) -> str:
    """The listing as gzip-compressed JSON in base64 (explanations repeat a lot, so a
    100,000-subject listing stays within a few MB); mtime=0 keeps the bytes stable."""
    table = [[row[c] for c in LISTING_COLUMNS] for row in rows]
    raw = json.dumps(table, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode()


def _parameters(analysis: Analysis) -> list[tuple[str, str]]:
    """The endpoint parameters as (key, value) rows, declared endpoints apart."""
    values = analysis.protocol.endpoints.model_dump(exclude={"landmark"})
    return [(key, f"{value:g}") for key, value in values.items()]


def _declared(analysis: Analysis) -> list[dict[str, str]]:
    rows = []
    for landmark in analysis.protocol.endpoints.landmark:
        if landmark.kind == "response_in_window":
            rule = f"a confirmed run at the {landmark.level} level starts in days "
            rule += f"{landmark.from_day}-{landmark.to_day}"
        else:
            rule = f"the count closest to day {landmark.day} (+/- {landmark.window} days, "
            rule += f"ties to the later day) qualifies at the {landmark.level} level"
        rows.append({"name": landmark.name, "label": landmark.label, "rule": rule})
    return rows


def _primary(analysis: Analysis, arms: list[dict[str, Any]]) -> dict[str, Any]:
    primary = analysis.primary
    return {
        "label": primary.label,
        "arms": [
            {
                **arm,
                "value": f"{primary.by_arm[arm['code']].responders}/"
                f"{primary.by_arm[arm['code']].n} ({f.pct(primary.by_arm[arm['code']].rate)})",
            }
            for arm in arms
        ],
        "comparisons": [
            {
                "pair": f"{c.experimental} {f.MINUS} {c.control}",
                "difference": f.signed_pct(c.difference.estimate),
                "ci": f.signed_interval(c.difference.newcombe),
                "p": f.p_value(c.chi_square.p_value),
                "holm": _holm(c.holm, "p_chisq"),
            }
            for c in primary.comparisons.values()
        ],
    }


def report_context(analysis: Analysis) -> dict[str, Any]:
    notes = Notes()
    p = analysis.protocol
    arms = _arms(analysis)
    listing = _listing(analysis)
    inline = len(listing) <= INLINE_LISTING_LIMIT
    context = {
        "title": p.title or p.name,
        "protocol": p,
        "arms": arms,
        "several_comparisons": len(analysis.pairs) > 1,
        "holm_label": HOLM_LABEL,
        "flow": [analysis.flow[a] for a in analysis.arms],
        "baseline": _baseline_rows(analysis),
        "binary": _binary(analysis, notes),
        "tte": _tte(analysis, notes),
        "trajectory": trajectory_figure(
            analysis.trajectories,
            {arm["code"]: arm["label"] for arm in arms},
            (p.endpoints.response_level, p.endpoints.complete_level),
            analysis.timeline.axis_end,
        ),
        "levels": {
            "response": f"{p.endpoints.response_level:g}",
            "complete": f"{p.endpoints.complete_level:g}",
        },
        "safety": _safety(analysis),
        "warnings": [str(w) for w in analysis.warnings[:WARNINGS_SHOWN]],
        "warnings_total": len(analysis.warnings),
        "listing": listing if inline else [],
        "packed_listing": "" if inline else _packed_listing(listing),
        "listing_columns": LISTING_COLUMNS,
        "listing_headers": LISTING_HEADERS,
        "parameters": _parameters(analysis),
        "declared": _declared(analysis),
        "software_version": analysis.software_version,
        "input_sha256": analysis.input_sha256,
        "source": analysis.dataset.source,
    }
    context["primary"] = _primary(analysis, arms)
    context["notes"] = notes.items
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
