"""Incremental inference: forward many copies of one image, each changed only inside a small box.

Occlusion sensitivity forwards the same image hundreds of times, each with a gray square painted somewhere. In the
early layers of a CNN nearly all of that work repeats the unoccluded image's computation: a convolution or pooling
window whose inputs are untouched gives the untouched output. Following Nakandala et al. ("Incremental and
Approximate Inference for Faster Occlusion-based Deep CNN Explanations", SIGMOD 2019), a :class:`PatchedBatch`
stores such a batch as **one reference tensor plus one small patch per row** and computes, layer by layer, only
the patches — for any model, without tracing it (it is a tensor subclass: the model's own ``forward`` runs,
hooks included).

* Convolutions and max-pools compute the reference in full and, for each row, only the output window its patch
  can reach (all rows' windows cut to one common size, run as one batch).
* Elementwise operations (ReLU, residual adds, eval-mode BatchNorm, …) and channel concatenations apply to the
  reference and the patches separately.
* Anything else (global pooling, flatten, linear layers, an op it does not know), and any layer whose patches have
  grown to cover most of the map, gets an ordinary tensor — the patches pasted into copies of the reference — and
  runs as usual from there on.

Every value is computed by the same ATen kernels as a plain forward pass; only windows proven identical to the
reference are copied instead of recomputed. Results equal the plain batch to float rounding (convolutions on crops
may sum in another order).

Warnings:
    For inference only: use it under ``torch.no_grad()`` with the model in eval mode (training-mode BatchNorm
    mixes rows, and is simply run on the pasted batch).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._pytree import tree_flatten, tree_map

__all__ = ["PatchedBatch"]

aten = torch.ops.aten

#: Run an op on the full batch once its common patch covers more than this fraction of the output map.
MAX_FRACTION = 0.6

_SAME = {aten.clone.default, aten.alias.default, aten.detach.default}
_BATCH_NORM = {aten._native_batch_norm_legit_no_training.default, aten.native_batch_norm.default}


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return (int(value[0]), int(value[-1])) if len(value) else (0, 0)
    return int(value), int(value)


# Gathers and scatters below are one indexing op each, not one slice copy per row: with several threads, hundreds
# of small copies per layer cost far more in synchronisation than in copying (the more so on a busy machine).
def _windows_of(reference: torch.Tensor, corners: np.ndarray, size: tuple[int, int], fill: float) -> torch.Tensor:
    """``[n, C, h, w]``: the windows of ``reference[0]`` with top-left ``corners`` (which may lie outside the map;
    the outside reads ``fill``)."""
    height, width = reference.shape[2:]
    h, w = size
    top, left = min(0, int(corners[:, 0].min())), min(0, int(corners[:, 1].min()))
    bottom = max(height, int(corners[:, 0].max()) + h)
    right = max(width, int(corners[:, 1].max()) + w)
    source = reference[0]
    if (top, left, bottom, right) != (0, 0, height, width):
        source = F.pad(source, (-left, right - width, -top, bottom - height), value=fill)
    rows = torch.as_tensor(corners[:, 0] - top, device=source.device)
    cols = torch.as_tensor(corners[:, 1] - left, device=source.device)
    return source.unfold(1, h, 1).unfold(2, w, 1).permute(1, 2, 0, 3, 4)[rows, cols]


def _paste(canvas: torch.Tensor, patches: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
    """Write ``patches[k]`` into ``canvas[k]`` at ``offsets[k]`` (top-left; the part outside the canvas is dropped),
    in place; returns ``canvas``."""
    n, _, height, width = canvas.shape
    h, w = patches.shape[2:]
    if (offsets >= 0).all() and (offsets[:, 0] + h <= height).all() and (offsets[:, 1] + w <= width).all():
        rows = torch.arange(n, device=canvas.device)
        ys = torch.as_tensor(offsets[:, 0], device=canvas.device)
        xs = torch.as_tensor(offsets[:, 1], device=canvas.device)
        canvas.unfold(2, h, 1).unfold(3, w, 1)[rows, :, ys, xs] = patches
        return canvas
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, (oy, ox) in enumerate(offsets.tolist()):
        y0, x0, y1, x1 = max(oy, 0), max(ox, 0), min(oy + h, height), min(ox + w, width)
        if y1 > y0 and x1 > x0:
            groups.setdefault((y0, y1, x0, x1, y0 - oy, y1 - oy, x0 - ox, x1 - ox), []).append(k)
    for (y0, y1, x0, x1, py0, py1, px0, px1), members in groups.items():
        index = torch.as_tensor(members, device=canvas.device)
        canvas[index, :, y0:y1, x0:x1] = patches[index, :, py0:py1, px0:px1]
    return canvas


class PatchedBatch(torch.Tensor):
    """A batch ``[n, C, H, W]`` whose row ``k`` equals ``reference`` except inside the box at ``starts[k]`` of
    the size of ``patches``, where it equals ``patches[k]``.

    Args:
        reference: ``Tensor[1, C, H, W]``.
        patches: ``Tensor[n, C, h, w]`` (``h ≤ H``, ``w ≤ W``).
        starts: ``int [n, 2]`` — each patch's top-left corner.

    Forward it through a model like any batch; :meth:`materialize` gives the ordinary tensor.
    """

    reference: torch.Tensor
    patches: torch.Tensor
    starts: np.ndarray

    @staticmethod
    def __new__(cls, reference: torch.Tensor, patches: torch.Tensor, starts: np.ndarray) -> PatchedBatch:
        starts = np.asarray(starts, dtype=np.int64).reshape(-1, 2)
        if reference.dim() != 4 or reference.shape[0] != 1 or patches.dim() != 4:
            raise ValueError(f"need a reference [1,C,H,W] and patches [n,C,h,w], got {tuple(reference.shape)} and "
                             f"{tuple(patches.shape)}")
        if patches.shape[0] != starts.shape[0] or patches.shape[1] != reference.shape[1]:
            raise ValueError(f"{patches.shape[0]} patches of {patches.shape[1]} channels but {starts.shape[0]} "
                             f"starts and {reference.shape[1]} reference channels")
        height, width = reference.shape[2:]
        h, w = patches.shape[2:]
        if h > height or w > width or (starts < 0).any() or (starts[:, 0] + h > height).any() or (
                starts[:, 1] + w > width).any():
            raise ValueError(f"patches of {h}×{w} at these starts do not fit a {height}×{width} map")
        out = torch.Tensor._make_wrapper_subclass(  # type: ignore[attr-defined]
            cls, (patches.shape[0], *reference.shape[1:]), dtype=reference.dtype, device=reference.device,
            requires_grad=False)
        out.reference, out.patches, out.starts = reference, patches, starts
        return out

    __torch_function__ = torch._C._disabled_torch_function_impl  # type: ignore[assignment]

    def __repr__(self) -> str:  # type: ignore[override]
        h, w = self.patches.shape[2:]
        return f"PatchedBatch(shape={tuple(self.shape)}, patches {h}×{w})"

    def is_full(self) -> bool:
        """Whether the patches cover the whole map (the batch is then its patches)."""
        return tuple(self.patches.shape[2:]) == tuple(self.reference.shape[2:])

    def materialize(self) -> torch.Tensor:
        """The ordinary tensor: the reference repeated, each row's patch pasted in (the patches themselves, not a
        copy, when they cover the whole map)."""
        if self.is_full():
            return self.patches
        return _paste(self.reference.repeat(self.patches.shape[0], 1, 1, 1), self.patches, self.starts)

    # ------------------------------------------------------------------------------------------- dispatch
    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        first = args[0] if args else None
        if isinstance(first, PatchedBatch) and not kwargs:
            if func is aten.convolution.default and not args[6] and len(args[1].shape) == 4:
                return _convolution(func, args)
            if func is aten.max_pool2d_with_indices.default:
                return _max_pool(func, args)
        if func is aten.cat.default:
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            parts = args[0]
            if dim % 4 == 1 and all(isinstance(t, PatchedBatch) for t in parts):
                parts = _common(list(parts))
                return PatchedBatch(torch.cat([p.reference for p in parts], 1),
                                    torch.cat([p.patches for p in parts], 1), parts[0].starts)
        elif torch.Tag.pointwise in func.tags or func in _SAME or func in _BATCH_NORM:
            result = _elementwise(func, args, kwargs)
            if result is not None:
                return result
        # An op we cannot split runs on the ordinary tensor. Each batch first becomes that tensor itself (one patch
        # covering every row), so views taken here alias it and in-place writes through them reach it.
        out = func(*_settled(args), **_settled(kwargs))
        if isinstance(first, PatchedBatch) and out is first.patches:
            return first
        return out


def _materialized(tree: Any) -> Any:
    return tree_map(lambda t: t.materialize() if isinstance(t, PatchedBatch) else t, tree)


def _settled(tree: Any) -> Any:
    def settle(t: Any) -> Any:
        if not isinstance(t, PatchedBatch):
            return t
        if not t.is_full():
            full = t.materialize()
            t.reference, t.patches = full[:1], full
            t.starts = np.zeros((full.shape[0], 2), dtype=np.int64)
        return t.patches

    return tree_map(settle, tree)


def _common(parts: list[PatchedBatch]) -> list[PatchedBatch]:
    """The same batches, re-cut so that all share one patch geometry (the union of their boxes)."""
    first = parts[0]
    if all(p.patches.shape[2:] == first.patches.shape[2:] and np.array_equal(p.starts, first.starts) for p in parts):
        return parts
    height, width = first.reference.shape[2:]
    lo = np.min([p.starts for p in parts], axis=0)
    hi = np.max([p.starts + np.array(p.patches.shape[2:]) for p in parts], axis=0)
    size = (hi - lo).max(axis=0)
    starts = np.minimum(lo, np.array([height, width]) - size)
    return [_recut(p, starts, (int(size[0]), int(size[1]))) for p in parts]


def _recut(p: PatchedBatch, starts: np.ndarray, size: tuple[int, int]) -> PatchedBatch:
    """``p`` with patches of ``size`` at ``starts`` (each new box contains the old one)."""
    if p.patches.shape[2:] == size and np.array_equal(p.starts, starts):
        return p
    patches = _paste(_windows_of(p.reference, starts, size, 0.0), p.patches, p.starts - starts)
    return PatchedBatch(p.reference, patches, starts)


def _elementwise(func: Any, args: tuple, kwargs: dict) -> Any:
    """Apply an elementwise op to references and patches separately; None if it cannot be (an ordinary input
    that differs per row or across space)."""
    flat, _ = tree_flatten((args, kwargs))
    patched = [t for t in flat if isinstance(t, PatchedBatch)]
    if not patched:
        return None
    if func in _BATCH_NORM and func is aten.native_batch_norm.default and args[5]:
        return None  # training-mode BatchNorm mixes rows
    if func._schema.is_mutable and not isinstance(args[0], PatchedBatch):
        return None
    for t in flat:
        if isinstance(t, torch.Tensor) and not isinstance(t, PatchedBatch) and not _same_for_every_pixel(t):
            return None
    if any(p.shape != patched[0].shape for p in patched):
        return None
    common = dict(zip(map(id, patched), _common(patched)))
    first = common[id(patched[0])]

    def pick(part: str) -> Any:
        return tree_map(lambda t: getattr(common[id(t)], part) if isinstance(t, PatchedBatch) else t, (args, kwargs))

    ref_args, ref_kwargs = pick("reference")
    patch_args, patch_kwargs = pick("patches")
    ref_out = func(*ref_args, **ref_kwargs)
    patch_out = func(*patch_args, **patch_kwargs)
    if func in _BATCH_NORM:
        return (PatchedBatch(ref_out[0], patch_out[0], first.starts), *_materialized(ref_out[1:]))
    if not isinstance(ref_out, torch.Tensor):
        return None
    if func._schema.is_mutable and args and isinstance(args[0], PatchedBatch):
        target = args[0]
        if common[id(target)] is not target:  # the in-place result lives in re-cut storage: adopt it
            target.patches, target.starts = patch_out, first.starts
        return target
    return PatchedBatch(ref_out, patch_out, first.starts)


def _same_for_every_pixel(t: torch.Tensor) -> bool:
    """Whether an ordinary operand broadcasts identically over rows and positions ([C], [C,1,1], [1,C,1,1], …)."""
    if t.dim() <= 1:
        return True
    if t.dim() >= 4 and t.shape[-4] != 1:
        return False
    return t.shape[-1] == 1 and t.shape[-2] == 1


def _windows(p: PatchedBatch, pads: tuple[int, int], extents: tuple[int, int], strides: tuple[int, int],
             out_hw: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Top-left corners and common size of the output windows each row's patch can reach."""
    h, w = p.patches.shape[2:]
    lo = np.empty_like(p.starts)
    size = [0, 0]
    for axis, extent_in in enumerate((h, w)):
        first = p.starts[:, axis]
        start = np.floor_divide(first + pads[axis] - extents[axis], strides[axis]) + 1
        stop = -np.floor_divide(-(first + extent_in + pads[axis]), strides[axis])
        start, stop = np.clip(start, 0, out_hw[axis]), np.clip(stop, 0, out_hw[axis])
        size[axis] = max(1, int((stop - start).max()))
        lo[:, axis] = np.minimum(start, out_hw[axis] - size[axis])
    return lo, (size[0], size[1])


def _crops(p: PatchedBatch, starts: np.ndarray, size: tuple[int, int], pads: tuple[int, int],
           extents: tuple[int, int], strides: tuple[int, int], fill: float) -> tuple[torch.Tensor, np.ndarray]:
    """Per row, the input window feeding the output window at ``starts`` (padded with ``fill``), and its corner."""
    h_in = (size[0] - 1) * strides[0] + extents[0]
    w_in = (size[1] - 1) * strides[1] + extents[1]
    corners = starts * np.array(strides) - np.array(pads)
    crops = _paste(_windows_of(p.reference, corners, (h_in, w_in), fill), p.patches, p.starts - corners)
    return crops, corners


def _convolution(func: Any, args: tuple) -> torch.Tensor:
    p, weight, bias, stride, padding, dilation, transposed, output_padding, groups = args
    strides, pads, dils = _pair(stride), _pair(padding), _pair(dilation)
    extents = ((weight.shape[2] - 1) * dils[0] + 1, (weight.shape[3] - 1) * dils[1] + 1)
    reference = func(p.reference, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    out_hw = (reference.shape[2], reference.shape[3])
    starts, size = _windows(p, pads, extents, strides, out_hw)
    if size[0] * size[1] > MAX_FRACTION * out_hw[0] * out_hw[1]:
        return func(p.materialize(), *args[1:])
    crops, _ = _crops(p, starts, size, pads, extents, strides, 0.0)
    patches = func(crops, weight, bias, stride, [0, 0], dilation, transposed, output_padding, groups)
    return PatchedBatch(reference, patches, starts)


def _max_pool(func: Any, args: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    p, kernel = args[0], _pair(args[1])
    strides = _pair(args[2]) if len(args) > 2 and args[2] else kernel
    pads = _pair(args[3]) if len(args) > 3 else (0, 0)
    dils = _pair(args[4]) if len(args) > 4 else (1, 1)
    ceil_mode = bool(args[5]) if len(args) > 5 else False
    extents = ((kernel[0] - 1) * dils[0] + 1, (kernel[1] - 1) * dils[1] + 1)
    ref_out, ref_idx = func(p.reference, kernel, strides, pads, dils, ceil_mode)
    out_hw = (ref_out.shape[2], ref_out.shape[3])
    starts, size = _windows(p, pads, extents, strides, out_hw)
    if size[0] * size[1] > MAX_FRACTION * out_hw[0] * out_hw[1]:
        return func(p.materialize(), *args[1:])
    crops, corners = _crops(p, starts, size, pads, extents, strides, float("-inf"))
    values, local = func(crops, kernel, strides, [0, 0], dils, False)
    # Indices into the crop → indices into the full map (an arg-max never lies in the -inf padding).
    width = p.reference.shape[3]
    oy = torch.as_tensor(corners[:, 0], dtype=local.dtype, device=local.device).view(-1, 1, 1, 1)
    ox = torch.as_tensor(corners[:, 1], dtype=local.dtype, device=local.device).view(-1, 1, 1, 1)
    glob = (local // crops.shape[3] + oy) * width + local % crops.shape[3] + ox
    return PatchedBatch(ref_out, values, starts), PatchedBatch(ref_idx, glob, starts)
