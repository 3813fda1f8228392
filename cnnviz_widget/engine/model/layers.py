"""Which layers of a model are worth showing, their output shapes, labels and receptive-field geometry.

Found from one forward pass with hooks on every module (never FX tracing, so data-dependent control flow is fine).
Kept, in the order their outputs are produced: convolutions, rectifying activations (the "post-activation"
maps), pooling, linear layers, and blocks (a fire module, a residual block) whose output is a new tensor.

A module called more than once in a forward (ResNet reuses one ``ReLU`` per block) gets one layer per call,
named ``"<module>#<k>"`` (k from 0). A block whose output *is* its last activation's output (a residual block
ending in ReLU) is listed once, under the block's name.

Names users bring from other tools are understood too: any module the forward calls selects the layer whose
output it returns. A container (ResNet's ``"layer4"``, VGG's ``"features"``), a wrapper or an activation folded
into its block resolves to that listed layer (``"layer4"`` → ``"layer4.1"``); a module whose output is no listed
layer (DenseNet's final ``BatchNorm``, a dense block's concatenation) gets a layer of its own, reachable by name
though not shown among the layers.
"""

from __future__ import annotations

import bisect
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
#: Kinds of layer that can be a stage of the model (:attr:`LayerTable.stages`).
STAGE_KINDS = ("conv", "block", "linear")


def _plain_container(module: nn.Module) -> bool:
    """A Sequential that only chains its children: its output is its last child's, listed there. (A container
    subclass with a forward of its own — DenseNet's dense block concatenating its layers — makes a new tensor.)"""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


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
    return discover_table(model, example).layers


def discover_table(model: nn.Module, example: torch.Tensor) -> LayerTable:
    """Like :func:`discover_layers`, as a :class:`LayerTable` that also resolves the names of modules that are
    not listed (containers, wrappers; see the module docstring).

    Raises:
        ModelError: the model has no convolution, or fails on an input of this shape.
    """
    named = dict(model.named_modules())
    module_names = {id(m): n for n, m in named.items()}
    calls: list[_Call] = []
    counts: dict[str, int] = {}
    alive: list[torch.Tensor] = []  # keeps ids unique: equal keys then mean the very same tensor
    tracer: FieldTracer | None = FieldTracer(example)

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        name = module_names.get(id(module))
        if name is None or name == "":
            return
        k = counts.get(name, 0)
        counts[name] = k + 1
        if isinstance(output, torch.Tensor):
            alive.append(output)
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
                alive.clear()
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
        alive.clear()

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
            if _plain_container(module) or not any(True for _ in module.children()) or len(c.shape) < 3:
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

    def call_name(module_name: str, call: int) -> str:
        return f"{module_name}#{call}" if counts[module_name] > 1 else module_name

    result = [LayerInfo(name=call_name(info.module_name, info.call), module_name=info.module_name, call=info.call,
                        kind=info.kind, label=info.label, shape=info.shape, index=i, geometry=info.geometry)
              for i, info in enumerate(kept)]
    return LayerTable(result, _aliases(calls, result, named, call_name))


def _aliases(calls: list[_Call], listed: list[LayerInfo], named: dict[str, nn.Module],
             call_name: Any) -> dict[str, LayerInfo]:
    """Name → layer for every module call that is not listed: the listed layer that produced the very same tensor
    (the outermost, when blocks nest), else a layer of its own for the call that first produced it (a ``"block"``:
    every convolution, activation, pool and linear call is listed)."""
    by_call = {(info.module_name, info.call): info for info in listed}
    layer_of: dict[tuple[int, int], LayerInfo] = {}
    first_of: dict[tuple[int, int], _Call] = {}
    for c in calls:  # forward order: a later (enclosing) listed call overrides an inner one
        first_of.setdefault(c.key, c)
        if (c.module_name, c.call) in by_call:
            layer_of[c.key] = by_call[(c.module_name, c.call)]
    orders = [c.order for c in calls if (c.module_name, c.call) in by_call]
    aliases: dict[str, LayerInfo] = {}
    for c in calls:
        if (c.module_name, c.call) in by_call:
            continue
        if c.key not in layer_of:
            first = first_of[c.key]
            layer_of[c.key] = LayerInfo(
                name=call_name(first.module_name, first.call), module_name=first.module_name, call=first.call,
                kind="block", label=_label(named[first.module_name], "block", first.shape), shape=first.shape,
                index=bisect.bisect_left(orders, first.order), geometry=first.geometry)
        aliases[call_name(c.module_name, c.call)] = layer_of[c.key]
    return aliases


class LayerTable:
    """Name → :class:`LayerInfo`, with helpful errors.

    ``layers`` are the layers worth showing; ``aliases`` name the modules that are not listed (a container, a
    wrapper) by the layer they produce — see the module docstring. Looking a name up tries both.
    """

    def __init__(self, layers: list[LayerInfo], aliases: dict[str, LayerInfo] | None = None) -> None:
        self.layers = layers
        self._by_name = {info.name: info for info in layers}
        self.aliases = {name: info for name, info in (aliases or {}).items() if name not in self._by_name}

    def __getitem__(self, name: str) -> LayerInfo:
        info = self._by_name.get(name) or self.aliases.get(name)
        if info is None:
            raise LayerError(unknown_name("layer", str(name), [*self._by_name, *self.aliases]))
        return info

    def __contains__(self, name: object) -> bool:
        return name in self._by_name or name in self.aliases

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def names(self) -> list[str]:
        return [info.name for info in self.layers]

    @property
    def stages(self) -> list[LayerInfo]:
        """The model's stages, in forward order: its outermost convolutions, blocks and linear layers — every listed
        layer of those kinds that is not inside a listed block (SqueezeNet: conv1, the eight fire modules, conv10;
        ResNet: conv1, each residual block, fc; AlexNet/VGG: each convolution and linear layer). Activations and
        pooling are never stages: they re-express the map before them."""
        blocks = [info.module_name + "." for info in self.layers if info.kind == "block"]
        return [info for info in self.layers if info.kind in STAGE_KINDS
                and not any(info.module_name.startswith(prefix) for prefix in blocks)]
