"""Problems found in user input, and the exception that carries them.

Every input error in itptrial is reported in the same shape, ``where:line:column:
message``, so that a user can go straight to the offending cell. Loading either succeeds
completely or raises :class:`InputError` listing *every* problem found, never just the
first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with every non-printable character escaped (newlines, control and
    format characters such as bidi overrides): a problem always prints as one line, and a
    crafted cell cannot print a line that looks like another problem."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if ch.isprintable()
        else _NAMED_ESCAPES.get(ch)
        or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text
    )


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the input: an error stops loading, a warning is only reported.

    ``line`` is the file line (the header is line 1) or ``None`` when the problem is
    about a whole table; ``column`` is ``None`` when it concerns a whole record.
    """

    where: str
    line: int | None
    column: str | None
    message: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "where", one_line(self.where))
        object.__setattr__(self, "message", one_line(self.message))
        if self.column is not None:
            object.__setattr__(self, "column", one_line(self.column))

    @property
    def kind(self) -> str:
        """The message without its particular values: what a summary counts by."""
        quoted = re.sub(r"'[^']*'", "'…'", self.message)
        dated = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "<date>", quoted)
        return re.sub(r"\d+(\.\d+)?", "N", dated)

    def __str__(self) -> str:
        line = "-" if self.line is None else str(self.line)
        column = "-" if self.column is None else self.column
        return f"{self.where}:{line}:{column}: {self.message}"


SUMMARY_ABOVE = 50  # with more problems than this, a summary by table and kind follows


def summary(problems: Sequence[Problem]) -> list[str]:
    """One line per table and kind of problem, most frequent first, when there are more
    than SUMMARY_ABOVE problems (so a user sees the shape of a broken export)."""
    if len(problems) <= SUMMARY_ABOVE:
        return []
    counts = Counter((p.where, p.severity, p.kind) for p in problems)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    errors = sum(p.severity == "error" for p in problems)
    head = f"summary: {errors} error(s) and {len(problems) - errors} warning(s), by table and kind:"
    return [head] + [
        f"summary: {where}: {n} {severity}(s): {kind}" for (where, severity, kind), n in ordered
    ]


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Order problems by table, then line (table-level problems first), then column."""

    def key(p: Problem) -> tuple[str, int, str, str]:
        return (p.where, -1 if p.line is None else p.line, p.column or "", p.message)

    return sorted(problems, key=key)


class InputError(Exception):
    """Invalid user input (dataset, protocol, or arguments); the CLI exits with code 2."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems: list[Problem] = sort_problems(problems)
        self.source = source
        count = len(self.problems)
        head = f"{source}: " if source else ""
        super().__init__(f"{head}{count} problem{'s' if count != 1 else ''} in the input")

    def report(self) -> str:
        """All problems, one per line, in ``where:line:column: message`` form."""
        return "\n".join(str(p) for p in self.problems)


def validation_problems(error: Any, source: str) -> list[Problem]:
    """A pydantic ``ValidationError`` as problems naming the file and the dotted key."""
    return [
        Problem(
            source,
            None,
            ".".join(str(part) for part in detail["loc"]) or None,
            "unknown key" if detail["type"] == "extra_forbidden" else detail["msg"],
        )
        for detail in error.errors()
    ]
