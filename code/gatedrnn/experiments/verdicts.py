"""The statistics behind a verdict: a claim about a change is a claim about what it does over seeds, so each
verdict rests on an exact test of paired improvements, corrected for the many rows of a table, and says what the
design could have detected when the runs cannot tell.

The paired test is the *sign test*: with the same seed (same initial weights where the architecture is shared,
same batches) for a change and its reference, each seed is a pair, and under the hypothesis that the change does
nothing either of the two is equally likely to do better. It needs no assumption about the size or shape of the
differences, so it applies unchanged to times to solve with censored runs (:func:`paired_times`), to accuracies,
and to paired successes, where it is the exact McNemar test. Its price is power: with n pairs its smallest
two-sided p-value is 2/2ⁿ, so five seeds can never reach 0.05 and a table of twenty rows needs ten seeds
(:func:`detectable_win_rate` says what a design can detect).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from gatedrnn.experiments.survival import median_time

# What an ablation can conclude about a change (:func:`decide`).
HELPS, HURTS, UNCLEAR = "helps", "hurts", "no detectable difference at this budget"
SMALL = "a difference too small to act on"
# The level of every test in the book, after Holm's correction across a table.
LEVEL = 0.05
# The smallest ratio of two medians (times to solve, errors) worth a line in a recipe.
SMALLEST_RATIO = 1.25


def _check_count(name: str, value: object) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {value!r}")
    return int(value)


def _check_level(name: str, value: object) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")
    return float(value)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided p-value of the exact sign test: the probability, if each non-tied pair is a fair coin, of a split
    at least as uneven as ``wins`` against ``losses`` (ties are left out before). For paired successes (a seed that
    solves with one setting and not with the other) this is the exact McNemar test. 1 when there is no non-tied
    pair."""
    wins, losses = _check_count("wins", wins), _check_count("losses", losses)
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    tail = math.fsum(math.comb(n, j) for j in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def holm(p_values: Iterable[float]) -> list[float]:
    """Holm's step-down adjustment of the ``p_values`` of one table's rows: the k-th smallest is multiplied by
    (m - k + 1), running maxima keep the order, and none exceeds 1. Rejecting where the adjusted value is below a
    level keeps the chance of any false rejection in the table at most that level, whatever the dependence between
    rows."""
    p = np.asarray(list(p_values), dtype=float)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p_values: expected numbers in [0, 1], got {p.tolist()!r}")
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def detectable_win_rate(pairs: int, level: float = LEVEL, power: float = 0.8) -> float:
    """The smallest probability q that a change beats its reference on a seed for which the two-sided sign test on
    ``pairs`` non-tied pairs rejects at ``level`` with probability at least ``power``: the design's smallest
    detectable effect, as a win rate (1/2 is no effect). ``math.inf`` when no split of ``pairs`` reaches the
    level, so that no effect at all is detectable."""
    n = _check_count("pairs", pairs)
    level, power = _check_level("level", level), _check_level("power", power)
    needed = next((k for k in range(n // 2, n + 1) if sign_test(k, n - k) <= level), None)
    if needed is None:
        return math.inf

    def detected(q: float) -> float:  # P(at least `needed` wins of n)
        return math.fsum(math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(needed, n + 1))

    low, high = 0.5, 1.0
    for _ in range(60):  # bisection: detected(q) increases with q
        middle = (low + high) / 2
        low, high = (middle, high) if detected(middle) < power else (low, middle)
    return high


def paired_times(times: Iterable[float], reference: Iterable[float]) -> np.ndarray:
    """Per seed, the sign of a change's advantage in time to solve over its reference: +1 where the change solved
    first (or solved and the reference did not), -1 in the mirror case, 0 for a tie (equal times, or neither
    solved). Both arms stop at the same budget, so a censored time (inf) is later than any observed one and the
    order of every pair is known, except two censored runs, which tie."""
    a, b = (np.asarray(list(t), dtype=float) for t in (times, reference))
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0 or np.isnan(a).any() or np.isnan(b).any():
        raise ValueError(f"times, reference: expected two equal-length lists of times (inf when censored), got "
                         f"{a.tolist()!r} and {b.tolist()!r}")
    both = np.isinf(a) & np.isinf(b)
    return np.sign(np.where(both, 0.0, b) - np.where(both, 0.0, a)).astype(float)


@dataclass(frozen=True)
class PairedTest:
    """A change against its reference over paired seeds: the seeds on which it did better (``wins``), worse
    (``losses``) or the same (``ties``), the two-sided sign test's ``p`` (before any correction), and the
    :func:`detectable_win_rate` of the non-tied pairs at ``level`` (the design's smallest detectable effect)."""

    wins: int
    losses: int
    ties: int
    p: float
    detectable: float


def paired_test(improvements: Iterable[float], level: float = LEVEL) -> PairedTest:
    """The :class:`PairedTest` of a change from its ``improvements``, one per seed (positive: the change did better
    than its reference on that seed; 0: a tie; :func:`paired_times` gives signs for times to solve). ``level`` is
    the level at which the detectable effect is worked out: for a row of a table of m rows, Holm's strictest step,
    ``LEVEL / m``, gives the effect the row is sure to be tested at."""
    d = np.asarray(list(improvements), dtype=float)
    if d.ndim != 1 or len(d) == 0 or not np.isfinite(d).all():
        raise ValueError(f"improvements: expected one or more finite numbers, got {d.tolist()!r}")
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    return PairedTest(wins, losses, len(d) - wins - losses, sign_test(wins, losses),
                      detectable_win_rate(wins + losses, level))


def decide(p: float, effect: float, smallest: float, level: float = LEVEL) -> str:
    """The verdict on a change from its (Holm-adjusted) test ``p`` and the size of its ``effect`` (positive: better
    than the reference): ``HELPS`` when p < ``level`` and the effect is at least ``smallest`` (the smallest effect
    worth a line in a recipe), ``HURTS`` in the mirror case, ``SMALL`` when p < ``level`` but the effect is
    smaller, and ``UNCLEAR`` otherwise."""
    for name, value in (("p", p), ("effect", effect), ("smallest", smallest)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isnan(value):
            raise ValueError(f"{name}: expected a number, got {value!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"p: expected a number in [0, 1], got {p!r}")
    if not 0 <= smallest < math.inf:
        raise ValueError(f"smallest: expected a finite number >= 0, got {smallest!r}")
    _check_level("level", level)
    if p >= level:
        return UNCLEAR
    if effect >= smallest:
        return HELPS
    return HURTS if effect <= -smallest else SMALL


def time_effect(times: Iterable[float], reference: Iterable[float], budget: float) -> float:
    """The logarithm of a change's speed-up, the reference's median time to solve over the change's (eq.
    time-to-solve, all runs censored at ``budget``), for :func:`decide`. Where a median lies beyond the budget the
    size of the speed-up is not known, so the effect counts as unbounded in the direction of the paired outcomes
    (:func:`paired_times`): ``+inf`` where the change's median is known and the reference's is not, ``-inf`` in the
    mirror case, and, where both are censored, the sign of the wins minus the losses (0 for a tie)."""
    a, b = np.asarray(list(times), dtype=float), np.asarray(list(reference), dtype=float)
    row, ref = median_time(a, budget), median_time(b, budget)
    if math.isinf(row) and math.isinf(ref):
        balance = float(paired_times(a, b).sum())
        return math.copysign(math.inf, balance) if balance else 0.0
    if math.isinf(row) or math.isinf(ref):
        return -math.inf if math.isinf(row) else math.inf
    return math.log(ref / row)


def grid_end(rate: float, grid: Iterable[float]) -> str | None:
    """``"lowest"`` or ``"highest"`` where the best ``rate`` is an end of its ``grid`` of learning rates, else
    ``None``. A best rate at an end cannot say whether going further would have helped, so every table flags it."""
    grid = sorted(grid)
    if rate not in grid:
        raise ValueError(f"rate: expected one of the grid {grid}, got {rate!r}")
    if len(grid) < 2:
        raise ValueError(f"grid: expected two or more rates, got {grid}")
    return "lowest" if rate == grid[0] else "highest" if rate == grid[-1] else None
