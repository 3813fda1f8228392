"""Backward rules: deconvnet (Zeiler & Fergus 2013), guided backprop (Springenberg et al. 2015), plain gradient.

All three run PyTorch's own backward pass. They differ only at the nonlinearities, and only there:

* Max-pooling's backward routes the signal to the arg-max of each window: exactly the deconvnet's *unpooling with
  switches*. Convolution's backward is convolution with the *transposed filters*. Both are kept as they are.
* At each rectifier, the ``deconvnet`` rule rectifies the backward signal itself (ignoring the forward input),
  ``guided`` rectifies it *and* keeps the ordinary gradient mask, ``gradient`` changes nothing.

The rules are applied in a ``TorchDispatchMode`` that replaces the ATen backward kernels of the rectifiers. So they
hold at **every** rectifier however it was called — an ``nn.ReLU`` module (in-place or not, reused or not),
``F.relu``, ``torch.relu``, ``Tensor.relu``, ``relu_`` — which hook-based tools miss for the functional forms.

==============================  ==========================  ======================================
forward op                      ``deconvnet`` backward       ``guided`` backward
==============================  ==========================  ======================================
ReLU, threshold                 ``relu(g)``                  ``relu(g) · 1[x > t]``
ReLU6 / Hardtanh(0, ·)          ``relu(g)``                  ``relu(g) · 1[0 < x < max]``
LeakyReLU, RReLU (eval), PReLU  the same leaky function      ``relu(g) · f'(x)``
                                applied to ``g``
GELU, SiLU, Hardswish, Mish,    ``relu(g)``                  ``relu(g) · max(f'(x), 0)``
ELU, SELU, CELU, Softplus
Hardtanh(a<0, ·), sigmoid,      gradient                     gradient
tanh, hard-sigmoid (gates)
max-pool                        switches (= gradient)        switches (= gradient)
conv, linear, BatchNorm (eval), transposed weights / the linear map's transpose (= gradient)
avg-pool, residual add, concat,
dropout (eval), LRN
==============================  ==========================  ======================================

Warnings:
    A rectifier written as arithmetic (``x.clamp(min=0)``, ``x * (x > 0)``, ``torch.maximum(x, 0)``) is not an ATen
    rectifier and is treated as plain gradient by every rule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

RULES = ("deconvnet", "guided", "gradient")

aten = torch.ops.aten
_Handler = Callable[[str, Any, tuple], Any]


def _threshold(rule: str, func: Any, args: tuple) -> Any:
    grad, x, threshold = args[0], args[1], args[2]
    if rule == "deconvnet":
        return torch.relu(grad)
    return func(torch.relu(grad), x, threshold)


def _hardtanh(rule: str, func: Any, args: tuple) -> Any:
    grad, x, lo, hi = args
    if lo != 0:  # a clip to [a, b] with a < 0 is a squashing function, not a rectifier
        return func(*args)
    if rule == "deconvnet":
        return torch.relu(grad)
    return func(torch.relu(grad), x, lo, hi)


def _leaky(rule: str, func: Any, args: tuple) -> Any:
    grad, slope = args[0], args[2]
    if rule == "deconvnet":
        return F.leaky_relu(grad, float(slope))
    return func(torch.relu(grad), *args[1:])


def _rrelu(rule: str, func: Any, args: tuple) -> Any:
    grad, lower, upper = args[0], args[3], args[4]
    if rule == "deconvnet":
        return F.leaky_relu(grad, (float(lower) + float(upper)) / 2.0)
    return func(torch.relu(grad), *args[1:])


def _prelu(rule: str, func: Any, args: tuple) -> Any:
    grad, x, weight = args
    grad_weight = func(*args)[1]
    if rule == "deconvnet":
        return torch.where(grad > 0, grad, weight * grad), grad_weight  # weight arrives broadcast-shaped
    return func(torch.relu(grad), x, weight)[0], grad_weight


def _smooth(rule: str, func: Any, args: tuple) -> Any:
    grad = args[0]
    if rule == "deconvnet":
        return torch.relu(grad)
    return torch.clamp(func(torch.relu(grad), *args[1:]), min=0)


#: The rectifiers' backward ops and the handler that applies a rule to each (synthesis reads the op list too).
RECTIFIER_BACKWARDS: dict[Any, _Handler] = {
    aten.threshold_backward.default: _threshold,
    aten.hardtanh_backward.default: _hardtanh,
    aten.leaky_relu_backward.default: _leaky,
    aten.rrelu_with_noise_backward.default: _rrelu,
    aten._prelu_kernel_backward.default: _prelu,
    aten.gelu_backward.default: _smooth,
    aten.silu_backward.default: _smooth,
    aten.hardswish_backward.default: _smooth,
    aten.mish_backward.default: _smooth,
    aten.elu_backward.default: _smooth,
    aten.softplus_backward.default: _smooth,
}


class BackwardRule(TorchDispatchMode):
    """Active during a backward pass, swaps the rectifiers' backward kernels for ``rule``'s."""

    def __init__(self, rule: str) -> None:
        super().__init__()
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
        self.rule = rule

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        handler = RECTIFIER_BACKWARDS.get(func)
        if handler is None or kwargs:
            return func(*args, **(kwargs or {}))
        return handler(self.rule, func, args)


@contextlib.contextmanager
def backward_rule(rule: str) -> Iterator[None]:
    """Context in which ``torch.autograd.grad`` follows ``rule`` (``"gradient"`` changes nothing)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if rule == "gradient":
        yield
        return
    with BackwardRule(rule):
        yield
