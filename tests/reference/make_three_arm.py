"""Write the three-arm dataset that ``make_reference.R`` analyses pairwise in R.

A virtual trial of the example phase 3 protocol (examples/phase3/protocol.toml: two
tacrolimus arms and a dexamethasone control, 60 patients each, seed 20261201), kept to
the tables the endpoints use, and its adjudicated ``endpoints.csv``. Deterministic; run
from the repository root::

    python tests/reference/make_three_arm.py
    Rscript tests/reference/make_reference.R

Both outputs are committed, so the tests never need R (tests/test_three_arms.py).
"""

from __future__ import annotations

from pathlib import Path

from itptrial import adjudicate, dataset_from_frames, load_protocol, write_dataset
from itptrial.endpoints import write_endpoints
from itptrial.sim import simulate_trial

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "examples" / "phase3" / "protocol.toml"
OUT = ROOT / "tests" / "reference" / "three_arm"
SEED = 20261201
PER_ARM = 60
TABLES = ("subjects", "platelets", "bleeding", "rescue")  # what the endpoints read


def main() -> None:
    protocol = load_protocol(str(PROTOCOL))
    tables = simulate_trial(protocol, (PER_ARM,) * len(protocol.arms), seed=SEED)
    kept = {name: tables[name] for name in TABLES}
    write_dataset(kept, OUT / "data")
    endpoints = adjudicate(dataset_from_frames(kept, protocol), protocol)
    write_endpoints(endpoints, OUT / "endpoints.csv")


if __name__ == "__main__":
    main()
