"""Helpers of the book's figures."""

import pytest
import torch

from gatedrnn import plotting


def test_running_mean_matches_a_direct_average():
    values = torch.arange(10, dtype=torch.float64) ** 2
    expected = torch.tensor([values[k:k + 4].mean() for k in range(7)])
    torch.testing.assert_close(plotting.running_mean(values, 4), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="window=11"):
        plotting.running_mean(values, 11)
