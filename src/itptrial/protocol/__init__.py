"""Protocols: presets and TOML files describing a trial's arms, endpoints, eligibility,
regimens, visits and rescue rules, and the study days its outputs show."""

from itptrial.protocol._load import PRESETS, load_protocol, preset_text, protocol_toml
from itptrial.protocol._model import (
    BUILT_IN_ENDPOINTS,
    BUILT_IN_PARAMCD,
    ENDPOINT_COLUMNS,
    Arm,
    Eligibility,
    EndpointKind,
    EndpointParameters,
    Landmark,
    LevelName,
    Protocol,
    Regimen,
    RescueRule,
    TroughTarget,
    Visits,
)
from itptrial.protocol._published import Observed, PublishedTrial, published_results
from itptrial.protocol._timeline import Timeline, day_phrase, days_phrase, months, timeline

__all__ = [
    "BUILT_IN_ENDPOINTS",
    "BUILT_IN_PARAMCD",
    "ENDPOINT_COLUMNS",
    "PRESETS",
    "Arm",
    "Eligibility",
    "EndpointKind",
    "EndpointParameters",
    "Landmark",
    "LevelName",
    "Observed",
    "Protocol",
    "PublishedTrial",
    "Regimen",
    "RescueRule",
    "Timeline",
    "TroughTarget",
    "Visits",
    "day_phrase",
    "days_phrase",
    "load_protocol",
    "months",
    "preset_text",
    "protocol_toml",
    "published_results",
    "timeline",
]
