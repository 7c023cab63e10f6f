"""Protocols: presets and TOML files describing arms, endpoint rules and regimens."""

from itptrial.protocol._model import (
    PRESETS,
    Arm,
    EndpointParameters,
    Protocol,
    Regimen,
    load_protocol,
    preset_text,
)

__all__ = [
    "PRESETS",
    "Arm",
    "EndpointParameters",
    "Protocol",
    "Regimen",
    "load_protocol",
    "preset_text",
]
