"""Endpoint adjudication (docs/endpoints.md): declarative events over a columnar engine."""

from itptrial.endpoints._engine import ENDPOINT_COLUMNS, adjudicate
from itptrial.endpoints._events import Event, endpoint_events
from itptrial.endpoints._write import write_endpoints

__all__ = ["ENDPOINT_COLUMNS", "Event", "adjudicate", "endpoint_events", "write_endpoints"]
