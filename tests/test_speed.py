"""The speed chapter's measures: growth exponents, the bytes autograd saves, checkpointing, attainable FLOP/s."""

import json
import math

import pytest
import torch

from gatedrnn.instruments import speed


def test_growth_exponent_recovers_the_power_of_a_power_law():
    sizes = [16, 32, 64, 128]
    assert speed.growth_exponent(sizes, [3.0 * s**2 for s in sizes]) == pytest.approx(2.0, abs=1e-12)
    assert speed.growth_exponent(sizes, [0.5 * s**0.5 for s in sizes]) == pytest.approx(0.5, abs=1e-12)
    assert speed.growth_exponent(sizes, [7.0] * 4) == pytest.approx(0.0, abs=1e-12)


def test_growth_exponent_names_bad_arguments():
    with pytest.raises(ValueError, match="sizes, values: expected two sequences of equal length >= 2, got 2 and 3"):
        speed.growth_exponent([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="expected positive numbers"):
        speed.growth_exponent([1, 2], [1, 0])
    with pytest.raises(ValueError, match="sizes: expected at least two different sizes, got \\[4, 4\\]"):
        speed.growth_exponent([4, 4], [1, 2])


def test_saved_bytes_counts_what_the_operations_are_known_to_save():
    a = torch.randn(100, dtype=torch.float32, requires_grad=True)
    b = torch.randn(100, dtype=torch.float64, requires_grad=True)
    # a product saves both factors; exp saves its result; sum saves nothing but shapes
    assert speed.saved_bytes(lambda: (a * a).sum()) == 400  # one storage, saved twice, counted once
    assert speed.saved_bytes(lambda: (a.double() * b).sum()) == 1600
    assert speed.saved_bytes(lambda: (a.double() * b).exp().sum()) == 2400
    assert speed.saved_bytes(lambda: (a.double() * b).sum(), exclude=[b]) == 800
    with pytest.raises(TypeError, match="run: expected a callable that builds a graph, got int"):
        speed.saved_bytes(3)


def test_elements_written_counts_fresh_outputs_and_in_place_writes_but_not_views():
    a, b = torch.randn(10, 3), torch.randn(10, 3)
    assert speed.elements_written(lambda: a * b + a) == 60
    assert speed.elements_written(lambda: torch.cat([a, b])) == 60
    assert speed.elements_written(lambda: (a[0], a.unbind(0), a.T)) == 0
    assert speed.elements_written(lambda: a.clone().add_(1)) == 60
    assert speed.elements_written(lambda: torch.linalg.qr(torch.randn(4, 4))) > 16  # several outputs, all counted
    with pytest.raises(TypeError, match="run: expected a callable, got str"):
        speed.elements_written("a * b")


def test_operations_called_names_the_aten_operations_run():
    a = torch.randn(3, 3)
    assert speed.operations_called(lambda: a @ a + 1) == {"aten::mm", "aten::add"}
    assert speed.operations_called(lambda: (a[0], torch.tanh(a))) == {"aten::select", "aten::tanh"}
    with pytest.raises(TypeError, match="run: expected a callable, got int"):
        speed.operations_called(1)


def test_reading_u_t_by_index_writes_a_full_gradient_per_step_and_unbind_does_not():
    def written(T, pieces):
        u = torch.randn(T, 2, 3, requires_grad=True)
        return speed.elements_written(lambda: sum(p.sum() for p in pieces(u)).backward())
    for T in (4, 8, 16):
        by_index = written(T, lambda u: [u[t] for t in range(T)])
        by_unbind = written(T, lambda u: u.unbind(0))
        assert by_index - by_unbind >= T * (T - 1) * 6  # each select's backward writes a [T, 2, 3] zero gradient
        assert by_unbind < 20 * T * 6


def _tanh_steps(weight):
    def step_range(u, state):
        (h,) = state
        states = []
        for u_t in u.unbind(0):
            h = torch.tanh(u_t + h @ weight.T)
            states.append(h)
        return torch.stack(states), (h,)
    return step_range


def test_checkpointed_gives_the_plain_values_and_gradients_and_saves_less():
    torch.manual_seed(0)
    weight = (0.5 * torch.randn(6, 6, dtype=torch.float64)).requires_grad_()
    u = torch.randn(24, 3, 6, dtype=torch.float64, requires_grad=True)
    h0 = torch.zeros(3, 6, dtype=torch.float64)
    step_range = _tanh_steps(weight)
    plain, (last,) = step_range(u, (h0,))
    expected = torch.autograd.grad(plain.square().sum() + last.sum(), (weight, u))
    for segment in (1, 5, 24, 100):
        states, (final,) = speed.checkpointed(step_range, u, (h0,), segment)
        torch.testing.assert_close(states, plain, rtol=0, atol=1e-14)
        got = torch.autograd.grad(states.square().sum() + final.sum(), (weight, u))
        for g, e in zip(got, expected):
            torch.testing.assert_close(g, e, rtol=0, atol=1e-12)
    full = speed.saved_bytes(lambda: step_range(u, (h0,))[0].sum(), exclude=[weight, u])
    every_six = speed.saved_bytes(lambda: speed.checkpointed(step_range, u, (h0,), 6)[0].sum(),
                                  exclude=[weight, u])
    assert every_six < full / 2, (every_six, full)
    with pytest.raises(ValueError, match="segment: expected an int >= 1, got 0"):
        speed.checkpointed(step_range, u, (h0,), 0)


def test_attainable_flops_is_a_positive_rate_within_what_a_cpu_thread_can_do():
    rate = speed.attainable_flops("cpu", size=128, rounds=2)
    assert math.isfinite(rate) and 1e7 < rate < 1e13


def test_operation_count_sees_each_dispatched_call_forward_and_backward():
    """k more multiplications dispatch k more operations without autograd and 2k with it (each MulBackward of a
    product by a number is one more multiplication): the count against that closed form."""

    def chain(k: int, grad: bool) -> None:
        x = torch.ones(3, requires_grad=grad)
        y = x
        for _ in range(k):
            y = y * 2.0
        if grad:
            y.sum().backward()

    for grad, per_mul in ((False, 1), (True, 2)):
        extra = speed.operation_count(lambda: chain(20, grad)) - speed.operation_count(lambda: chain(10, grad))
        assert extra == 10 * per_mul, (grad, extra)
    with pytest.raises(TypeError, match="run: expected a callable"):
        speed.operation_count(3)


def test_seconds_per_operation_is_a_fixed_cost_of_microseconds():
    seconds = speed.seconds_per_operation("cpu", operations=50, rounds=2)
    assert 1e-7 < seconds < 1e-3, seconds  # Python, dispatch and autograd: about a microsecond to tens of them
    with pytest.raises(ValueError, match="operations"):
        speed.seconds_per_operation("cpu", operations=0)


def test_round_mantissa_is_bfloat16_at_seven_bits_and_rounds_ties_to_even():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(10_000, generator=g) * 10.0 ** torch.randint(-40, 38, (10_000,), generator=g),
                   torch.tensor([0.0, -0.0, 3.4e38, -3.4e38, 1e-45, math.inf, -math.inf])]).float()
    # PyTorch's own conversion to bfloat16 (round to nearest even) is the independent reference at 7 bits
    assert torch.equal(speed.round_mantissa(x, 7), x.to(torch.bfloat16).float())
    one = 1.0
    cases = {one + 2**-11: one,  # a tie between 1 and 1 + 2^-10: to the even one, 1
             one + 3 * 2**-11: one + 2**-9,  # a tie between 1 + 2^-10 and 1 + 2^-9: to the even one
             one + 2**-11 + 2**-20: one + 2**-10}  # just above a tie: up
    for value, expected in cases.items():
        assert speed.round_mantissa(torch.tensor([value], dtype=torch.float32), 10).item() == expected, value
    tf32 = speed.round_mantissa(x[:10_000], 10)
    finite = x[:10_000].abs() > 1e-37  # normal numbers: relative error at most half a unit in the 10th bit
    assert ((tf32 - x[:10_000]).abs()[finite] <= 2**-11 * x[:10_000].abs()[finite]).all()
    assert torch.isnan(speed.round_mantissa(torch.tensor([math.nan], dtype=torch.float32), 10)).all()
    assert torch.equal(speed.round_mantissa(x, 23), x)
    with pytest.raises(TypeError, match="x: expected a float32 tensor, got torch.float64"):
        speed.round_mantissa(x.double(), 10)
    with pytest.raises(ValueError, match="bits: expected an int from 0 to 23"):
        speed.round_mantissa(x, 24)


def test_latest_gpu_record_takes_the_newest_good_record_of_a_gpu(tmp_path):
    def record(device: str, date: str, dry_run: bool = False) -> dict:
        return {"schema": speed.GPU_RECORD_SCHEMA,
                "environment": {"device": device, "date": date, "commit": "abc", "torch": "2", "triton": "3",
                                "dry_run": dry_run},
                "kernels": [], "compiled": [], "timings": [{"what": "loop", "ms": 1.0}], "chapters": [], "seconds": 1.0}

    assert speed.latest_gpu_record(tmp_path / "absent") is None
    (tmp_path / "a.json").write_text(json.dumps(record("NVIDIA H100", "2026-12-01T10:00:00+00:00")))
    (tmp_path / "b.json").write_text(json.dumps(record("NVIDIA H200", "2026-12-03T10:00:00+00:00")))
    (tmp_path / "c.json").write_text(json.dumps(record("cpu (x86_64)", "2026-12-05T10:00:00+00:00", dry_run=True)))
    broken = record("NVIDIA B200", "2026-12-06T10:00:00+00:00")
    del broken["timings"]
    (tmp_path / "d.json").write_text(json.dumps(broken))
    (tmp_path / "e.json").write_text("{not json")
    assert speed.latest_gpu_record(tmp_path)["environment"]["device"] == "NVIDIA H200"


def test_profile_operations_counts_the_calls_of_each_operation(capfd):
    x = torch.ones(4)
    rows = speed.profile_operations(lambda: [x * 2.0 for _ in range(30)] + [x + 1.0 for _ in range(10)], per=10,
                                    top=20)
    calls = {row["operation"]: row["calls"] for row in rows}
    assert calls["aten::mul"] == 3 and calls["aten::add"] == 1, calls
    assert all(row["self ms"] >= 0 for row in rows)
    assert [r["self ms"] for r in rows] == sorted((r["self ms"] for r in rows), reverse=True)
    # the profiler's C++ start and stop lines would reach a notebook as warnings: none is written
    assert capfd.readouterr().err == ""
    with pytest.raises(TypeError, match="run: expected a callable"):
        speed.profile_operations(None)


def test_latest_gpu_record_finds_the_repositorys_folder_from_below(tmp_path, monkeypatch):
    folder = tmp_path / "measurements" / "gpu"
    folder.mkdir(parents=True)
    record = {"schema": speed.GPU_RECORD_SCHEMA,
              "environment": {"device": "NVIDIA H100", "date": "2026-12-01T10:00:00+00:00", "commit": "abc",
                              "torch": "2", "triton": "3", "dry_run": False},
              "kernels": [], "compiled": [], "timings": [], "chapters": [], "seconds": 1.0}
    (folder / "h100.json").write_text(json.dumps(record))
    below = tmp_path / "_build" / "jupyter_execute" / "chapters"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert speed.latest_gpu_record() == record
    monkeypatch.chdir(tmp_path.parent)
    assert speed.latest_gpu_record(tmp_path / "nowhere") is None
