"""Correspondence analysis (Zeiler & Fergus 2013, Table 1): does the network tie object parts together across
images?

Mask the same part (the left eye, the nose, …) in several images of one kind of object. For image ``i`` and layer
``l`` the feature-difference vector is ``εᵢ = f(xᵢ) − f(x̃ᵢ)`` (original minus masked). If the layer encodes the
part consistently, the ``εᵢ`` point the same way: the consistency score is the mean, over pairs of images, of the
Hamming distance between ``sign(εᵢ)`` and ``sign(εⱼ)``, as a fraction of the layer's size — low means consistent.
The baseline masks a square of the same size at a random place in each image (several trials, seeded).

Masks are boxes ``(top, left, bottom, right)`` in model-input pixels, filled with the dataset mean (``0`` in
model space for an :class:`~.preprocess.ImagePreprocess`, as the occluder).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import CNNVizError
from ..explorer import Explorer
from ..model.capture import eval_mode, model_output, run_to
from .common import mean_fill, model_input, penultimate_layer

__all__ = ["Correspondence", "correspondence_analysis"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Correspondence:
    """Consistency scores: ``scores[part][layer] = (mean, std)`` of the normalised Hamming distance over image
    pairs (lower = more consistent). ``"random"`` is the baseline, its mean and std taken over all trials' pairs.

    Attributes:
        parts: the part names, then ``"random"``.
        layers: the layers measured.
        boxes: ``{part: [box per image]}``, and for ``"random"`` ``[[box per image] per trial]``.
        masked: ``{part: uint8 [n, H, W, 3]}`` — the masked images as the model saw them.
    """

    parts: list[str]
    layers: list[str]
    scores: dict[str, dict[str, tuple[float, float]]]
    boxes: dict[str, Any]
    masked: dict[str, np.ndarray]


def _hamming(signs: torch.Tensor) -> list[float]:
    """Normalised Hamming distances between every pair of rows of ``signs``."""
    return [float((signs[i] != signs[j]).float().mean()) for i, j in itertools.combinations(range(len(signs)), 2)]


def correspondence_analysis(
    explorer: Explorer,
    images: Sequence[Any],
    parts: Mapping[str, Sequence[Box]],
    *,
    layers: Sequence[str] | None = None,
    random_trials: int = 10,
    seed: int = 0,
) -> Correspondence:
    """Consistency of the feature changes caused by masking the same part in each image, vs random masks.

    Args:
        explorer: the model.
        images: two or more images (anything :meth:`~.explorer.Explorer.prepare` reads, or model inputs).
        parts: ``{name: [box per image]}`` — the part's box in each image, ``(top, left, bottom, right)``.
        layers: layers to compare; default: the middle convolution and the penultimate layer (the paper used
            layers 5 and 7 of 7).
        random_trials: random-mask trials for the baseline (each takes one part's boxes and moves each to a random
            place in its image).
        seed: seeds the random boxes.

    Raises:
        CNNVizError: fewer than two images, or a part without one box per image, or a box outside the image.
    """
    if not isinstance(explorer, Explorer):
        raise TypeError(f"correspondence_analysis takes an Explorer (Explorer(model)), not {type(explorer).__name__}")
    xs = [model_input(explorer, image) for image in images]
    if len(xs) < 2:
        raise CNNVizError("correspondence compares images: pass at least two")
    height, width = xs[0].shape[1:]
    for name, boxes in parts.items():
        if len(boxes) != len(xs):
            raise CNNVizError(f"part {name!r} has {len(boxes)} boxes for {len(xs)} images — give one box per image")
        for box in boxes:
            top, left, bottom, right = box
            if not (0 <= top < bottom <= height and 0 <= left < right <= width):
                raise CNNVizError(f"part {name!r}: box {tuple(box)} is not inside the {height}×{width} model input "
                                  "— boxes are (top, left, bottom, right) in model-input pixels")
    if random_trials < 1:
        raise CNNVizError(f"random_trials must be at least 1, not {random_trials}")
    device, dtype = explorer.spec.device, explorer.spec.dtype
    batch = torch.stack(xs)
    if layers is None:
        with eval_mode(explorer.model), torch.no_grad():
            n_classes = model_output(explorer.model(batch[:1].to(device, dtype))).flatten(1).shape[1]
        convs = [info.name for info in explorer.layers if info.kind == "conv"]
        layers = list(dict.fromkeys([convs[len(convs) // 2], penultimate_layer(explorer, n_classes)]))
    infos = [explorer.layer(name) for name in layers]
    rng = np.random.default_rng(seed)
    part_boxes = list(parts.values()) or [[(0, 0, height // 4, width // 4)] * len(xs)]
    trials = []
    for _ in range(random_trials):
        # One part's box sizes, each box moved to a random place in its image.
        sizes = [(b[2] - b[0], b[3] - b[1]) for b in part_boxes[int(rng.integers(len(part_boxes)))]]
        trial = []
        for h, w in sizes:
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            trial.append((top, left, top + h, left + w))
        trials.append(trial)

    fill = mean_fill(explorer, xs[0]).view(-1, 1, 1)

    def features(inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        with eval_mode(explorer.model), torch.no_grad():
            captured, _ = run_to(explorer.model, inputs.to(device, dtype), infos)
        return {name: captured[info.name].to("cpu", torch.float32).flatten(1) for name, info in zip(layers, infos)}

    def masked(boxes: Sequence[Box]) -> torch.Tensor:
        out = batch.clone()
        for i, (top, left, bottom, right) in enumerate(boxes):
            out[i, :, top:bottom, left:right] = fill
        return out

    original = features(batch)
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    shown: dict[str, np.ndarray] = {}
    for name, boxes in parts.items():
        inputs = masked(boxes)
        diff = features(inputs)
        scores[name] = {}
        for layer in layers:
            distances = _hamming(torch.sign(original[layer] - diff[layer]))
            scores[name][layer] = (float(np.mean(distances)), float(np.std(distances)))
        shown[name] = np.stack([explorer.to_pixels(x) for x in inputs])
    pooled: dict[str, list[float]] = {layer: [] for layer in layers}
    for trial in trials:
        diff = features(masked(trial))
        for layer in layers:
            pooled[layer] += _hamming(torch.sign(original[layer] - diff[layer]))
    scores["random"] = {layer: (float(np.mean(pooled[layer])), float(np.std(pooled[layer]))) for layer in layers}
    return Correspondence(parts=[*parts, "random"], layers=list(layers), scores=scores,
                          boxes={**{k: [tuple(b) for b in v] for k, v in parts.items()}, "random": trials},
                          masked=shown)

