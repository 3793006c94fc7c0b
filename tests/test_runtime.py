"""Device, profile and seeds, driven by the environment variables the README documents."""

import random

import numpy as np
import pytest
import torch

import gatedrnn
from gatedrnn.book import plotting


def test_device_defaults_to_cuda_when_available(monkeypatch):
    monkeypatch.delenv("GATEDRNN_DEVICE", raising=False)
    assert gatedrnn.device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_device_override_and_bad_value(monkeypatch):
    monkeypatch.setenv("GATEDRNN_DEVICE", "cpu")
    assert gatedrnn.device() == torch.device("cpu")
    monkeypatch.setenv("GATEDRNN_DEVICE", "abacus")
    with pytest.raises(ValueError, match="GATEDRNN_DEVICE: expected 'cpu', 'cuda' or 'cuda:N', got 'abacus'"):
        gatedrnn.device()


def test_profile_default_follows_device(monkeypatch):
    monkeypatch.delenv("GATEDRNN_PROFILE", raising=False)
    monkeypatch.setenv("GATEDRNN_DEVICE", "cpu")
    assert gatedrnn.profile() == "quick"
    assert gatedrnn.by_profile(quick=1, full=2) == 1


def test_profile_override_and_bad_value(monkeypatch):
    monkeypatch.setenv("GATEDRNN_PROFILE", "FULL")
    assert gatedrnn.profile() == "full"
    assert gatedrnn.by_profile(quick=1, full=2) == 2
    monkeypatch.setenv("GATEDRNN_PROFILE", "medium")
    with pytest.raises(ValueError, match=r"GATEDRNN_PROFILE: expected one of \('quick', 'full'\), got 'medium'"):
        gatedrnn.profile()


def test_seed_everything_repeats_every_generator():
    draws = []
    for _ in range(2):
        gatedrnn.seed_everything(123)
        draws.append((random.random(), np.random.rand(), torch.rand(()).item()))
    assert draws[0] == draws[1]
    with pytest.raises(TypeError, match="seed: expected an int, got float"):
        gatedrnn.seed_everything(1.5)


def test_environment_names_device_profile_and_torch(monkeypatch):
    monkeypatch.setenv("GATEDRNN_DEVICE", "cpu")
    monkeypatch.setenv("GATEDRNN_PROFILE", "quick")
    env = gatedrnn.environment()
    assert env["device"].startswith("cpu") and env["profile"] == "quick" and env["torch"] == torch.__version__
    assert "quick profile" in gatedrnn.describe_environment()


def test_palette_is_one_distinct_colour_per_model():
    colours = [plotting.color(m) for m in ("RNN", "LSTM", "GRU", "baseline")]
    assert len(set(colours)) == 4
    with pytest.raises(ValueError, match="model: expected one of"):
        plotting.color("Transformer")


def test_draw_unrolled_draws_one_column_per_step():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plotting.draw_unrolled(ax, steps=3)
    labels = [text.get_text() for text in ax.texts]
    assert "$h_0$" in labels and "$h_3$" in labels and "$x_3$" in labels and "$h_4$" not in labels
    plt.close(fig)
    with pytest.raises(ValueError, match="steps: expected an int >= 1, got 0"):
        plotting.draw_unrolled(ax, steps=0)
