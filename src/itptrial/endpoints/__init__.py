"""Endpoint adjudication (docs/endpoints.md): an endpoint registry of declarative events
evaluated by a columnar engine, each decision explained in one line."""

from itptrial.endpoints._engine import ENDPOINT_COLUMNS, adjudicate
from itptrial.endpoints._events import Event
from itptrial.endpoints._registry import (
    Endpoint,
    SurvivalFigure,
    endpoint_columns,
    endpoint_registry,
)
from itptrial.endpoints._write import OUTPUT_FORMATS, endpoints_file, write_endpoints

__all__ = [
    "ENDPOINT_COLUMNS",
    "OUTPUT_FORMATS",
    "Endpoint",
    "Event",
    "SurvivalFigure",
    "adjudicate",
    "endpoint_columns",
    "endpoint_registry",
    "endpoints_file",
    "write_endpoints",
]
