"""Write the example TARGET 020 dataset in examples/target020_example/ (deterministic).

Twenty hand-designed subjects, each a named scenario of docs/endpoints.md, so that the
adjudication of every rule can be read off the output. Run from the repository root::

    python examples/make_example.py

The output is committed; re-running it reproduces the files byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

OUT = Path(__file__).parent / "target020_example"
FIRST_RANDOMIZATION = dt.date(2021, 3, 1)


@dataclass
class Scenario:
    """One subject in study days (t = 0 is the first dose)."""

    subject_id: str
    arm: str
    what: str
    counts: dict[int, float]
    bleeding: dict[int, int] = field(default_factory=dict)
    rescue: dict[int, str] = field(default_factory=dict)
    aes: list[tuple[str, int, int, bool, bool]] = field(default_factory=list)
    treated: bool = True
    sex: str = "F"
    age: int = 45
    stratum: str = "plt<10"
    site: str = "PKU01"


SCENARIOS = [
    Scenario(
        "T01",
        "TAC_DXM",
        "initial PR, sustained PR (worked example 1)",
        {-2: 12, 7: 20, 14: 45, 28: 60, 56: 72, 84: 80, 112: 90, 140: 88, 180: 85},
        aes=[("tremor", 10, 1, False, True)],
    ),
    Scenario(
        "T02",
        "TAC_DXM",
        "initial CR, relapse on day 14, sustained CR (example 2)",
        {0: 12, 7: 110, 14: 24, 21: 150, 56: 140, 112: 130, 183: 120},
        aes=[("hyperglycaemia", 3, 2, False, True)],
    ),
    Scenario(
        "T03",
        "TAC_DXM",
        "initial CR sustained to 6 months",
        {-1: 6, 3: 40, 7: 120, 14: 160, 28: 180, 84: 150, 140: 140, 178: 135},
        sex="M",
        age=62,
        aes=[("headache", 2, 1, False, True)],
    ),
    Scenario(
        "T04",
        "TAC_DXM",
        "late responder (day 35): not initial, sustained PR",
        {-3: 9, 7: 12, 14: 15, 28: 22, 35: 48, 84: 70, 180: 66},
        stratum="plt>=10",
        age=38,
    ),
    Scenario(
        "T05",
        "TAC_DXM",
        "initial PR, rescue IVIG on day 60 after a bleed",
        {0: 5, 7: 45, 14: 50, 28: 31, 56: 12, 84: 40, 182: 30},
        bleeding={56: 2},
        rescue={60: "IVIG"},
        sex="M",
        age=29,
        aes=[("epistaxis", 56, 2, False, False)],
    ),
    Scenario(
        "T06",
        "TAC_DXM",
        "non-responder: counts stay below 30",
        {0: 8, 7: 14, 14: 20, 28: 25, 84: 22, 180: 18},
        age=71,
        aes=[("insomnia", 1, 1, False, True), ("insomnia", 20, 2, False, True)],
    ),
    Scenario(
        "T07",
        "TAC_DXM",
        "response blocked by grade-2 bleeding on day 7; PR on day 14",
        {0: 10, 7: 35, 14: 42, 28: 55, 180: 70},
        bleeding={7: 2, 28: 1},
        stratum="plt>=10",
    ),
    Scenario(
        "T08",
        "TAC_DXM",
        "exactly 30 = 2x baseline on day 10; days 174/186 tie: 186 decides",
        {-1: 15, 10: 30, 21: 45, 174: 38, 186: 29},
        sex="M",
        age=51,
    ),
    Scenario(
        "T09", "TAC_DXM", "randomized but never treated (not evaluable)", {-1: 11}, treated=False
    ),
    Scenario(
        "T10",
        "TAC_DXM",
        "initial PR, serious infection, sustained NE (lost to follow-up)",
        {0: 7, 7: 38, 14: 61, 28: 75, 56: 70},
        aes=[("pneumonia", 40, 2, True, False)],
        age=66,
    ),
    Scenario(
        "C01",
        "DXM",
        "initial PR, relapse on day 28, sustained NR",
        {-1: 10, 7: 60, 14: 42, 28: 18, 84: 15, 180: 22},
        sex="M",
    ),
    Scenario(
        "C02",
        "DXM",
        "below 2x baseline (worked example 3): NR",
        {0: 20, 10: 35, 28: 33, 180: 36},
        stratum="plt>=10",
    ),
    Scenario(
        "C03",
        "DXM",
        "initial PR, rescue on day 90 (worked example 4)",
        {0: 8, 7: 60, 56: 45, 84: 26, 178: 140},
        rescue={90: "IVIG"},
        age=57,
        aes=[("hyperglycaemia", 2, 1, False, True)],
    ),
    Scenario(
        "C04",
        "DXM",
        "initial CR, sustained CR",
        {-4: 4, 7: 150, 14: 210, 28: 190, 84: 160, 168: 120, 190: 140},
        sex="M",
        age=33,
    ),
    Scenario(
        "C05", "DXM", "no baseline count in the window (not evaluable)", {-20: 6, 7: 80, 180: 90}
    ),
    Scenario(
        "C06",
        "DXM",
        "non-responder rescued on day 10",
        {0: 3, 3: 5, 7: 4, 14: 30, 28: 55, 180: 60},
        bleeding={9: 3},
        rescue={10: "platelet transfusion"},
        age=80,
        aes=[("haematuria", 9, 2, False, False)],
    ),
    Scenario(
        "C07",
        "DXM",
        "initial PR lost on day 21, recovered: sustained PR",
        {-1: 12, 7: 40, 21: 20, 56: 45, 176: 50, 184: 31},
        stratum="plt>=10",
    ),
    Scenario(
        "C08",
        "DXM",
        "response on day 28 (last day of the window)",
        {0: 9, 7: 14, 14: 20, 28: 33, 84: 40, 180: 44},
        sex="M",
        age=24,
    ),
    Scenario(
        "C09",
        "DXM",
        "repeated identical count record (warned, used once)",
        {0: 14, 7: 50, 14: 62, 180: 18},
        age=49,
        aes=[("mood change", 4, 1, False, True)],
    ),
    Scenario(
        "C10",
        "DXM",
        "bleeding-only day is a loss of response",
        {0: 6, 7: 44, 28: 70, 180: 90},
        bleeding={14: 2},
        age=41,
    ),
]


def _iso(day0: dt.date, t: int) -> str:
    return (day0 + dt.timedelta(days=t)).isoformat()


def build() -> dict[str, pl.DataFrame]:
    rows: dict[str, list[dict[str, object]]] = {
        name: []
        for name in (
            "subjects",
            "platelets",
            "bleeding",
            "rescue",
            "adverse_events",
            "doses",
            "drug_levels",
        )
    }
    for i, s in enumerate(SCENARIOS):
        randomized = FIRST_RANDOMIZATION + dt.timedelta(days=7 * i)
        day0 = randomized + dt.timedelta(days=1)
        last_t = max(s.counts)
        rows["subjects"].append(
            {
                "subject_id": s.subject_id,
                "site_id": s.site,
                "arm": s.arm,
                "randomization_date": randomized.isoformat(),
                "treatment_start_date": day0.isoformat() if s.treated else "",
                "stratum": s.stratum,
                "sex": s.sex,
                "age": s.age,
                "last_contact_date": _iso(day0, last_t),
                "scenario": s.what,
            }
        )
        rows["platelets"] += [
            {"subject_id": s.subject_id, "date": _iso(day0, t), "count": c}
            for t, c in sorted(s.counts.items())
        ]
        if s.subject_id == "C09":
            rows["platelets"].append(dict(rows["platelets"][-1]))
        rows["bleeding"] += [
            {"subject_id": s.subject_id, "date": _iso(day0, t), "who_grade": g}
            for t, g in sorted(s.bleeding.items())
        ]
        rows["rescue"] += [
            {"subject_id": s.subject_id, "start_date": _iso(day0, t), "treatment": r}
            for t, r in sorted(s.rescue.items())
        ]
        rows["adverse_events"] += [
            {
                "subject_id": s.subject_id,
                "term": term,
                "start_date": _iso(day0, t),
                "ctcae_grade": grade,
                "serious": str(serious).lower(),
                "related": str(related).lower(),
            }
            for term, t, grade, serious, related in s.aes
        ]
        if not s.treated:
            continue
        courses = [0, 1, 2, 3]
        if s.counts.get(14, 0) < 30 or s.subject_id in ("T06", "C06"):
            courses += [14, 15, 16, 17]  # second course when no response by day 14
        rows["doses"] += [
            {
                "subject_id": s.subject_id,
                "date": _iso(day0, t),
                "drug": "dexamethasone",
                "dose_mg": 40,
            }
            for t in courses
        ]
        if s.arm == "TAC_DXM":
            weight = 60 + (i % 5) * 4
            dose = round(0.03 * weight * 2) / 2
            rows["doses"] += [  # daily total dose for 12 weeks (to the last contact)
                {
                    "subject_id": s.subject_id,
                    "date": _iso(day0, t),
                    "drug": "tacrolimus",
                    "dose_mg": dose,
                }
                for t in range(min(84, last_t + 1))
            ]
            rows["drug_levels"] += [
                {
                    "subject_id": s.subject_id,
                    "date": _iso(day0, t),
                    "drug": "tacrolimus",
                    "trough_ng_ml": round(2.6 + 0.35 * ((i * 7 + t) % 7), 1),
                }
                for t in (7, 14, 28, 56, 84)
                if t <= last_t
            ]
    return {name: pl.DataFrame(r, infer_schema_length=None) for name, r in rows.items()}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, frame in build().items():
        frame.write_csv(OUT / f"{name}.csv")
    print(f"wrote {OUT} ({len(SCENARIOS)} subjects)")


if __name__ == "__main__":
    main()
