"""Forecasting a real time series: the yearly sunspot numbers that ship with statsmodels, windows of the past as
inputs, one-step-ahead forecasts, and the naive forecasts a network has to beat.
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
    :class:`~gatedrnn.models.LastStep` with one output), as a tensor like ``series[start:]``."""
    inputs, _ = windows(series, length, start)
    p = next(model.parameters())
    with torch.no_grad():
        return model(inputs.to(device=p.device, dtype=p.dtype)).squeeze(-1).to(series)
