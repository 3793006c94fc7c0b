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


def test_highlighting_a_gate_colours_that_gate_alone():
    blue, grey = (matplotlib.colors.to_rgb(plotting.color(m)) for m in ("LSTM", "baseline"))
    for gate, label in zip(plotting.LSTM_GATE_NAMES, ("forget $f_t$", "input $i_t$", "candidate $g_t$",
                                                      "output $o_t$")):
        fig, ax = plt.subplots()
        plotting.draw_lstm_cell(ax, highlight=gate)
        boxes = [t.get_bbox_patch() for t in ax.texts if t.get_bbox_patch() is not None]
        filled = [box for box in boxes if box.get_facecolor()[:3] != (1.0, 1.0, 1.0)]
        assert len(filled) == 1, filled  # one gate box filled
        labels = {t.get_text(): matplotlib.colors.to_rgb(t.get_color()) for t in ax.texts}
        assert labels[label] == (0.0, 0.0, 0.0)
        assert sum(colour == grey for colour in labels.values()) == 3  # the other three gates' names
        coloured = [a for a in ax.texts if a.get_text() == "" and a.arrow_patch.get_edgecolor()[:3] == blue
                    and a.arrow_patch.get_linewidth() == 2.2]
        assert len(coloured) == 1
        plt.close(fig)
    with pytest.raises(ValueError, match=r"highlight: expected None or one of \('f', 'i', 'g', 'o'\), got 'c'"):
        plotting.draw_lstm_cell(plt.gca(), highlight="c")


def test_cobweb_visits_the_iterates_of_the_map():
    fig, ax = plt.subplots()
    iterates = plotting.cobweb(ax, lambda h: torch.tanh(2 * h), [0.1, -0.3], 6, (-1.1, 1.1))
    expected = [[0.1], [-0.3]]
    for _ in range(6):
        expected = [run + [float(torch.tanh(torch.tensor(2 * run[-1], dtype=torch.float64)))] for run in expected]
    torch.testing.assert_close(iterates, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-15)
    staircase = ax.get_lines()[2]  # after the map's graph and the diagonal
    xs, ys = staircase.get_xdata(), staircase.get_ydata()
    assert (xs[0], ys[0]) == (0.1, 0.1) and len(xs) == 2 * 6 + 1
    # each vertical segment ends on the graph (y = f(x)), each horizontal one on the diagonal (y = x)
    for k in range(1, len(xs)):
        if k % 2:
            assert xs[k] == xs[k - 1] and abs(ys[k] - float(torch.tanh(torch.tensor(2 * xs[k])))) < 1e-12
        else:
            assert ys[k] == ys[k - 1] and xs[k] == ys[k]
    plt.close(fig)
    with pytest.raises(ValueError, match="domain: expected"):
        plotting.cobweb(plt.gca(), torch.tanh, [0.1], 3, (1.0, -1.0))
    with pytest.raises(ValueError, match="starts: expected a non-empty sequence"):
        plotting.cobweb(plt.gca(), torch.tanh, [], 3, (-1.0, 1.0))
    with pytest.raises(TypeError, match="step_map: expected a callable"):
        plotting.cobweb(plt.gca(), 2.0, [0.1], 3, (-1.0, 1.0))


def test_backward_and_route_diagrams_draw_one_arrow_per_step_and_route():
    red, blue = (matplotlib.colors.to_rgb(plotting.color(m)) for m in ("RNN", "LSTM"))
    fig, ax = plt.subplots()
    plotting.draw_backward(ax, 5)
    texts = _texts(ax)
    assert [t for t in texts if t.startswith("$g_")] == ["$g_{1}$", "$g_{2}$", "$g_{3}$", "$g_{4}$", "$g_{T}$"]
    backward = [a for a in ax.texts if a.get_text() == "" and a.arrow_patch.get_edgecolor()[:3] == red]
    assert len(backward) == 5 + 4  # a direct gradient into every δ_t, and T − 1 steps back
    plt.close(fig)
    fig, ax = plt.subplots()
    plotting.draw_lstm_routes(ax, 3)
    dashed = [a for a in ax.texts if a.get_text() == "" and a.arrow_patch.get_linestyle() == "--"]
    assert sorted(tuple(round(c, 3) for c in a.arrow_patch.get_edgecolor()[:3]) for a in dashed) == sorted(
        [tuple(round(c, 3) for c in blue)] * 2 + [tuple(round(c, 3) for c in red)] * 2)
    assert {"$\\times f_{t}$", "$\\times f_{t-1}$"} <= set(_texts(ax))
    plt.close(fig)
    fig, ax = plt.subplots()
    plotting.draw_rnn_cell(ax)
    thickest = max(ax.get_lines(), key=lambda line: line.get_linewidth())
    assert thickest.get_color() == plotting.color("RNN") and thickest.get_ydata()[0] == 5
    plt.close(fig)
    for draw in (plotting.draw_backward, plotting.draw_lstm_routes):
        with pytest.raises(ValueError, match="steps: expected an int >= 2, got 1"):
            draw(plt.gca(), 1)
