"""The adding problem: shapes, markers where the definition puts them, targets, baseline, reproducibility."""

import pytest
import torch

from gatedrnn import tasks


@pytest.mark.parametrize("T", [2, 3, 10, 101])
def test_adding_problem_has_two_markers_one_per_half_and_target_their_sum(T):
    inputs, targets = tasks.adding_problem(T, 500, generator=torch.Generator().manual_seed(T))
    assert inputs.shape == (T, 500, 2) and targets.shape == (500,)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert bool(((values >= 0) & (values <= 1)).all())
    assert bool((markers.sum(0) == 2).all()) and set(markers.unique().tolist()) <= {0.0, 1.0}
    half = T // 2
    assert bool((markers[:half].sum(0) == 1).all()) and bool((markers[half:].sum(0) == 1).all())
    torch.testing.assert_close(targets, (values * markers).sum(0), rtol=0, atol=1e-12)


def test_predicting_one_scores_the_baseline_mse():
    _, targets = tasks.adding_problem(20, 200_000, generator=torch.Generator().manual_seed(0))
    mse = ((targets - 1.0) ** 2).mean().item()
    assert abs(mse - tasks.ADDING_BASELINE_MSE) < 0.003  # sampling error of the mean is ~5e-4
    assert abs(targets.mean().item() - 1.0) < 0.005


def test_same_seed_same_batch_and_dtype_device_follow_the_arguments():
    a = tasks.adding_problem(7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    b = tasks.adding_problem(7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert a[0].dtype == torch.float32 and a[0].device.type == "cpu"


def test_bad_sizes_name_the_argument():
    with pytest.raises(ValueError, match="sequence_length: expected an int >= 2, got 1"):
        tasks.adding_problem(1, 4)
    with pytest.raises(TypeError, match="batch_size: expected an int"):
        tasks.adding_problem(5, 4.0)


def test_adding_loss_is_the_mean_squared_error_and_rejects_a_broadcast():
    targets = torch.tensor([1.0, 0.5, 1.5])
    prediction = torch.tensor([[1.0], [1.0], [1.0]])
    assert tasks.adding_loss(prediction, targets).item() == pytest.approx((0 + 0.25 + 0.25) / 3)
    assert tasks.adding_loss(prediction[:, 0], targets).item() == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match=r"prediction: expected shape \(3,\) or \(3, 1\), got \(3, 3\)"):
        tasks.adding_loss(torch.ones(3, 3), targets)


def test_adding_batches_is_a_seeded_stream_of_fresh_batches():
    first, again = tasks.adding_batches(20, 8, 7), tasks.adding_batches(20, 8, 7)
    x0, y0 = first(0)
    x1, y1 = first(1)
    assert x0.shape == (20, 8, 2) and y0.shape == (8,)
    assert not torch.equal(x0, x1)  # a new batch each step
    torch.testing.assert_close(again(0), (x0, y0))  # the same seed, the same stream
    torch.testing.assert_close(again(1), (x1, y1))
    g = torch.Generator().manual_seed(7)
    torch.testing.assert_close(tasks.adding_problem(20, 8, generator=g), (x0, y0))
    with pytest.raises(TypeError, match="seed: expected an int"):
        tasks.adding_batches(20, 8, 1.5)
