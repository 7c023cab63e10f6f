"""Number formatting for the report (results stay at full precision elsewhere)."""

from __future__ import annotations

from itptrial.stats import Interval

DASH = "\u2013"
MINUS = "\u2212"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


INFINITY = "\u221e"


def interval(
    ci: Interval | None, fmt: str = "num", digits: int = 2, infinite_upper: bool = False
) -> str:
    """'[lo, hi]' with 'n/a' for no interval, 'NE' for a bound not estimable, and '∞'
    for an upper bound that is infinite (an odds ratio with a zero cell)."""
    if ci is None or (ci[0] is None and ci[1] is None):
        return "n/a"

    def one(value: float | None, upper: bool) -> str:
        if value is None:
            return INFINITY if upper and infinite_upper else "NE"
        return pct(value) if fmt == "pct" else f"{value:.{digits}f}"

    return f"[{one(ci[0], False)}, {one(ci[1], True)}]"


def infinite(note: str | None) -> bool:
    """The statistic's note says a value is infinite (or overflows)."""
    return note is not None and ("infinite" in note or "overflow" in note)


def signed_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} pp"


def signed_interval(ci: Interval | None) -> str:
    if ci is None or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def p_value(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 0.0001:
        return "<0.0001"
    return f"{value:.4f}"


def days(value: float | None) -> str:
    return "not reached" if value is None else f"{value:g}"
