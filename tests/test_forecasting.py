"""The sunspot series, windows of the past and the naive forecasts, against the data and their definitions."""

import pytest
import torch

from gatedrnn.data import forecasting
from gatedrnn.nn import models


def test_sunspots_are_the_yearly_numbers_1700_to_2008():
    years, values = forecasting.sunspots()
    assert years.tolist() == list(range(1700, 2009)) and values.dtype == torch.float64
    assert values[0].item() == 5.0 and values[-1].item() == pytest.approx(2.9)  # statsmodels' first and last rows
    assert values.min().item() == 0.0 and values.max().item() == pytest.approx(190.2)


def test_windows_hold_the_values_just_before_each_target():
    series = torch.arange(20.0)
    inputs, targets = forecasting.windows(series, 4, start=15)
    assert inputs.shape == (4, 5, 1) and targets.tolist() == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert inputs[:, 0, 0].tolist() == [11.0, 12.0, 13.0, 14.0]
    assert torch.equal(inputs[-1, :, 0] + 1, targets)
    assert forecasting.windows(series, 4)[1].tolist() == list(range(4, 20))
    with pytest.raises(ValueError, match="start: expected 4 <= start < 20"):
        forecasting.windows(series, 4, start=3)
    with pytest.raises(ValueError, match="series: expected a 1-d tensor"):
        forecasting.windows(series[None], 4)


def test_seasonal_naive_repeats_the_value_one_period_back():
    series = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert forecasting.seasonal_naive(series, 2, 3).tolist() == [2.0, 3.0, 4.0]
    assert forecasting.seasonal_naive(series, 1, 3).tolist() == [3.0, 4.0, 5.0]  # persistence
    # a series with exactly that period is forecast without error
    periodic = torch.sin(torch.arange(60.0) * 2 * torch.pi / 11)
    torch.testing.assert_close(forecasting.seasonal_naive(periodic, 11, 30), periodic[30:], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="start: expected 11 <= start < 60"):
        forecasting.seasonal_naive(periodic, 11, 5)


def test_one_step_forecasts_apply_the_model_to_each_window():
    torch.manual_seed(0)
    net = models.LastStep(torch.nn.GRU(1, 5), 1)
    series = torch.randn(40)
    forecasts = forecasting.one_step_forecasts(net, series, 6, 30)
    assert forecasts.shape == (10,)
    for k, t in enumerate(range(30, 40)):
        with torch.no_grad():
            expected = net(series[t - 6:t, None, None]).item()
        assert forecasts[k].item() == pytest.approx(expected, rel=1e-12)


def test_autoregression_matches_statsmodels_autoreg():
    from statsmodels.tsa.ar_model import AutoReg

    _, series = forecasting.sunspots()
    end, order = 269, 22
    ours = forecasting.autoregression(series, order, end)
    theirs = AutoReg(series[:end].numpy(), lags=order, trend="c").fit()
    torch.testing.assert_close(ours, torch.tensor(theirs.params), rtol=1e-8, atol=1e-8)
    forecasts = forecasting.autoregressive_forecasts(ours, series, end)
    lags = torch.stack([series[t - order:t].flip(0) for t in range(end, len(series))])
    by_hand = torch.tensor(theirs.params[0]) + lags @ torch.tensor(theirs.params[1:])
    torch.testing.assert_close(forecasts, by_hand, rtol=1e-10, atol=1e-10)
    assert forecasts.shape == (len(series) - end,)


def test_autoregression_order_agrees_with_statsmodels_and_recovers_a_known_order():
    """The AIC order against statsmodels' ``ar_select_order`` (same sample for every order) on the sunspots, and
    against the truth on a simulated AR(3) process long enough for AIC to find it."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    _, series = forecasting.sunspots()
    end, top = 269, 22
    order, aic = forecasting.autoregression_order(series, top, end)
    theirs = ar_select_order(series[:end].numpy(), top, ic="aic", trend="c")
    assert order == max(theirs.ar_lags)
    # statsmodels' AIC differs from ours by a constant: compare the differences between orders
    fitted = [AutoReg(series[:end].numpy(), lags=p, trend="c", hold_back=top).fit() for p in range(1, top + 1)]
    theirs_aic = torch.tensor([fit.aic for fit in fitted], dtype=torch.float64)
    torch.testing.assert_close(aic - aic[0], theirs_aic - theirs_aic[0], rtol=1e-6, atol=1e-6)
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(3000, generator=generator, dtype=torch.float64)
    simulated = torch.zeros(3000, dtype=torch.float64)
    for t in range(3, 3000):
        simulated[t] = 0.5 * simulated[t - 1] - 0.3 * simulated[t - 2] + 0.2 * simulated[t - 3] + noise[t]
    assert forecasting.autoregression_order(simulated, 10, 3000)[0] == 3


def test_autoregression_names_bad_arguments():
    series = torch.arange(10.0)
    with pytest.raises(ValueError, match="end: expected 3 < end <= 10"):
        forecasting.autoregression(series, 3, 3)
    with pytest.raises(ValueError, match="end: expected 3 < end <= 10 with more targets than coefficients"):
        forecasting.autoregression_order(series, 3, 7)
    with pytest.raises(ValueError, match="coefficients: expected a 1-d tensor"):
        forecasting.autoregressive_forecasts(torch.ones(1), series, 5)
