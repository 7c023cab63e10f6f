"""Trial design: sample size for two proportions, fixed or group-sequential, equal to rpact.

::

    from itptrial.design import group_sequential_design, sample_size_rates

    plan = sample_size_rates(control=0.411, experimental=0.646)           # fixed, 2-sided
    plan.n_experimental, plan.n_control, plan.n_total_exact               # 70, 70, 139.28
    gs = sample_size_rates(0.411, 0.646, looks=3, boundary="asof", dropout=0.1)
    [look.boundary_z for look in gs.per_look]                             # z boundaries
    gs.as_dict()                                  # the `design sample-size --json` object

    design = group_sequential_design(5, "pocock", alpha=0.05, power=0.8, sided=2)
    design.critical_values, design.inflation_factor, design.alpha_spent

    from itptrial.design import assurance, randomization_list

    assurance((31, 48), (23, 56), 70, 70).assurance      # 0.696 (power at estimate 0.807)
    randomization_list(["TAC_DXM", "DXM"], 100, strata=["site1", "site2"], seed=7)

Results are frozen dataclasses of plain floats/ints (``None`` where a boundary does not
exist on the rate-difference scale, with a ``note``) naming their method's source in
``reference``.  Invalid input raises ``ValueError`` with a message naming it.

Methods and their equality with R rpact 3.3.4: docs/design.md; validation:
tests/test_design_sample_size.py against tests/reference/rpact_grid.json.
"""

from itptrial.design._assurance import Assurance, assurance, exact_power, success_table
from itptrial.design._distributed import dask_client, machine_workers, run_tasks
from itptrial.design._dosing import (
    STRATEGIES,
    DosingEvaluation,
    DosingSetup,
    PatientCourse,
    StrategyResult,
    dosing_setup,
    evaluate_dosing,
    patient_measures,
    protocol_dosing_setup,
    simulate_patient,
)
from itptrial.design._group_sequential import (
    BOUNDARIES,
    MAX_LOOKS,
    Boundary,
    CrossingProbabilities,
    GroupSequentialDesign,
    crossing_probabilities,
    group_sequential_design,
)
from itptrial.design._power import (
    EndpointDistribution,
    LookResult,
    Phase2Assurance,
    SequentialResult,
    SimulatedPower,
    Summary,
    check_power_arguments,
    look_sizes,
    pearson_z,
    phase2_assurance,
    simulated_power,
    two_sided_p,
)
from itptrial.design._randomization import (
    IncompleteBlock,
    RandomizationList,
    randomization_list,
)
from itptrial.design._render import assurance_text, dosing_text, power_text, sample_size_text
from itptrial.design._sample_size import Look, SampleSizeRates, sample_size_rates

__all__ = [
    "BOUNDARIES",
    "MAX_LOOKS",
    "STRATEGIES",
    "Assurance",
    "Boundary",
    "CrossingProbabilities",
    "DosingEvaluation",
    "DosingSetup",
    "EndpointDistribution",
    "GroupSequentialDesign",
    "IncompleteBlock",
    "Look",
    "LookResult",
    "PatientCourse",
    "Phase2Assurance",
    "RandomizationList",
    "SampleSizeRates",
    "SequentialResult",
    "SimulatedPower",
    "StrategyResult",
    "Summary",
    "assurance",
    "assurance_text",
    "check_power_arguments",
    "crossing_probabilities",
    "dask_client",
    "dosing_setup",
    "dosing_text",
    "evaluate_dosing",
    "exact_power",
    "group_sequential_design",
    "look_sizes",
    "machine_workers",
    "patient_measures",
    "pearson_z",
    "phase2_assurance",
    "power_text",
    "protocol_dosing_setup",
    "randomization_list",
    "run_tasks",
    "sample_size_rates",
    "sample_size_text",
    "simulate_patient",
    "simulated_power",
    "success_table",
    "two_sided_p",
]
