"""What the simulator needs of a protocol and a parameter file, checked before any work.

Every regimen must name a drug module the parameter file has (``model``), by that
module's route; trough-guided dosing needs a module with a measurable concentration;
the simulator needs the protocol's ``[visits]`` (with Day 0, where the baseline count is
taken) and ``[eligibility]``, and every arm must be given a treatment. Each problem
names the protocol key (exit 2), nothing is silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from itptrial._errors import InputError, Problem
from itptrial.protocol import Protocol
from itptrial.sim._parameters import ModelParameters

MEASURABLE = ("tacrolimus",)  # drug modules with a concentration a trough can measure


def protocol_problems(
    protocol: Protocol, params: ModelParameters, arms: Sequence[str] | None = None
) -> list[Problem]:
    """Why the protocol cannot be simulated for ``arms`` (all arms by default): an arm
    left out (0 subjects) needs no regimen the model can give."""
    simulated = set(protocol.arm_codes if arms is None else arms)
    where = protocol.source
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(where, None, key, message))

    if protocol.visits is None:
        problem("visits", "the protocol has no [visits]: the simulator follows its visit days")
    elif protocol.visits.days[0] != 0:
        problem("visits.days", "must include day 0 (the baseline count is taken then)")
    if protocol.eligibility is None:
        problem("eligibility", "the protocol has no [eligibility]: the virtual population needs it")
    modules = params.drug_modules()
    known = ", ".join(modules)
    for key, regimen in protocol.regimens.items():
        if not simulated & set(regimen.arms):
            continue
        if regimen.model not in modules:
            message = f"the model parameter file has no drug module {regimen.model!r} ({known})"
            problem(f"regimens.{key}.model", message)
        elif regimen.route != modules[regimen.model]:
            message = f"the {regimen.model} model is {modules[regimen.model]}, not {regimen.route}"
            problem(f"regimens.{key}.route", message)
        elif regimen.tdm is not None and regimen.model not in MEASURABLE:
            message = f"the {regimen.model} model has no measurable trough concentration"
            problem(f"regimens.{key}.tdm", message)
        elif regimen.tdm is not None and regimen.tdm.strategy == "map":
            step, tdm = regimen.dose_step_mg or 0.0, regimen.tdm
            if tdm.max_daily_dose_mg < 2 * step:
                message = (
                    f"strategy map doses twice daily in whole {step:g} mg steps: "
                    f"max_daily_dose_mg must be at least {2 * step:g}"
                )
                problem(f"regimens.{key}.tdm.max_daily_dose_mg", message)
    for arm in (code for code in protocol.arm_codes if code in simulated):
        given = [k for k, r in protocol.regimens.items() if arm in r.arms]
        if not given:
            problem("regimens", f"no regimen treats arm {arm}: every arm needs one to simulate")
        guided = [k for k in given if protocol.regimens[k].tdm is not None]
        if len(guided) > 1:
            problem("regimens", f"arm {arm} has two trough-guided regimens ({', '.join(guided)})")
    return problems


def check_simulation(protocol: Protocol, params: ModelParameters, n_per_arm: Sequence[int]) -> None:
    """Raise :class:`InputError` listing every reason the protocol cannot be simulated."""
    arms = protocol.arm_codes
    sizes_ok = len(n_per_arm) == len(arms) and all(int(n) >= 0 for n in n_per_arm)
    simulated = [a for a, n in zip(arms, n_per_arm, strict=False) if int(n) > 0]
    problems = protocol_problems(protocol, params, simulated if sizes_ok else None)
    if not sizes_ok or not simulated:
        message = (
            f"expected one number of subjects per arm, in protocol order "
            f"({', '.join(arms)}), at least one positive (0 leaves an arm out); "
            f"got {list(n_per_arm)}"
        )
        problems.append(Problem("--n-per-arm", None, None, message))
    if problems:
        raise InputError(problems)
