"""The analysis of one trial, as data: every number the report and results.json show."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial._errors import Problem
from itptrial._version import __version__
from itptrial.analysis._binary import BinaryEndpoint, analyze_binary
from itptrial.analysis._comparisons import Pair, comparisons
from itptrial.analysis._descriptive import (
    Baseline,
    Flow,
    SafetySummary,
    Trajectory,
    baseline,
    flow,
    pre_treatment_events,
    safety_by_arm,
    safety_by_term,
    trajectories,
    treatment_emergent,
)
from itptrial.analysis._tte import TimeToEvent, analyze_time_to_event
from itptrial.data import Dataset
from itptrial.endpoints import Endpoint, adjudicate, endpoint_registry
from itptrial.protocol import Protocol, Timeline, timeline


@dataclass(frozen=True)
class Analysis:
    """Results first, rendering later: results.json and the report both read this.

    Every per-arm summary covers every arm of the protocol (``arms``, protocol order);
    the comparisons are each experimental arm against the control (``pairs``).
    """

    protocol: Protocol
    dataset: Dataset
    endpoints: pl.DataFrame
    registry: tuple[Endpoint, ...]
    timeline: Timeline
    arms: tuple[str, ...]
    control: str
    experimental: tuple[str, ...]
    pairs: tuple[Pair, ...]
    n: dict[str, int]
    flow: dict[str, Flow]
    baseline: dict[str, Baseline]
    binary: dict[str, BinaryEndpoint]
    time_to_event: dict[str, TimeToEvent]
    safety: dict[str, SafetySummary]  # treatment-emergent adverse events
    safety_terms: dict[str, dict[str, dict[str, int]]]
    pre_treatment: pl.DataFrame  # adverse events before treatment, listed apart
    trajectories: dict[str, Trajectory]
    warnings: tuple[Problem, ...]
    software_version: str
    input_sha256: str

    @property
    def primary(self) -> BinaryEndpoint:
        """The protocol's primary endpoint."""
        return self.binary[self.protocol.primary_endpoint]


def analyze(data: Dataset, protocol: Protocol) -> Analysis:
    """Adjudicate and analyse a trial (docs/endpoints.md, "Populations and summary
    statistics"; docs/analysis.md): ITT by randomized arm, every arm summarised, each
    experimental arm compared with the control on that pair's subjects."""
    endpoints = adjudicate(data, protocol)
    registry = endpoint_registry(protocol.endpoints)
    arms, pairs = protocol.arm_codes, comparisons(protocol)
    subjects = data.subjects
    itt = endpoints.join(subjects.select("subject_id", "stratum"), on="subject_id")
    line = timeline(protocol)
    emergent = treatment_emergent(data)
    return Analysis(
        protocol=protocol,
        dataset=data,
        endpoints=endpoints,
        registry=registry,
        timeline=line,
        arms=arms,
        control=protocol.control_arm,
        experimental=protocol.experimental_arms,
        pairs=pairs,
        n={arm: subjects.filter(pl.col("arm") == arm).height for arm in arms},
        flow={arm: flow(subjects, endpoints, arm) for arm in arms},
        baseline={arm: baseline(subjects, endpoints, arm) for arm in arms},
        binary={
            e.name: analyze_binary(itt, e, arms, pairs) for e in registry if e.kind == "binary"
        },
        time_to_event={
            e.name: analyze_time_to_event(itt, e, arms, pairs)
            for e in registry
            if e.kind == "time_to_event"
        },
        safety={arm: safety_by_arm(emergent, arm) for arm in arms},
        safety_terms=safety_by_term(emergent, arms),
        pre_treatment=pre_treatment_events(data),
        trajectories=trajectories(data, arms, line.trajectory_edges),
        warnings=data.warnings,
        software_version=__version__,
        input_sha256=data.input_sha256(),
    )
