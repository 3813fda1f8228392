"""The result of a mining pass: every unit's top-k exemplars and statistics, and their patches and projections.

:func:`~.mining.mine` returns an :class:`Exemplars`; :meth:`Exemplars.load` reads one from a cache folder (for
instance one the ``cnnviz mine`` command filled), finished or still being mined. What a panel calls::

    result.top(layer, channel)                  # [Exemplar] — values, image ids, positions, labels (no pixels)
    result.exemplars(layer, channel)            # the same with .patch (the receptive field, as the model saw it)
                                                #   and .projection (deconvnet / guided / gradient), in one batch
    result.atlas(layer, channels=range(0, 16))  # {channel: [Exemplar]} for many units, batched across them
    result.stats(layer)                         # LayerStats: histograms, quantiles, firing rates, dead units
    result.class_mix(layer, channel)            # [(label, name, count)] over the unit's top-k

Patches and projections need the model and the images: a result from :func:`~.mining.mine` has both; one loaded
from a cache needs ``model=`` and reopens the dataset it was mined from (a folder, tar shards, a saved Hugging Face
dataset, a named dataset, or ``"demo"``) if ``data=`` is not given — and refuses a dataset whose fingerprint changed
since. Patches are cut from the inputs the pass saw (a JPEG decoded at the same reduced size, see :mod:`.loading`).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import CNNVizError, LayerError, unknown_name
from ..cache import list_entries, load_checked
from ..model.receptive_field import unit_field
from .loading import BatchReader
from .topk import EMPTY, histogram_edges, merge_states

__all__ = ["Exemplar", "Exemplars", "LayerStats"]

Box = tuple[int, int, int, int]
#: Units whose patches and projections :meth:`Exemplars.atlas` remembers, and the bytes they may take: a deep
#: layer's projections are large (a 207×207 box is 0.5 MB each), so paging through its units must not pile them up.
_CACHE_UNITS = 512
_CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Exemplar:
    """One of a unit's top-k images.

    Attributes:
        layer, channel: the unit.
        rank: 0 for the strongest.
        value: the unit's activation there: the maximum of the channel's map over this image.
        index, id: the image's position and stable id in the dataset.
        label, label_name: the image's class, when known.
        position: where in the layer's map the maximum is, ``(y, x)`` (``()`` for a layer without a map).
        box: the unit's receptive field in the model's input, ``(top, left, bottom, right)``, half-open and
            unclipped (it may reach past the image into the padding).
        patch: the receptive field cut from the image as the model saw it, ``uint8 [h, w, 3]`` (``h, w`` the box
            size); where the box leaves the image it shows the colour the model's zero padding stands for.
        projection: the unit projected back to the input (``float32 [C, h, w]``, same box; zero outside the
            image).
        valid: the part of ``patch`` / ``projection`` inside the image, ``(top, left, bottom, right)`` in patch
            coordinates.
    """

    layer: str
    channel: int
    rank: int
    value: float
    index: int
    id: str
    label: int | None
    label_name: str | None
    position: tuple[int, ...]
    box: Box | None = None
    patch: np.ndarray | None = None
    projection: torch.Tensor | None = None
    valid: Box | None = None


@dataclass(frozen=True)
class LayerStats:
    """Statistics of every unit of a layer, over each image's maximum response (the quantity top-k ranks).

    Attributes:
        layer: the layer's name.
        images: images seen.
        fired: ``int64 [C]``, images on which the unit fires (maximum > 0).
        histogram: ``int64 [C, B]``, counts of the per-image maxima in the bins of ``edges``.
        edges: ``float32 [B - 1]``, the inner bin edges (bin ``b`` holds ``edges[b-1] < v <= edges[b]``; the first
            and last bins are open-ended): 8 per octave of ``|v|`` from 2^-16 to 2^16, mirrored below zero.
        low, high: ``float32 [C]``, the smallest and largest per-image maximum.
    """

    layer: str
    images: int
    fired: np.ndarray
    histogram: np.ndarray
    edges: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def firing_rate(self) -> np.ndarray:
        """Fraction of images on which each unit fires (``float64 [C]``)."""
        return self.fired / max(self.images, 1)

    @property
    def dead(self) -> np.ndarray:
        """Units that fired on no image (``bool [C]``; all ``False`` before any image)."""
        return (self.fired == 0) & (self.images > 0)

    def quantiles(self, q: Sequence[float] | float) -> np.ndarray:
        """Quantiles of each unit's per-image maxima, ``[C, len(q)]``, read from the histogram: exact at the
        extremes (``q`` = 0 or 1), within one bin (±4.4 %) elsewhere. NaN before any image."""
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        channels = self.histogram.shape[0]
        out = np.full((channels, len(qs)), np.nan)
        if self.images == 0:
            return out
        lows = np.concatenate([[-np.inf], self.edges.astype(np.float64)])
        highs = np.concatenate([self.edges.astype(np.float64), [np.inf]])
        cum = np.cumsum(self.histogram, axis=1)
        total = cum[:, -1]
        for c in range(channels):
            if total[c] == 0:
                continue
            lo_c, hi_c = float(self.low[c]), float(self.high[c])
            for j, qj in enumerate(qs):
                target = qj * total[c]
                b = int(np.searchsorted(cum[c], target, side="left"))
                b = min(max(b, 0), len(cum[c]) - 1)
                before = cum[c][b - 1] if b > 0 else 0
                inside = self.histogram[c, b]
                lo, hi = max(lows[b], lo_c), min(highs[b], hi_c)
                frac = 0.0 if inside == 0 else (target - before) / inside
                out[c, j] = lo + (hi - lo) * float(np.clip(frac, 0.0, 1.0))
        return out


def _cut(pixels: np.ndarray, box: Box, fill: np.ndarray) -> tuple[np.ndarray, Box]:
    """The ``box`` of an ``[H, W, 3]`` picture, ``fill`` where it leaves the picture; and the part inside it."""
    top, left, bottom, right = box
    height, width = pixels.shape[:2]
    t, lf, b, r = max(top, 0), max(left, 0), min(bottom, height), min(right, width)
    out = np.empty((bottom - top, right - left, pixels.shape[2]), dtype=pixels.dtype)
    out[:] = fill
    if b > t and r > lf:
        out[t - top:b - top, lf - left:r - left] = pixels[t:b, lf:r]
    return out, (t - top, lf - left, max(b, t) - top, max(r, lf) - left)


class Exemplars:
    """Top-k exemplars and statistics of every mined unit (see the module docstring for the verbs).

    Attributes:
        layer_names: the mined layers, in forward order.
        k: exemplars per unit.
        images: images that went through the model; ``skipped``: unreadable items (``skipped_items`` names the
            first 100 as ``(index, id, reason)``); ``total``: items in the dataset.
        complete: ``False`` for a partial result (a pass still running, cancelled, or killed).
        key: the cache key (see :class:`~.mining.Miner`); ``entry``: its cache folder, if any.
        class_names: names of the dataset's labels, when known.
    """

    def __init__(self, state: dict[str, Any], *, key: dict[str, Any], explorer: Any = None, dataset: Any = None,
                 entry: Path | None = None) -> None:
        self._state = state
        self._tables: dict[str, dict[str, torch.Tensor]] = state["layers"]
        self.key = key
        self.entry = entry
        self.k = int(state["k"])
        self.images = int(state["images"])
        self.skipped = int(state["skipped"])
        self.skipped_items = [tuple(item) for item in state["skipped_items"]]
        self.total = int(state["total"])
        self.complete = bool(state["complete"])
        self.class_names = state.get("class_names")
        self.model_name = state.get("model_name")
        self.dataset_name = state.get("dataset_name")
        self._ids = {int(i): str(name) for i, name in state.get("ids", [])}
        self._shapes = {name: tuple(shape) for name, shape in key["layers"]}
        self._explorer = explorer
        self._dataset = dataset
        self._cache: OrderedDict[tuple, list[Exemplar]] = OrderedDict()

    def __repr__(self) -> str:
        status = "complete" if self.complete else "partial"
        return (f"<Exemplars {status}: top-{self.k} of {len(self.layer_names)} layers over {self.images} images "
                f"({self.skipped} unreadable) of {self.dataset_name}>")

    @property
    def layer_names(self) -> list[str]:
        return list(self._tables)

    def _table(self, layer: str) -> dict[str, torch.Tensor]:
        if layer not in self._tables and self._explorer is not None:
            with contextlib.suppress(LayerError):  # a container's name selects a mined layer
                layer = self._explorer.layer(layer).name
        if layer not in self._tables:
            raise LayerError(unknown_name("mined layer", layer, self._tables, listed_by=".layer_names"))
        return self._tables[layer]

    def _check_channel(self, layer: str, channel: int) -> None:
        channels = self._table(layer)["values"].shape[0]
        if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < channels:
            raise LayerError(f"channel {channel!r} is outside layer {layer!r}, which has channels 0–{channels - 1}")

    def table(self, layer: str) -> dict[str, torch.Tensor]:
        """The raw top-k table of a layer: ``values`` ``[C, k]``, ``indices`` ``[C, k]`` (-1 where fewer than
        ``k`` images were seen), ``positions`` ``[C, k, S]``, ``labels`` ``[C, k]`` (-1: unknown)."""
        t = self._table(layer)
        empty = t["indices"] == EMPTY
        return {"values": t["values"].clone(), "indices": t["indices"].masked_fill(empty, -1),
                "positions": t["positions"].clone(), "labels": t["labels"].clone()}

    # ------------------------------------------------------------------------------------------- the lists
    def _label_name(self, label: int) -> str | None:
        if label < 0:
            return None
        names = self.class_names
        return names[label] if names is not None and label < len(names) else f"class {label}"

    def top(self, layer: str, channel: int) -> list[Exemplar]:
        """The unit's exemplars, strongest first (fewer than ``k`` if fewer images were seen); no pixels."""
        self._check_channel(layer, channel)
        t = self._table(layer)
        indices = t["indices"][channel].tolist()
        values = t["values"][channel].tolist()
        labels = t["labels"][channel].tolist()
        positions = t["positions"][channel].tolist()
        out = []
        for rank, index in enumerate(indices):
            if index == EMPTY:
                break
            label = labels[rank]
            out.append(Exemplar(layer=layer, channel=int(channel), rank=rank, value=values[rank], index=index,
                                id=self._ids.get(index, str(index)), label=None if label < 0 else label,
                                label_name=self._label_name(label), position=tuple(positions[rank])))
        return out

    def class_mix(self, layer: str, channel: int) -> list[tuple[int, str | None, int]]:
        """Labels among the unit's top-k: ``[(label, name, count)]``, most frequent first (empty if unlabelled)."""
        counts = Counter(e.label for e in self.top(layer, channel) if e.label is not None)
        return [(label, self._label_name(label), n) for label, n in sorted(counts.items(), key=lambda p: (-p[1], p[0]))]

    def stats(self, layer: str) -> LayerStats:
        """Per-unit statistics of ``layer`` (see :class:`LayerStats`)."""
        t = self._table(layer)
        high = t["values"][:, 0].numpy().copy()
        high[t["indices"][:, 0].numpy() == EMPTY] = np.nan
        low = t["low"].numpy().copy()
        low[~np.isfinite(low)] = np.nan
        return LayerStats(layer=layer, images=self.images, fired=t["fired"].numpy().copy(),
                          histogram=t["hist"].numpy().copy(), edges=histogram_edges().numpy(), low=low, high=high)

    # ------------------------------------------------------------------------------- patches and projections
    def attach(self, model: Any = None, data: Any = None) -> Exemplars:
        """Give a loaded result the model and/or dataset its patches and projections need; returns ``self``.

        Raises:
            CNNVizError: the model's weights or the dataset's contents are not those that were mined.
        """
        if model is not None:
            from ..explorer import Explorer

            explorer = model if isinstance(model, Explorer) else Explorer(model)
            if _weights_hash(explorer) != self.key["model"]:
                raise CNNVizError(
                    "this model's weights or preprocessing differ from the ones these exemplars were mined with — "
                    "pass the same model, or mine again"
                )
            self._explorer = explorer
            self._cache.clear()
        if data is not None:
            from .datasets import open_dataset

            dataset = open_dataset(data)
            if dataset.fingerprint() != self.key["dataset"]:
                raise CNNVizError(
                    f"the dataset {dataset.name} is not the one these exemplars were mined from (its files changed) "
                    "— pass that dataset, or mine again"
                )
            self._dataset = dataset
            self._cache.clear()
        return self

    def _need(self) -> tuple[Any, Any]:
        if self._explorer is None:
            raise CNNVizError("patches and projections need the model: call .attach(model=...) first")
        if self._dataset is None:
            from .datasets import reopen

            dataset = reopen(self._state.get("dataset_source") or {})
            if dataset is None:
                raise CNNVizError("patches and projections need the images: call .attach(data=...) with the dataset "
                                  "that was mined")
            self.attach(data=dataset)
        return self._explorer, self._dataset

    def image(self, index: int) -> Any:
        """The whole image of dataset item ``index`` (an exemplar's ``.index``), as the dataset holds it (an RGB PIL
        image, or a tensor) — e.g. to make it the widget's current input."""
        _explorer, dataset = self._need()
        return dataset.read(int(index)).image

    def exemplars(self, layer: str, channel: int, rule: str = "deconvnet", seed: str = "activation") -> list[Exemplar]:
        """The unit's exemplars with their patches and projections (computed in one batch, then remembered)."""
        return self.atlas(layer, [channel], rule=rule, seed=seed)[int(channel)]

    def atlas(self, layer: str, channels: Iterable[int] | None = None, rule: str = "deconvnet",
              seed: str = "activation", images_per_batch: int = 64, units_per_batch: int = 256) -> dict[int, list[Exemplar]]:
        """Exemplars with patches and projections for many units of a layer (default: all) — the paper's Figure 2.

        Projections of all requested units are computed together, a few images at a time
        (:meth:`~.explorer.Explorer.project_batch`: shared forward passes, receptive-field crops). ``rule`` and
        ``seed`` are those of :meth:`~.explorer.Explorer.project`.
        """
        t = self._table(layer)
        wanted = range(t["values"].shape[0]) if channels is None else [int(c) for c in channels]
        for c in wanted:
            self._check_channel(layer, c)
        result: dict[int, list[Exemplar]] = {}
        missing: list[int] = []
        for c in wanted:
            hit = self._cache.get((layer, c, rule, seed))
            if hit is not None:
                self._cache.move_to_end((layer, c, rule, seed))
                result[c] = hit
            else:
                missing.append(c)
        if missing:
            for c, exemplars in self._compute(layer, missing, rule, seed, images_per_batch, units_per_batch).items():
                result[c] = exemplars
                self._cache[(layer, c, rule, seed)] = exemplars
            while len(self._cache) > 1 and (len(self._cache) > _CACHE_UNITS or self._cached_bytes() > _CACHE_BYTES):
                self._cache.popitem(last=False)
        return {c: result[c] for c in wanted}

    def _cached_bytes(self) -> int:
        return sum(e.projection.numel() * e.projection.element_size() + e.patch.nbytes
                   for exemplars in self._cache.values() for e in exemplars)

    @staticmethod
    def _box(info: Any, position: tuple[int, ...], size: tuple[int, int]) -> Box:
        """The unit's receptive field (:meth:`~.explorer.Explorer.receptive_field`); the whole image for a layer
        without a map or without traced geometry."""
        if info.geometry is None or len(position) != 2 or len(info.geometry) != 2:
            return (0, 0, size[0], size[1])
        return tuple(int(v) for v in unit_field(info.geometry, position))  # type: ignore[return-value]

    def _compute(self, layer: str, channels: list[int], rule: str, seed: str, images_per_batch: int,
                 units_per_batch: int) -> dict[int, list[Exemplar]]:
        from ..projection.projector import UnitRequest

        explorer, dataset = self._need()
        spec = explorer.spec
        info = explorer.layer(layer)
        plain = {c: self.top(layer, c) for c in channels}
        by_image: dict[int, list[tuple[int, int]]] = {}
        for c, exemplars in plain.items():
            for e in exemplars:
                by_image.setdefault(e.index, []).append((c, e.rank))
        fill = spec.to_pixels(torch.zeros((spec.input_shape[0], 1, 1)))[0, 0]
        # The inputs the pass saw: with the same JPEG decode (reduced or full) as the key says it used.
        reader = BatchReader(dataset, spec.preprocess, spec.input_shape, model=explorer.model, device=spec.device,
                             dtype=spec.dtype, batch_size=images_per_batch, workers=1,
                             reduced_decode=self.key.get("decode") == "jpeg-dct-reduced")
        done: dict[tuple[int, int], Exemplar] = {}
        images = sorted(by_image)
        start = 0
        while start < len(images):
            group, units = [], 0
            while start < len(images) and len(group) < images_per_batch and (
                    not group or units + len(by_image[images[start]]) <= units_per_batch):
                group.append(images[start])
                units += len(by_image[images[start]])
                start += 1
            xs = reader.inputs(group)
            requests, keys, boxes = [], [], []
            for row, index in enumerate(group):
                for c, rank in by_image[index]:
                    e = plain[c][rank]
                    requests.append(UnitRequest(row, layer, c, e.position if e.position else None))
                    keys.append((c, rank))
                    boxes.append(self._box(info, e.position, tuple(xs.shape[2:4])))
            projections = explorer.project_batch(xs, requests, rule=rule, seed=seed, boxes=boxes)
            pixels = {index: spec.to_pixels(x) for index, x in zip(group, xs, strict=True)}
            for (c, rank), request, box, projection in zip(keys, requests, boxes, projections, strict=True):
                patch, valid = _cut(pixels[group[request.image]], box, fill)
                done[(c, rank)] = replace(plain[c][rank], box=box, patch=patch, projection=projection, valid=valid)
        return {c: [done[(c, e.rank)] for e in plain[c]] for c in channels}

    # --------------------------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, cache_dir: str | Path, model: Any = None, data: Any = None, *, partial: bool = True) -> Exemplars:
        """Read a mined result from ``cache_dir`` (what ``cnnviz mine --out`` or ``mine(cache_dir=...)`` wrote).

        Args:
            cache_dir: the cache folder (holding one entry per model/dataset/layers/k mined).
            model: pick the entry mined with this model's exact weights and preprocessing (and attach it, for
                patches and projections). Without it the folder must hold a single entry.
            data: likewise, pick the entry mined from this dataset (and attach it).
            partial: accept an unfinished pass (merging the checkpoints of every process written so far).

        Raises:
            CNNVizError: no entry matches (the message lists what the folder holds), or several do.
        """
        explorer = None
        if model is not None:
            from ..explorer import Explorer

            explorer = model if isinstance(model, Explorer) else Explorer(model)
        dataset = None
        if data is not None:
            from .datasets import open_dataset

            dataset = open_dataset(data)
        weights = _weights_hash(explorer) if explorer is not None else None
        entries = list(list_entries(cache_dir))
        matching = [(path, key) for path, key in entries if key.get("what") == "top-k exemplars"
                    and (explorer is None or key.get("model") == weights)
                    and (dataset is None or key.get("dataset") == dataset.fingerprint())]
        found = []
        for path, key in matching:
            state = load_checked(path / "result.pt", key)
            if state is None and partial:
                state = _merge_progress(path, key)
            if state is not None:
                found.append((bool(state["complete"]), (path / "key.json").stat().st_mtime, path, key, state))
        if not found:
            held = "; ".join(f"{p.name} ({k.get('layers', [[None]])[0][0]}…, k={k.get('k')})" for p, k in entries)
            raise CNNVizError(
                f"no mined exemplars in {str(cache_dir)!r} match " + ("this model and dataset" if model is not None
                                                                      or data is not None else "")
                + (f" (it holds: {held})" if held else " (it holds none)")
                + " — run `cnnviz mine` or mine(..., cache_dir=...) first"
            )
        if model is None and data is None and len(found) > 1:
            names = ", ".join(f[2].name for f in found)
            raise CNNVizError(f"{str(cache_dir)!r} holds several mined results ({names}); pass model= (and data=) "
                              "to choose one")
        _complete, _mtime, path, key, state = max(found, key=lambda f: (f[0], f[1]))
        return cls(state, key=key, explorer=explorer, dataset=dataset, entry=path)

    def summary(self) -> dict[str, Any]:
        """A JSON-able overview: counts, and per layer the number of dead units and the median firing rate."""
        layers = {}
        for name in self.layer_names:
            s = self.stats(name)
            layers[name] = {"channels": int(s.fired.shape[0]), "dead": int(s.dead.sum()),
                            "median_firing_rate": float(np.median(s.firing_rate)) if s.images else None}
        return {"complete": self.complete, "images": self.images, "skipped": self.skipped, "total": self.total,
                "k": self.k, "model": self.model_name, "dataset": self.dataset_name,
                "entry": str(self.entry) if self.entry else None, "layers": layers}

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=1)


def _weights_hash(explorer: Any) -> str:
    """The model's fingerprint, hashed afresh (its weights may have changed in place since it was last asked)."""
    explorer.spec.invalidate_fingerprint()
    return explorer.spec.fingerprint()


def _merge_progress(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """Merge the newest complete set of per-process checkpoints of an unfinished pass."""
    groups: dict[int, list[Path]] = {}
    for file in (path / "progress").glob("rank*-of-*.pt"):
        try:
            world = int(file.stem.split("-of-")[1])
        except (IndexError, ValueError):
            continue
        groups.setdefault(world, []).append(file)
    if not groups:
        return None
    newest = max(groups, key=lambda w: max(f.stat().st_mtime for f in groups[w]))
    states = [s for s in (load_checked(f, key) for f in sorted(groups[newest])) if s is not None]
    if not states:
        return None
    merged = merge_states(states, int(states[0]["k"]))
    merged["complete"] = False
    return merged
