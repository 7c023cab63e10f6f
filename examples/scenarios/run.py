"""Scenarios the virtual patient must answer sensibly (docs/calibration.md, "Scenarios"):
each protocol of this folder, and TARGET 020 itself, run as virtual trials of 200
subjects per arm, each trial with its own draw of the shipped posterior.

    python examples/scenarios/run.py [--trials 200] [--seed 20261203]

Prints one markdown table: every binary endpoint and arm, with the median and 95%
predictive interval of the trial's rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from itptrial import load_protocol
from itptrial.sim import load_posterior
from itptrial.sim._checks import scenario_outcomes

HERE = Path(__file__).parent
SCENARIOS = (
    "target020",
    str(HERE / "one_course.toml"),
    str(HERE / "tacrolimus_alone.toml"),
    str(HERE / "tacrolimus_24_weeks.toml"),
    str(HERE / "sustained_12_months.toml"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--per-arm", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args()
    posterior = load_posterior("target020")
    draws = [posterior.draw(k) for k in range(args.trials)]
    print("| scenario | endpoint | arm | median | 95% interval |")
    print("|---|---|---|---|---|")
    for spec in SCENARIOS:
        protocol = load_protocol(spec)
        sizes = (args.per_arm,) * len(protocol.arms)
        for o in scenario_outcomes(protocol, sizes, draws, args.seed):
            low, high = o.interval_95
            print(
                f"| {protocol.name} | {o.quantity} | {o.arm} | {100 * o.median:.1f}% "
                f"| {100 * low:.1f}-{100 * high:.1f}% |"
            )


if __name__ == "__main__":
    main()
