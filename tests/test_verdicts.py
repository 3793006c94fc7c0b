"""The statistics behind a verdict, against independent references: SciPy's exact test and bootstrap, exact
enumeration of every resample, and the sign test's closed form."""

import itertools
import math

import numpy as np
import pytest

from gatedrnn.experiments import verdicts


@pytest.mark.parametrize("table", [(5, 8, 8, 8), (0, 3, 3, 3), (2, 3, 1, 3), (7, 12, 1, 12), (0, 5, 0, 5),
                                   (10, 10, 0, 10), (3, 4, 9, 20)])
def test_fisher_exact_matches_scipy(table):
    from scipy.stats import fisher_exact

    a, n_a, b, n_b = table
    expected = fisher_exact([[a, n_a - a], [b, n_b - b]], alternative="two-sided").pvalue
    assert verdicts.fisher_exact(a, n_a, b, n_b) == pytest.approx(expected, rel=1e-9)


def test_fisher_exact_names_bad_counts():
    with pytest.raises(ValueError, match="runs_b: expected an int >= 0, got -1"):
        verdicts.fisher_exact(1, 2, 0, -1)
    with pytest.raises(ValueError, match="expected 0 <= successes <= runs"):
        verdicts.fisher_exact(3, 2, 0, 1)


@pytest.mark.parametrize("n, seed", [(6, 0), (9, 1), (40, 2)])
def test_bootstrap_median_interval_matches_scipys_percentile_bootstrap_of_the_median(n, seed):
    from scipy.stats import bootstrap
    values = np.random.default_rng(seed).lognormal(size=n)
    low, high = verdicts.bootstrap_median_interval(values, resamples=20_000, seed=seed)
    reference = bootstrap((values,), np.median, confidence_level=0.95, n_resamples=20_000, method="percentile",
                          random_state=np.random.default_rng(seed + 100)).confidence_interval
    spread = values.max() - values.min()
    # two independent Monte Carlo estimates of the same quantiles: they agree up to resampling noise
    assert low == pytest.approx(reference.low, abs=0.08 * spread)
    assert high == pytest.approx(reference.high, abs=0.08 * spread)
    assert values.min() <= low <= np.median(values) <= high <= values.max()


def test_bootstrap_median_interval_of_constant_values_is_that_value_and_narrows_with_the_level():
    assert verdicts.bootstrap_median_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)
    values = np.random.default_rng(3).normal(size=30)
    wide, narrow = verdicts.bootstrap_median_interval(values), verdicts.bootstrap_median_interval(values, 0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def exact_bootstrap_range(values, q, slack=0.005):
    """The reference: every one of the n^n equally likely resamples enumerated, the exact distribution of their
    medians, and the range in which a quantile q of many resamples must fall: from the exact (q - slack)-quantile
    to the exact (q + slack)-quantile (the distribution has atoms, so a sampled quantile may sit at either side of
    one)."""
    medians = sorted(float(np.median(sample)) for sample in itertools.product(values, repeat=len(values)))
    return (float(np.quantile(medians, q - slack, method="lower")),
            float(np.quantile(medians, q + slack, method="higher")))


@pytest.mark.parametrize("values", [[0.3, -1.2, 2.5], [1.0, 2.0, 4.0, 8.0], [-0.5, 0.1, 0.2, 0.4, 3.0]])
def test_bootstrap_interval_of_the_median_matches_exact_enumeration(values):
    low, high = verdicts.bootstrap_median_interval(values, 0.9, resamples=200_000, seed=1)
    low_range, high_range = exact_bootstrap_range(values, 0.05), exact_bootstrap_range(values, 0.95)
    assert low_range[0] <= low <= low_range[1] and high_range[0] <= high <= high_range[1], (low, high)
    assert min(values) <= low <= float(np.median(values)) <= high <= max(values)


def test_bootstrap_interval_is_reproducible_and_its_arguments_are_named():
    values = [0.1, 0.4, -0.2, 0.3]
    assert verdicts.bootstrap_median_interval(values, seed=3) == verdicts.bootstrap_median_interval(values,
                                                                                                        seed=3)
    with pytest.raises(ValueError, match="values: expected two or more finite numbers"):
        verdicts.bootstrap_median_interval([1.0])
    with pytest.raises(ValueError, match="values: expected two or more finite numbers"):
        verdicts.bootstrap_median_interval([1.0, math.nan])
    with pytest.raises(ValueError, match=r"level: expected a number in \(0, 1\)"):
        verdicts.bootstrap_median_interval(values, 1.0)
    with pytest.raises(ValueError, match="resamples: expected an int >= 1"):
        verdicts.bootstrap_median_interval(values, resamples=0)


@pytest.mark.parametrize("interval, median, smallest, expected", [
    ((0.2, 0.9), 0.5, 0.1, verdicts.HELPS),
    ((0.02, 0.9), 0.05, 0.1, verdicts.SMALL),  # certain but smaller than worth a line
    ((-0.9, -0.02), -0.05, 0.1, verdicts.SMALL),
    ((-0.1, 0.9), 0.5, 0.1, verdicts.UNCLEAR),
    ((-0.9, -0.2), -0.5, 0.1, verdicts.HURTS),
    ((-0.9, 0.0), -0.5, 0.1, verdicts.UNCLEAR),
])
def test_verdict_reads_the_interval_and_the_smallest_effect(interval, median, smallest, expected):
    assert verdicts.verdict(interval, median, smallest) == expected


def test_verdict_names_bad_arguments():
    with pytest.raises(ValueError, match="median: expected finite numbers"):
        verdicts.verdict((0.0, 1.0), math.nan, 0.1)
    with pytest.raises(ValueError, match="smallest: expected a number >= 0"):
        verdicts.verdict((0.0, 1.0), 0.5, -0.1)


def test_paired_effect_of_five_seeds_is_the_sign_test_and_the_smallest_effect():
    # five improvements: the interval runs from the smallest to the largest (a resample's median is the smallest
    # value with probability 0.058 > 0.025), so the verdict follows their signs and the median's size
    same_sign = [0.5, 0.6, 0.7, 0.8, 0.9]
    assert verdicts.paired_effect(same_sign, 0.3) == verdicts.Effect(0.7, 0.5, 0.9, verdicts.HELPS)
    assert verdicts.paired_effect(same_sign, 1.0).verdict == verdicts.SMALL
    mirrored = verdicts.paired_effect([-v for v in same_sign], 0.3)
    assert (mirrored.median, mirrored.low, mirrored.high, mirrored.verdict) == (-0.7, -0.9, -0.5,
                                                                               verdicts.HURTS)
    assert verdicts.paired_effect([-0.1, 0.6, 0.7, 0.8, 0.9]) == verdicts.Effect(0.7, -0.1, 0.9,
                                                                                      verdicts.UNCLEAR)
    with pytest.raises(ValueError, match="values: expected two or more finite numbers"):
        verdicts.paired_effect([0.5])


@pytest.mark.parametrize("wins, losses", [(10, 0), (9, 1), (0, 6), (3, 3), (7, 2), (1, 0), (12, 5)])
def test_sign_test_is_scipys_exact_binomial_test(wins, losses):
    from scipy.stats import binomtest

    expected = binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue
    assert verdicts.sign_test(wins, losses) == pytest.approx(expected, rel=1e-12)


def test_sign_test_is_the_exact_mcnemar_test_of_paired_successes():
    from statsmodels.stats.contingency_tables import mcnemar

    # claim 2b's kind of table: of 6 seeds, 5 succeed with one model only, 1 with both
    table = [[1, 5], [0, 0]]
    assert verdicts.sign_test(5, 0) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert verdicts.sign_test(0, 0) == 1.0
    with pytest.raises(ValueError, match="losses: expected an int >= 0, got -1"):
        verdicts.sign_test(1, -1)


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03, 0.2], [0.5], [0.001, 0.001, 0.9, 0.02, 0.04, 0.0]])
def test_holm_matches_statsmodels(p):
    from statsmodels.stats.multitest import multipletests

    expected = multipletests(p, method="holm")[1]
    assert verdicts.holm(p) == pytest.approx(list(expected), rel=1e-12)
    with pytest.raises(ValueError, match="p_values: expected numbers in"):
        verdicts.holm([0.1, 1.2])


@pytest.mark.parametrize("pairs, level", [(10, 0.05), (10, 0.05 / 11), (20, 0.05), (6, 0.05), (30, 0.01)])
def test_detectable_win_rate_has_the_stated_power_and_no_less(pairs, level):
    from scipy.stats import binom, binomtest

    q = verdicts.detectable_win_rate(pairs, level)
    # the rejection region: splits whose exact two-sided p-value (SciPy's) is within the level
    rejecting = [k for k in range(pairs + 1) if binomtest(k, pairs, 0.5).pvalue <= level]
    def power(r):
        return sum(binom.pmf(k, pairs, r) for k in rejecting)
    assert power(q) >= 0.8 - 1e-9
    assert power(q - 1e-6) < 0.8
    assert 0.5 < q < 1


def test_five_pairs_can_detect_nothing_and_ties_are_left_out():
    assert verdicts.detectable_win_rate(5) == math.inf  # 2/2^5 > 0.05
    test = verdicts.paired_test([0.3, -0.1, 0.0, 0.2, 0.0, 0.5])
    assert (test.wins, test.losses, test.ties) == (3, 1, 2)
    assert test.p == verdicts.sign_test(3, 1)
    assert test.detectable == math.inf  # four non-tied pairs


def test_paired_times_orders_censored_runs_after_every_solution():
    inf = math.inf
    signs = verdicts.paired_times([100, inf, 50, inf, 30, 400], [200, 100, inf, inf, 30, 300])
    assert signs.tolist() == [1, -1, 1, 0, 0, -1]
    with pytest.raises(ValueError, match="times, reference: expected two equal-length lists"):
        verdicts.paired_times([1.0, 2.0], [1.0])


@pytest.mark.parametrize("p, effect, expected", [
    (0.01, 0.5, verdicts.HELPS), (0.01, -0.5, verdicts.HURTS), (0.01, 0.05, verdicts.SMALL),
    (0.2, 2.0, verdicts.UNCLEAR), (0.05, 1.0, verdicts.UNCLEAR), (0.049, -0.1, verdicts.HURTS)])
def test_decide_reads_the_test_and_the_size(p, effect, expected):
    assert verdicts.decide(p, effect, 0.1) == expected


def test_decide_names_bad_arguments():
    with pytest.raises(ValueError, match="p: expected a number in"):
        verdicts.decide(1.5, 0.0, 0.1)
    with pytest.raises(ValueError, match="smallest: expected a finite number >= 0"):
        verdicts.decide(0.5, 0.0, -1.0)
