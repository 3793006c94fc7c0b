"""Time to solve: a run that has not yet solved a task when training stops is not a run that fails, only one whose
solution, if any, comes later. So an experiment records the held-out score along the way, and its outcome is the
first step at which that score crosses a *solved line*; a run that never crosses it within the budget is
*censored* there (its time is only known to exceed the budget).

Every run of one experiment stops at the same budget, so the censoring is all at one time, after every observed
solution. The Kaplan–Meier estimate of the share of runs not yet solved at step t is then the plain share of runs
whose time exceeds t, and its median, the first time at which at most half the runs remain unsolved, is known
exactly when more than half the runs solved and is "beyond the budget" otherwise (:func:`median_time`).
"""

from __future__ import annotations

import math
import numbers
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

from gatedrnn.experiments.sweeps import SeedRun


def _check_line(line: object) -> float:
    if not isinstance(line, numbers.Real) or isinstance(line, bool) or not math.isfinite(line):
        raise ValueError(f"line: expected a finite number, got {line!r}")
    return float(line)


def time_to_solve(run: SeedRun, line: float, *, higher_is_better: bool = False) -> float:
    """When ``run``'s held-out score (its ``checkpoints``) first crosses ``line``: below it, or above it with
    ``higher_is_better``; ``math.inf`` if it never does within the run (the run is censored at its budget). A run
    stopped by inf/NaN never solved. Between the last checkpoint on the wrong side and the first on the right side
    the crossing is placed by linear interpolation of the logarithm of the score (the error falls by factors, not by
    amounts), so that two runs crossing between the same checkpoints are still ordered; a run already across at
    its first checkpoint gets that checkpoint's step. The run must have been trained with ``evaluate_every``."""
    if not isinstance(run, SeedRun):
        raise TypeError(f"run: expected a sweeps.SeedRun, got {type(run).__name__}")
    if not run.checkpoints and run.error is None:
        raise ValueError(f"run: expected held-out checkpoints (train with evaluate_every), got none for seed "
                         f"{run.seed}")
    line = _check_line(line)
    sign = -1.0 if higher_is_better else 1.0
    previous = None
    for step, score in run.checkpoints:
        if sign * score < sign * line:
            if previous is None or not (previous[1] > 0 and score > 0 and line > 0):
                return float(step)
            (k0, s0), (k1, s1) = previous, (step, score)
            share = (math.log(s0) - math.log(line)) / (math.log(s0) - math.log(s1))
            return float(k0 + share * (k1 - k0))
        previous = (step, score)
    return math.inf


def _check_times(times: Iterable[float], budget: float) -> np.ndarray:
    t = np.asarray(list(times), dtype=float)
    if t.ndim != 1 or len(t) == 0 or np.isnan(t).any() or (t <= 0).any():
        raise ValueError(f"times: expected one or more times > 0 (inf for a censored run), got {t.tolist()!r}")
    if not isinstance(budget, numbers.Real) or isinstance(budget, bool) or not 0 < budget < math.inf:
        raise ValueError(f"budget: expected a finite number > 0, got {budget!r}")
    if (t[np.isfinite(t)] > budget).any():
        raise ValueError(f"times: expected finite times at most the budget {budget}, got {t.tolist()!r}")
    return t


def solve_times(runs: Iterable[SeedRun], line: float, *, higher_is_better: bool = False) -> np.ndarray:
    """:func:`time_to_solve` of every run in ``runs``, in order (inf where censored)."""
    return np.array([time_to_solve(run, line, higher_is_better=higher_is_better) for run in runs], dtype=float)


def median_time(times: Iterable[float], budget: float) -> float:
    """The Kaplan–Meier median time to solve of runs all censored at ``budget`` (``times`` from
    :func:`time_to_solve`, inf for a censored run): the first time at which fewer than half the runs are unsolved,
    or, where exactly half are unsolved over an interval, its midpoint (the convention of R's ``survfit``). With
    every censored run later than every solution this is the ordinary median with censored runs counted as
    infinite: ``math.inf`` unless more than half solved within the budget."""
    return float(np.median(_check_times(times, budget)))


def solved_share(times: Iterable[float], budget: float) -> float:
    """The share of runs that solved within ``budget``."""
    return float(np.isfinite(_check_times(times, budget)).mean())


def fastest(times: Mapping[Hashable, Iterable[float]], budget: float,
            final: Mapping[Hashable, float] | None = None) -> Hashable:
    """The setting (a learning rate of a grid, say) whose runs solve soonest: the smallest :func:`median_time` of
    ``times[key]``; among equal medians (every one beyond the budget, say) the largest :func:`solved_share`, then,
    where ``final`` is given, the smallest ``final[key]`` (a median final error); then the first key."""
    if not isinstance(times, Mapping) or not times:
        raise ValueError(f"times: expected a mapping of one or more settings to their times, got {times!r}")
    if final is not None and set(final) != set(times):
        raise ValueError(f"final: expected a value for each of the settings {list(times)}, got {list(final)}")

    def order(key: Hashable) -> tuple[float, float, float]:
        t = _check_times(times[key], budget)
        return float(np.median(t)), -float(np.isfinite(t).mean()), 0.0 if final is None else float(final[key])

    return min(times, key=order)


def learning_curves(runs: Sequence[SeedRun]) -> tuple[np.ndarray, np.ndarray]:
    """The held-out learning curves of ``runs`` trained with one ``evaluate_every``: ``(steps, scores)`` with
    ``scores[s, k]`` the score of run s after ``steps[k]``; a run stopped by inf/NaN has NaN from there on."""
    runs = list(runs)
    if not runs or not all(isinstance(r, SeedRun) for r in runs):
        raise TypeError("runs: expected one or more sweeps.SeedRun")
    steps = max((tuple(step for step, _ in r.checkpoints) for r in runs), key=len)
    if not steps:
        raise ValueError("runs: expected held-out checkpoints (train with evaluate_every), got none")
    scores = np.full((len(runs), len(steps)), np.nan)
    for s, run in enumerate(runs):
        for k, (step, score) in enumerate(run.checkpoints):
            if step != steps[k]:
                raise ValueError(f"runs: expected the same checkpoint steps, got {step} for seed {run.seed} where "
                                 f"another run has {steps[k]}")
            scores[s, k] = score
    return np.asarray(steps, dtype=float), scores
