"""Helpers of the book's figures."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gatedrnn.book import plotting


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


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_cell_diagrams_name_every_gate_and_the_path_through_time():
    fig, (lstm, gru) = plt.subplots(1, 2)
    plotting.draw_lstm_cell(lstm)
    plotting.draw_gru_cell(gru)
    for name in ("forget $f_t$", "input $i_t$", "candidate $g_t$", "output $o_t$", "$c_{t-1}$", "$c_t$"):
        assert name in _texts(lstm), name
    for name in ("update $z_t$", "reset $r_t$", "candidate $n_t$", "$h_{t-1}$", "$h_t$"):
        assert name in _texts(gru), name
    # the carousel and the GRU's state line are drawn in the model's colour, thicker than anything else
    for ax, model in ((lstm, "LSTM"), (gru, "GRU")):
        thickest = max(ax.get_lines(), key=lambda line: line.get_linewidth())
        assert thickest.get_color() == plotting.color(model) and thickest.get_ydata()[0] == 5
    plt.close(fig)


def test_bptt_diagram_greys_exactly_the_steps_truncation_drops():
    for steps, window in ((6, 3), (5, 1), (4, None)):
        fig, ax = plt.subplots()
        plotting.draw_bptt(ax, steps, window)
        arrows = [a for a in ax.texts if a.get_text() == "" and a.arrow_patch.get_linewidth() == 1.6]
        grey = [a for a in arrows if a.arrow_patch.get_edgecolor()[:3] == matplotlib.colors.to_rgb(
            plotting.color("baseline"))]
        assert len(arrows) == steps - 1
        assert len(grey) == (0 if window is None else steps - 1 - window)
        plt.close(fig)
    with pytest.raises(ValueError, match="window: expected None or an int in 1 … 5, got 6"):
        plotting.draw_bptt(plt.gca(), 6, 6)
    with pytest.raises(ValueError, match="steps: expected an int >= 2"):
        plotting.draw_bptt(plt.gca(), 1)
