"""Forecasting a real time series: the yearly sunspot numbers that ship with statsmodels, windows of the past as
inputs, one-step-ahead forecasts, and the forecasts a network has to beat: the naive ones and a linear
autoregression fitted by least squares.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gatedrnn.validation import check_size

SOLAR_CYCLE = 11  # years: the period of the naive seasonal forecast


def sunspots() -> tuple[Tensor, Tensor]:
    """Yearly mean sunspot numbers, 1700–2008 (statsmodels' ``sunspots`` dataset): years int64 [309] and values
    float64 [309]."""
    from statsmodels.datasets import sunspots as dataset

    data = dataset.load_pandas().data
    return torch.tensor(data["YEAR"].to_numpy()).long(), torch.tensor(data["SUNACTIVITY"].to_numpy(), dtype=torch.float64)


def _check_series(series: Tensor) -> None:
    if not isinstance(series, Tensor) or series.dim() != 1:
        raise ValueError(f"series: expected a 1-d tensor, got {getattr(series, 'shape', type(series).__name__)}")


def windows(series: Tensor, length: int, start: int | None = None) -> tuple[Tensor, Tensor]:
    """Every window of ``length`` consecutive values and the value that follows it, for targets at positions
    ``start … len(series) - 1`` (default: the first one that has a full window): inputs [length, M, 1], time-first,
    and targets [M]."""
    _check_series(series)
    L = check_size("length", length)
    start = L if start is None else start
    if not L <= start < len(series):
        raise ValueError(f"start: expected {L} <= start < {len(series)} (a full window before it), got {start}")
    targets = torch.arange(start, len(series))
    inputs = series[targets[None, :] - L + torch.arange(L)[:, None]]  # [L, M]
    return inputs[..., None], series[targets]


def seasonal_naive(series: Tensor, period: int, start: int) -> Tensor:
    """The naive seasonal forecast of ``series[start:]``: each value predicted by the one ``period`` steps before it,
    ``ŷ_t = y_{t - period}``; ``period = 1`` is persistence (tomorrow as today)."""
    _check_series(series)
    m = check_size("period", period)
    if not m <= start < len(series):
        raise ValueError(f"start: expected {m} <= start < {len(series)}, got {start}")
    return series[start - m:len(series) - m]


def one_step_forecasts(model: nn.Module, series: Tensor, length: int, start: int) -> Tensor:
    """``model``'s forecast of each of ``series[start:]`` from the ``length`` true values before it (a
    :class:`~gatedrnn.nn.models.LastStep` with one output), as a tensor like ``series[start:]``."""
    inputs, _ = windows(series, length, start)
    p = next(model.parameters())
    with torch.no_grad():
        return model(inputs.to(device=p.device, dtype=p.dtype)).squeeze(-1).to(series)


def autoregression(series: Tensor, order: int, end: int) -> Tensor:
    """Least-squares AR(``order``) fit with an intercept on ``series[:end]``: the coefficients ``[c, a_1, …, a_p]`` of
    ``ŷ_t = c + a_1 y_{t-1} + … + a_p y_{t-p}`` that minimise the squared one-step error over every t in
    ``order … end - 1``. Float64."""
    _check_series(series)
    p = check_size("order", order)
    if not p < end <= len(series):
        raise ValueError(f"end: expected {p} < end <= {len(series)} (at least one target after a full window), "
                         f"got {end}")
    inputs, targets = windows(series[:end].double(), p)  # [p, M, 1] oldest first, [M]
    design = torch.cat([torch.ones(len(targets), 1, dtype=torch.float64), inputs[..., 0].T.flip(1)], dim=1)
    return torch.linalg.lstsq(design, targets[:, None]).solution[:, 0]


def autoregression_order(series: Tensor, max_order: int, end: int) -> tuple[int, Tensor]:
    """The order of :func:`autoregression` a forecaster would pick by Akaike's criterion, from 1 … ``max_order``
    on ``series[:end]``: each order fitted by least squares on the same targets ``max_order … end - 1`` (so that
    their errors compare), scored ``AIC(p) = n log(RSS_p / n) + 2 (p + 1)``. Returns the order with the lowest AIC
    and the AIC of every order [max_order]."""
    _check_series(series)
    top = check_size("max_order", max_order)
    if not top < end <= len(series) or end - top <= top + 1:
        raise ValueError(f"end: expected {top} < end <= {len(series)} with more targets than coefficients, got {end}")
    inputs, targets = windows(series[:end].double(), top)  # [top, n, 1] oldest first, [n]
    lags = inputs[..., 0].T.flip(1)  # [n, top]: y_{t-1}, …, y_{t-top}
    ones = torch.ones(len(targets), 1, dtype=torch.float64)
    n = len(targets)
    aic = []
    for p in range(1, top + 1):
        design = torch.cat([ones, lags[:, :p]], dim=1)
        residuals = targets - design @ torch.linalg.lstsq(design, targets[:, None]).solution[:, 0]
        aic.append(n * torch.log(residuals.square().sum() / n) + 2 * (p + 1))
    scores = torch.stack(aic)
    return int(scores.argmin()) + 1, scores


def autoregressive_forecasts(coefficients: Tensor, series: Tensor, start: int) -> Tensor:
    """One-step forecasts of ``series[start:]`` by an AR model with ``coefficients`` ``[c, a_1, …, a_p]`` (from
    :func:`autoregression`), each from the ``p`` true values before it. Float64."""
    _check_series(series)
    if not isinstance(coefficients, Tensor) or coefficients.dim() != 1 or len(coefficients) < 2:
        raise ValueError(f"coefficients: expected a 1-d tensor [c, a_1, …, a_p], got "
                         f"{getattr(coefficients, 'shape', type(coefficients).__name__)}")
    inputs, _ = windows(series.double(), len(coefficients) - 1, start)
    lags = inputs[..., 0].T.flip(1)  # [M, p]: y_{t-1}, …, y_{t-p}
    return coefficients[0] + lags @ coefficients[1:].double()
