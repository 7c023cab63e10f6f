"""Input checks and small numeric helpers shared by the statistics modules.

Invalid *input* (a negative count, more responders than subjects, an event flag that is
not 0/1, a level outside (0, 1)) is a programming error and raises ``ValueError``.  Valid
input for which a statistic is *undefined* never raises: the statistic is ``None`` with a
note.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import SupportsIndex

from scipy import stats as _sps


def count(value: SupportsIndex, name: str) -> int:
    """Return ``value`` as a non-negative ``int`` (integers only, no floats)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer count, not a bool")
    try:
        number = operator.index(value)
    except TypeError as exc:
        raise ValueError(f"{name} must be an integer count, got {value!r}") from exc
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {number}")
    return number


def arm(x: SupportsIndex, n: SupportsIndex, label: str) -> tuple[int, int]:
    """Validate one arm's ``responders`` and ``n``."""
    xi = count(x, f"{label} responders")
    ni = count(n, f"{label} n")
    if xi > ni:
        raise ValueError(f"{label} responders ({xi}) exceed {label} n ({ni})")
    return xi, ni


def check_level(level: float) -> float:
    """Validate a confidence level in (0, 1)."""
    value = float(level)
    if not 0.0 < value < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    return value


def z_quantile(level: float) -> float:
    """Two-sided standard normal quantile, as R's ``qnorm(1 - (1 - level) / 2)``."""
    return float(_sps.norm.ppf(1.0 - (1.0 - level) / 2.0))


def finite_or_none(value: float) -> float | None:
    """``float(value)``, or ``None`` when it is NaN or infinite."""
    number = float(value)
    return number if math.isfinite(number) else None


def empty_arm_note(n1: int, n0: int) -> str | None:
    """The plain-words reason a two-arm comparison is undefined, if an arm is empty."""
    if n1 == 0 and n0 == 0:
        return "both arms are empty (no subjects)"
    if n1 == 0:
        return "the experimental arm is empty (no subjects)"
    if n0 == 0:
        return "the control arm is empty (no subjects)"
    return None


def join_notes(notes: Sequence[str | None]) -> str | None:
    """Join the non-empty notes with '; ', or ``None`` if there are none."""
    kept = [note for note in notes if note]
    return "; ".join(kept) if kept else None
