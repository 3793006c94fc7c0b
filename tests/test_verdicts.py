"""The statistics behind a verdict, against independent references: SciPy's exact tests, statsmodels' McNemar
test and Holm adjustment, and the binomial distribution."""

import math

import pytest

from gatedrnn.experiments import verdicts


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


def test_time_effect_is_the_log_ratio_of_medians_and_unbounded_where_one_is_censored():
    inf = math.inf
    # medians 100 and 300 (numpy's median of the odd lists): log 3
    assert verdicts.time_effect([50, 100, 200], [100, 300, 300], 400) == pytest.approx(math.log(3))
    assert verdicts.time_effect([50, 100, inf], [inf, inf, 300], 400) == inf
    assert verdicts.time_effect([inf, inf, 300], [50, 100, inf], 400) == -inf
    # both medians censored: the direction of the paired outcomes, or 0 for a tie
    assert verdicts.time_effect([inf, inf, 300], [inf, inf, inf], 400) == inf
    assert verdicts.time_effect([inf, inf, inf], [inf, 300, inf], 400) == -inf
    assert verdicts.time_effect([inf] * 3, [inf] * 3, 400) == 0.0


def test_decide_names_bad_arguments():
    with pytest.raises(ValueError, match="p: expected a number in"):
        verdicts.decide(1.5, 0.0, 0.1)
    with pytest.raises(ValueError, match="smallest: expected a finite number >= 0"):
        verdicts.decide(0.5, 0.0, -1.0)


def test_grid_end_flags_a_best_rate_at_either_end_of_any_ordering():
    grid = (3e-2, 1e-3, 1e-2)
    assert [verdicts.grid_end(r, grid) for r in (1e-3, 1e-2, 3e-2)] == ["lowest", None, "highest"]
    with pytest.raises(ValueError, match=r"rate: expected one of the grid \[0.001, 0.01, 0.03\], got 0.1"):
        verdicts.grid_end(0.1, grid)
    with pytest.raises(ValueError, match="grid: expected two or more rates"):
        verdicts.grid_end(0.1, [0.1])


@pytest.mark.parametrize("effect, expected", [
    (math.nextafter(0.25, math.inf), verdicts.HELPS), (0.25, verdicts.HELPS),
    (math.nextafter(0.25, 0.0), verdicts.SMALL), (math.nextafter(-0.25, 0.0), verdicts.SMALL),
    (-0.25, verdicts.HURTS), (math.nextafter(-0.25, -math.inf), verdicts.HURTS)])
def test_decide_counts_an_effect_of_exactly_the_smallest_size_as_one_worth_acting_on(effect, expected):
    """The docstring's "at least ``smallest``": an effect at ±smallest is HELPS or HURTS, a hair inside it SMALL."""
    assert verdicts.decide(0.01, effect, 0.25) == expected


@pytest.mark.parametrize("p, expected", [
    (math.nextafter(0.05, 0.0), verdicts.HELPS), (0.05, verdicts.UNCLEAR),
    (math.nextafter(0.05, 1.0), verdicts.UNCLEAR)])
def test_decide_rejects_only_strictly_below_the_level(p, expected):
    assert verdicts.decide(p, 1.0, 0.25) == expected  # the default level, LEVEL = 0.05
