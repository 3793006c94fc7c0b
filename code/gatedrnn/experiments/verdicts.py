"""The statistics behind a verdict: a claim about a change is a claim about what it does over seeds, so each
verdict rests on an exact test or a bootstrap interval of paired improvements, and says so when the runs
cannot tell.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from gatedrnn.validation import check_size

# What an ablation can conclude about a change, from the interval of its effect (:func:`verdict`).
HELPS, HURTS, UNCLEAR = "helps", "hurts", "no detectable difference at this budget"
SMALL = "a difference too small to act on"


def fisher_exact(successes_a: int, runs_a: int, successes_b: int, runs_b: int) -> float:
    """Two-sided p-value of Fisher's exact test that two groups of runs share one success rate: the probability,
    with the margins fixed, of a table at most as likely as the observed one (successes_a of runs_a against
    successes_b of runs_b). Small numbers of seeds call for an exact test; a large p says only that the runs cannot
    tell the groups apart, not that they are alike."""
    for name, value in (("successes_a", successes_a), ("runs_a", runs_a), ("successes_b", successes_b),
                        ("runs_b", runs_b)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {value!r}")
    if successes_a > runs_a or successes_b > runs_b or runs_a + runs_b == 0:
        raise ValueError(f"expected 0 <= successes <= runs in each group, got {successes_a}/{runs_a} and "
                         f"{successes_b}/{runs_b}")
    total, successes = runs_a + runs_b, successes_a + successes_b

    def probability(k: int) -> float:  # hypergeometric: k of the successes fall in group a
        return math.comb(runs_a, k) * math.comb(runs_b, successes - k) / math.comb(total, successes)

    observed = probability(successes_a)
    possible = range(max(0, successes - runs_b), min(runs_a, successes) + 1)
    return min(1.0, math.fsum(p for p in map(probability, possible) if p <= observed * (1 + 1e-9)))


def bootstrap_median_interval(values: Iterable[float], level: float = 0.95, *, resamples: int = 10_000,
                              seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``values`` (Efron's percentile method): ``resamples`` samples
    of the same size drawn with replacement by a NumPy generator seeded with ``seed``, the median of each, and the
    (1 - ``level``)/2 and (1 + ``level``)/2 quantiles of those medians. With a handful of seeds the interval is
    coarse, and its ends are extreme values of the sample: for five values at ``level`` 0.95 it runs from the
    smallest to the largest (a resample's median is the smallest value with probability 0.058), so it excludes 0
    only when all five lie on one side of it, the two-sided sign test at 2/2⁵ ≈ 0.06."""
    x = np.asarray(list(values), dtype=float)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise ValueError(f"values: expected two or more finite numbers, got {x.tolist()!r}")
    if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0 < level < 1:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    check_size("resamples", resamples)
    rows = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    medians = np.median(x[rows], axis=1)
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def verdict(interval: tuple[float, float], median: float, smallest: float) -> str:
    """What an ablation concludes from the median ``median`` of its paired improvements (positive: better than the
    reference) and the interval ``(low, high)`` of that median: ``HELPS`` when the interval lies above 0 and the
    median is at least ``smallest`` (the smallest effect worth a line in a recipe), ``HURTS`` in the mirror case,
    ``SMALL`` when the interval excludes 0 but the median is smaller than ``smallest``, and ``UNCLEAR`` ("no
    detectable difference at this budget") when the interval contains 0."""
    low, high = interval
    for name, value in (("interval", low), ("interval", high), ("median", median), ("smallest", smallest)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{name}: expected finite numbers, got {value!r}")
    if not smallest >= 0:
        raise ValueError(f"smallest: expected a number >= 0, got {smallest!r}")
    if low > 0 and median >= smallest:
        return HELPS
    if high < 0 and median <= -smallest:
        return HURTS
    return SMALL if low > 0 or high < 0 else UNCLEAR


@dataclass(frozen=True)
class Effect:
    """The effect of a change over paired seeds: the median of its improvements, the bootstrap interval
    ``(low, high)`` of that median, and the :func:`verdict` they support."""

    median: float
    low: float
    high: float
    verdict: str


def paired_effect(improvements: Iterable[float], smallest: float = 0.0) -> Effect:
    """The :class:`Effect` of a change from its ``improvements``, one per seed (positive: the change did better than
    its reference on that seed): their median, its 95 % :func:`bootstrap_median_interval`, and the
    :func:`verdict` with ``smallest`` the smallest effect worth acting on."""
    x = np.asarray(list(improvements), dtype=float)
    low, high = bootstrap_median_interval(x)
    median = float(np.median(x))
    return Effect(median, low, high, verdict((low, high), median, smallest))
