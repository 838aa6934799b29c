"""Plots of many runs: past a dozen lines a legend cannot tell them apart, so each group of runs
is drawn as its mean and a quantile band over thin lines of every run.

matplotlib and numpy are imported inside the functions, like everywhere in the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from consolidate.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: More simulations than this are drawn as bands, not as a line each with a legend entry.
BAND_ABOVE = 12
#: The band: from the 10th to the 90th percentile of the runs at each step.
QUANTILES = (0.1, 0.9)
ALL_RUNS = "all runs"


def groups_by_parameter(parameters: Mapping[str, object], key: str) -> dict[str, str]:
    """Each simulation's group, ``key=value`` from its ``simulations.parameters`` JSON object;
    ``key unset`` for a simulation whose parameters lack it.

    Raises:
        UsageError: no simulation has ``key`` (the keys that exist are named).
    """
    groups: dict[str, str] = {}
    keys: set[str] = set()
    for simulation, raw in parameters.items():
        try:
            values = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            values = None
        if isinstance(values, dict):
            keys.update(values)
        if isinstance(values, dict) and key in values:
            value = values[key]
            shown = value if isinstance(value, str) else json.dumps(value)
            groups[simulation] = f"{key}={shown}"
        else:
            groups[simulation] = f"{key} unset"
    if key not in keys:
        known = ", ".join(sorted(keys)) or "none (no simulation has parameters)"
        raise UsageError(f"--group-by {key}: no simulation has that parameter; keys: {known}")
    return groups


def draw_bands(
    axes: Axes,
    steps: Sequence[int],
    lines: Mapping[str, Sequence[float]],
    groups: Mapping[str, str],
) -> int:
    """Per group: a thin line for each run, the band between the quantiles and the mean.

    Returns the number of groups drawn. Steps where a run has no value are left out of that
    step's mean and band; a simulation missing from ``groups`` is among "all runs".
    """
    import warnings

    import numpy as np

    members: dict[str, list[str]] = {}
    for simulation in lines:
        members.setdefault(groups.get(simulation, ALL_RUNS), []).append(simulation)
    low_q, high_q = QUANTILES
    band = f"{low_q:.0%}-{high_q:.0%} of runs"
    for i, (label, sims) in enumerate(sorted(members.items())):
        colour = f"C{i % 10}"
        values = np.array([lines[s] for s in sims], dtype=float)
        for row in values:
            axes.plot(steps, row, color=colour, linewidth=0.5, alpha=0.3, label="_nolegend_")
        with warnings.catch_warnings():  # a step no run reached is NaN, and says so
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
            low, high = np.nanquantile(values, QUANTILES, axis=0)
        axes.fill_between(
            steps, low, high, color=colour, alpha=0.2, linewidth=0, label=f"{label}: {band}"
        )
        axes.plot(steps, mean, color=colour, linewidth=2, label=f"{label}: mean of {len(sims)}")
    return len(members)
