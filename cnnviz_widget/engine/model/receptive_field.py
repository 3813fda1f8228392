"""Theoretical receptive fields, traced from one real forward pass.

A :class:`FieldTracer` watches every ATen operation of a forward pass (a ``TorchDispatchMode``, so it sees
functional calls, residual adds, concatenations and data-dependent control flow alike — no FX tracing) and gives
each tensor, per spatial axis, an affine map from unit index to input-pixel interval::

    field(i) = [start + i * jump, start + i * jump + size)

Convolutions and pools grow it, elementwise ops and concatenations take the union of their inputs, global
reductions (global pooling, flatten + linear, squeeze-excitation gates) make it the whole (padded) input. Where
branches of different sizes meet (a fire module's 1×1 and 3×3 halves, an Inception block) the field is their union.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["Axis", "FieldTracer", "Geometry", "unit_field"]


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a tensor's receptive-field map. ``jump == 0`` means every unit sees the same field."""

    jump: float
    start: float
    size: float

    def interval(self, index: int) -> tuple[float, float]:
        lo = self.start + index * self.jump
        return lo, lo + self.size


Geometry = tuple[Axis, ...]


def unit_field(geometry: Geometry, position: tuple[int, ...]) -> tuple[int, ...]:
    """Half-open box of input pixels a unit sees: ``(top, left, bottom, right)`` for 2-D (unclipped)."""
    lows, highs = [], []
    for axis, index in zip(geometry, position):
        lo, hi = axis.interval(index)
        lows.append(math.floor(lo + 1e-9))
        highs.append(math.ceil(hi - 1e-9))
    return (*lows, *highs)


def _union(axes: list[Axis], n: int) -> Axis:
    """Receptive field of an op that mixes inputs elementwise (with broadcasting) along an axis of length n."""
    if len(axes) == 1:
        return axes[0]
    local = [a for a in axes if a.jump != 0]
    if local and all(a.jump == local[0].jump for a in local) and len(local) == len(axes):
        start = min(a.start for a in axes)
        end = max(a.start + a.size for a in axes)
        return Axis(local[0].jump, start, end - start)
    # Mixed: some input covers the same field at every position (a broadcast gate) or jumps differ — take the hull.
    lo = min(a.interval(0)[0] if a.jump >= 0 else a.interval(n - 1)[0] for a in axes)
    hi = max(a.interval(n - 1)[1] if a.jump >= 0 else a.interval(0)[1] for a in axes)
    return Axis(0.0, lo, hi - lo)


def _globalise(axis: Axis, n: int) -> Axis:
    lo, hi = axis.interval(0)[0], axis.interval(max(n - 1, 0))[1]
    return Axis(0.0, lo, hi - lo)


def _window(axis: Axis, kernel: int, stride: float, padding: int, dilation: int = 1) -> Axis:
    return Axis(axis.jump * stride, axis.start - padding * axis.jump, axis.size + (kernel - 1) * dilation * axis.jump)


def _per_axis(value: Any, dims: int, default: Any = None) -> list[Any]:
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        value = default
    if isinstance(value, (list, tuple)):
        return list(value) * dims if len(value) == 1 else list(value)
    return [value] * dims


_POOLS = {"max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
          "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "mkldnn_max_pool2d"}
_ADAPTIVE = {"_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
             "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_avg_pool2d"}
_REDUCTIONS = {"mean", "sum", "amax", "amin", "max", "min", "std", "var", "var_mean", "std_mean", "logsumexp", "norm",
               "linalg_vector_norm", "prod"}
_GLOBAL = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "_softmax", "softmax", "log_softmax", "_log_softmax",
           "upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d", "grid_sampler_2d", "roll", "flip",
           "im2col", "col2im", "pixel_shuffle", "pixel_unshuffle", "_unsafe_index", "index", "gather", "scatter",
           "sort", "topk", "cumsum", "fft_rfft2", "fft_fft2"}
_RESHAPES = {"view", "_unsafe_view", "reshape", "flatten", "expand", "squeeze", "unsqueeze", "permute", "transpose",
             "t", "unflatten", "view_as", "as_strided", "alias"}


class FieldTracer(TorchDispatchMode):
    """Record receptive-field geometry for every tensor computed from ``source`` during a forward pass.

    Use ``with FieldTracer(x) as tracer: model(x)``, then ``tracer.geometry_of(tensor)`` (call it while the tensor
    is alive, e.g. from a forward hook) returns a :data:`Geometry` (``None`` for tensors not derived from ``x``).
    """

    def __init__(self, source: torch.Tensor) -> None:
        super().__init__()
        self.spatial = source.dim() - 2
        self._geo: dict[int, Geometry] = {}
        self._alive: list[torch.Tensor] = []  # keeps ids unique while tracing
        self.unknown_ops: set[str] = set()
        self._set(source, tuple(Axis(1.0, 0.0, 1.0) for _ in range(self.spatial)))

    def _set(self, tensor: torch.Tensor, geometry: Geometry) -> None:
        self._geo[id(tensor)] = geometry
        self._alive.append(tensor)

    def geometry_of(self, tensor: Any) -> Geometry | None:
        return self._geo.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None

    def _spatial_shape(self, tensor: torch.Tensor) -> tuple[int, ...] | None:
        if tensor.dim() == self.spatial + 2:
            return tuple(tensor.shape[2:])
        return None

    def _as_global(self, tensor: torch.Tensor, geometry: Geometry) -> Geometry:
        shape = self._spatial_shape(tensor) or (1,) * self.spatial
        return tuple(_globalise(a, n) for a, n in zip(geometry, shape))

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        try:
            self._propagate(func, args, kwargs, out)
        except Exception:  # geometry is a best effort; never break the user's forward
            self.unknown_ops.add(str(func))
        return out

    def _propagate(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        flat_in, _ = tree_flatten((args, kwargs))
        known = [(t, self._geo[id(t)]) for t in flat_in if isinstance(t, torch.Tensor) and id(t) in self._geo]
        if not known:
            return
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if not outs:
            return
        name = func.overloadpacket.__name__.rstrip("_")
        first, geo = known[0]
        first_shape = self._spatial_shape(first)

        if name == "convolution" and first is args[0]:
            stride, padding, dilation, transposed = args[3], args[4], args[5], args[6]
            weight = args[1]
            if transposed or first_shape is None:
                result = self._as_global(first, geo)
            else:
                kernels = list(weight.shape[2:])
                result = tuple(_window(a, k, s, p, d) for a, k, s, p, d in zip(
                    geo, kernels, _per_axis(stride, self.spatial), _per_axis(padding, self.spatial),
                    _per_axis(dilation, self.spatial)))
        elif name in _POOLS and first is args[0] and first_shape is not None:
            kernel = _per_axis(args[1], self.spatial)
            stride = _per_axis(args[2] if len(args) > 2 else kwargs.get("stride"), self.spatial, default=kernel)
            padding = _per_axis(args[3] if len(args) > 3 else kwargs.get("padding", 0), self.spatial)
            dilation = [1] * self.spatial
            if "max_pool" in name:
                dilation = _per_axis(args[4] if len(args) > 4 else kwargs.get("dilation", 1), self.spatial)
            result = tuple(_window(a, k, s, p, d) for a, k, s, p, d in zip(geo, kernel, stride, padding, dilation))
        elif name in _ADAPTIVE and first_shape is not None:
            out_shape = self._spatial_shape(outs[0]) or (1,) * self.spatial
            axes = []
            for a, n_in, n_out in zip(geo, first_shape, out_shape):
                if n_out == 1:
                    axes.append(_globalise(a, n_in))
                elif n_in % n_out == 0:
                    k = n_in // n_out
                    axes.append(_window(a, k, k, 0))
                else:  # uneven windows: stride n_in/n_out, the widest window ceil(n_in/n_out)+1
                    axes.append(_window(a, math.ceil(n_in / n_out) + 1, n_in / n_out, 0))
            result = tuple(axes)
        elif name in _REDUCTIONS:
            dims = args[1] if len(args) > 1 and isinstance(args[1], (list, tuple, int)) else kwargs.get("dim")
            if dims is None or first_shape is None:
                result = self._as_global(first, geo)
            else:
                dims = [dims] if isinstance(dims, int) else list(dims)
                dims = [d % first.dim() for d in dims]
                if any(d >= 2 for d in dims):
                    result = self._as_global(first, geo)
                else:
                    result = geo
        elif name in ("slice",) and first is args[0] and first_shape is not None:
            dim = (args[1] if len(args) > 1 else kwargs.get("dim", 0)) % first.dim()
            if dim < 2:
                result = geo
            else:
                start = args[2] if len(args) > 2 and args[2] is not None else 0
                step = args[4] if len(args) > 4 else 1
                n = first.shape[dim]
                start = max(0, start + n if start < 0 else min(start, n))
                axes = list(geo)
                a = axes[dim - 2]
                axes[dim - 2] = Axis(a.jump * step, a.start + start * a.jump, a.size)
                result = tuple(axes)
        elif name == "constant_pad_nd" and first_shape is not None:
            pad = list(args[1])
            axes = list(geo)
            for i in range(len(pad) // 2):
                d = self.spatial - 1 - i
                if d >= 0:
                    a = axes[d]
                    axes[d] = Axis(a.jump, a.start - pad[2 * i] * a.jump, a.size)
            result = tuple(axes)
        elif name == "cat":
            dim = (args[1] if len(args) > 1 else kwargs.get("dim", 0))
            tensors = [t for t in args[0] if id(t) in self._geo]
            if tensors and tensors[0].dim() > 0 and dim % tensors[0].dim() >= 2:
                result = self._as_global(first, _union_all([self._geo[id(t)] for t in tensors], first_shape))
            else:
                result = _union_all([self._geo[id(t)] for t in tensors], self._spatial_shape(outs[0]))
        elif name in _GLOBAL:
            result = self._as_global(first, _union_all([g for _, g in known], first_shape))
        else:
            out_shape = self._spatial_shape(outs[0])
            same = out_shape is not None and all(
                self._spatial_shape(t) in (out_shape, (1,) * self.spatial) or t.dim() < outs[0].dim()
                for t, _ in known)
            if name in _RESHAPES and (out_shape != first_shape):
                result = self._as_global(first, _union_all([g for _, g in known], first_shape))
            elif same:
                result = _union_all([self._broadcast(t, g) for t, g in known], out_shape)
            else:
                result = self._as_global(first, _union_all([g for _, g in known], first_shape))
        for t in outs:
            self._set(t, result)

    def _broadcast(self, tensor: torch.Tensor, geometry: Geometry) -> Geometry:
        shape = self._spatial_shape(tensor)
        if shape is None or all(n == 1 for n in shape):
            return tuple(_globalise(a, 1) if a.jump != 0 else a for a in geometry)
        return geometry


def _union_all(geometries: list[Geometry], shape: tuple[int, ...] | None) -> Geometry:
    dims = len(geometries[0])
    shape = shape or (1,) * dims
    return tuple(_union([g[d] for g in geometries], shape[d]) for d in range(dims))
