"""Problems found in user input, and the exception that carries them.

Every input error in itptrial is reported in the same shape, ``where:line:column:
message``, so that a user can go straight to the offending cell. Loading either succeeds
completely or raises :class:`InputError` listing *every* problem found, never just the
first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


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

    def __str__(self) -> str:
        line = "-" if self.line is None else str(self.line)
        column = "-" if self.column is None else self.column
        return f"{self.where}:{line}:{column}: {self.message}"


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
