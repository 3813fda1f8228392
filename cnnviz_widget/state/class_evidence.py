"""States of the class-evidence panel — ``class_info`` (once per model) and ``class_evidence`` (one class at one
layer, stamped with its request).

Each function builds one trait's value from explicit inputs (engine results); the live panel
(:mod:`cnnviz_widget.panels.class_evidence`) and the HTML export (:mod:`cnnviz_widget.export`) both call them. The
formats are documented in :mod:`cnnviz_widget.panels.class_evidence`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import encode
from ..engine import Explorer
from ..engine.experiments.common import class_label
from ..engine.projection.class_evidence import has_map
from ..errors import ModelError

__all__ = ["ClassRequest", "class_evidence_error", "class_evidence_state", "class_info_state", "class_layers"]


@dataclass(frozen=True)
class ClassRequest:
    """What a class-evidence answer answers (its stamp): the image, the class, the layer, and whether the map is the
    counterfactual one (negated gradients)."""

    image: int
    target: int
    layer: str
    counterfactual: bool

    def to_state(self) -> dict[str, Any]:
        return {"image": self.image, "target": self.target, "layer": self.layer,
                "counterfactual": self.counterfactual}


def class_layers(explorer: Explorer) -> tuple[list[str], str | None]:
    """The layers Grad-CAM can use (those with a spatial map), in forward order, and the default one (the last of
    them; ``None`` when the model has none)."""
    layers = [info.name for info in explorer.layers if has_map(info)]
    try:
        default: str | None = explorer.default_layer("grad_cam")
    except ModelError:
        default = None
    return layers, default


def class_info_state(explorer: Explorer) -> dict[str, Any]:
    """``class_info``: the model's class names (``None`` when it has none: classes are then chosen by index) and the
    layers the panel offers, with the default one."""
    labels = explorer.spec.labels
    layers, default = class_layers(explorer)
    return {"names": list(labels) if labels else None, "layers": layers, "default_layer": default}


def class_evidence_state(request: ClassRequest, labels: list[str] | None, cam: torch.Tensor, guided: torch.Tensor,
                         channel_order: str) -> dict[str, Any]:
    """``class_evidence``: the answer to ``request``.

    Args:
        request: the stamp.
        labels: the model's class names (or ``None``).
        cam: the Grad-CAM map at the layer's resolution, ``Tensor[h, w]`` (``Explorer.grad_cam``; the counterfactual
            map when ``request.counterfactual``).
        guided: guided Grad-CAM of the class, ``Tensor[C, H, W]`` (``Explorer.guided_grad_cam``).
        channel_order: the model's channel order, for drawing ``guided``.
    """
    # The codes alone: the page upsamples them, and float values (4 bytes a place) would make a saved page of early,
    # large maps several times heavier; Explorer.grad_cam gives them in Python.
    codes = {k: v for k, v in encode.value_map(cam.numpy()).items() if k != "values"}
    return {"request": request.to_state(), "state": "ready", "message": "",
            "label": class_label(labels, request.target), "input_size": [int(s) for s in guided.shape[1:]],
            "map": codes, "guided": encode.raw(encode.projection_pixels(guided, channel_order))}


def class_evidence_error(request: ClassRequest, labels: list[str] | None, exc: BaseException) -> dict[str, Any]:
    """``class_evidence`` when the engine refused ``request`` (its message names the fix)."""
    return {"request": request.to_state(), "state": "error", "message": str(exc),
            "label": class_label(labels, request.target)}
