"""Published results of a trial, kept beside its preset (``<preset>.published.toml``).

The file has the shape of a calibration targets file (docs/interface.md): trials, each
with the observed responders and n per arm and endpoint. It is the one place where a
trial's published figures live; the demo and the calibration read them from here.
"""

from __future__ import annotations

from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from itptrial._errors import InputError, validation_problems
from itptrial._files import read_toml
from itptrial.protocol._load import PRESETS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Observed(_Strict):
    """One published rate: ``responders`` of ``n`` in ``arm`` for ``endpoint``."""

    arm: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    responders: int = Field(ge=0)
    n: int = Field(ge=1)

    @model_validator(mode="after")
    def _within_n(self) -> Observed:
        if self.responders > self.n:
            raise ValueError("responders must be <= n")
        return self

    @property
    def rate(self) -> float:
        return self.responders / self.n


class PublishedTrial(_Strict):
    name: str = Field(min_length=1)
    protocol: str = Field(min_length=1)
    source: str = ""
    observed: tuple[Observed, ...] = Field(min_length=1)

    def arm_sizes(self) -> dict[str, int]:
        """Randomized subjects per arm: the n of the arm's ITT endpoints (every endpoint
        but ``relapse``, whose n is the initial responders)."""
        sizes: dict[str, int] = {}
        for item in self.observed:
            if item.endpoint != "relapse":
                sizes.setdefault(item.arm, item.n)
        return sizes

    def endpoints(self) -> tuple[str, ...]:
        """The published endpoints, in the file's order."""
        return tuple(dict.fromkeys(item.endpoint for item in self.observed))

    def result(self, arm: str, endpoint: str) -> Observed:
        return next(i for i in self.observed if i.arm == arm and i.endpoint == endpoint)


class _Published(_Strict):
    trial: tuple[PublishedTrial, ...] = Field(min_length=1)


def published_results(preset: str) -> PublishedTrial:
    """The published results of a preset's trial (``target020``).

    Raises :class:`KeyError` for a preset without published results.
    """
    if preset not in PRESETS:
        raise KeyError(preset)
    path = resources.files("itptrial.protocol").joinpath(f"presets/{preset}.published.toml")
    if not path.is_file():
        raise KeyError(preset)
    source = f"published results of {preset}"
    raw = read_toml(path.read_text(encoding="utf-8"), source)
    try:
        trials = _Published.model_validate(raw).trial
    except ValidationError as exc:  # pragma: no cover - the shipped file is valid
        raise InputError(validation_problems(exc, source)) from None
    return next(t for t in trials if t.protocol == preset)
