"""The session behind a widget: the model and the image it shows, shared by its panels.

A :class:`Session` holds the engine object (:class:`~cnnviz_widget.engine.explorer.Explorer`, swapped when a
feature-evolution checkpoint is opened), the current image as the model sees it, the activations computed for it,
where a unit sits on it, and how each layer's projections are shown by default (:mod:`cnnviz_widget.views`). It has
no traits and makes no pixels: panels read it and build their states with :mod:`cnnviz_widget.state`; the HTML
export reads the same public attributes.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from . import encode
from .engine import DEFAULT_MODEL, Explorer, ModelSpec, load_model
from .errors import CNNVizError, LayerError, ModelError, unknown_name
from .views import DepthViews, View, ViewPolicy, resolve

__all__ = ["POSITIONS", "Session", "UnitGeometry", "check_channel", "check_layer", "check_position"]

#: A unit's position besides ``[y, x]``: its channel's strongest location, or its whole map.
POSITIONS = ("max", "map")
#: Layers whose activations are kept per image (each is one layer's output).
CACHE_LAYERS = 8
#: Recent kernel-side compute times kept (``Session.timings``).
TIMINGS = 500


@dataclass(frozen=True)
class UnitGeometry:
    """Where a unit sits on the current image.

    Attributes:
        location: its position on the layer's map (``None``: the whole map, or a layer without a map).
        field: its receptive field ``[top, left, bottom, right]`` on the input (half-open, unclipped), or ``None``.
        crop: the part of the input its card shows (the field widened to at least 24 px, clipped), or ``None``.
    """

    location: tuple[int, int] | None
    field: list[int] | None
    crop: list[int] | None


class Session:
    """The model explorer, the current image and what is cached for it (see the module docstring).

    Attributes:
        explorer: the engine object in use.
        original: the widget's own model (``explorer`` differs from it while a checkpoint is open).
        x: the current image as the model's input ``Tensor[C, H, W]`` (``None`` before the first image).
        image: the current image (RGB PIL).
        image_id: grows with every new image (the stamp of results computed for it).
        image_name: the image's name as the widget shows it.
        lock: held by panels while they swap shared results (the exemplars, the model).
        timings: recent kernel-side compute times, newest last (``{"kind": "unit" | "image", "ms": ...}``).
        views: gives each layer's default view, ``views(explorer, layer) -> View`` (default:
            :class:`~cnnviz_widget.views.DepthViews`).
    """

    def __init__(self, explorer: Explorer, views: ViewPolicy | None = None) -> None:
        if views is not None and not callable(views):
            raise TypeError(f"views must be a callable (explorer, layer) -> View, such as DepthViews(), not "
                            f"{type(views).__name__}")
        self.explorer = explorer
        self.views: ViewPolicy = DepthViews() if views is None else views
        self._defaults: dict[str, View] = {}
        self.original = explorer
        self.x: torch.Tensor | None = None
        self.image: Image.Image | None = None
        self.image_id = 0
        self.image_name = "image"
        self.lock = threading.RLock()
        self.timings: collections.deque[dict[str, Any]] = collections.deque(maxlen=TIMINGS)
        self._acts: collections.OrderedDict[str, torch.Tensor] = collections.OrderedDict()

    @classmethod
    def open(cls, model: Any = None, *, preprocess: Any = None, labels: Any = None,
             input_size: int | None = None, views: ViewPolicy | None = None) -> Session:
        """A session on ``model``: a name (default: the offline default model), an ``nn.Module``, a ``ModelSpec`` or
        an ``Explorer`` (``preprocess``, ``labels`` and ``input_size`` as in :func:`~cnnviz_widget.load_model`;
        ``views`` as :attr:`views`).

        Raises:
            ModelError: ``input_size`` with a ``ModelSpec`` or an ``Explorer``, whose input is already fixed.
        """
        if input_size is not None and isinstance(model, (Explorer, ModelSpec)):
            shape = "×".join(str(s) for s in (model.spec if isinstance(model, Explorer) else model).input_shape)
            raise ModelError(f"input_size={input_size} applies to an nn.Module or a model name; this "
                             f"{type(model).__name__} already takes {shape} inputs — drop input_size")
        if isinstance(model, Explorer):
            return cls(model, views)
        spec = model if isinstance(model, ModelSpec) else load_model(
            DEFAULT_MODEL if model is None else model, preprocess=preprocess, labels=labels, input_size=input_size)
        return cls(Explorer(spec, preprocess=preprocess, labels=labels), views)

    @property
    def channel_order(self) -> str:
        """The model's channel order (``"RGB"``, ``"BGR"`` or ``"L"``), for drawing its inputs."""
        return getattr(self.explorer.spec.preprocess, "channel_order", "RGB")

    def set_model(self, explorer: Explorer) -> None:
        """Use ``explorer`` from now on (the caller shows the image afresh: every cached activation is stale)."""
        self.explorer = explorer
        self._acts.clear()
        self._defaults.clear()

    def default_view(self, layer: str) -> View:
        """The view ``layer`` shows where the selection says ``"auto"`` (:attr:`views`, asked once per layer).

        Raises:
            CNNVizError: :attr:`views` gave something that is not a :class:`~cnnviz_widget.views.View`.
        """
        if layer not in self._defaults:
            view = self.views(self.explorer, layer)
            if not isinstance(view, View):
                raise CNNVizError(f"views(explorer, {layer!r}) gave {type(view).__name__}, not a View — return "
                                "cnnviz_widget.views.View(rule, display, crop)")
            self._defaults[layer] = view
        return self._defaults[layer]

    def view(self, layer: str, rule: str, display: str, crop: str) -> View:
        """What a selection shows on ``layer``: ``rule``, ``display`` and ``crop`` as chosen, ``"auto"`` ones
        resolved to :meth:`default_view`'s."""
        return resolve(self.default_view(layer), rule, display, crop)

    def set_image(self, image: Image.Image, name: str) -> torch.Tensor:
        """Make ``image`` the current one; returns it as the model's input. Its ``image_id`` is new."""
        self.x = self.explorer.prepare(image)
        self.image = image
        self.image_name = name
        self.image_id += 1
        self._acts.clear()
        return self.x

    def require_input(self) -> torch.Tensor:
        """The current input; raises when there is no image yet."""
        if self.x is None:
            raise CNNVizError("the widget has no image yet — set w.image first")
        return self.x

    def activations(self, layer: str) -> torch.Tensor:
        """``layer``'s output for the current image, ``Tensor[C, h, w]`` (or ``[C]``), kept for the last layers."""
        if layer in self._acts:
            self._acts.move_to_end(layer)
        else:
            self._acts[layer] = self.explorer.activations(self.require_input(), [layer])[layer]
            while len(self._acts) > CACHE_LAYERS:
                self._acts.popitem(last=False)
        return self._acts[layer]

    def unit_geometry(self, layer: str, channel: int, position: Any) -> UnitGeometry:
        """Where the unit of ``position`` (``"max"``, ``"map"`` or ``(y, x)``) sits on the current image."""
        ex = self.explorer
        info = ex.layer(layer)
        location: tuple[int, int] | None
        if len(info.shape) == 1 or position == "map":
            location = None
        elif position == "max":
            fmap = self.activations(layer)[channel]
            location = divmod(int(torch.argmax(fmap)), int(fmap.shape[-1]))
        else:
            location = (int(position[0]), int(position[1]))
        field = None
        if location is not None and info.geometry is not None:
            field = list(ex.receptive_field(layer, location))
        x = self.require_input()
        crop = encode.crop_box(field, x.shape[1:]) if field is not None else None
        return UnitGeometry(location, field, crop)


def check_layer(explorer: Explorer, name: str) -> str:
    """The listed layer ``name`` selects: itself, or the layer a container's name stands for (ResNet's ``"layer4"``
    → ``"layer4.1"``); else a ``LayerError`` listing the closest names."""
    if name in explorer.layer_names:
        return name
    try:
        resolved = explorer.layer(name).name
    except LayerError:
        raise LayerError(unknown_name("layer", name, explorer.layer_names, listed_by="w.explorer.layer_names")) from None
    if resolved not in explorer.layer_names:
        raise LayerError(f"{name!r} is the output of {resolved!r}, which the widget does not list (not a convolution, "
                         "activation, pooling, linear layer or block) — choose a listed layer: w.explorer.layer_names")
    return resolved


def check_channel(explorer: Explorer, layer: str, channel: int) -> int:
    """``channel`` if ``layer`` has it; else a ``LayerError`` naming the layer's channels."""
    channels = explorer.layer(layer).channels
    if not 0 <= channel < channels:
        raise LayerError(f"channel {channel} is outside layer {layer!r}, which has channels 0–{channels - 1}")
    return channel


def check_position(explorer: Explorer, layer: str, value: Any) -> str | list[int]:
    """A unit's position on ``layer``: ``"max"``, ``"map"`` or ``[y, x]`` inside its map; else a ``LayerError``."""
    if isinstance(value, str):
        if value not in POSITIONS:
            raise LayerError(f"position must be 'max', 'map' or [y, x], not {value!r}")
        return value
    try:
        y, x = (int(v) for v in value)
    except (TypeError, ValueError):
        raise LayerError(f"position must be 'max', 'map' or [y, x], not {value!r}") from None
    info = explorer.layer(layer)
    height, width = info.spatial
    if len(info.shape) == 1 or not (0 <= y < height and 0 <= x < width):
        raise LayerError(f"position {[y, x]} is outside layer {info.name!r}, whose map is {height}×{width}")
    return [y, x]
