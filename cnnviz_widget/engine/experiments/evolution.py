"""Feature evolution during training (Zeiler & Fergus 2013, Fig. 4): how a unit's favourite input forms.

For each checkpoint of a training run (epochs 1, 2, 5, 10, 20, …) and each chosen unit: over a dataset, the
image and position where the unit responds most, its activation there, the receptive-field patch of that image
and the unit's projection back to pixels (deconvnet by default) — one column per checkpoint, one row per unit.

Each checkpoint is loaded, strictly, into a copy of the explorer's model (the model itself is never changed), so
checkpoints of another architecture are refused with the mismatched keys named. The strongest activations come
from one mining pass per checkpoint (:func:`~.mining.mine` with ``k=1``: only the units' layers, forward stopped
after the deepest one); patches and projections from :meth:`~.exemplars.Exemplars.atlas` (batched).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import CNNVizError, ModelError
from ..exemplars.datasets import ImageDataset, open_dataset
from ..exemplars.mining import mine
from ..exemplars.results import Exemplar
from ..explorer import Explorer
from ..model.models import ModelSpec, load_checkpoint
from ..progress import Progress, check_cancel, report

__all__ = ["FeatureEvolution", "feature_evolution"]

Checkpoint = Any  # a path to a state dict, a state dict, or an nn.Module of the same architecture


@dataclass(frozen=True)
class FeatureEvolution:
    """Units × checkpoints: each unit's strongest activation over the dataset at each checkpoint.

    Attributes:
        checkpoints: the checkpoints' names (file stems, the keys of a mapping, or ``"#0"``, ``"#1"``, …).
        units: ``[(layer, channel), ...]``.
        cells: ``cells[u][c]`` — unit ``u`` at checkpoint ``c``: an :class:`~.exemplars.Exemplar` with ``value``
            (the activation), ``index`` / ``id`` (the image), ``position``, ``box``, ``patch`` (``uint8 [h, w, 3]``),
            ``projection`` (``float32 [C, h, w]``) and ``valid``; ``None`` if no image could be read.
        rule: the projection rule used.
    """

    checkpoints: list[str]
    units: list[tuple[str, int]]
    cells: list[list[Exemplar | None]]
    rule: str
    _sources: list[Checkpoint] = field(repr=False, default_factory=list)
    _explorer: Explorer | None = field(repr=False, default=None)

    @property
    def activations(self) -> np.ndarray:
        """``float32 [units, checkpoints]`` — the strongest activation of each unit at each checkpoint (NaN where
        no image could be read)."""
        return np.array([[cell.value if cell is not None else np.nan for cell in row] for row in self.cells],
                        dtype=np.float32)

    def cell(self, unit: int, checkpoint: int | str) -> Exemplar | None:
        """The cell of unit ``unit`` (an index into :attr:`units`) at ``checkpoint`` (an index or a name)."""
        column = self.checkpoints.index(checkpoint) if isinstance(checkpoint, str) else checkpoint
        return self.cells[unit][column]

    def explorer(self, checkpoint: int | str) -> Explorer:
        """An :class:`~.explorer.Explorer` of the model with that checkpoint's weights (e.g. for its unit card)."""
        column = self.checkpoints.index(checkpoint) if isinstance(checkpoint, str) else checkpoint
        if self._explorer is None:
            raise CNNVizError("this result holds no model; run feature_evolution again")
        return _checkpoint_explorer(self._explorer, self._sources[column], self.checkpoints[column])


def _names(checkpoints: Sequence[Checkpoint] | Mapping[str, Checkpoint]) -> tuple[list[str], list[Checkpoint]]:
    single = isinstance(checkpoints, (str, Path, nn.Module)) or (
        isinstance(checkpoints, Mapping) and any(isinstance(v, torch.Tensor) for v in checkpoints.values()))
    if single:
        raise CNNVizError("checkpoints must be a list (or a {name: checkpoint} mapping), not a single checkpoint")
    if isinstance(checkpoints, Mapping):
        return [str(k) for k in checkpoints], list(checkpoints.values())
    names = []
    for i, ckpt in enumerate(checkpoints):
        names.append(Path(ckpt).stem if isinstance(ckpt, (str, Path)) else f"#{i}")
    if len(set(names)) != len(names):  # two files with one stem in different folders
        names = [f"{name} (#{i})" for i, name in enumerate(names)]
    return names, list(checkpoints)


def _checkpoint_explorer(explorer: Explorer, checkpoint: Checkpoint, name: str,
                         model: nn.Module | None = None) -> Explorer:
    """``explorer``'s model (a copy, or ``model`` reused) with ``checkpoint``'s weights, as an Explorer."""
    model = model if model is not None else copy.deepcopy(explorer.model)
    state = checkpoint.state_dict() if isinstance(checkpoint, nn.Module) else checkpoint
    if not isinstance(state, (dict, str, Path)):
        raise ModelError(
            f"checkpoint {name!r} is a {type(checkpoint).__name__}; pass a path to a state dict, a state dict, or "
            "an nn.Module of the same architecture"
        )
    try:
        load_checkpoint(model, state)
    except ModelError as exc:
        raise ModelError(f"checkpoint {name!r}: {exc}") from None
    spec = explorer.spec
    return Explorer(ModelSpec(model=model, preprocess=spec.preprocess, labels=spec.labels,
                              name=f"{spec.name} @ {name}", pretrained=True, source=f"checkpoint {name}",
                              input_shape=spec.input_shape))


def feature_evolution(
    explorer: Explorer,
    checkpoints: Sequence[Checkpoint] | Mapping[str, Checkpoint],
    data: Any,
    units: Sequence[tuple[str, int]],
    *,
    rule: str = "deconvnet",
    batch_size: int = 32,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> FeatureEvolution:
    """Each unit's strongest activation over ``data`` at each checkpoint, with its patch and projection (Fig. 4).

    Args:
        explorer: the model (its architecture, preprocessing and labels; its weights are not used or changed).
        checkpoints: in training order — paths to state dicts (read with ``weights_only=True``), state dicts or
            modules of the same architecture; or ``{name: checkpoint}``.
        data: anything :func:`~.datasets.open_dataset` takes: a folder, a list of images, a torch ``Dataset``,
            ``"demo"``.
        units: ``[(layer, channel), ...]``.
        rule: projection rule (``"deconvnet"``, ``"guided"`` or ``"gradient"``).
        batch_size: images per forward pass.
        progress, cancel: ``progress(done, total)`` (images × checkpoints); set ``cancel`` to stop (raises
            :class:`~.progress.Cancelled`).

    Raises:
        ModelError: a checkpoint does not fit the architecture (the message names the checkpoint and the
            mismatched keys) or cannot be read.
        LayerError: an unknown layer or channel.
    """
    if not isinstance(explorer, Explorer):
        raise TypeError(f"feature_evolution takes an Explorer (Explorer(model)), not {type(explorer).__name__}")
    names, sources = _names(checkpoints)
    if not sources:
        raise CNNVizError("no checkpoints given — pass a list of checkpoint paths, state dicts or modules")
    unit_list = [(str(layer), int(channel)) for layer, channel in units]
    if not unit_list:
        raise CNNVizError("no units given — pass units=[(layer, channel), ...]")
    by_layer: dict[str, list[int]] = {}
    for layer, channel in unit_list:
        explorer.layer(layer)
        by_layer.setdefault(layer, []).append(channel)
    dataset: ImageDataset = open_dataset(data)
    total = len(dataset) * len(sources)
    # Every checkpoint is loaded (and checked) before the long passes start.
    model = copy.deepcopy(explorer.model)
    for name, source in zip(names, sources):
        _checkpoint_explorer(explorer, source, name, model)

    columns: list[dict[tuple[str, int], Exemplar | None]] = []
    report(progress, 0, total)
    for c, (name, source) in enumerate(zip(names, sources)):
        check_cancel(cancel, "feature evolution")
        ex_c = _checkpoint_explorer(explorer, source, name, model)
        offset = c * len(dataset)

        def step(done: int, _total: int, offset: int = offset) -> None:
            report(progress, offset + done, total)

        mined = mine(ex_c, dataset, layers=list(by_layer), k=1, batch_size=batch_size, progress=step,
                     cancel=cancel, bar=False)
        check_cancel(cancel, "feature evolution")
        if not mined.complete:
            raise CNNVizError(f"the pass over {dataset.name} for checkpoint {name!r} did not finish")
        column: dict[tuple[str, int], Exemplar | None] = {}
        for layer, channels in by_layer.items():
            atlas = mined.atlas(layer, sorted(set(channels)), rule=rule)
            for channel in channels:
                column[(layer, channel)] = atlas[channel][0] if atlas[channel] else None
        columns.append(column)
        report(progress, offset + len(dataset), total)
    return FeatureEvolution(checkpoints=names, units=unit_list,
                            cells=[[column[unit] for column in columns] for unit in unit_list], rule=rule,
                            _sources=sources, _explorer=explorer)
