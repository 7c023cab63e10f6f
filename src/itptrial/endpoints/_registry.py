"""The endpoint registry: one declaration per endpoint, built-in or declared.

Each :class:`Endpoint` says everything about one endpoint: the events it needs, the
endpoints.csv columns it derives, its fragment of the explanation, its kind (binary or
time to event), its label, and who counts in it. The engine, the analysis, results.json
and the report all read the registry, so adding an endpoint touches one place
(docs/endpoints.md, "Adding an endpoint").

Built-in endpoints have the names of ``itptrial.protocol.BUILT_IN_ENDPOINTS``; declared
ones come from the protocol's ``[[endpoints.landmark]]`` tables, in protocol order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from itptrial.endpoints import _columns as c
from itptrial.endpoints import _derive as derive
from itptrial.endpoints import _events as ev
from itptrial.endpoints import _explain as explain
from itptrial.endpoints._events import Event
from itptrial.protocol import (
    ENDPOINT_COLUMNS,
    EndpointKind,
    EndpointParameters,
    Landmark,
    day_phrase,
    days_phrase,
)

ALL_RANDOMIZED = "all randomized subjects of the arm (not evaluable counts as non-response)"
TTR_CAPTION = "Cumulative response (1 - Kaplan-Meier), censored at rescue or the last count"
DOR_CAPTION = "Kaplan-Meier estimate of remaining in response, from the response day"


@dataclass(frozen=True)
class SurvivalFigure:
    """How the report draws a time-to-event endpoint's Kaplan-Meier curves."""

    cumulative: bool  # draw 1 - S (the share that had the event), rising
    y_label: str
    caption: str


@dataclass(frozen=True, eq=False)
class Endpoint:
    """One endpoint: how it is derived, explained, analysed and labelled.

    Binary endpoints count ``responders`` among the subjects of ``population`` (both
    expressions over the endpoints table); time-to-event endpoints read the ``time`` and
    ``event`` columns, subjects with no time being left out. ``assessed_day`` is the
    study day by which a binary endpoint's outcome is settled (the end of its window,
    or its landmark day): where a report places it on a time axis.
    """

    name: str  # results.json key (and, for a declared endpoint, its endpoints.csv column)
    kind: EndpointKind
    label: str
    denominator: str  # who counts, in words
    events: tuple[Event, ...] = ()
    columns: tuple[pl.Expr, ...] = ()  # the endpoints.csv columns it derives
    explain: pl.Expr | None = None  # its fragment of the explanation line
    responders: pl.Expr | None = None
    population: pl.Expr = field(default_factory=lambda: pl.lit(True))
    time: str | None = None
    event: str | None = None
    figure: SurvivalFigure | None = None
    declared: bool = False
    assessed_day: int | None = None

    @property
    def counted(self) -> pl.Expr:
        """Who a binary endpoint counts: its population (a subject without the flag is
        not in it)."""
        return self.population.fill_null(False)

    @property
    def responded(self) -> pl.Expr:
        """A binary endpoint's responders among those counted: not evaluable (null)
        counts as non-response, as the analysis counts it (docs/endpoints.md)."""
        if self.responders is None:
            raise ValueError(f"{self.name} is not a binary endpoint")
        return self.responders.fill_null(False)


def _built_in(p: EndpointParameters) -> list[Endpoint]:
    initial_window = days_phrase(1, p.initial_window)
    sustained_at = day_phrase(p.sustained_day)
    responded = pl.col("initial_response") == 1
    return [
        Endpoint(
            "initial_response",
            "binary",
            f"Initial response ({initial_window})",
            ALL_RANDOMIZED,
            events=(ev.RESPONSE, ev.CONFIRMATION, ev.INITIAL_COMPLETE, ev.BEST_INITIAL),
            columns=tuple(derive.initial_response(p)),
            explain=explain.initial_response(p),
            responders=responded,
            assessed_day=p.initial_window,
        ),
        Endpoint(
            "initial_complete_response",
            "binary",
            f"Initial complete response ({initial_window})",
            ALL_RANDOMIZED,
            responders=pl.col("initial_response_category") == "CR",
            assessed_day=p.initial_window,
        ),
        Endpoint(
            "relapse",
            "binary",
            f"Relapse among initial responders (by day {p.horizon})",
            "initial responders of the arm",
            events=(ev.RESPONSE, ev.LOSS, ev.LOSS_NEXT),
            columns=tuple(derive.relapse(p)),
            explain=explain.relapse(p),
            responders=pl.col("relapse") == 1,
            population=responded,
            assessed_day=p.horizon,
        ),
        Endpoint(
            "sustained_response_6m",
            "binary",
            f"Sustained response at {sustained_at}",
            ALL_RANDOMIZED,
            events=(ev.SUSTAINED,),
            columns=tuple(derive.sustained_response(p)),
            explain=explain.sustained_response(p),
            responders=pl.col("sustained_response_6m") == 1,
            assessed_day=p.sustained_day,
        ),
        Endpoint(
            "sustained_complete_response_6m",
            "binary",
            f"Sustained complete response at {sustained_at}",
            ALL_RANDOMIZED,
            responders=pl.col("sustained_response_category") == "CR",
            assessed_day=p.sustained_day,
        ),
        Endpoint(
            "time_to_response",
            "time_to_event",
            "Time to response (days)",
            "evaluable subjects (treated, with a baseline count)",
            events=(ev.RESPONSE,),
            columns=tuple(derive.time_to_response(p)),
            time="ttr_days",
            event="ttr_event",
            figure=SurvivalFigure(True, "Cumulative proportion responded", TTR_CAPTION),
        ),
        Endpoint(
            "duration_of_response",
            "time_to_event",
            "Duration of response (days)",
            "initial responders",
            events=(ev.RESPONSE, ev.LOSS),
            columns=tuple(derive.duration_of_response(p)),
            time="dor_days",
            event="dor_event",
            figure=SurvivalFigure(False, "Proportion still in response", DOR_CAPTION),
        ),
    ]


def _declared(landmark: Landmark, p: EndpointParameters) -> Endpoint:
    return Endpoint(
        landmark.name,
        "binary",
        landmark.label,
        ALL_RANDOMIZED,
        events=(ev.landmark_event(landmark),),
        columns=tuple(derive.landmark_response(landmark, p)),
        explain=explain.landmark_response(landmark, p),
        responders=pl.col(landmark.name) == 1,
        declared=True,
        assessed_day=landmark.to_day if landmark.kind == "response_in_window" else landmark.day,
    )


def endpoint_registry(p: EndpointParameters) -> tuple[Endpoint, ...]:
    """Every endpoint of a protocol: the built-in ones, then the declared ones."""
    return (*_built_in(p), *(_declared(landmark, p) for landmark in p.landmark))


# Evaluated for every subject whatever the endpoints: Day 0's baseline and the last
# count (evaluability, censoring and the explanation read them).
CORE_EVENTS = (ev.BASELINE, ev.LAST_COUNT)


def needed_events(registry: tuple[Endpoint, ...]) -> tuple[Event, ...]:
    """The events the registry needs, each once, in first-needed order."""
    events: dict[str, Event] = {e.name: e for e in CORE_EVENTS}
    for endpoint in registry:
        for event in endpoint.events:
            events.setdefault(event.name, event)
    return tuple(events.values())


def endpoint_columns(p: EndpointParameters) -> tuple[str, ...]:
    """The endpoints.csv columns: the specified ones, then one per declared endpoint."""
    return (*ENDPOINT_COLUMNS, *(landmark.name for landmark in p.landmark))


def output_columns(p: EndpointParameters) -> list[pl.Expr]:
    """Select expressions giving the endpoints table its published column names."""
    declared = [pl.col(c.landmark_column(lm.name)).alias(lm.name) for lm in p.landmark]
    return [*(pl.col(name) for name in ENDPOINT_COLUMNS), *declared]
