"""The long-range tasks: the adding problem, the copy task and sequential digits, each against its definition."""

import math

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


def test_remembering_only_the_second_value_scores_the_half_solution_mse():
    inputs, targets = tasks.adding_problem(40, 200_000, generator=torch.Generator().manual_seed(3))
    values, markers = inputs[..., 0], inputs[..., 1]
    T = inputs.shape[0]
    second = (values * markers)[T // 2:].sum(0)  # the only marked value in the second half
    mse = ((targets - (second + 0.5)) ** 2).mean().item()
    assert abs(mse - tasks.ADDING_HALF_SOLUTION_MSE) < 0.002  # Var(U(0, 1)) = 1/12
    assert tasks.ADDING_SOLVED_MSE < tasks.ADDING_HALF_SOLUTION_MSE < tasks.ADDING_BASELINE_MSE


def test_first_marker_lies_about_three_quarters_of_the_length_before_the_end():
    T = 100
    inputs, _ = tasks.adding_problem(T, 100_000, generator=torch.Generator().manual_seed(4))
    first = inputs[..., 1].argmax(0).double()  # the earlier of the two markers
    distance_from_end = T - first
    assert abs(distance_from_end.mean().item() - (T - (T // 2 - 1) / 2)) < 0.3  # uniform on [0, T/2): 75.5
    assert abs(distance_from_end.mean().item() / T - 0.75) < 0.01


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


@pytest.mark.parametrize("T", [1, 2, 10, 100])
def test_copy_task_is_arjovskys_definition(T):
    inputs, targets = tasks.copy_task(64, T, generator=torch.Generator().manual_seed(T))
    assert inputs.shape == targets.shape == (T + 20, 64) and inputs.dtype == targets.dtype == torch.int64
    symbols = inputs[:10]
    assert bool(((symbols >= 0) & (symbols <= 7)).all())
    assert bool((inputs[10:10 + T - 1] == 8).all()) and bool((inputs[10 + T - 1] == 9).all())
    assert bool((inputs[T + 10:] == 8).all()) and int((inputs == 9).sum()) == 64
    assert bool((targets[:T + 10] == 8).all()) and torch.equal(targets[T + 10:], symbols)


def test_copy_task_draws_symbols_uniformly_and_reproducibly():
    inputs, _ = tasks.copy_task(20_000, 5, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(inputs[:10].flatten(), minlength=8)[:8].double()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.005
    again = tasks.copy_task(20_000, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], inputs)


@pytest.mark.parametrize("T", [1, 100, 200])
def test_copy_baseline_is_the_cross_entropy_of_the_best_memoryless_guess(T):
    _, targets = tasks.copy_task(256, T, generator=torch.Generator().manual_seed(1))
    # blank for sure for the first T + 10 steps, then uniform over the eight symbols
    log_p = torch.full((T + 20, 256, 10), -torch.inf, dtype=torch.float64)
    log_p[:T + 10, :, 8] = 0.0
    log_p[T + 10:, :, :8] = -math.log(8)
    loss = torch.nn.functional.nll_loss(log_p.reshape(-1, 10), targets.reshape(-1))
    assert loss.item() == pytest.approx(tasks.copy_baseline(T), rel=1e-12)
    assert tasks.copy_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def test_copy_task_bad_sizes_name_the_argument():
    with pytest.raises(ValueError, match="delay: expected an int >= 1, got 0"):
        tasks.copy_task(4, 0)
    with pytest.raises(TypeError, match="batch_size: expected an int"):
        tasks.copy_task(4.0, 10)


def test_sequential_digits_split_the_whole_dataset_and_read_it_in_order():
    from sklearn.datasets import load_digits

    digits = load_digits()
    train_x, train_y = tasks.sequential_digits("train", by="pixel", dtype=torch.float64)
    test_x, test_y = tasks.sequential_digits("test", by="pixel", dtype=torch.float64)
    assert train_x.shape == (64, 1348, 1) and test_x.shape == (64, 449, 1) and train_y.dtype == torch.int64
    assert len(train_y) + len(test_y) == len(digits.target) == 1797
    # every image is in exactly one split, pixels row-major, values scaled to [0, 1], its own label
    everything = torch.cat([train_x[..., 0].T, test_x[..., 0].T]) * 16
    labels = torch.cat([train_y, test_y])
    reference = torch.from_numpy(digits.data)
    key = lambda rows, ys: sorted(tuple(r) + (y,) for r, y in zip(rows.round().long().tolist(), ys.tolist()))
    assert key(everything, labels) == key(reference, torch.from_numpy(digits.target))
    rows_x, rows_y = tasks.sequential_digits("train", by="row", dtype=torch.float64)
    assert rows_x.shape == (8, 1348, 8) and torch.equal(rows_y, train_y)
    torch.testing.assert_close(rows_x.permute(1, 0, 2).reshape(1348, 64), train_x[..., 0].T, rtol=0, atol=0)


def test_sequential_digits_same_seed_same_split_and_arguments_checked():
    a = tasks.sequential_digits("test", seed=3)
    b = tasks.sequential_digits("test", seed=3)
    c = tasks.sequential_digits("test", seed=4)
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', got 'valid'"):
        tasks.sequential_digits("valid")
    with pytest.raises(ValueError, match="by: expected 'pixel' or 'row', got 'column'"):
        tasks.sequential_digits("train", by="column")
