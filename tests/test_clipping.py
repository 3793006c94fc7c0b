"""Norm and value clipping against torch.nn.utils' own clipping, and their guarantees."""

import pytest
import torch

from gatedrnn.experiments import clipping


def parameters_with_gradients(seed, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(*shape, generator=generator)) for shape in ((3, 4), (5,), (2, 2, 2))]
    for p in params:
        p.grad = scale * torch.randn(p.shape, generator=generator)
    return params


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("threshold", [0.1, 1.0, 3.0, 100.0])
def test_norm_clipping_matches_torch_clip_grad_norm(seed, threshold):
    ours, theirs = parameters_with_gradients(seed), parameters_with_gradients(seed)
    norm = clipping.clip_by_norm_(ours, threshold)
    expected_norm = torch.nn.utils.clip_grad_norm_(theirs, threshold)
    assert norm == pytest.approx(expected_norm.item(), rel=1e-12)
    for p, q in zip(ours, theirs):  # torch divides by (norm + 1e-6): equal to that relative precision
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=0)
    after = clipping.gradient_norm(ours)
    assert after == pytest.approx(min(norm, threshold), rel=1e-12)


def test_norm_clipping_keeps_the_direction():
    params = parameters_with_gradients(0, scale=50.0)
    before = torch.cat([p.grad.flatten() for p in params])
    clipping.clip_by_norm_(params, 1.0)
    after = torch.cat([p.grad.flatten() for p in params])
    cosine = torch.dot(before, after) / (before.norm() * after.norm())
    assert cosine.item() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("threshold", [0.05, 0.5, 5.0])
def test_value_clipping_matches_torch_clip_grad_value(threshold):
    ours, theirs = parameters_with_gradients(1), parameters_with_gradients(1)
    largest = clipping.largest_entry(ours)
    norm = clipping.clip_by_value_(ours, threshold)
    torch.nn.utils.clip_grad_value_(theirs, threshold)
    assert largest == pytest.approx(max(p.grad.abs().max().item() for p in parameters_with_gradients(1)))
    assert norm == pytest.approx(torch.cat([p.grad.flatten() for p in parameters_with_gradients(1)]).norm().item())
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0)


def test_non_finite_norm_is_reported_and_gradients_left_alone():
    params = parameters_with_gradients(2)
    params[0].grad[0, 0] = float("inf")
    before = [p.grad.clone() for p in params]
    assert clipping.clip_by_norm_(params, 1.0) == float("inf")
    assert all(torch.equal(p.grad, b) for p, b in zip(params, before))


def test_parameters_without_gradients_are_skipped():
    params = parameters_with_gradients(3) + [torch.nn.Parameter(torch.ones(3))]
    assert clipping.gradient_norm(params) == pytest.approx(clipping.gradient_norm(params[:-1]))
    assert clipping.gradient_norm([torch.nn.Parameter(torch.ones(2))]) == 0.0


@pytest.mark.parametrize("threshold, error", [(0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                              ("1", TypeError), (True, TypeError)])
def test_bad_threshold_is_named(threshold, error):
    with pytest.raises(error, match="threshold: expected a positive"):
        clipping.clip_by_norm_(parameters_with_gradients(0), threshold)
