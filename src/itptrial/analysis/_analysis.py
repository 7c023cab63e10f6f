"""The analysis of one trial, as data: every number the report and results.json show."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial._errors import Problem
from itptrial._version import __version__
from itptrial.analysis._binary import BINARY_ENDPOINTS, BinaryComparison, compare_binary
from itptrial.analysis._descriptive import (
    Baseline,
    Flow,
    SafetySummary,
    Trajectory,
    baseline,
    flow,
    safety_by_arm,
    safety_by_term,
    trajectories,
)
from itptrial.analysis._tte import TIME_TO_EVENT, TimeToEvent, compare_time_to_event
from itptrial.data import Dataset
from itptrial.endpoints import adjudicate
from itptrial.protocol import Protocol


@dataclass(frozen=True)
class Analysis:
    """Results first, rendering later: results.json and the report both read this."""

    protocol: Protocol
    dataset: Dataset
    endpoints: pl.DataFrame
    experimental: str
    control: str
    n: dict[str, int]
    flow: dict[str, Flow]
    baseline: dict[str, Baseline]
    binary: dict[str, BinaryComparison]
    time_to_event: dict[str, TimeToEvent]
    safety: dict[str, SafetySummary]
    safety_terms: dict[str, dict[str, dict[str, int]]]
    trajectories: dict[str, Trajectory]
    warnings: tuple[Problem, ...]
    software_version: str
    input_sha256: str

    @property
    def arms(self) -> tuple[str, str]:
        return (self.experimental, self.control)


def analyze(data: Dataset, protocol: Protocol) -> Analysis:
    """Adjudicate and analyse a trial (docs/endpoints.md, "Populations and summary
    statistics"): ITT by randomized arm, experimental versus control."""
    endpoints = adjudicate(data, protocol)
    experimental, control = protocol.experimental_arm, protocol.control_arm
    arms = (experimental, control)
    itt = endpoints.join(data.subjects.select("subject_id", "stratum"), on="subject_id")
    return Analysis(
        protocol=protocol,
        dataset=data,
        endpoints=endpoints,
        experimental=experimental,
        control=control,
        n={arm: data.subjects.filter(pl.col("arm") == arm).height for arm in protocol.arm_codes},
        flow={arm: flow(data.subjects, endpoints, arm) for arm in arms},
        baseline={arm: baseline(data.subjects, endpoints, arm) for arm in arms},
        binary={e: compare_binary(itt, e, experimental, control) for e in BINARY_ENDPOINTS},
        time_to_event={
            e: compare_time_to_event(itt, e, experimental, control) for e in TIME_TO_EVENT
        },
        safety={arm: safety_by_arm(data, arm) for arm in arms},
        safety_terms=safety_by_term(data, arms),
        trajectories=trajectories(data, arms),
        warnings=data.warnings,
        software_version=__version__,
        input_sha256=data.input_sha256(),
    )
