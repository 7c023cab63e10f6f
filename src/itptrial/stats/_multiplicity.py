"""Adjusting p-values for several comparisons of one endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from statsmodels.stats.multitest import multipletests


def holm(p_values: Sequence[float | None]) -> tuple[float | None, ...]:
    """Holm's step-down adjusted p-values, in the order given.

    Parameters
    ----------
    p_values : sequence of float or None
        The unadjusted p-values of a family of comparisons (e.g. every experimental arm
        against the control on one endpoint). ``None`` marks an undefined test.

    Returns
    -------
    tuple
        With the defined p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value
        of ``p_(i)`` is ``min(1, max_{j <= i} (m - j + 1) p_(j))``. ``None`` stays
        ``None`` and is not counted in the family (R counts only non-NA values).

    Notes
    -----
    statsmodels ``multipletests(method="holm")``, equal to R
    ``p.adjust(p, method = "holm")`` (tests/test_stats_reference.py). It controls the
    family-wise error rate under any dependence between the tests.

    References
    ----------
    Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat
    1979;6:65-70.
    """
    values = [None if p is None else float(p) for p in p_values]
    if any(p is not None and not 0.0 <= p <= 1.0 for p in values):
        raise ValueError(f"p-values must lie in [0, 1], got {values}")
    defined = [p for p in values if p is not None]
    if not defined:
        return tuple(values)
    adjusted = iter(float(p) for p in multipletests(defined, method="holm")[1])
    return tuple(None if p is None else next(adjusted) for p in values)
