"""results.json (docs/interface.md): the analysis as plain JSON, undefined values null.

Every endpoint block has ``by_arm`` for every arm and ``comparisons`` keyed
``"<experimental> vs <control>"``. With two arms the block's top level also holds the
single comparison's keys (``difference``, ``p_chisq``, ...), as in the two-arm layout of
the contract; with more arms those are absent and ``arms.experimental`` is a list.
"""

from __future__ import annotations

import json
import math
from typing import Any

from itptrial.analysis._analysis import Analysis
from itptrial.analysis._binary import BinaryComparison, BinaryEndpoint
from itptrial.analysis._tte import TimeToEvent, TimeToEventComparison
from itptrial.stats import HazardRatio, Interval


def _number(value: float | None) -> float | None:
    """Full precision; anything not finite would not be JSON, so it is a bug here."""
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"non-finite statistic {value!r} reached results.json")
    return float(value)


def _interval(ci: Interval | None) -> list[float | None]:
    if ci is None:
        return [None, None]
    return [_number(ci[0]), _number(ci[1])]


def _holm(adjusted: dict[str, float | None]) -> dict[str, Any]:
    return {"holm": {key: _number(p) for key, p in adjusted.items()}} if adjusted else {}


def _binary_comparison(c: BinaryComparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "difference": {
            "estimate": _number(c.difference.estimate),
            "newcombe": _interval(c.difference.newcombe),
            "miettinen_nurminen": _interval(c.difference.miettinen_nurminen),
        },
        "odds_ratio": {"estimate": _number(c.fisher.odds_ratio), "ci": _interval(c.fisher.ci)},
        "p_chisq": _number(c.chi_square.p_value),
        "p_fisher": _number(c.fisher.p_value),
    }
    if c.stratified is not None:
        s = c.stratified
        out["stratified"] = {
            "strata": list(s.strata),
            "subjects_without_stratum": s.left_out,
            "cmh": {"statistic": _number(s.cmh.statistic), "p_value": _number(s.cmh.p_value)},
            "difference": {
                "estimate": _number(s.difference.estimate),
                "miettinen_nurminen": _interval(s.difference.miettinen_nurminen),
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
                "rate": _number(p.rate),
                "ci": _interval(p.ci),
            }
            for arm, p in result.by_arm.items()
        },
    }
    comparisons = {key: _binary_comparison(c) for key, c in result.comparisons.items()}
    return _with_comparisons(block, comparisons)


def _hazard_ratio(hr: HazardRatio) -> dict[str, Any]:
    return {"estimate": _number(hr.estimate), "ci": _interval(hr.ci)}


def _tte_comparison(c: TimeToEventComparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "p_logrank": _number(c.logrank.p_value),
        "hazard_ratio": _hazard_ratio(c.hazard_ratio),
    }
    if c.stratified is not None:
        s = c.stratified
        out["stratified"] = {
            "strata": list(s.strata),
            "subjects_without_stratum": s.left_out,
            "p_logrank": _number(s.logrank.p_value),
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
                "median": _number(km.median),
                "median_ci": _interval(km.median_ci),
            }
            for arm, km in result.by_arm.items()
        },
    }
    comparisons = {key: _tte_comparison(c) for key, c in result.comparisons.items()}
    return _with_comparisons(block, comparisons)


def results_dict(analysis: Analysis) -> dict[str, Any]:
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
        },
    }


def results_json(analysis: Analysis) -> str:
    """The results.json text (stable key order, so equal inputs give equal bytes)."""
    return json.dumps(results_dict(analysis), indent=2, allow_nan=False) + "\n"
