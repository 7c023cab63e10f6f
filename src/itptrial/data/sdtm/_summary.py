"""What an import did, as data (tallies per domain), and its printed account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from itptrial._errors import Problem
from itptrial.data.sdtm._engine import Tally

DOMAIN_ORDER = ("DM", "DS", "EX", "LB", "CM", "AE", "PC")


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`~itptrial.data.sdtm.import_sdtm` wrote and why.

    ``records``: records written per native table. ``tallies``: for every domain, the
    records read and what became of each (kept, other data, left out and why, units
    converted, dates imputed, doses); the kept and other counts add up to the records
    read. ``notes``: decisions worth knowing (where a date came from, files not read).
    ``warnings``: the loader's warnings in SDTM terms.
    """

    out: Path
    records: Mapping[str, int]
    tallies: tuple[Tally, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def tally(self, domain: str, outcome: str, what: str | None = None) -> int:
        """The count of one outcome of a domain (all of its kinds when ``what`` is None)."""
        return sum(
            t.count
            for t in self.tallies
            if t.domain == domain and t.outcome == outcome and (what is None or t.what == what)
        )

    def report(self) -> str:
        """The summary as printed by ``itptrial import-sdtm``: one line per domain."""
        counts = ", ".join(f"{name} {n}" for name, n in self.records.items())
        lines = [f"wrote {self.out}: {counts}"]
        present = {t.domain for t in self.tallies}
        order = [d for d in DOMAIN_ORDER if d in present] + sorted(present - set(DOMAIN_ORDER))
        lines += [self._domain_line(domain) for domain in order]
        return "\n".join([*lines, *self.notes])

    def _of(self, domain: str, outcome: str) -> list[Tally]:
        return [t for t in self.tallies if t.domain == domain and t.outcome == outcome]

    def _domain_line(self, domain: str) -> str:
        """``LB: 7 records: kept 4 platelet counts (...); other data 1 [other tests 1];
        left out 2 [LBSTAT NOT DONE 1, records of subjects left out 1]; ...``"""
        parts = []
        for t in self._of(domain, "kept"):
            arms = _listed(self._of(domain, "arm"))
            parts.append(f"kept {t.count} {t.what}" + (f" [{arms}]" if arms else ""))
        for outcome, label in (("other", "other data"), ("left out", "left out")):
            tallies = self._of(domain, outcome)
            if tallies:
                total = sum(t.count for t in tallies)
                parts.append(f"{label} {total} [{_listed(tallies)}]")
        for outcome, label in (
            ("derived", "made"),
            ("converted", "converted"),
            ("imputed", "imputed"),
        ):
            parts += [f"{label} {t.count} {t.what}" for t in self._of(domain, outcome)]
        doses = self._of(domain, "dose")
        if doses:
            parts.append("mg in all: " + ", ".join(f"{t.what} {t.count}" for t in doses))
        read = sum(t.count for t in self._of(domain, "read"))
        return f"{domain}: {read} records: " + "; ".join(parts)


def _listed(tallies: list[Tally]) -> str:
    return ", ".join(f"{t.what} {t.count}" for t in tallies)
