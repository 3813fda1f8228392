"""Class evidence: Grad-CAM and guided Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep
Networks via Gradient-based Localization", ICCV 2017).

The deconvnet asks what a *unit* responds to; Grad-CAM asks where in the image the evidence for a *class* lies.
For a layer with feature maps ``A^k`` (``k`` over its channels) and the class's score ``y^c`` — its logit, before
the softmax::

    α_k^c = mean over (i, j) of ∂y^c / ∂A^k_ij            (how much map k matters to class c)
    L^c   = ReLU(Σ_k α_k^c A^k)                             (the Grad-CAM map, at the layer's resolution)

The ReLU keeps what argues *for* the class. Negating the gradients instead gives the paper's *counterfactual
explanation*: ``ReLU(−Σ_k α_k^c A^k)``, the regions that argue against the class (removing them would make the
network more sure of it). *Guided Grad-CAM* is guided backprop of ``y^c`` to the pixels (the ``guided`` rule of
:mod:`.rules`) multiplied pointwise by ``L^c`` upsampled to the input (bilinear, ``align_corners=False``): fine
detail from guided backprop, class-discriminative from Grad-CAM.

Several classes cost one forward pass and one batched backward pass (``torch.autograd.grad`` with
``is_grads_batched=True``), each class's map equal to its own call. For Grad-CAM alone the forward records the
autograd graph only above the layer (:func:`~..model.capture.run_to` with ``leaf=True``): nothing below it is
needed.

Warnings:
    The class scores must be the model's output as ``[1, classes]`` (flatten or pool anything else in ``forward``).
    A forward that ignores what a module returns (``self.relu(x)`` in place, then reading ``x``) costs Grad-CAM at
    that module a second forward, with the whole graph recorded. Guided backprop follows
    :mod:`.rules`: every rectifier, functional and in-place ones included, where Captum's ``GuidedBackprop`` sees
    ``nn.ReLU`` modules only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import LayerError, ModelError
from ..model.capture import model_output, run_to
from ..model.layers import LayerInfo
from .rules import backward_rule

__all__ = ["check_layer", "class_list", "grad_cam", "grad_cam_layer", "guided_grad_cam", "has_map"]


def has_map(info: LayerInfo) -> bool:
    """Whether a layer has a 2-D spatial map with more than one position (Grad-CAM has a "where" to show)."""
    return len(info.shape) == 3 and info.shape[1] * info.shape[2] > 1


def grad_cam_layer(layers: Sequence[LayerInfo]) -> LayerInfo:
    """The default Grad-CAM layer: the last layer with a spatial map (the paper's choice: the last convolutional
    features, where high-level meaning and space still meet) — before a class-map head. A network whose last
    convolution already has one map per class, only pooled after (SqueezeNet's conv10, network-in-network heads), is
    class activation mapping there: each class's map is its own channel and the counterfactual is empty, so the
    default is the last map before that head."""
    with_map = [info for info in layers if has_map(info)]
    if not with_map:
        raise ModelError("no layer of this model has a 2-D spatial map with more than one position; Grad-CAM needs "
                         "one — pass a CNN whose convolutional features keep a map")
    classes = layers[-1].channels
    last_linear = max((info.index for info in layers if info.kind == "linear"), default=-1)
    features = [info for info in with_map if info.channels != classes or info.index < last_linear]
    return features[-1] if features else with_map[-1]


def check_layer(info: LayerInfo, default: LayerInfo) -> None:
    """Raise ``LayerError`` naming the default layer if ``info`` has no map for Grad-CAM."""
    if not has_map(info):
        shape = "×".join(str(n) for n in info.shape)
        raise LayerError(
            f"layer {info.name!r} has no spatial map (its output is {shape}); Grad-CAM weighs the feature maps of a "
            f"layer that keeps space — pick one, e.g. the default {default.name!r} (Explorer.default_layer('grad_cam'))"
        )


def class_list(target: Any) -> tuple[list[int], bool]:
    """``(classes, single)`` from one class index or a sequence of them (range is checked against the output)."""
    if isinstance(target, (torch.Tensor, np.ndarray)) and target.ndim == 0:
        target = target.item()
    single = isinstance(target, (int, np.integer)) and not isinstance(target, bool)
    items = [target] if single else target
    if isinstance(items, (str, bytes)) or not isinstance(items, (Sequence, np.ndarray, torch.Tensor)):
        raise LayerError(f"target must be a class index or a list of them, not {target!r}")
    items = items.tolist() if isinstance(items, (np.ndarray, torch.Tensor)) else list(items)
    bad = [t for t in items if isinstance(t, bool) or not isinstance(t, (int, np.integer))]
    if bad or not items:
        raise LayerError(f"target must be a class index or a non-empty list of them, not {target!r}")
    return [int(t) for t in items], single


def _class_scores(out: Any, classes: list[int]) -> torch.Tensor:
    """The model's ``[1, classes]`` logits, with ``classes`` checked against them."""
    scores = model_output(out)
    if scores.dim() != 2 or scores.shape[0] != 1:
        raise ModelError(
            f"Grad-CAM needs class scores, but the model's output has shape {tuple(scores.shape)}, not "
            "[1, classes] — make forward return one logit per class (flatten or pool the output), or wrap the model"
        )
    n = scores.shape[1]
    outside = [c for c in classes if not 0 <= c < n]
    if outside:
        raise LayerError(f"class {outside[0]} is outside this model's classes 0–{n - 1}; pass a class index "
                         "(Explorer.predict(x) lists the likely ones)")
    return scores


def _seeds(scores: torch.Tensor, classes: list[int]) -> torch.Tensor:
    """One one-hot row per class: the backward pass of row t starts from ``y^{classes[t]}``."""
    seeds = torch.zeros((len(classes), *scores.shape), dtype=scores.dtype, device=scores.device)
    seeds[torch.arange(len(classes), device=scores.device), 0, torch.tensor(classes, device=scores.device)] = 1.0
    return seeds


def _grads(scores: torch.Tensor, wrt: torch.Tensor, seeds: torch.Tensor, *,
           retain: bool = False) -> torch.Tensor | None:
    """``[T, *wrt.shape]``: the derivative of each seeded score with respect to ``wrt``, one batched backward
    (``None`` if the scores do not depend on ``wrt``)."""
    if not scores.requires_grad:
        return None
    if len(seeds) == 1:
        (grad,) = torch.autograd.grad(scores, wrt, seeds[0], retain_graph=retain, allow_unused=True)
        return None if grad is None else grad[None]
    (grad,) = torch.autograd.grad(scores, wrt, seeds, retain_graph=retain, is_grads_batched=True, allow_unused=True)
    return grad


def _unused(info: LayerInfo) -> ModelError:
    return ModelError(f"the class scores do not depend on the output of layer {info.name!r} — pick another layer")


def _weighted_maps(a: torch.Tensor, grads: torch.Tensor, counterfactual: bool) -> torch.Tensor:
    """``[T, h, w]`` = ReLU(±Σ_k α_k A^k), α_k the spatial mean of the gradient (``a``: ``[1, C, h, w]``)."""
    alpha = grads[:, 0].mean(dim=(2, 3), keepdim=True)
    if counterfactual:
        alpha = -alpha
    return F.relu((alpha * a).sum(dim=1))


def _upsample(maps: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def grad_cam(model: nn.Module, x: torch.Tensor, info: LayerInfo, classes: list[int], *, upsample: bool = False,
             counterfactual: bool = False) -> torch.Tensor:
    """Grad-CAM maps of ``classes`` at layer ``info`` for the batch of one ``x``: ``Tensor[T, h, w]`` on the model's
    device and dtype (``[T, H, W]`` with ``upsample``). Call in eval mode; see the module docstring.

    Raises:
        ModelError: the model's output is not ``[1, classes]``, or does not depend on the layer.
        LayerError: a class outside the model's classes.
    """
    with torch.no_grad():
        captured, out = run_to(model, x, [info], stop=False, detach=False, leaf=True)
    a = captured[info.name]
    scores = _class_scores(out, classes)
    seeds = _seeds(scores, classes)
    grads = _grads(scores, a, seeds)
    if grads is None:
        # The forward read the layer's input after an in-place op rather than what the module returned: only the
        # whole graph (the pixels on) reaches the layer then.
        with torch.enable_grad():
            captured, out = run_to(model, x.detach().requires_grad_(True), [info], stop=False, detach=False)
            a = captured[info.name]
            grads = _grads(model_output(out), a, seeds)
        if grads is None:
            raise _unused(info)
    with torch.no_grad():
        maps = _weighted_maps(a, grads, counterfactual)
        return _upsample(maps, tuple(x.shape[2:])) if upsample else maps


def guided_grad_cam(model: nn.Module, x: torch.Tensor, info: LayerInfo, classes: list[int]) -> torch.Tensor:
    """Guided Grad-CAM of ``classes`` at layer ``info`` for the batch of one ``x``: ``Tensor[T, C, H, W]``, guided
    backprop of each class's logit times its upsampled Grad-CAM map. One forward, two batched backwards (the plain
    gradient to the layer, the guided rule to the pixels). Call in eval mode.

    Raises:
        ModelError: the model's output is not ``[1, classes]``, or does not depend on the layer.
        LayerError: a class outside the model's classes.
    """
    pixels = x.detach().requires_grad_(True)
    with torch.enable_grad():
        captured, out = run_to(model, pixels, [info], stop=False, detach=False)
        a = captured[info.name]
        scores = _class_scores(out, classes)
        seeds = _seeds(scores, classes)
        grads = _grads(scores, a, seeds, retain=True)
        if grads is None:
            raise _unused(info)
        with backward_rule("guided"):
            guided = _grads(scores, pixels, seeds)
    if guided is None:
        raise ModelError("the class scores do not depend on the input pixels — check the model's forward")
    with torch.no_grad():
        maps = _upsample(_weighted_maps(a, grads, False), tuple(x.shape[2:]))
        return guided[:, 0] * maps[:, None]
