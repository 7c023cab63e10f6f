"""results.json (docs/interface.md): the analysis as plain JSON, undefined values null."""

from __future__ import annotations

import json
import math
from typing import Any

from itptrial.analysis._analysis import Analysis
from itptrial.analysis._binary import BinaryComparison
from itptrial.analysis._tte import TimeToEvent
from itptrial.stats import Interval


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


def _binary(result: BinaryComparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "by_arm": {
            arm: {
                "responders": p.responders,
                "n": p.n,
                "rate": _number(p.rate),
                "ci": _interval(p.ci),
            }
            for arm, p in result.by_arm.items()
        },
        "difference": {
            "estimate": _number(result.difference.estimate),
            "newcombe": _interval(result.difference.newcombe),
            "miettinen_nurminen": _interval(result.difference.miettinen_nurminen),
        },
        "odds_ratio": {
            "estimate": _number(result.fisher.odds_ratio),
            "ci": _interval(result.fisher.ci),
        },
        "p_chisq": _number(result.chi_square.p_value),
        "p_fisher": _number(result.fisher.p_value),
    }
    if result.stratified is not None:
        s = result.stratified
        out["stratified"] = {
            "strata": list(s.strata),
            "cmh": {"statistic": _number(s.cmh.statistic), "p_value": _number(s.cmh.p_value)},
            "difference": {
                "estimate": _number(s.difference.estimate),
                "miettinen_nurminen": _interval(s.difference.miettinen_nurminen),
            },
        }
    return out


def _time_to_event(result: TimeToEvent) -> dict[str, Any]:
    return {
        "by_arm": {
            arm: {
                "n": km.n,
                "events": km.events,
                "median": _number(km.median),
                "median_ci": _interval(km.median_ci),
            }
            for arm, km in result.by_arm.items()
        },
        "p_logrank": _number(result.logrank.p_value),
        "hazard_ratio": {
            "estimate": _number(result.hazard_ratio.estimate),
            "ci": _interval(result.hazard_ratio.ci),
        },
    }


def results_dict(analysis: Analysis) -> dict[str, Any]:
    return {
        "protocol": analysis.protocol.name,
        "software_version": analysis.software_version,
        "input_sha256": analysis.input_sha256,
        "arms": {"experimental": analysis.experimental, "control": analysis.control},
        "n": dict(analysis.n),
        "binary": {name: _binary(result) for name, result in analysis.binary.items()},
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
