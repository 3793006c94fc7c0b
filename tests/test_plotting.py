"""Helpers of the book's figures."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gatedrnn import plotting


def test_running_mean_matches_a_direct_average():
    values = torch.arange(10, dtype=torch.float64) ** 2
    expected = torch.tensor([values[k:k + 4].mean() for k in range(7)])
    torch.testing.assert_close(plotting.running_mean(values, 4), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="window=11"):
        plotting.running_mean(values, 11)


def test_finish_training_axes_draws_the_baseline_on_a_log_axis():
    fig, ax = plt.subplots()
    ax.plot([1.0, 0.5, 0.1], label="LSTM")
    plotting.finish_training_axes(ax, 1 / 6, "baseline 1/6", ylabel="test MSE")
    (line,) = [line for line in ax.get_lines() if line.get_label() == "baseline 1/6"]
    assert line.get_ydata() == [1 / 6, 1 / 6] and line.get_linestyle() == ":"
    assert line.get_color() == plotting.color("baseline")
    assert (ax.get_yscale(), ax.get_xlabel(), ax.get_ylabel()) == ("log", "training step", "test MSE")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["LSTM", "baseline 1/6"]
    for bad in (0.0, -1.0, True, "1/6"):
        with pytest.raises(ValueError, match="baseline: expected a number > 0"):
            plotting.finish_training_axes(ax, bad)
    plt.close(fig)
