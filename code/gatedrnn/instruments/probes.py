"""Probes for a claim about depth: how large the loss's gradient is after every layer of a deep network, and whether it
matters that a recurrence uses one matrix at every step where a feed-forward network has many.

The claim: "exploding gradients are especially common in CNNs, because they use many weight matrices". Two probes:

* :func:`plain_cnn` builds a deep convolutional network of 3×3 convolutions and ReLUs (optionally with batch
  normalisation and residual blocks) at PyTorch's initialisation or He's, and :func:`activation_grad_norms` measures
  ‖∂L/∂a_l‖ after every layer l.
* :func:`recurrent_grad_norms` runs the tanh map h_l = tanh(W_l h_{l-1}) for ``depth`` steps with one matrix W at
  every step (``shared=True``: a recurrent network unrolled, with no input after the first) or with ``depth``
  independent matrices at the same scale (``shared=False``: a deep feed-forward tanh network), and measures
  ‖∂L/∂h_l‖. Going back one step multiplies the gradient by a Jacobian W_lᵀ diag(1 - h_l²). Where tanh is nearly
  linear, with one matrix repeated the product follows W's own leading directions and its norm changes by about the
  spectral radius ρ(W) per step, the same factor at every step of a given network; with independent matrices the
  factors are independent draws, and the logarithm of the norm is a random walk whose drift is set by the
  matrices' typical stretch (:func:`gaussian_log_growth` gives it exactly for linear layers). For Gaussian matrices
  at one scale σ both rates are then close to log σ; what sharing changes most is the spread from one network to
  the next, which grows in proportion to the depth instead of its square root. :func:`log_growth_rate` fits the
  per-step rate.

Every measurement is one forward pass that keeps each layer's output as a node of the graph and one
``torch.autograd.grad`` with respect to all of them; the parameters' gradients are not touched.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn.instruments.gradients import decay_factor
from gatedrnn.validation import check_flag, check_scalar_loss, check_size, floating_dtype

INITS = ("default", "he")  # PyTorch's own initialisation of Conv2d; kaiming_normal_ (fan_in, ReLU gain), zero biases
RECURRENT_INITS = ("gaussian", "orthogonal")
RECURRENT_NONLINEARITIES = ("tanh", "linear")


class Residual(nn.Module):
    """A residual block ``x + f(x)``: the identity path carries the gradient past ``f`` unchanged."""

    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: Tensor) -> Tensor:
        return x + self.f(x)


def conv_layer(
    in_channels: int,
    channels: int,
    *,
    batch_norm: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """One layer of :func:`plain_cnn`: a 3×3 convolution with padding 1 (the image keeps its size), then
    ``BatchNorm2d`` if ``batch_norm`` (the convolution then has no bias, which the normalisation's shift replaces),
    then ReLU."""
    parts: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1, bias=not batch_norm,
                                        device=device, dtype=dtype)]
    if batch_norm:
        parts.append(nn.BatchNorm2d(channels, device=device, dtype=dtype))
    parts.append(nn.ReLU())
    return nn.Sequential(*parts)


def he_init_(module: nn.Module, *, generator: torch.Generator | None = None) -> None:
    """He initialisation of every ``Conv2d`` in ``module``, in place: weights from ``kaiming_normal_`` (fan_in, ReLU
    gain), so std = √(2 / fan_in) with fan_in = in_channels · 3 · 3, and biases 0. Other layers are left as they are."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu", generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()


def plain_cnn(
    depth: int,
    channels: int,
    *,
    in_channels: int = 1,
    classes: int = 10,
    init: str = "default",
    batch_norm: bool = False,
    residual: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """A deep plain convolutional network for small images [N, in_channels, H, W], with no pooling: ``net.layers``,
    ``depth`` layers of :func:`conv_layer`, then ``net.head``, a global average over the image and a linear readout
    to ``classes`` logits.

    The first layer maps ``in_channels`` to ``channels`` and is never residual; with ``residual=True`` each later
    layer f becomes a block ``x + f(x)`` (:class:`Residual`). ``init="default"`` keeps PyTorch's initialisation
    (weights uniform with variance 1 / (3 fan_in)); ``init="he"`` applies :func:`he_init_` to the convolutions.
    Random draws come from PyTorch's global generator. ``net(images)`` gives the logits [N, classes]; measure the
    gradient after each layer with ``activation_grad_norms(net.layers, images, lambda a: loss(net.head(a), labels))``
    (:func:`cnn_grad_norms`).
    """
    D, C = check_size("depth", depth), check_size("channels", channels)
    I, K = check_size("in_channels", in_channels), check_size("classes", classes)
    if init not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    check_flag("batch_norm", batch_norm)
    check_flag("residual", residual)
    floating_dtype(dtype)
    layers: list[nn.Module] = [conv_layer(I, C, batch_norm=batch_norm, device=device, dtype=dtype)]
    for _ in range(D - 1):
        layer = conv_layer(C, C, batch_norm=batch_norm, device=device, dtype=dtype)
        layers.append(Residual(layer) if residual else layer)
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(C, K, device=device, dtype=dtype))
    net = nn.Sequential(OrderedDict(layers=nn.Sequential(*layers), head=head))
    if init == "he":
        he_init_(net.layers)
    return net


def activation_grad_norms(
    layers: Iterable[Callable[[Tensor], Tensor]],
    x: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
) -> Tensor:
    """‖∂L/∂a_l‖ for every layer l, from the first to the last: a_0 = ``x``, a_l = layers[l](a_{l-1}), and
    ``L = loss_fn(a_last)``. The norm is the Frobenius norm over the batch and all features.

    The layers are run one by one and every a_l is kept as a node of the graph; one ``torch.autograd.grad`` then
    gives the total derivative of L with respect to each (through all later layers). ``layers`` are modules or any
    callables; a module with batch normalisation uses batch statistics in training mode (and updates its running
    averages, as any forward pass does) and running statistics after ``eval()``. Returns a detached tensor
    [len(layers)] in ``x``'s dtype; the parameters' gradients are not touched.
    """
    layers = list(layers)
    if not layers or not all(callable(layer) for layer in layers):
        raise TypeError("layers: expected a non-empty sequence of modules or callables")
    if not isinstance(x, Tensor) or not x.dtype.is_floating_point:
        raise TypeError(f"x: expected a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable activation -> scalar, got {type(loss_fn).__name__}")
    with torch.enable_grad():
        a = x.detach().requires_grad_(True)  # so that every a_l is on the graph, even with frozen parameters
        activations = []
        for layer in layers:
            a = layer(a)
            activations.append(a)
        grads = torch.autograd.grad(check_scalar_loss(loss_fn(a)), activations, allow_unused=True)
    if all(g is None for g in grads):
        raise ValueError("loss_fn: its value does not depend on the last layer's output")
    norms = [torch.zeros((), dtype=a.dtype, device=a.device) if g is None else torch.linalg.vector_norm(g)
             for g, a in zip(grads, activations)]
    return torch.stack(norms).detach()


def cnn_grad_norms(net: nn.Sequential, images: Tensor, labels: Tensor) -> Tensor:
    """‖∂L/∂a_l‖ after each of the ``depth`` layers of a :func:`plain_cnn`, with L the cross-entropy of its logits
    against ``labels`` [N] (mean over the batch): :func:`activation_grad_norms` of ``net.layers``."""
    if not (isinstance(net, nn.Sequential) and hasattr(net, "layers") and hasattr(net, "head")):
        raise TypeError(f"net: expected a network of plain_cnn, got {type(net).__name__}")
    return activation_grad_norms(net.layers, images, lambda a: F.cross_entropy(net.head(a), labels))


def _check_positive(name: str, value: object) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a positive number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value}")
    return float(value)


def recurrence_weights(
    depth: int,
    width: int,
    *,
    shared: bool = True,
    sigma: float = 1.0,
    init: str = "gaussian",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """The matrices W_1 … W_depth of :func:`recurrence_grad_norms`, a tensor [depth, width, width].

    ``init="gaussian"``: entries N(0, σ² / width), so that ‖W v‖ ≈ σ ‖v‖ for a typical v, the spectral radius
    is about σ and the largest singular value about 2σ when the width is large; ``init="orthogonal"``: σ Q with Q a
    random orthogonal matrix (every singular value σ). ``shared=True`` draws one matrix and repeats it (a view: the
    same matrix at every step); ``shared=False`` draws ``depth`` independent ones. Drawn in float64 on the CPU from
    ``generator``, so a seed gives the same matrices on every device and in every dtype.
    """
    D, n = check_size("depth", depth), check_size("width", width)
    check_flag("shared", shared)
    s = _check_positive("sigma", sigma)
    if init not in RECURRENT_INITS:
        raise ValueError(f"init: expected one of {RECURRENT_INITS}, got {init!r}")
    floating_dtype(dtype)
    weights = torch.empty(1 if shared else D, n, n, dtype=torch.float64)
    for w in weights:
        if init == "gaussian":
            nn.init.normal_(w, std=s / math.sqrt(n), generator=generator)
        else:
            nn.init.orthogonal_(w, gain=s, generator=generator)
    weights = weights.to(device=device, dtype=dtype or torch.get_default_dtype())
    return weights.expand(D, n, n) if shared else weights


def recurrence_grad_norms(
    weights: Tensor,
    h0: Tensor,
    direction: Tensor,
    *,
    nonlinearity: str = "tanh",
) -> Tensor:
    """‖∂L/∂h_l‖ for l = 1 … depth, where h_l = φ(W_l h_{l-1}) (φ = tanh, or the identity for ``"linear"``) with
    W_l = ``weights[l - 1]`` and L = ⟨``direction``, h_depth⟩.

    ``h0`` and ``direction`` are [width] or a batch [N, width]. Since ∂L/∂h_depth = ``direction``, the norms are
    those of (J_depth ⋯ J_{l+1})ᵀ direction, with one step's Jacobian J_l = diag(φ'(W_l h_{l-1})) W_l: the product
    alone, not the size of the forward states. Returns a detached tensor [depth], first step to last.
    """
    if nonlinearity not in RECURRENT_NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {RECURRENT_NONLINEARITIES}, got {nonlinearity!r}")
    if not isinstance(weights, Tensor) or weights.dim() != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"weights: expected a tensor [depth, width, width], got "
                         f"{tuple(getattr(weights, 'shape', ())) or type(weights).__name__}")
    n = weights.shape[-1]
    for name, value in (("h0", h0), ("direction", direction)):
        if not isinstance(value, Tensor) or value.dim() not in (1, 2) or value.shape[-1] != n:
            raise ValueError(f"{name}: expected a tensor [width] or [N, width] with width = {n}, got "
                             f"{tuple(getattr(value, 'shape', ())) or type(value).__name__}")
    if direction.shape != h0.shape:
        raise ValueError(f"direction: expected the shape of h0 {tuple(h0.shape)}, got {tuple(direction.shape)}")
    phi = torch.tanh if nonlinearity == "tanh" else (lambda u: u)
    steps = [lambda h, w=w: phi(h @ w.T) for w in weights.unbind(0)]
    return activation_grad_norms(steps, h0, lambda h: (h * direction).sum())


def recurrent_grad_norms(
    depth: int,
    width: int,
    *,
    shared: bool = True,
    sigma: float = 1.0,
    init: str = "gaussian",
    nonlinearity: str = "tanh",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """:func:`recurrence_grad_norms` of one random network: matrices from :func:`recurrence_weights`, a start h_0
    with entries N(0, 1) and a direction drawn uniformly on the unit sphere, so that ‖∂L/∂h_depth‖ = 1 and the
    norms read as the growth of the gradient going back from the last step. All draws come from ``generator``, in
    float64 on the CPU. Returns [depth], first step to last."""
    weights = recurrence_weights(depth, width, shared=shared, sigma=sigma, init=init, generator=generator,
                                 device=device, dtype=dtype)
    h0 = torch.randn(width, generator=generator, dtype=torch.float64)
    direction = torch.randn(width, generator=generator, dtype=torch.float64)
    direction = direction / torch.linalg.vector_norm(direction)
    h0, direction = (v.to(device=weights.device, dtype=weights.dtype) for v in (h0, direction))
    return recurrence_grad_norms(weights, h0, direction, nonlinearity=nonlinearity)


def log_growth_rate(norms: Tensor, *, skip_last: int = 0) -> float:
    """The per-step rate λ at which a gradient norm grows going back one layer or step, fitted as
    ``norms[l] ≈ C exp(λ (L - 1 - l))``: the logarithm of :func:`gatedrnn.instruments.gradients.decay_factor` (a
    least-squares line through log ``norms`` against l, over all but the last ``skip_last`` entries). λ > 0: the
    gradient explodes into the early layers; λ < 0: it vanishes."""
    return math.log(decay_factor(norms, skip_last=skip_last))


def gaussian_log_growth(width: int, sigma: float) -> tuple[float, float]:
    """Mean and variance of log(‖Wᵀ g‖ / ‖g‖) for W with independent N(0, σ² / width) entries and any g independent
    of W: one step back through a linear layer of :func:`recurrence_weights` with ``shared=False``.

    Wᵀ g / ‖g‖ has independent N(0, σ² / n) entries, so ‖Wᵀ g‖² / ‖g‖² = (σ² / n) χ²_n, and with E log χ²_n =
    ψ(n/2) + log 2 and Var log χ²_n = ψ'(n/2) (ψ the digamma function): mean log σ + (ψ(n/2) + log(2/n)) / 2,
    a little below log σ, and variance ψ'(n/2) / 4, about 1 / (2n). With independent layers these steps are
    independent, so log ‖∂L/∂h_l‖ is a random walk: its spread over networks grows like √(depth - l), where with one
    shared matrix the rate log ρ(W) is fixed per network and the spread grows like (depth - l).
    """
    n = check_size("width", width)
    s = _check_positive("sigma", sigma)
    half = torch.tensor(n / 2, dtype=torch.float64)
    mean = math.log(s) + 0.5 * (torch.special.digamma(half).item() + math.log(2 / n))
    variance = 0.25 * torch.special.polygamma(1, half).item()
    return mean, variance
