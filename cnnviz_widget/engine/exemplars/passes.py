"""One mining pass's state, with names: where it stands (:class:`MiningProgress`), what one process holds
(:class:`PassState`: its tables and the batches not merged into them yet, each a :class:`PendingBatch`), and which
process of a ``torch.distributed`` group this is (:func:`rank_and_size`). :mod:`.mining` runs the pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .loading import Batch
from .topk import SKIPPED_NAMED, update_from_peaks

__all__ = ["MERGE_EVERY", "MiningProgress", "PassState", "PendingBatch", "rank_and_size"]

#: Batches whose maps' maxima are held before they are merged into the tables at once (also merged before every
#: checkpoint, at the end, on cancel): merging costs a few dozen small tensor ops per layer, whatever the batch.
MERGE_EVERY = 8


@dataclass(frozen=True)
class MiningProgress:
    """Where a pass stands (this process's share of the dataset under ``torch.distributed``).

    Attributes:
        done: items examined so far (read or skipped), resumed ones included.
        total: items this process examines in all.
        images: images that went through the model.
        skipped: unreadable items so far.
        elapsed: seconds spent in this call.
        finished: the pass is over (complete, or stopped by ``cancel``).
    """

    done: int
    total: int
    images: int
    skipped: int
    elapsed: float
    finished: bool = False


def rank_and_size() -> tuple[int, int]:
    """This process's rank and the group's size under ``torch.distributed`` (``(0, 1)`` outside one)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@dataclass
class PendingBatch:
    """One batch's reduction of one layer's output, held until it is merged into the layer's table.

    Attributes:
        peak: ``[C, N]`` each map's maximum (:func:`~.topk.batch_peaks`).
        where: ``[C, N]`` the flat index of each map's first maximum (``None`` for ``[N, C]`` outputs).
        spatial: the map's shape (``()`` for ``[N, C]`` outputs).
        index: ``[N]`` the images' dataset positions.
        label: ``[N]`` their labels (-1: unknown).
    """

    peak: torch.Tensor
    where: torch.Tensor | None
    spatial: tuple[int, ...]
    index: torch.Tensor
    label: torch.Tensor


@dataclass
class PassState:
    """Where one process's pass stands: its tables, and what it holds since the last merge into them.

    Batches are held (their :class:`PendingBatch` per layer, their counts) and merged into the tables every
    :data:`MERGE_EVERY` batches — merging costs a few dozen small tensor ops per layer, whatever the batch —
    and before every checkpoint, at the end and on cancel: the saved state's counts always describe whole
    batches that are in its tables.

    Attributes:
        chunks: this process's chunks of the dataset, in order (round-robin under ``torch.distributed``).
        total: items in them.
        done: items examined so far (read or skipped), resumed ones included.
        tables: ``{layer: table}`` on the model's device (the saved state's ``"layers"``).
        pending: ``{layer: [PendingBatch, ...]}`` not merged yet.
        batches, images, skipped: batches, images and unreadable items held, not merged yet.
        skipped_items: ``[index, id, reason]`` of the unreadable items held.
    """

    chunks: list[int]
    total: int
    done: int
    tables: dict[str, dict[str, torch.Tensor]]
    pending: dict[str, list[PendingBatch]]
    batches: int = 0
    images: int = 0
    skipped: int = 0
    skipped_items: list[list[Any]] = field(default_factory=list)

    def hold(self, batch: Batch) -> None:
        """Count a batch whose layers' reductions are in :attr:`pending`."""
        self.batches += 1
        self.images += len(batch.indices)
        self.skipped += len(batch.skipped)
        self.skipped_items += batch.skipped

    def merge(self, state: dict[str, Any], edges: torch.Tensor) -> None:
        """Merge what is held into the tables and ``state``'s counts (call it under the miner's lock)."""
        for name, items in self.pending.items():
            if items:
                where = None if items[0].where is None else torch.cat([i.where for i in items], dim=1)
                update_from_peaks(self.tables[name], torch.cat([i.peak for i in items], dim=1), where,
                                  items[0].spatial, torch.cat([i.index for i in items]),
                                  torch.cat([i.label for i in items]), edges)
                items.clear()
        state["images"] += self.images
        state["skipped"] += self.skipped
        state["skipped_items"] = (state["skipped_items"] + self.skipped_items)[:SKIPPED_NAMED]
        state["next"] += self.batches
        state["complete"] = state["next"] == len(self.chunks)
        self.batches = self.images = self.skipped = 0
        self.skipped_items = []
