"""Occlusion sensitivity (Zeiler & Fergus 2013, Fig. 7): what does the network rely on?

A gray square is slid over the image; at every position the occluded image is forwarded and three maps are read:

(a) the total activation of a chosen feature map (or the activation of one unit) — does that feature look at the
    object, or at its surroundings?
(b) the probability of the correct (or a chosen) class — where must the object be visible to be recognised?
(c) the most probable class — what does the network see instead?

**Windows.** Occluder positions start at ``0, stride, 2·stride, …`` along each axis, one more each until a window
reaches the far edge; the last window is cut at the image border, so every pixel is covered at least once (the same
windows as Captum's ``Occlusion``). The map has ``ceil((H - size) / stride) + 1`` rows.

**Fill.** The square has the dataset mean colour: for an :class:`~.preprocess.ImagePreprocess` that is exactly
``0`` in model space (the normalisation subtracts the mean), so the occluder carries no signal. For another
preprocessing the default is the image's own per-channel mean; ``fill=`` sets it explicitly (model space).

**Speed.** Occluded images are forwarded in batches, and each batch is computed incrementally
(:class:`~.incremental.PatchedBatch`): early layers recompute only the windows an occluder can reach. Results
equal one forward per occluder to float rounding (``incremental=False`` turns it off). ``bench/occlusion.py``
measures the gain.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import CNNVizError, ModelError
from ..explorer import Explorer
from ..model.capture import eval_mode, fast_layout, model_output, run_to
from ..model.layers import LayerInfo
from ..progress import Progress, check_cancel, report
from ..projection.projector import check_unit
from .common import chosen_target, class_label, mean_fill, model_input
from .incremental import PatchedBatch

__all__ = ["OcclusionMaps", "occluder_positions", "occlusion_maps"]

#: Memory allowed for one batch of occluded images (all layer outputs of a row, summed).
BATCH_MEMORY = 1.5e9


@dataclass(frozen=True)
class OcclusionMaps:
    """The maps of one occlusion experiment. Map cell ``[i, j]`` is the occluder at :meth:`box` ``(i, j)``.

    Attributes:
        size, stride: the occluder's side and step, in model-input pixels.
        tops, lefts: ``int64 [My]``, ``int64 [Mx]`` — the occluder's top row / left column at each map row / column.
        input_size: ``(H, W)`` of the model input.
        fill: the occluder's value per channel, in model space.
        target, target_label: the class whose probability is mapped.
        probability: ``float32 [My, Mx]`` — probability of ``target`` with the occluder there (map b).
        top_class: ``int64 [My, Mx]`` — the most probable class there (map c); ``top_probability`` its probability.
        reference_probability, reference_top_class: the same for the unoccluded image.
        labels: class names (``labels[top_class[i, j]]``), or ``None``.
        layer, channel, position: the feature map (``position=None``) or unit whose activation is mapped.
        activation: ``float32 [My, Mx]`` — that feature map's total activation (or the unit's activation) with the
            occluder there (map a); ``None`` if no layer was asked for. ``reference_activation``: unoccluded.
        image: the unoccluded model input, ``Tensor[C, H, W]`` on the CPU.
    """

    size: int
    stride: int
    tops: np.ndarray
    lefts: np.ndarray
    input_size: tuple[int, int]
    fill: tuple[float, ...]
    target: int
    target_label: str
    probability: np.ndarray
    top_class: np.ndarray
    top_probability: np.ndarray
    reference_probability: float
    reference_top_class: int
    labels: list[str] | None
    layer: str | None
    channel: int | None
    position: tuple[int, ...] | None
    activation: np.ndarray | None
    reference_activation: float | None
    image: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        """``(My, Mx)``: occluder positions down and across."""
        return (len(self.tops), len(self.lefts))

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """The occluder of map cell ``(i, j)``: ``(top, left, bottom, right)``, half-open, cut at the border."""
        if not (0 <= i < len(self.tops) and 0 <= j < len(self.lefts)):
            raise IndexError(f"map cell ({i}, {j}) is outside the {len(self.tops)}×{len(self.lefts)} occlusion map")
        top, left = int(self.tops[i]), int(self.lefts[j])
        return (top, left, min(top + self.size, self.input_size[0]), min(left + self.size, self.input_size[1]))

    def occluded(self, i: int, j: int) -> torch.Tensor:
        """The model input with the occluder of map cell ``(i, j)``: ``Tensor[C, H, W]`` (show it with
        ``explorer.to_pixels``)."""
        top, left, bottom, right = self.box(i, j)
        x = self.image.clone()
        x[:, top:bottom, left:right] = torch.tensor(self.fill, dtype=x.dtype).view(-1, 1, 1)
        return x

    def label(self, index: int) -> str:
        """The name of class ``index``."""
        return class_label(self.labels, index)

    def per_pixel(self, values: np.ndarray) -> np.ndarray:
        """Spread a map over the input: each pixel gets the mean of ``values`` over the windows covering it.

        ``float32 [H, W]``. ``per_pixel(reference_probability - probability)`` is exactly Captum's ``Occlusion``
        attribution (for every channel) with the same window, stride and baseline.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self.shape:
            raise CNNVizError(f"values must have the map's shape {self.shape}, not {values.shape}")
        total = np.zeros(self.input_size, dtype=np.float64)
        count = np.zeros(self.input_size, dtype=np.float64)
        for i in range(len(self.tops)):
            for j in range(len(self.lefts)):
                top, left, bottom, right = self.box(i, j)
                total[top:bottom, left:right] += values[i, j]
                count[top:bottom, left:right] += 1
        return (total / np.maximum(count, 1)).astype(np.float32)


def occluder_positions(extent: int, size: int, stride: int) -> np.ndarray:
    """Top (or left) coordinates of the occluder along an axis of ``extent`` pixels (see the module docstring)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise CNNVizError(f"occluder size must be a positive number of pixels, not {size!r}")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise CNNVizError(
            f"stride must be at least 1 pixel, not {stride!r} — the occluder moves by `stride` pixels between "
            "positions (size // 3 is a good start)"
        )
    if size > extent:
        raise CNNVizError(
            f"the occluder ({size} px) is larger than the {extent} px model input — use size ≤ {extent} "
            f"(squares of about a fifth of the image, size≈{max(1, extent // 5)}, show the most)"
        )
    count = math.ceil((extent - size) / stride) + 1
    return np.arange(count, dtype=np.int64) * stride


def _batch_rows(explorer: Explorer, batch_size: int) -> int:
    row_bytes = 4.0 * sum(math.prod(info.shape) for info in explorer.layers)
    return max(2, min(batch_size, int(BATCH_MEMORY // max(row_bytes, 1.0))))


def occlusion_maps(
    explorer: Explorer,
    image: Any,
    *,
    size: int = 48,
    stride: int = 16,
    target: int | None = None,
    layer: str | None = None,
    channel: int | str = "max",
    position: tuple[int, int] | str | None = None,
    fill: float | Sequence[float] | None = None,
    batch_size: int = 64,
    incremental: bool = True,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> OcclusionMaps:
    """Slide a gray square over ``image`` and map what the network sees (Zeiler & Fergus, Fig. 7).

    Args:
        explorer: the model.
        image: any image (read and preprocessed) or the model's input ``Tensor[C, H, W]``.
        size, stride: the occluder's side and step in model-input pixels (default 48 and 16: a 13×13 map on a
            227-pixel input).
        target: the class whose probability is mapped (the correct class, if known); default: the class the
            network predicts for the unoccluded image.
        layer: also map a feature of this layer (map a).
        channel: its channel, or ``"max"`` for the feature map with the strongest activation in the unoccluded
            image (the paper's choice).
        position: ``None`` maps the channel's total activation; ``(y, x)`` or ``"max"`` (its strongest unit in
            the unoccluded image) maps one unit.
        fill: the occluder's value in model space, one number or one per channel; default: the dataset mean.
        batch_size: occluded images per forward pass (at most; capped by memory).
        incremental: recompute only what each occluder changes (same results; see the module docstring).
        progress, cancel: ``progress(done, total)`` after each batch; set ``cancel`` to stop (raises
            :class:`~.progress.Cancelled`).

    Returns:
        :class:`OcclusionMaps`.

    Raises:
        CNNVizError: the occluder does not fit the input, or a zero/negative size or stride.
        LayerError: unknown layer, channel or position; ``target`` outside the model's classes.
    """
    if not isinstance(explorer, Explorer):
        raise TypeError(f"occlusion_maps takes an Explorer (Explorer(model)), not {type(explorer).__name__}")
    x = model_input(explorer, image)
    if x.dim() != 3:
        raise ModelError(f"occlusion needs a 2-D image input (C×H×W), not a tensor of shape {tuple(x.shape)}")
    height, width = int(x.shape[1]), int(x.shape[2])
    tops = occluder_positions(height, size, stride)
    lefts = occluder_positions(width, size, stride)
    fill_values = _fill(explorer, x, fill)
    info: LayerInfo | None = explorer.layer(layer) if layer is not None else None
    if info is not None and channel != "max":
        check_unit(info, channel, None)  # type: ignore[arg-type]
    model = explorer.model
    device, dtype = explorer.spec.device, explorer.spec.dtype
    boxes = [(int(t), int(left), min(int(t) + size, height), min(int(left) + size, width))
             for t in tops for left in lefts]
    rows = _batch_rows(explorer, batch_size)
    fill_column = fill_values.view(-1, 1, 1)
    target_p, top_p, top_c, values = [], [], [], []
    report(progress, 0, len(boxes))
    with eval_mode(model), torch.no_grad():
        ref_probs, ref_features = _forward(model, x.unsqueeze(0).to(device, dtype), info)
        target = chosen_target(target, ref_probs[0])
        unit: tuple[int, tuple[int, ...] | None] | None = None
        if info is not None and ref_features is not None:
            unit = _choose_unit(info, ref_features[0], channel, position)
        for start in range(0, len(boxes), rows):
            check_cancel(cancel, "occlusion")
            chunk = boxes[start:start + rows]
            if incremental:
                batch: torch.Tensor = _occluded_patches(x, chunk, size, fill_column, device, dtype)
            else:
                batch = x.unsqueeze(0).repeat(len(chunk), 1, 1, 1)
                for k, (top, left, bottom, right) in enumerate(chunk):
                    batch[k, :, top:bottom, left:right] = fill_column
                batch = batch.to(device, dtype)
            probs, features = _forward(model, batch, info)
            target_p.append(probs[:, target])
            best = probs.max(dim=1)
            top_p.append(best.values)
            top_c.append(best.indices)
            if unit is not None and features is not None:
                values.append(_feature_value(features, *unit))
            report(progress, min(start + rows, len(boxes)), len(boxes))

    shape = (len(tops), len(lefts))
    labels = explorer.spec.labels
    return OcclusionMaps(
        size=int(size), stride=int(stride), tops=tops, lefts=lefts, input_size=(height, width),
        fill=tuple(float(v) for v in fill_values), target=int(target), target_label=class_label(labels, int(target)),
        probability=torch.cat(target_p).reshape(shape).numpy().astype(np.float32),
        top_class=torch.cat(top_c).reshape(shape).numpy().astype(np.int64),
        top_probability=torch.cat(top_p).reshape(shape).numpy().astype(np.float32),
        reference_probability=float(ref_probs[0, target]), reference_top_class=int(torch.argmax(ref_probs[0])),
        labels=list(labels) if labels is not None else None, layer=info.name if info is not None else None,
        channel=unit[0] if unit is not None else None, position=unit[1] if unit is not None else None,
        activation=torch.cat(values).reshape(shape).numpy().astype(np.float32) if unit is not None else None,
        reference_activation=float(_feature_value(ref_features, *unit)[0])
        if unit is not None and ref_features is not None else None,
        image=x,
    )


def _fill(explorer: Explorer, x: torch.Tensor, fill: float | Sequence[float] | None) -> torch.Tensor:
    if fill is None:
        return mean_fill(explorer, x)
    values = torch.as_tensor(fill, dtype=torch.float32).flatten()
    if values.numel() == 1:
        values = values.expand(x.shape[0]).clone()
    if values.numel() != x.shape[0]:
        raise CNNVizError(f"fill needs 1 or {x.shape[0]} values (one per channel), got {values.numel()}")
    return values


def _forward(model: torch.nn.Module, batch: torch.Tensor, info: LayerInfo | None
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Class probabilities ``[N, classes]`` and, if ``info``, that layer's outputs (CPU float32)."""
    if info is not None:
        captured, out = run_to(model, batch, [info], stop=False)
        features = captured[info.name]
        if isinstance(features, PatchedBatch):
            features = features.materialize()
        features = features.to("cpu", torch.float32)
    else:
        out, features = model(fast_layout(model, batch)), None
    logits = model_output(out)
    if isinstance(logits, PatchedBatch):
        logits = logits.materialize()
    return torch.softmax(logits.to("cpu", torch.float32).flatten(1), dim=1), features


def _occluded_patches(x: torch.Tensor, boxes: list[tuple[int, int, int, int]], size: int, fill: torch.Tensor,
                      device: torch.device, dtype: torch.dtype) -> PatchedBatch:
    """The occluded images as a :class:`PatchedBatch`: the image once, plus one ``size``×``size`` patch each."""
    height, width = x.shape[1:]
    starts = np.array([(min(top, height - size), min(left, width - size)) for top, left, _, _ in boxes])
    patches = torch.stack([x[:, sy:sy + size, sx:sx + size] for sy, sx in starts.tolist()]).clone()
    for k, ((top, left, bottom, right), (sy, sx)) in enumerate(zip(boxes, starts.tolist())):
        patches[k, :, top - sy:bottom - sy, left - sx:right - sx] = fill
    cl = torch.channels_last
    return PatchedBatch(x.unsqueeze(0).to(device, dtype).contiguous(memory_format=cl),
                        patches.to(device, dtype).contiguous(memory_format=cl), starts)


def _choose_unit(info: LayerInfo, reference: torch.Tensor, channel: int | str,
                 position: tuple[int, int] | str | None) -> tuple[int, tuple[int, ...] | None]:
    """Resolve ``"max"`` channel/position against the unoccluded image's activations of ``info``."""
    if channel == "max":
        strength = reference.flatten(1).amax(dim=1) if reference.dim() > 1 else reference
        channel = int(torch.argmax(strength))
    pos = check_unit(info, channel, position)  # type: ignore[arg-type]
    if pos == "max":
        flat = int(torch.argmax(reference[channel]))
        pos = tuple(int(i) for i in np.unravel_index(flat, tuple(reference.shape[1:])))
    return int(channel), pos  # type: ignore[return-value]


def _feature_value(features: torch.Tensor, channel: int, position: tuple[int, ...] | None) -> torch.Tensor:
    """Per row: the total activation of ``channel`` (``position`` None) or the unit at ``position``."""
    if features.dim() == 2:
        return features[:, channel]
    if position is None:
        return features[:, channel].flatten(1).sum(dim=1)
    return features[(slice(None), channel, *position)]
