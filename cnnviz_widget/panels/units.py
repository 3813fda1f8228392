"""The unit panels: the header (model, layers), the picture with its top-5, the activation grid, the unit card, the
layer-1 filters and the gallery — everything computed in the kernel's own thread, answering each click at once.

Its share of the protocol with the front end (``js/src/panels/``: layer picker, input panel, activation grid, unit
card, filters grid, webcam, unit download):

* **Results** — each a dict that may carry ``bytes`` (binary buffers):

  - ``model_info``: ``{name, source, pretrained, input_shape, classes, first_conv}``.
  - ``layers``: ``[{name, kind, label, shape, stage, view}, ...]`` in forward order (``stage``: one of the model's
    stages, which the layer picker lists by default; ``view``: ``{rule, display, crop}``, what a selection of
    ``"auto"`` shows there, :mod:`cnnviz_widget.views`).
  - ``picture``: ``{id, name, png, size: [H, W], predictions: [{index, label, probability}, ...]}`` — the image
    as the model sees it; ``id`` increases with every new image.
  - ``atlas``: ``{image, layer, png, count, tile: [h, w], cols, signed, downscale, stats, stats_columns}`` —
    every channel of ``layer`` for picture ``image`` (see :class:`.encode.Atlas`).
  - ``unit``: ``{request: {image, layer, channel, position, rule, display, crop}, location, field, crop, map,
    projection, view, silent, stats, input_size}`` — the selected unit (``projection`` shows the ``crop`` box of
    the input, or all of it: the receptive field or its central half; ``view``: ``{rule, display, crop, auto, text,
    why}``, what the projection shows with the ``"auto"`` parts of the request resolved, and why,
    :func:`~cnnviz_widget.views.view_state`; ``silent``: ``"here"``, ``"everywhere"`` or ``None``, when and why the
    projection is empty), stamped with the request it answers.
  - ``filters``: the first convolution's weights (:class:`.encode.FilterSheet`) plus ``layer``.
  - ``gallery``: ``{names, png, tile, cols}`` — thumbnails of the gallery's photos (default: the sample photos and
    composites of the demo image pool, :func:`~cnnviz_widget.engine.model.pool.gallery_photos`).
  - ``note``: ``{layer, channel, text}`` or ``{}`` — a new layer without the selected channel moved it to its last
    one (:func:`~cnnviz_widget.state.units.clamp_note`); shown while that unit is selected.
* **Commands** — ``{"type": "upload", "name": str}`` with the file's bytes as one buffer, and ``{"type": "sample",
  "index": int}``: both answer by changing the results above. ``{"type": "frame", "seq": int, "camera": str,
  "taken": ms}`` with a camera frame (JPEG) as one buffer: the new image, then the message ``{"type":
  "frame_done", "seq", "camera"}`` back (that camera sends its next frame only then; ``js/src/lib/frame-gate.js``).
  ``{"type": "save_unit", "id"}``: the message ``{"type": "unit_png", "name", "id"}`` back with the unit card
  (:meth:`cnnviz_widget.CNNViz.unit_card`) as one PNG buffer.
"""

from __future__ import annotations

import collections
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .. import encode
from ..engine import Explorer, load_image
from ..engine.model.pool import gallery_photos
from ..errors import CNNVizError, ImageError
from ..session import Session
from ..state.units import (
    UnitRequestKey,
    atlas_state,
    clamp_note,
    filters_state,
    gallery_state,
    layers_state,
    model_info_state,
    picture_state,
    unit_request,
    unit_state,
)

if TYPE_CHECKING:
    from ..widget import CNNViz

__all__ = ["UnitsPanel", "default_name"]

#: Unit cards kept per image (toggling back and forth is instant).
CACHE_UNITS = 64
#: Projections kept per image, so another display or crop of a unit is drawn without projecting it again.
CACHE_PROJECTIONS = 8
#: What the unit card's picture says of a silent unit (the front end: ``js/src/lib/format.js: silenceText``).
_SILENT_LINES = {"here": " · silent here (activation 0): the projection is empty",
                 "everywhere": " · silent everywhere on this image: the projection is empty"}


def default_name(source: Any) -> str:
    """The name an image is shown under when none is given: a path's file name, else ``"image"``."""
    if isinstance(source, (str, Path)):
        return Path(source).name
    return "image"


def load_gallery(gallery: Sequence[Any] | None) -> list[tuple[str, Image.Image]]:
    """The gallery's ``(name, image)`` pairs: ``gallery`` (paths, images or ``(name, image)`` pairs; unreadable ones
    skipped with a warning) or, by default, a gallery's worth of the demo image pool (its sample photos first)."""
    if gallery is None:
        sources = [(photo.name, photo.path) for photo in gallery_photos()]
    else:
        sources = [item if isinstance(item, tuple) else (default_name(item) if isinstance(item, (str, Path))
                                                         else f"image {i}", item)
                   for i, item in enumerate(gallery)]
    loaded = []
    for name, source in sources:
        try:
            loaded.append((str(name), load_image(source, name=str(name))))
        except ImageError as exc:
            warnings.warn(f"gallery: skipped {name!r}: {exc}", stacklevel=4)
    return loaded


class UnitsPanel:
    """The panels of the current image and the selected unit (see the module docstring)."""

    writes = ("model_info", "layers", "filters", "gallery", "picture", "atlas", "unit", "note")
    observes = ("layer", "channel", "position", "rule", "display", "crop")
    commands = ("upload", "sample", "frame", "save_unit")

    def __init__(self, session: Session, host: CNNViz, gallery: Sequence[Any] | None) -> None:
        self.session = session
        self.host = host
        self.gallery = load_gallery(gallery)
        self.ready = False  # set once the widget's first selection is in place
        self._units: collections.OrderedDict[UnitRequestKey, dict[str, Any]] = collections.OrderedDict()
        self._projections: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
        self._atlas_key: tuple[int, str] | None = None
        self._atlas_stats: np.ndarray | None = None
        self._unit_key: UnitRequestKey | None = None
        host.gallery = gallery_state(self.gallery)

    # ------------------------------------------------------------------------------------------ showing
    def show_model(self, explorer: Explorer) -> None:
        """Make ``explorer`` the model shown: its description, layers and filters (the caller shows the image
        afresh). Feature evolution swaps in a checkpoint's model this way."""
        self.session.set_model(explorer)
        self._forget()
        self.host.model_info = model_info_state(explorer)
        self.host.layers = layers_state(explorer, self.session.default_view)
        self.host.filters = filters_state(explorer, self.session.channel_order)

    def show_image(self, image: Image.Image, name: str) -> None:
        """Compute ``image`` through the model: the picture with its top-5, then the grid and the unit card."""
        start = time.perf_counter()
        host, session = self.host, self.session
        host.busy = True
        try:
            x = session.set_image(image, name)
            self._forget()
            host.picture = picture_state(session.image_id, name, session.explorer, x)
            host.error = ""
            self.refresh(busy=False)
        finally:
            host.busy = False
        session.timings.append({"kind": "image", "image": session.image_id, "ms": (time.perf_counter() - start) * 1e3})

    def rename(self, name: str) -> None:
        """The same pixels under a new name (no new computation)."""
        if self.host.picture and self.host.picture.get("name") != name:
            self.host.picture = {**self.host.picture, "name": name}

    def on_change(self, name: str, new: Any) -> None:
        if name == "layer":
            self._clamp_to_layer(new)
        self.refresh()

    def _clamp_to_layer(self, layer: str) -> None:
        """Keep the channel and a picked position inside the new layer: the channel stays when the layer has it,
        else it moves to the layer's last one and ``note`` says so. A note about another unit is cleared (one the
        front end sent with this very change is about this unit, and stays)."""
        host = self.host
        info = self.session.explorer.layer(layer)
        if host.channel >= info.channels:
            host.note = clamp_note(layer, host.channel, info.channels)
            host.set_trait("channel", info.channels - 1)
        elif host.note and (host.note.get("layer"), host.note.get("channel")) != (layer, host.channel):
            host.note = {}
        if isinstance(host.position, list):
            height, width = info.spatial
            y, x = host.position
            if len(info.shape) == 1 or not (y < height and x < width):
                host.set_trait("position", "max")

    def request(self) -> UnitRequestKey:
        """The stamp of the current selection."""
        host = self.host
        return unit_request(self.session.image_id, host.layer, host.channel, host.position, host.rule, host.display,
                            host.crop)

    def refresh(self, busy: bool = True) -> None:
        """Bring ``atlas`` and ``unit`` up to date with the selection (only what is stale)."""
        host, session = self.host, self.session
        if not self.ready or session.x is None:
            return
        atlas_key = (session.image_id, host.layer)
        request = self.request()
        if self._atlas_key == atlas_key and self._unit_key == request:
            return
        if busy:
            host.busy = True
        try:
            if self._atlas_key != atlas_key:
                state, self._atlas_stats = atlas_state(session.image_id, host.layer, session.activations(host.layer))
                self._atlas_key = atlas_key
                host.atlas = state
            if self._unit_key != request:
                unit = self._units.get(request) or self._compute_unit(request)
                self._units[request] = unit
                while len(self._units) > CACHE_UNITS:
                    self._units.popitem(last=False)
                self._unit_key = request
                with host.hold_sync():  # the answer and the end of "busy" in one message
                    host.unit = unit
                    if busy:
                        host.busy = False
        except (CNNVizError, RuntimeError) as exc:
            host.error = f"could not compute {host.layer} channel {host.channel}: {exc}"
        finally:
            if busy:
                host.busy = False

    def _compute_unit(self, request: UnitRequestKey) -> dict[str, Any]:
        start = time.perf_counter()
        session = self.session
        x = session.require_input()
        fmap = session.activations(request.layer)[request.channel]
        geometry = session.unit_geometry(request.layer, request.channel, request.position)
        view = session.view(request.layer, request.rule, request.display, request.crop)
        project_start = time.perf_counter()
        key = (request.image, request.layer, request.channel, geometry.location, view.rule)
        projection = self._projections.get(key)
        if projection is None:
            projection = session.explorer.project(x, request.layer, request.channel, position=geometry.location,
                                                  rule=view.rule)
            self._projections[key] = projection
            while len(self._projections) > CACHE_PROJECTIONS:
                self._projections.popitem(last=False)
        project_ms = (time.perf_counter() - project_start) * 1e3
        stats = self._atlas_stats if self._atlas_key == (request.image, request.layer) else None
        state = unit_state(request, fmap, geometry, projection, session.channel_order, x.shape[1:], view,
                           stats_row=stats[request.channel] if stats is not None else None)
        session.timings.append({"kind": "unit", "layer": request.layer, "channel": request.channel,
                                "position": state["location"], "rule": view.rule, "project_ms": project_ms,
                                "ms": (time.perf_counter() - start) * 1e3})
        return state

    def _forget(self) -> None:
        self._units.clear()
        self._projections.clear()
        self._atlas_key = self._unit_key = None
        self._atlas_stats = None

    # ------------------------------------------------------------------------------------------ the unit card
    def card(self, top9: tuple[np.ndarray, np.ndarray, str] | None = None) -> encode.UnitCard:
        """The selected unit as one picture (:func:`~cnnviz_widget.encode.unit_card`); ``top9``:
        ``(projections, patches, caption)`` of its dataset exemplars, when mined."""
        self.refresh(busy=False)
        host, session = self.host, self.session
        unit, picture, info = host.unit, host.picture, host.model_info
        request = unit.get("request") or {}
        if request.get("image") != picture.get("id") or session.x is None:
            raise CNNVizError("the selected unit could not be computed (see the error banner) — select another one")
        stats = unit["stats"]
        where = (f"at ({unit['location'][0]}, {unit['location'][1]}) of its map" if unit.get("location")
                 else "over its whole map")
        value = f" · value there {stats['value']:.3g}" if stats.get("value") is not None else ""
        silent = _SILENT_LINES.get(unit.get("silent"), "")
        view = unit["view"]
        paper = "" if view["rule"] == "deconvnet" else "; deconvnet is the paper's rule"
        lines = [f"{view['text']}: {view['why']}{paper}",  # the card's font has no dash
                 f"projection {where}{value}{silent}",
                 f"max {stats['max']:.3g} · mean {stats['mean']:.3g} · active {100 * stats['fraction_active']:.3g}%"
                 f" · image: {picture.get('name', '')}"]
        if top9 is not None:
            lines.append(top9[2])
        projection = unit["projection"]
        height, width = projection["shape"]
        return encode.unit_card(
            title=f"{info.get('name', 'model')} · {request['layer']} · channel {request['channel']}", lines=lines,
            picture=session.explorer.to_pixels(session.x), field=unit.get("field"), crop=unit.get("crop"),
            activation=unit["map"],
            projection=np.frombuffer(bytes(projection["data"]), np.uint8).reshape(height, width, 3),
            captions=("input · receptive field", "activation map", "projection",
                      "image patch · central half" if unit.get("crop") and view["crop"] == "center" else "image patch"),
            top9=top9[:2] if top9 is not None else None)

    def file_name(self) -> str:
        """A file name for the selected unit's card, like ``squeezenet1_1-features.6-channel12.png``."""
        host = self.host
        name = f"{host.model_info.get('name', 'model')}-{host.layer}-channel{host.channel}"
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".png"

    # ------------------------------------------------------------------------------------------ commands
    def on_command(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        kind = content.get("type")
        host = self.host
        if kind == "upload":
            if not buffers:
                raise ImageError(f"{content.get('name', 'upload')} arrived without its bytes — try again")
            host.set_image(bytes(buffers[0]), name=str(content.get("name") or "upload"))
        elif kind == "sample":
            index = int(content.get("index", -1))
            if not 0 <= index < len(self.gallery):
                raise ImageError(f"there is no sample photo {index}; the gallery has {len(self.gallery)}")
            host.set_image(self.gallery[index][1], name=self.gallery[index][0])
        elif kind == "frame":
            self._on_frame(content, buffers)
        elif kind == "save_unit":
            card = host.unit_card()
            host.send({"type": "unit_png", "name": self.file_name(), "id": content.get("id")}, [card.png()])
            return
        host.error = ""

    def _on_frame(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        """A camera frame: shown as the new image; answered with ``frame_done`` whatever happens, as the front end
        sends its next frame only then (``js/src/lib/frame-gate.js``)."""
        try:
            if not buffers:
                raise ImageError("a camera frame arrived without its pixels")
            self.host.set_image(bytes(buffers[0]), name="camera")
        finally:
            self.host.send({"type": "frame_done", "seq": content.get("seq"), "camera": content.get("camera")})

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True
