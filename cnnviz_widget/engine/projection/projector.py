"""Projecting units back to pixel space, many at a time.

The paper's recipe for one unit: forward the image, keep that unit's activation and zero every other activation
of its layer, then run the backward network (see :mod:`.rules`) down to the pixels. Done naively that is one
forward + backward per unit. Here the work is shared where it can be, without changing any result:

* **One forward, many backwards.** Units of the same image (and same window) share one forward pass; their
  backward passes run batched (``torch.autograd.grad(..., is_grads_batched=True)``).
* **Only the receptive field.** A unit at a given position depends only on the pixels in its receptive field,
  and so do the pooling switches and ReLU masks below it. Such units are computed on a crop of the image that
  covers the field, aligned to the layer's stride so every layer sees the same grid (and at the image border
  the crop ends where the image ends, so padding is unchanged). The result is pasted back into a zero canvas.
  Each (layer, crop size) is checked once against the full image; a model for which the two disagree (a
  forward that depends on the input size) is simply never cropped again.
* **Early stop.** The forward pass ends at the requested layer.
* **Batches** of many crops (many images) run as one batch, in chunks sized to a memory budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import torch
from torch import nn

from ...errors import LayerError
from ..model.capture import run_to
from ..model.layers import LayerInfo, LayerTable
from .rules import RULES, backward_rule

Position = Union[tuple[int, ...], str, None]
SEEDS = ("activation", "one")


@dataclass(frozen=True)
class UnitRequest:
    """One unit to project: ``channel`` of ``layer`` in image ``image`` of the batch, at ``position``.

    ``position``: ``(y, x)`` in the layer's map, ``"max"`` for the channel's strongest location, or ``None`` for
    the whole map of that channel.
    """

    image: int
    layer: str
    channel: int
    position: Position = "max"


def check_unit(info: LayerInfo, channel: int, position: Position) -> Position:
    """Validate ``channel``/``position`` against a layer; return the position as a tuple, ``"max"`` or ``None``."""
    if not isinstance(channel, (int,)) or isinstance(channel, bool) or not 0 <= channel < info.channels:
        raise LayerError(
            f"channel {channel!r} is outside layer {info.name!r}, which has channels 0–{info.channels - 1}"
        )
    if position is None or position == "max":
        return position
    if isinstance(position, str):
        raise LayerError(f"position must be (y, x), 'max' or None, not {position!r}")
    pos = tuple(int(p) for p in position)
    spatial = info.spatial
    if len(info.shape) == 1:
        if any(p != 0 for p in pos):
            raise LayerError(f"layer {info.name!r} has no spatial map (shape {info.shape}); use position=None")
        return None
    if len(pos) != len(spatial) or any(not 0 <= p < n for p, n in zip(pos, spatial)):
        raise LayerError(
            f"position {tuple(position)} is outside layer {info.name!r}, whose map is "
            f"{'×'.join(str(n) for n in spatial)} (valid: 0 ≤ y < {spatial[0]}, 0 ≤ x < {spatial[-1]})"
        )
    return pos


Window = tuple[tuple[int, int], ...]  # per spatial axis: [lo, hi)
_MAX_CROP_FRACTION = 0.8  # a crop this close to the whole image saves too little to be worth a separate forward
_SHARED_FRACTION = 0.5  # several units of one image share a full-image forward unless their crops are this small
_SHARED_MIN_UNITS = 4


def _crop_window(info: LayerInfo, position: tuple[int, ...], size: tuple[int, ...]) -> Window | None:
    """The stride-aligned crop that contains the unit's receptive field, or None if cropping cannot help."""
    geometry = info.geometry
    if geometry is None or len(geometry) != len(position):
        return None
    window = []
    for axis, p, n in zip(geometry, position, size):
        jump = axis.jump
        if jump <= 0 or jump != int(jump):
            return None
        jump = int(jump)
        # One crop size per layer (the field in whole strides, plus one stride of slack for the alignment), so that
        # crops batch together; only crops that end at the image's right/bottom edge differ, all in the same way.
        width = -(-math.ceil(axis.size) // jump) * jump + jump
        lo_f, hi_f = axis.interval(p)
        lo = max(0, math.floor(lo_f) // jump * jump)
        hi = lo + width
        if hi >= n:
            lo, hi = max(0, (n - width) // jump * jump), n
        if lo > max(0, math.floor(lo_f)) or hi < min(n, math.ceil(hi_f)):
            return None
        window.append((lo, hi))
    area = math.prod(hi - lo for lo, hi in window)
    if area >= _MAX_CROP_FRACTION * math.prod(size):
        return None
    return tuple(window)


def _full(size: tuple[int, ...]) -> Window:
    return tuple((0, n) for n in size)


def _slices(window: Window) -> tuple[slice, ...]:
    return (Ellipsis, *(slice(lo, hi) for lo, hi in window))  # type: ignore[return-value]


Box = tuple[int, ...]  # (top, left, bottom, right): half-open, in input pixels, may reach past the image


@dataclass
class Canvas:
    """Where projections land: whole images, or one box per request (only that part is kept)."""

    tensor: torch.Tensor
    boxes: list[Box] | None

    @classmethod
    def for_boxes(cls, boxes: Sequence[Box], count: int, channels: int, dims: int) -> Canvas:
        boxes = [tuple(int(v) for v in box) for box in boxes]
        sizes = {tuple(box[dims + d] - box[d] for d in range(dims)) for box in boxes}
        if len(boxes) != count or len(sizes) > 1 or any(n <= 0 for size in sizes for n in size):
            raise ValueError(f"boxes must be {count} non-empty (top, left, bottom, right) boxes of one size, "
                             f"got sizes {sorted(sizes)}")
        shape = sizes.pop() if sizes else (1,) * dims
        return cls(torch.zeros((count, channels, *shape), dtype=torch.float32), boxes)

    def paste(self, r: int, window: Window, grad: torch.Tensor) -> None:
        """Write the gradient of ``window`` (the crop that was computed) for request ``r``."""
        if self.boxes is None:
            self.tensor[r][_slices(window)] = grad
            return
        box = self.boxes[r]
        dims = len(window)
        target, source = [], []
        for d, (lo, hi) in enumerate(window):
            b_lo, b_hi = box[d], box[dims + d]
            a, b = max(lo, b_lo), min(hi, b_hi)
            if a >= b:
                return
            target.append(slice(a - b_lo, b - b_lo))
            source.append(slice(a - lo, b - lo))
        self.tensor[r][(Ellipsis, *target)] = grad[(Ellipsis, *source)]


class Projector:
    """Computes projections for a model and its layer table (see the module docstring for how)."""

    def __init__(self, model: nn.Module, table: LayerTable, *, memory_budget: float = 1.5e9, crop: bool = True) -> None:
        self.model = model
        self.table = table
        self.memory_budget = memory_budget
        self.crop = crop
        self._crop_verified: dict[tuple[str, tuple[int, ...]], bool] = {}
        self._uncroppable: set[str] = set()

    def _row_bytes(self, info: LayerInfo, fraction: float, elem: int) -> float:
        upstream = sum(math.prod(layer.shape) for layer in self.table if layer.index <= info.index)
        return max(1.0, 4.0 * upstream * elem * fraction)

    def project(self, xs: torch.Tensor, requests: Sequence[UnitRequest], rule: str = "deconvnet",
                seed: str = "activation", boxes: Sequence[Box] | None = None) -> torch.Tensor:
        """Projections of ``requests`` for the batch ``xs`` (N×C×H×W): a CPU float32 tensor U×C×H×W.

        With ``boxes`` (one ``(top, left, bottom, right)`` per request, all the same size, e.g. each unit's receptive
        field) only that part of each projection is returned, U×C×h×w, zero where a box leaves the image.
        """
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
        if seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}; choose 'activation' (the paper: the unit's own value) or 'one'")
        size = tuple(xs.shape[2:])
        if boxes is None:
            out = Canvas(torch.zeros((len(requests), *xs.shape[1:]), dtype=torch.float32), None)
        else:
            out = Canvas.for_boxes(boxes, len(requests), xs.shape[1], len(size))
        planned = []
        per_image: dict[tuple[str, int], int] = {}
        for req in requests:
            if not 0 <= req.image < xs.shape[0]:
                raise LayerError(f"image index {req.image} is outside the batch of {xs.shape[0]}")
            info = self.table[req.layer]
            position = check_unit(info, req.channel, req.position)
            window = None
            if self.crop and isinstance(position, tuple) and info.name not in self._uncroppable:
                window = _crop_window(info, position, size)
            planned.append((info, position, window))
            per_image[(info.name, req.image)] = per_image.get((info.name, req.image), 0) + 1
        groups: dict[tuple[str, int, Window], list[tuple[int, int, Position]]] = {}
        for r, (req, (info, position, window)) in enumerate(zip(requests, planned)):
            if window is not None and per_image[(info.name, req.image)] >= _SHARED_MIN_UNITS and (
                    math.prod(hi - lo for lo, hi in window) >= _SHARED_FRACTION * math.prod(size)):
                window = None  # one shared forward + a batched backward beats many large crops
            groups.setdefault((info.name, req.image, window or _full(size)), []).append((r, req.channel, position))
        buckets: dict[tuple[str, tuple[int, ...]], list[tuple[int, Window, list]]] = {}
        for (name, image, window), units in groups.items():
            shape = tuple(hi - lo for lo, hi in window)
            buckets.setdefault((name, shape), []).append((image, window, units))
        retry: list[int] = []
        for (name, shape), bucket in buckets.items():
            info = self.table[name]
            singles = [g for g in bucket if len(g[2]) == 1]
            multis = [g for g in bucket if len(g[2]) > 1]
            fraction = math.prod(shape) / math.prod(size)
            rows = max(1, int(self.memory_budget // self._row_bytes(info, fraction, xs.element_size())))
            for start in range(0, len(singles), rows):
                retry += self._run_rows(xs, info, singles[start:start + rows], rule, seed, out, size)
            for image, window, units in multis:
                for start in range(0, len(units), rows):
                    retry += self._run_shared(xs, info, image, window, units[start:start + rows], rule, seed, out, size)
        if retry:
            again = self.project(xs, [requests[r] for r in retry], rule, seed,
                                 None if boxes is None else [boxes[r] for r in retry])
            for i, r in enumerate(retry):
                out.tensor[r] = again[i]
        return out.tensor

    def _crop_ok(self, xs: torch.Tensor, info: LayerInfo, image: int, window: Window, channel: int,
                 position: tuple[int, ...], value: torch.Tensor) -> bool:
        key = (info.name, tuple(hi - lo for lo, hi in window))
        if key not in self._crop_verified:
            with torch.no_grad():
                full = run_to(self.model, xs[image:image + 1], [info])[0][info.name]
            reference = full[(0, channel, *position)]
            ok = bool(torch.allclose(value.detach(), reference, rtol=1e-4, atol=1e-5 * (1 + full.abs().max().item())))
            self._crop_verified[key] = ok
            if not ok:
                self._uncroppable.add(info.name)
        return self._crop_verified[key]

    def _seeds(self, a: torch.Tensor, row: int, channel: int, position: Position, seed: str,
               offset: tuple[int, ...], grad: torch.Tensor) -> tuple[int, ...] | None:
        """Write the seed of one unit into ``grad`` (same shape as ``a``); return the local position used."""
        if a.dim() == 2:  # linear layer: one value per channel
            grad[row, channel] = a[row, channel].detach() if seed == "activation" else 1.0
            return None
        if position is None:
            grad[row, channel] = a[row, channel].detach() if seed == "activation" else 1.0
            return None
        if position == "max":
            flat = int(torch.argmax(a[row, channel].detach()).item())
            local = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape[2:]))
        else:
            local = tuple(p - o for p, o in zip(position, offset))
        index = (row, channel, *local)
        grad[index] = a[index].detach() if seed == "activation" else 1.0
        return local

    def _offsets(self, info: LayerInfo, window: Window) -> tuple[int, ...]:
        if info.geometry is None:
            return tuple(0 for _ in window)
        return tuple(lo // int(axis.jump) if axis.jump > 0 else 0 for (lo, _), axis in zip(window, info.geometry))

    def _run_rows(self, xs: torch.Tensor, info: LayerInfo, groups: list, rule: str, seed: str,
                  out: torch.Tensor, size: tuple[int, ...]) -> list[int]:
        """One row per unit: a batch of (cropped) images, one forward, one backward."""
        rows = torch.stack([xs[image][_slices(window)] for image, window, _ in groups]).detach().requires_grad_(True)
        with torch.enable_grad():
            a = run_to(self.model, rows, [info], detach=False)[0][info.name]
            grad = torch.zeros_like(a)
            retry = []
            for i, (image, window, units) in enumerate(groups):
                r, channel, position = units[0]
                offset = self._offsets(info, window)
                local = self._seeds(a, i, channel, position, seed, offset, grad)
                if window != _full(size) and local is not None and not self._crop_ok(
                        xs, info, image, window, channel, tuple(position), a[(i, channel, *local)]):
                    grad[i].zero_()
                    retry.append(r)
            with backward_rule(rule):
                (gx,) = torch.autograd.grad(a, rows, grad)
        gx = gx.detach().to("cpu", torch.float32)
        for i, (_image, window, units) in enumerate(groups):
            if units[0][0] not in retry:
                out.paste(units[0][0], window, gx[i])
        return retry

    def _run_shared(self, xs: torch.Tensor, info: LayerInfo, image: int, window: Window, units: list, rule: str,
                    seed: str, out: torch.Tensor, size: tuple[int, ...]) -> list[int]:
        """Many units of one image window: one forward, a batched backward."""
        row = xs[image:image + 1][_slices(window)].detach().requires_grad_(True)
        with torch.enable_grad():
            a = run_to(self.model, row, [info], detach=False)[0][info.name]
            grads = torch.zeros((len(units), *a.shape), dtype=a.dtype, device=a.device)
            offset = self._offsets(info, window)
            for k, (_r, channel, position) in enumerate(units):
                local = self._seeds(a, 0, channel, position, seed, offset, grads[k])
                if window != _full(size) and local is not None and not self._crop_ok(
                        xs, info, image, window, channel, tuple(position), a[(0, channel, *local)]):
                    return [u[0] for u in units]
            with backward_rule(rule):
                (gx,) = torch.autograd.grad(a, row, grads, is_grads_batched=True)
        gx = gx.detach().to("cpu", torch.float32)
        for k, (r, *_unit) in enumerate(units):
            out.paste(r, window, gx[k, 0])
        return []
