"""Which layers of a model are worth showing, their output shapes, labels and receptive-field geometry.

Found from one forward pass with hooks on every module (never FX tracing, so data-dependent control flow is fine).
Kept, in the order their outputs are produced: convolutions, rectifying activations (the "post-activation"
maps), pooling, linear layers, and blocks (a fire module, a residual block) whose output is a new tensor.

A module called more than once in a forward (ResNet reuses one ``ReLU`` per block) gets one layer per call,
named ``"<module>#<k>"`` (k from 0). A block whose output *is* its last activation's output (a residual block
ending in ReLU) is listed once, under the block's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...errors import LayerError, ModelError, unknown_name
from .receptive_field import FieldTracer, Geometry

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
                nn.Hardswish, nn.Mish, nn.Softplus, nn.Hardtanh, nn.Threshold, nn.RReLU)
_POOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd,
          nn.modules.pooling._AdaptiveMaxPoolNd, nn.modules.pooling._LPPoolNd)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class LayerInfo:
    """A layer worth showing.

    Attributes:
        name: the stable name used everywhere (``"features.3"``, ``"layer1.0.relu#0"``).
        module_name: dotted name of the module in ``model.named_modules()``.
        call: which call of that module (0 for modules called once).
        kind: ``"conv"``, ``"activation"``, ``"pool"``, ``"linear"`` or ``"block"``.
        label: a short human description (``"conv 3×3/2 · 64 ch"``).
        shape: output shape without the batch dimension: ``(C, h, w)``, or ``(F,)`` for linear layers.
        index: position in forward order.
        geometry: receptive-field geometry per spatial axis (``None`` if it could not be traced).
    """

    name: str
    module_name: str
    call: int
    kind: str
    label: str
    shape: tuple[int, ...]
    index: int
    geometry: Geometry | None = None

    @property
    def channels(self) -> int:
        return int(self.shape[0])

    @property
    def spatial(self) -> tuple[int, ...]:
        """Spatial size of the maps; ``(1, 1)`` for layers without space (linear)."""
        return tuple(self.shape[1:]) if len(self.shape) > 1 else (1, 1)


def _pair(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return "×".join(str(x) for x in v) if len(set(v)) > 1 else str(v[0])
    return str(v)


def _label(module: nn.Module, kind: str, shape: tuple[int, ...]) -> str:
    dims = "×".join(str(s) for s in shape)
    if kind == "conv":
        k = module.kernel_size
        k = f"{k[0]}×{k[1]}" if len(k) == 2 else _pair(k)
        stride = _pair(module.stride)
        text = f"conv {k}" + (f"/{stride}" if stride != "1" else "")
        if module.groups > 1:
            text += " depthwise" if module.groups == module.in_channels else f" groups {module.groups}"
    elif kind == "pool":
        base = type(module).__name__
        if isinstance(module, (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)):
            text = ("global " if all(s == 1 for s in shape[1:]) else "adaptive ") + ("max-pool" if "Max" in base else "avg-pool")
        else:
            k = _pair(module.kernel_size)
            stride = _pair(module.stride if module.stride is not None else module.kernel_size)
            text = ("max-pool " if "Max" in base else "avg-pool ") + (f"{k}×{k}" if "×" not in k else k) + f"/{stride}"
    elif kind == "linear":
        text = f"linear {module.in_features}→{module.out_features}"
    else:
        text = type(module).__name__
    return f"{text} · {dims}"


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, _ACTIVATIONS):
        return "activation"
    if isinstance(module, _POOLS):
        return "pool"
    if isinstance(module, nn.Linear):
        return "linear"
    return None


class _Call:
    __slots__ = ("call", "geometry", "key", "module_name", "order", "shape")

    def __init__(self, module_name: str, call: int, order: int, shape: tuple[int, ...], key: tuple[int, int],
                 geometry: Geometry | None) -> None:
        self.module_name, self.call, self.order, self.shape, self.key, self.geometry = (
            module_name, call, order, shape, key, geometry)


def discover_layers(model: nn.Module, example: torch.Tensor) -> list[LayerInfo]:
    """Run ``model`` once on ``example`` (a batch of one) and list the layers worth showing.

    Raises:
        ModelError: the model has no convolution, or fails on an input of this shape.
    """
    named = dict(model.named_modules())
    module_names = {id(m): n for n, m in named.items()}
    calls: list[_Call] = []
    counts: dict[str, int] = {}
    tracer: FieldTracer | None = FieldTracer(example)

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        name = module_names.get(id(module))
        if name is None or name == "":
            return
        k = counts.get(name, 0)
        counts[name] = k + 1
        if isinstance(output, torch.Tensor):
            geometry = tracer.geometry_of(output) if tracer is not None else None
            calls.append(_Call(name, k, len(calls), tuple(output.shape[1:]), (id(output), output._version), geometry))

    handles = [m.register_forward_hook(hook) for m in named.values()]
    try:
        with torch.no_grad():
            try:
                with tracer:
                    model(example)
            except Exception:
                # A model the tracer cannot follow still gets its layers, without receptive fields.
                calls.clear()
                counts.clear()
                tracer = None
                model(example)
    except Exception as exc:
        raise ModelError(
            f"{type(model).__name__} failed on an input of shape {tuple(example.shape)}: {exc} — give it the input "
            "it was built for: input_size=<side> when no preprocess is given (e.g. input_size=28 for 28×28 inputs), "
            "or a preprocess= that makes that input (e.g. cnnviz_widget.ImagePreprocess(size=28, resize=None, "
            "mean=..., std=...))"
        ) from exc
    finally:
        for h in handles:
            h.remove()

    if not any(isinstance(m, nn.modules.conv._ConvNd) for m in named.values()):
        raise ModelError(
            f"{type(model).__name__} has no convolution layer; cnnviz-widget shows what convolutional networks "
            "learned — pass a CNN (any nn.Module with nn.Conv2d layers)"
        )

    by_key: dict[tuple[int, int], list[_Call]] = {}
    for c in calls:
        by_key.setdefault(c.key, []).append(c)
    layers: list[LayerInfo] = []
    dropped: set[tuple[str, int]] = set()
    for c in calls:
        module = named[c.module_name]
        kind = _kind(module)
        if kind is None:
            if isinstance(module, _CONTAINERS) or not any(True for _ in module.children()) or len(c.shape) < 3:
                continue
            twins = [o for o in by_key[c.key] if o is not c and o.module_name.startswith(c.module_name + ".")
                     and _kind(named[o.module_name]) is not None]
            if any(_kind(named[o.module_name]) != "activation" for o in twins):
                continue  # a wrapper around a conv / pool / linear layer already listed
            dropped.update((o.module_name, o.call) for o in twins)
            kind = "block"
        layers.append(LayerInfo(name=c.module_name, module_name=c.module_name, call=c.call, kind=kind,
                                label=_label(module, kind, c.shape), shape=c.shape, index=c.order,
                                geometry=c.geometry))
    kept = [info for info in layers if (info.module_name, info.call) not in dropped]
    result = []
    for i, info in enumerate(kept):
        name = f"{info.module_name}#{info.call}" if counts[info.module_name] > 1 else info.module_name
        result.append(LayerInfo(name=name, module_name=info.module_name, call=info.call, kind=info.kind,
                                label=info.label, shape=info.shape, index=i, geometry=info.geometry))
    return result


class LayerTable:
    """Name → :class:`LayerInfo`, with helpful errors."""

    def __init__(self, layers: list[LayerInfo]) -> None:
        self.layers = layers
        self._by_name = {info.name: info for info in layers}

    def __getitem__(self, name: str) -> LayerInfo:
        try:
            return self._by_name[name]
        except KeyError:
            raise LayerError(unknown_name("layer", str(name), self._by_name)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def names(self) -> list[str]:
        return [info.name for info in self.layers]
