"""Time to solve, censored at the budget, against statsmodels' Kaplan–Meier estimator and by hand."""

import math

import numpy as np
import pytest

from gatedrnn.experiments import survival
from gatedrnn.experiments.sweeps import SeedRun
from gatedrnn.experiments.training import History


def run(checkpoints, seed=0, error=None):
    return SeedRun(seed, History(), error, checkpoints[-1][1] if checkpoints else math.nan, 0.0,
                   tuple(checkpoints))


def test_time_to_solve_is_the_first_checkpoint_across_the_line():
    r = run([(20, 0.17), (40, 0.05), (60, 0.01), (80, 0.02), (100, 0.005)])
    # between 40 (0.05) and 60 (0.01): log-linear, log(0.05 / line) / log(0.05 / 0.01) of the way
    assert survival.time_to_solve(r, 0.0167) == pytest.approx(40 + 20 * math.log(0.05 / 0.0167) / math.log(5))
    assert survival.time_to_solve(r, 0.01 * 5**0.5) == pytest.approx(50.0)
    assert survival.time_to_solve(r, 0.2) == 20.0  # across at the first checkpoint
    assert survival.time_to_solve(r, 0.001) == math.inf
    accuracy = run([(10, 0.3), (20, 0.8)])
    assert survival.time_to_solve(accuracy, 0.5, higher_is_better=True) == pytest.approx(
        10 + 10 * math.log(0.3 / 0.5) / math.log(0.3 / 0.8))
    assert 10 < survival.time_to_solve(accuracy, 0.5, higher_is_better=True) < 20
    stopped = SeedRun(0, History(), ValueError("nan at step 3"), math.nan, 0.0, ())
    assert survival.time_to_solve(stopped, 0.1) == math.inf
    with pytest.raises(ValueError, match="train with evaluate_every"):
        survival.time_to_solve(run([]), 0.1)
    with pytest.raises(TypeError, match="run: expected a sweeps.SeedRun"):
        survival.time_to_solve([(1, 0.1)], 0.1)


@pytest.mark.parametrize("times", [
    [100, 200, 300, math.inf, math.inf], [40, 40, 60, 80], [math.inf, math.inf, 20],
    [400, 60, 80, 120, math.inf, 100, 200, 220, math.inf, 380]])
def test_median_and_solved_share_match_statsmodels_kaplan_meier(times):
    from statsmodels.duration.survfunc import SurvfuncRight

    budget = 400
    t = np.array(times, dtype=float)
    status = np.isfinite(t).astype(int)
    sf = SurvfuncRight(np.where(np.isfinite(t), t, budget), status)
    expected = sf.quantile(0.5)  # NaN where the estimate never falls below one half
    flat = np.isclose(sf.surv_prob, 0.5)
    if flat.any():  # exactly half unsolved from one time on: the midpoint up to the next time (R's convention)
        after = [u for u in sorted(t) if u > sf.surv_times[flat][0]]
        expected = (sf.surv_times[flat][0] + after[0]) / 2 if after else np.nan
    got = survival.median_time(times, budget)
    assert (math.isinf(got) and np.isnan(expected)) or got == pytest.approx(expected)
    # the share solved by the budget is one minus the Kaplan–Meier estimate there
    assert survival.solved_share(times, budget) == pytest.approx(1 - float(sf.surv_prob[-1]))


def test_times_and_budget_are_checked():
    with pytest.raises(ValueError, match="expected finite times at most the budget"):
        survival.median_time([100, 500], 400)
    with pytest.raises(ValueError, match="budget: expected a finite number > 0"):
        survival.median_time([100], math.inf)
    with pytest.raises(ValueError, match="times: expected one or more times > 0"):
        survival.median_time([], 10)


def test_solve_times_of_several_runs_keep_their_order():
    runs = [run([(10, 0.2), (20, 0.01)]), run([(10, 0.5), (20, 0.4)]), run([(10, 0.001)])]
    assert survival.solve_times(runs, 0.1).tolist() == [survival.time_to_solve(runs[0], 0.1), math.inf, 10.0]


def test_learning_curves_stack_runs_and_pad_a_stopped_one():
    a = run([(10, 0.2), (20, 0.1), (30, 0.05)], seed=0)
    b = run([(10, 0.3)], seed=1)
    steps, scores = survival.learning_curves([a, b])
    assert steps.tolist() == [10, 20, 30]
    assert scores[0].tolist() == [0.2, 0.1, 0.05]
    assert scores[1, 0] == 0.3 and np.isnan(scores[1, 1:]).all()
    with pytest.raises(ValueError, match="expected the same checkpoint steps"):
        survival.learning_curves([a, run([(15, 0.1)])])


def test_fastest_takes_the_smallest_median_then_the_most_solved_then_the_lowest_final_error():
    times = {1e-3: [math.inf, math.inf, math.inf], 1e-2: [300, 500, math.inf], 1e-1: [100, 200, 400]}
    assert survival.fastest(times, 500) == 1e-1
    # medians all beyond the budget: the one with more runs solved
    censored = {"a": [math.inf, math.inf, math.inf], "b": [math.inf, 90, math.inf]}
    assert survival.fastest(censored, 100) == "b"
    # nothing solved anywhere: the lower final error, else the first key
    never = {"a": [math.inf] * 2, "b": [math.inf] * 2}
    assert survival.fastest(never, 100, {"a": 0.17, "b": 0.16}) == "b"
    assert survival.fastest(never, 100) == "a"
    with pytest.raises(ValueError, match="final: expected a value for each"):
        survival.fastest(never, 100, {"a": 0.1})
    with pytest.raises(ValueError, match="times: expected a mapping"):
        survival.fastest({}, 100)
    with pytest.raises(ValueError, match="budget"):
        survival.fastest(never, 0)
