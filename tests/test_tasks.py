"""The long-range tasks: the adding problem, the copy task and sequential digits, each against its definition."""

import math

import pytest
import torch

from gatedrnn.data import tasks


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


def anbn_reference(n):
    """aⁿbⁿ and its end marker as a next-symbol task, from the string itself: read w[:-1], predict w[1:]."""
    code = {"a": tasks.ANBN_A, "b": tasks.ANBN_B, "$": tasks.ANBN_END}
    w = [code[s] for s in "a" * n + "b" * n + "$"]
    return w[:-1], w[1:]


def next_symbols(prefix, largest_n):
    """Every symbol that follows ``prefix`` in some aⁿbⁿ$ with 1 <= n <= largest_n: the definition of determined."""
    words = ["a" * n + "b" * n + "$" for n in range(1, largest_n + 1)]
    return {w[len(prefix)] for w in words if w.startswith(prefix) and len(w) > len(prefix)}


@pytest.mark.parametrize("ns", [[1], [3, 1, 2], [7, 7], list(range(1, 13))])
def test_anbn_strings_are_the_language_with_the_end_marker_and_padding_after_it(ns):
    inputs, targets, determined = tasks.anbn_strings(ns)
    T = 2 * max(ns)
    assert inputs.shape == targets.shape == determined.shape == (T, len(ns))
    assert inputs.dtype == targets.dtype == torch.int64 and determined.dtype == torch.bool
    for i, n in enumerate(ns):
        read, predict = anbn_reference(n)
        assert inputs[:2 * n, i].tolist() == read and targets[:2 * n, i].tolist() == predict
        assert bool((inputs[2 * n:, i] == tasks.ANBN_END).all())
        assert bool((targets[2 * n:, i] == tasks.ANBN_IGNORE).all())
        assert int((targets[:, i] == tasks.ANBN_END).sum()) == 1


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_anbn_determined_marks_exactly_the_steps_whose_next_symbol_the_prefix_fixes(n):
    _, _, determined = tasks.anbn_strings([n])
    word = "a" * n + "b" * n
    expected = [len(next_symbols(word[:t + 1], 3 * n)) == 1 for t in range(2 * n)]
    assert determined[:, 0].tolist() == expected
    assert int(determined.sum()) == n  # the b's after the first, and the end marker


def counting_oracle(inputs):
    """Logits of a perfect counter: after reading an a, say a (a guess; b is as good), after the k-th b of n, b while
    k < n and the end marker when k = n; after the end, anything."""
    T, N = inputs.shape
    logits = torch.zeros(T, N, tasks.ANBN_CLASSES)
    for i in range(N):
        a_read = b_read = 0
        for t in range(T):
            symbol = inputs[t, i].item()
            a_read += symbol == tasks.ANBN_A
            b_read += symbol == tasks.ANBN_B
            if symbol == tasks.ANBN_A:
                guess = tasks.ANBN_A
            elif symbol == tasks.ANBN_B:
                guess = tasks.ANBN_B if b_read < a_read else tasks.ANBN_END
            else:
                guess = tasks.ANBN_END
            logits[t, i, guess] = 1.0
    return logits


def test_a_counting_oracle_scores_one_and_always_predicting_b_scores_zero():
    inputs, targets, determined = tasks.anbn_held_out(1, 30)
    assert tasks.anbn_accuracy(counting_oracle(inputs), targets, determined) == 1.0
    always_b = torch.zeros(*inputs.shape, tasks.ANBN_CLASSES)
    always_b[..., tasks.ANBN_B] = 1.0
    assert tasks.anbn_accuracy(always_b, targets, determined) == 0.0  # every b right, every end marker wrong
    # wrong guesses where the next symbol is open (after an a) do not count against a string
    guess_b = counting_oracle(inputs)
    guess_b[inputs == tasks.ANBN_A] = torch.tensor([0.0, 1.0, 0.0])
    assert tasks.anbn_accuracy(guess_b, targets, determined) == 1.0
    one_wrong = counting_oracle(inputs)
    one_wrong[20, 10] = torch.tensor([0.0, 0.0, 1.0])  # n = 11: the 10th b of 11 read, b is next
    assert tasks.anbn_correct(one_wrong, targets, determined).tolist() == [n != 11 for n in range(1, 31)]


def test_a_counter_that_stops_at_ten_passes_training_lengths_and_fails_the_held_out_ones():
    def bounded(inputs):  # counts a's up to 10 only: a finite-state imitation of counting
        logits = counting_oracle(inputs.clone())
        for i in range(inputs.shape[1]):
            n = int((inputs[:, i] == tasks.ANBN_A).sum())
            if n > 10:
                logits[:, i] = 0.0
                logits[:, i, tasks.ANBN_B] = 1.0
                logits[n + 9, i] = torch.tensor([0.0, 0.0, 1.0])  # the end marker after the tenth b
        return logits

    train = tasks.anbn_held_out(1, 10)
    test = tasks.anbn_held_out(11, 50)
    assert tasks.anbn_accuracy(bounded(train[0]), *train[1:]) == 1.0
    assert tasks.anbn_accuracy(bounded(test[0]), *test[1:]) == 0.0
    assert test[0].shape == (100, 40) and torch.equal((test[0] == tasks.ANBN_A).sum(0), torch.arange(11, 51))


def test_sequence_cross_entropy_skips_the_padding_of_anbn():
    from gatedrnn.nn.models import sequence_cross_entropy

    inputs, targets, _ = tasks.anbn_strings([1, 4])
    logits = torch.randn(*inputs.shape, tasks.ANBN_CLASSES, generator=torch.Generator().manual_seed(0))
    log_p = logits.log_softmax(-1)
    real = [(t, i) for t in range(8) for i in range(2) if t < 2 * [1, 4][i]]
    expected = -sum(log_p[t, i, targets[t, i]] for t, i in real) / len(real)
    assert sequence_cross_entropy(logits, targets).item() == pytest.approx(expected.item(), rel=1e-12)


def test_anbn_batch_draws_n_uniformly_in_its_range_and_reproducibly():
    inputs, targets, determined = tasks.anbn_batch(20_000, 10, min_n=3, generator=torch.Generator().manual_seed(0))
    n = (inputs == tasks.ANBN_A).sum(0)
    assert int(n.min()) == 3 and int(n.max()) == 10 and inputs.shape == (20, 20_000)
    counts = torch.bincount(n, minlength=11)[3:].double()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.01
    assert torch.equal((inputs == tasks.ANBN_B).sum(0), n) and torch.equal(determined.sum(0), n)
    again = tasks.anbn_batch(20_000, 10, min_n=3, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(again, (inputs, targets, determined)))


def test_anbn_batches_is_a_seeded_stream_of_inputs_and_targets():
    first, again = tasks.anbn_batches(8, 6, 1), tasks.anbn_batches(8, 6, 1)
    x0, y0 = first(0)
    x1, _ = first(1)
    assert x0.shape[1] == 8 and not torch.equal(x0, x1)
    torch.testing.assert_close(again(0), (x0, y0))
    torch.testing.assert_close(tasks.anbn_batch(8, 6, generator=torch.Generator().manual_seed(1))[:2], (x0, y0))


def test_anbn_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="max_n: expected an int >= 1, got 0"):
        tasks.anbn_batch(4, 0)
    with pytest.raises(ValueError, match="min_n: expected at most max_n = 5, got 6"):
        tasks.anbn_batch(4, 5, min_n=6)
    with pytest.raises(TypeError, match="batch_size: expected an int"):
        tasks.anbn_batch(4.0, 5)
    with pytest.raises(ValueError, match="min_n: expected at most max_n = 10, got 11"):
        tasks.anbn_held_out(11, 10)
    with pytest.raises(TypeError, match="seed: expected an int"):
        tasks.anbn_batches(4, 5, 0.5)
    with pytest.raises(ValueError, match="min_n: expected an int >= 1, got 0"):
        tasks.anbn_batches(4, 5, 0, min_n=0)
    with pytest.raises(ValueError, match="ns: expected a non-empty sequence"):
        tasks.anbn_strings([])
    with pytest.raises(ValueError, match=r"ns\[1\]: expected an int >= 1, got 0"):
        tasks.anbn_strings([2, 0])
    _, targets, determined = tasks.anbn_strings([2, 3])
    with pytest.raises(ValueError, match="logits, targets, determined: expected shapes"):
        tasks.anbn_accuracy(torch.zeros(6, 2), targets, determined)
    with pytest.raises(TypeError, match="determined: expected a bool tensor"):
        tasks.anbn_accuracy(torch.zeros(6, 2, 3), targets, determined.long())


def test_adding_outcome_names_each_threshold_from_a_simulated_error():
    """The four words against errors measured by simulation, not against the constants: predicting the mean (the
    baseline), the half-solution, and networks that know both values up to noise of variance 1/100 and 4/100."""
    x, y = tasks.adding_problem(40, 200_000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    marked = x[:, :, 0] * x[:, :, 1]
    second = marked[20:].sum(dim=0)
    noise = torch.randn(y.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64) / 10
    errors = {
        "does no better than the baseline": tasks.adding_loss(torch.full_like(y, 1.1), y).item(),
        "beats only the baseline": tasks.adding_loss((second + 0.5) * 0.9 + 0.1, y).item(),
        "beats the half-solution": tasks.adding_loss(y + 2 * noise, y).item(),
        "has solved the task": tasks.adding_loss(y + noise, y).item(),
    }
    for words, error in errors.items():
        assert tasks.adding_outcome(error) == words, (words, error)
    assert tasks.adding_outcome(1 / 60 - 1e-9) == "has solved the task"
    assert tasks.adding_outcome(1 / 60 + 1e-9) == "beats the half-solution"
    assert tasks.adding_outcome(1 / 12 - 1e-9) == "beats the half-solution"
    assert tasks.adding_outcome(1 / 12 + 1e-9) == "beats only the baseline"
    assert tasks.adding_outcome(1 / 6 - 1e-9) == "beats only the baseline"
    assert tasks.adding_outcome(1 / 6) == "does no better than the baseline"
    for bad in (float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="error: expected a number"):
            tasks.adding_outcome(bad)


def test_solved_mse_is_a_tenth_of_the_baseline_of_predicting_the_mean():
    from fractions import Fraction

    # Var(U(0, 1)) = E[U²] - E[U]² = 1/3 - 1/4; the two marked values are independent, so Var(U1 + U2) is twice it,
    # the MSE of predicting the constant E[U1 + U2] = 1
    var_u = Fraction(1, 3) - Fraction(1, 2) ** 2
    baseline = 2 * var_u
    assert baseline == Fraction(1, 6)
    assert tasks.ADDING_BASELINE_MSE == pytest.approx(float(baseline), rel=1e-15)
    assert tasks.ADDING_HALF_SOLUTION_MSE == pytest.approx(float(var_u), rel=1e-15)
    assert tasks.ADDING_SOLVED_MSE == pytest.approx(float(baseline / 10), rel=1e-15)  # 1/60


def test_sequential_digits_default_seed_is_zero():
    """Without ``seed`` the split is the one of seed 0: the test quarter is the first round(1797 / 4) images of
    torch's permutation from a generator seeded with 0."""
    from sklearn.datasets import load_digits

    default_x, default_y = tasks.sequential_digits("test", dtype=torch.float64)
    zero_x, zero_y = tasks.sequential_digits("test", seed=0, dtype=torch.float64)
    assert torch.equal(default_x, zero_x) and torch.equal(default_y, zero_y)
    assert not torch.equal(default_y, tasks.sequential_digits("test", seed=1)[1])
    digits = load_digits()
    held_out = torch.randperm(1797, generator=torch.Generator().manual_seed(0))[:449]
    assert torch.equal(default_y, torch.from_numpy(digits.target[held_out.numpy()]))
    assert torch.equal(default_x[..., 0].T * 16, torch.from_numpy(digits.data[held_out.numpy()]))
