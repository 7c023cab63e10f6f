"""results.json (docs/interface.md): the analysis as plain JSON, undefined values null.

Every endpoint block has ``by_arm`` for every arm and ``comparisons`` keyed
``"<experimental> vs <control>"``. With two arms the block's top level also holds the
single comparison's keys (``difference``, ``p_chisq``, ...), as in the two-arm layout of
the contract; with more arms those are absent and ``arms.experimental`` is a list.

Every ``null`` has a sibling ``"<key>_note"`` saying why, in a few words ("empty arm",
"infinite", "no events", "zero variance", "not reached", ...), from the statistic's note;
for an interval with one missing bound the note names the bound ("upper: infinite").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from itptrial.analysis._analysis import Analysis
from itptrial.analysis._binary import BinaryComparison, BinaryEndpoint
from itptrial.analysis._tte import TimeToEvent, TimeToEventComparison
from itptrial.stats import HazardRatio, Interval

# Words of a statistic's note -> the short reason written beside a null (first match).
REASONS = (
    ("empty", "empty arm"),
    ("no subjects", "empty arm"),
    ("no events", "no events"),
    ("zero variance", "zero variance"),
    ("hazard ratio zero", "zero"),
    ("infinite", "infinite"),
    ("overflow", "infinite"),
    ("not reached", "not reached"),
    ("did not converge", "did not converge"),
    ("nobody, or everybody", "one possible table (nobody or everybody responded)"),
    ("no stratum", "no stratum with both arms"),
    ("never reaches", "not estimable"),
)


@dataclass(frozen=True)
class _Null:
    """An undefined value and why; written as ``null`` with a ``<key>_note``."""

    reason: str


def _reason(note: str | None) -> str:
    text = (note or "").lower()
    return next((short for words, short in REASONS if words in text), note or "undefined")


def _number(value: float | None, note: str | None = None) -> float | _Null:
    """Full precision; anything not finite would not be JSON, so it is a bug here."""
    if value is None:
        return _Null(_reason(note))
    if not math.isfinite(value):
        raise ValueError(f"non-finite statistic {value!r} reached results.json")
    return float(value)


def _interval(ci: Interval | None, note: str | None = None) -> list[float | _Null]:
    if ci is None:
        return [_Null(_reason(note)), _Null(_reason(note))]
    lower_note = note if note and "lower" in note else note and _lower_part(note)
    return [_number(ci[0], lower_note), _number(ci[1], note)]


def _lower_part(note: str) -> str:
    """The part of a joined note about a lower limit (Kaplan-Meier notes say which)."""
    parts = [part for part in note.split("; ") if "lower" in part]
    return parts[0] if parts else note


def _notes(value: Any) -> Any:
    """The tree with every :class:`_Null` as ``null`` and its reason in ``<key>_note``."""
    if isinstance(value, list):
        return [None if isinstance(item, _Null) else _notes(item) for item in value]
    if not isinstance(value, dict):
        return None if isinstance(value, _Null) else value
    out: dict[str, Any] = {}
    for key, item in value.items():
        out[key] = _notes(item)
        if isinstance(item, _Null):
            out[f"{key}_note"] = item.reason
        elif isinstance(item, list) and any(isinstance(x, _Null) for x in item):
            reasons = [x.reason if isinstance(x, _Null) else None for x in item]
            if len(item) == 2 and reasons[0] != reasons[1]:
                named = [
                    f"{bound}: {r}"
                    for bound, r in zip(("lower", "upper"), reasons, strict=True)
                    if r
                ]
                out[f"{key}_note"] = "; ".join(named)
            else:
                out[f"{key}_note"] = next(r for r in reasons if r)
    return out


def _holm(adjusted: dict[str, float | None]) -> dict[str, Any]:
    if not adjusted:
        return {}
    return {"holm": {key: _number(p, "an undefined test") for key, p in adjusted.items()}}


def _binary_comparison(c: BinaryComparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "difference": {
            "estimate": _number(c.difference.estimate, c.difference.note),
            "newcombe": _interval(c.difference.newcombe, c.difference.note),
            "miettinen_nurminen": _interval(c.difference.miettinen_nurminen, c.difference.note),
        },
        "odds_ratio": {
            "estimate": _number(c.fisher.odds_ratio, c.fisher.note),
            "ci": _interval(c.fisher.ci, c.fisher.note),
        },
        "p_chisq": _number(c.chi_square.p_value, c.chi_square.note),
        "p_fisher": _number(c.fisher.p_value, c.fisher.note),
    }
    if c.stratified is not None:
        s = c.stratified
        out["stratified"] = {
            "strata": list(s.strata),
            "subjects_without_stratum": s.left_out,
            "cmh": {
                "statistic": _number(s.cmh.statistic, s.cmh.note),
                "p_value": _number(s.cmh.p_value, s.cmh.note),
            },
            "difference": {
                "estimate": _number(s.difference.estimate, s.difference.note),
                "miettinen_nurminen": _interval(s.difference.miettinen_nurminen, s.difference.note),
            },
        }
    return out | _holm(c.holm)


def _with_comparisons(
    block: dict[str, Any], comparisons: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    if len(comparisons) == 1:
        block.update(next(iter(comparisons.values())))
    block["comparisons"] = comparisons
    return block


def _binary(result: BinaryEndpoint, primary: bool) -> dict[str, Any]:
    block: dict[str, Any] = {
        "label": result.label,
        **({"primary": True} if primary else {}),
        "by_arm": {
            arm: {
                "responders": p.responders,
                "n": p.n,
                "rate": _number(p.rate, p.note),
                "ci": _interval(p.ci, p.note),
            }
            for arm, p in result.by_arm.items()
        },
    }
    comparisons = {key: _binary_comparison(c) for key, c in result.comparisons.items()}
    return _with_comparisons(block, comparisons)


def _hazard_ratio(hr: HazardRatio) -> dict[str, Any]:
    return {"estimate": _number(hr.estimate, hr.note), "ci": _interval(hr.ci, hr.note)}


def _tte_comparison(c: TimeToEventComparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "p_logrank": _number(c.logrank.p_value, c.logrank.note),
        "hazard_ratio": _hazard_ratio(c.hazard_ratio),
    }
    if c.stratified is not None:
        s = c.stratified
        out["stratified"] = {
            "strata": list(s.strata),
            "subjects_without_stratum": s.left_out,
            "p_logrank": _number(s.logrank.p_value, s.logrank.note),
            "hazard_ratio": _hazard_ratio(s.hazard_ratio),
        }
    return out | _holm(c.holm)


def _time_to_event(result: TimeToEvent) -> dict[str, Any]:
    block: dict[str, Any] = {
        "label": result.label,
        "by_arm": {
            arm: {
                "n": km.n,
                "events": km.events,
                "median": _number(km.median, km.note),
                "median_ci": _interval(km.median_ci, km.note),
            }
            for arm, km in result.by_arm.items()
        },
    }
    comparisons = {key: _tte_comparison(c) for key, c in result.comparisons.items()}
    return _with_comparisons(block, comparisons)


def results_dict(analysis: Analysis) -> dict[str, Any]:
    """The results.json tree (every undefined value null, with its note)."""
    return dict(_notes(_results(analysis)))


def _results(analysis: Analysis) -> dict[str, Any]:
    experimental: str | list[str] = list(analysis.experimental)
    if len(analysis.experimental) == 1:
        experimental = analysis.experimental[0]
    return {
        "protocol": analysis.protocol.name,
        "software_version": analysis.software_version,
        "input_sha256": analysis.input_sha256,
        "arms": {"experimental": experimental, "control": analysis.control},
        "n": dict(analysis.n),
        "binary": {
            name: _binary(result, primary=name == analysis.protocol.primary_endpoint)
            for name, result in analysis.binary.items()
        },
        "time_to_event": {
            name: _time_to_event(result) for name, result in analysis.time_to_event.items()
        },
        "safety": {
            "by_arm": {
                arm: {
                    "any_ae": s.any_ae,
                    "grade_3_plus": s.grade_3_plus,
                    "serious": s.serious,
                    "related": s.related,
                }
                for arm, s in analysis.safety.items()
            },
            "by_term": analysis.safety_terms,
            "pre_treatment": {
                "by_arm": {
                    arm: {
                        "events": mine.height,
                        "subjects": mine.get_column("subject_id").n_unique(),
                    }
                    for arm in analysis.arms
                    for mine in (analysis.pre_treatment.filter(pl.col("arm") == arm),)
                }
            },
        },
    }


def results_json(analysis: Analysis) -> str:
    """The results.json text (stable key order, so equal inputs give equal bytes)."""
    return json.dumps(results_dict(analysis), indent=2, allow_nan=False) + "\n"
