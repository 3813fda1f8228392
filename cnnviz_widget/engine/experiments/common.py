"""Helpers the paper's experiments share: the model's input for an image, the dataset mean, the class to follow,
class names, and the layers the paper compares (its "layer 1" and the penultimate layer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...errors import LayerError, ModelError
from ..explorer import Explorer
from ..model.capture import eval_mode, model_output
from ..model.preprocess import ImagePreprocess

__all__ = ["chosen_target", "class_label", "mean_fill", "model_input", "paper_layers", "penultimate_layer"]


def class_label(labels: Sequence[str] | None, index: int) -> str:
    """The name of class ``index`` (``"class 7"`` without names)."""
    return labels[index] if labels and 0 <= index < len(labels) else f"class {index}"


def chosen_target(target: int | None, probabilities: torch.Tensor) -> int:
    """``target``, checked against the model's classes, or the most probable class when it is ``None``."""
    n_classes = probabilities.shape[-1]
    if target is None:
        return int(torch.argmax(probabilities))
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < n_classes:
        raise LayerError(f"target {target!r} is not a class of this model (0–{n_classes - 1})")
    return int(target)


def model_input(explorer: Explorer, image: Any) -> torch.Tensor:
    """``image`` as the model's ``Tensor[C, H, W]`` on the CPU (a tensor of that shape is taken as it is)."""
    if isinstance(image, torch.Tensor) and tuple(image.shape) == tuple(explorer.spec.input_shape):
        return image.detach().to("cpu", torch.float32)
    if isinstance(image, torch.Tensor) and image.dim() == 4:
        raise ModelError("pass one image, not a batch")
    x = explorer.prepare(image)
    if x.shape[0] != explorer.spec.input_shape[0]:
        raise ModelError(
            f"input has {x.shape[0]} channels but the model takes {explorer.spec.input_shape[0]} — pass an image "
            "(it is preprocessed for you) or the tensor spec.preprocess(image) returns"
        )
    return x.to("cpu", torch.float32)


def mean_fill(explorer: Explorer, x: torch.Tensor) -> torch.Tensor:
    """The dataset mean in model space: 0 for an ImagePreprocess, else the image's per-channel mean."""
    if isinstance(explorer.spec.preprocess, ImagePreprocess):
        return torch.zeros(x.shape[0], dtype=torch.float32)
    return x.float().mean(dim=tuple(range(1, x.dim())))


def penultimate_layer(explorer: Explorer, n_outputs: int) -> str:
    """The last layer before the class scores: the deepest layer whose width differs from ``n_outputs`` once the
    trailing layers of that width (the classifier, its ReLU and pooling) are passed."""
    layers = explorer.layers
    k = len(layers) - 1
    while k > 0 and layers[k].channels == n_outputs:
        k -= 1
    return layers[k].name


def paper_layers(explorer: Explorer, x: torch.Tensor) -> list[str]:
    """The layers of the paper's Fig. 5 for input ``x``: the first convolution ("layer 1") and the penultimate layer
    (found from the width of the model's output)."""
    with eval_mode(explorer.model), torch.no_grad():
        out = model_output(explorer.model(x[None].to(explorer.spec.device, explorer.spec.dtype)))
    return list(dict.fromkeys([explorer.first_conv.name, penultimate_layer(explorer, int(out.flatten(1).shape[1]))]))
