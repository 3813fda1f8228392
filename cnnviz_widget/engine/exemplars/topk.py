"""Running top-k tables with per-unit statistics: the state of a mining pass, updated per batch and merged.

One table per layer, as tensors (``C`` channels, ``k`` slots, ``S`` spatial dimensions, ``B`` histogram bins):

* ``values`` ``[C, k]`` float32: each channel's best per-image maxima, best first (``-inf`` in empty slots);
* ``indices`` ``[C, k]`` int64: the images' dataset positions (:data:`EMPTY` in empty slots);
* ``positions`` ``[C, k, S]`` int64: where in the map each maximum is (the first such place, in raster order);
* ``labels`` ``[C, k]`` int64: the images' labels (-1: unknown);
* ``hist`` ``[C, B]`` int64: histogram of every image's maximum over the fixed bins of :func:`histogram_edges`;
* ``fired`` ``[C]`` int64: images whose maximum is > 0; ``low`` ``[C]`` float32: the smallest maximum.

Every operation is exact and order-free: the top-k is the ``k`` best by (value descending, dataset position
ascending), counts are integers, ``low`` a minimum — so merging tables of disjoint image sets, in any grouping,
equals one table of their union.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["EMPTY", "HIST_OCTAVES", "HIST_PER_OCTAVE", "SKIPPED_NAMED", "batch_peaks", "empty_table", "histogram_edges", "merge_states", "select_top", "update_from_peaks", "update_table"]

#: Histogram bins: 8 per octave for |value| in [2^-16, 2^16], mirrored for negative values, one bin around 0.
HIST_OCTAVES = 16
HIST_PER_OCTAVE = 8
#: Index standing for "no image yet" in a top-k table: sorts after every real image.
EMPTY = 2**62
#: How many unreadable items a result names (all of them are counted).
SKIPPED_NAMED = 100


def histogram_edges() -> torch.Tensor:
    """The fixed bin edges of the per-unit histograms (float32, ascending; outer bins extend to ±inf)."""
    steps = torch.arange(-HIST_OCTAVES * HIST_PER_OCTAVE, HIST_OCTAVES * HIST_PER_OCTAVE + 1, dtype=torch.float64)
    positive = torch.pow(2.0, steps / HIST_PER_OCTAVE)
    return torch.cat([-positive.flip(0), positive]).to(torch.float32)


# --------------------------------------------------------------------------------------------- the top-k table
def select_top(values: torch.Tensor, indices: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the ``k`` best candidates per row, best first: by value (descending), then dataset index.

    ``values`` and ``indices`` are ``[C, M]``; indices are distinct within a row. NaN counts as ``-inf``.
    """
    values = torch.nan_to_num(values, nan=-math.inf)
    by_index = torch.argsort(indices, dim=1)
    ranked = torch.argsort(torch.gather(values, 1, by_index), dim=1, descending=True, stable=True)[:, :k]
    return torch.gather(by_index, 1, ranked)


def empty_table(channels: int, k: int, spatial_dims: int, bins: int, device: torch.device) -> dict[str, torch.Tensor]:
    """The state of one layer before any image: an empty top-k table and zeroed statistics."""
    return {
        "values": torch.full((channels, k), -math.inf, device=device),
        "indices": torch.full((channels, k), EMPTY, dtype=torch.int64, device=device),
        "positions": torch.full((channels, k, spatial_dims), -1, dtype=torch.int64, device=device),
        "labels": torch.full((channels, k), -1, dtype=torch.int64, device=device),
        "hist": torch.zeros((channels, bins), dtype=torch.int64, device=device),
        "fired": torch.zeros(channels, dtype=torch.int64, device=device),
        "low": torch.full((channels,), math.inf, device=device),
    }


def batch_peaks(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each map's maximum in one batch of a layer's output (``[N, C, *spatial]`` or ``[N, C]``), and where it is.

    Returns ``peak`` ``[C, N]`` float32 (NaN counts as ``-inf``) and ``where`` ``[C, N]`` int64, the flat index of the
    first maximum over the map's positions (``None`` for ``[N, C]`` outputs) — one pass over the output, which need
    not be kept afterwards.
    """
    if output.dim() == 2:
        peak, where = output, None
    elif output.dim() == 4 and output.is_contiguous(memory_format=torch.channels_last) and not output.is_contiguous():
        # Channels-last maps (engine/capture.py): a whole-map max-pool is that layout's fast reduction (a reduction
        # over H, W is up to 40x slower there for few channels); like max, it keeps the first maximum.
        peak, where = F.max_pool2d(output, kernel_size=tuple(output.shape[2:]), return_indices=True)
        peak, where = peak.flatten(1), where.flatten(1)
    else:
        peak, where = output.flatten(2).max(dim=2)
    peak = torch.nan_to_num(peak.float(), nan=-math.inf).t().contiguous()
    return peak, None if where is None else where.t().contiguous()


def update_table(table: dict[str, torch.Tensor], output: torch.Tensor, index: torch.Tensor, label: torch.Tensor,
                 edges: torch.Tensor) -> None:
    """Merge one batch of a layer's output (``[N, C, *spatial]`` or ``[N, C]``) into ``table``, in place.

    ``index`` and ``label`` (``[N]``, on the output's device) are the images' dataset positions and labels (-1:
    unknown). Same as :func:`batch_peaks` then :func:`update_from_peaks`.
    """
    peak, where = batch_peaks(output)
    update_from_peaks(table, peak, where, tuple(output.shape[2:]), index, label, edges)


def update_from_peaks(table: dict[str, torch.Tensor], peak: torch.Tensor, where: torch.Tensor | None,
                      spatial: tuple[int, ...], index: torch.Tensor, label: torch.Tensor, edges: torch.Tensor) -> None:
    """Merge the maps' maxima of some images (:func:`batch_peaks`, of one batch or several concatenated along
    images) into ``table``, in place. ``spatial`` is the map's shape. Only the channels where some image beats the
    current k-th entry are re-ranked: once the tables fill up, an update costs little. The order in which images
    arrive does not change the result (ties go to the lower dataset index)."""
    channels, n = peak.shape
    k = table["values"].shape[1]
    bins = edges.numel() + 1
    bucket = torch.bucketize(peak, edges) + torch.arange(channels, device=peak.device).unsqueeze(1) * bins
    table["hist"].view(-1).index_add_(0, bucket.flatten(), torch.ones(bucket.numel(), dtype=torch.int64,
                                                                      device=peak.device))
    table["fired"] += (peak > 0).sum(dim=1)
    table["low"] = torch.minimum(table["low"], peak.amin(dim=1))

    last_value, last_index = table["values"][:, k - 1:], table["indices"][:, k - 1:]
    enters = (peak > last_value) | ((peak == last_value) & (index.unsqueeze(0) < last_index))
    rows = enters.any(dim=1).nonzero().squeeze(1)
    if rows.numel() == 0:
        return
    values = torch.cat([table["values"][rows], peak[rows]], dim=1)
    indices = torch.cat([table["indices"][rows], index.expand(rows.numel(), n)], dim=1)
    chosen = select_top(values, indices, k)
    positions = torch.gather(table["positions"][rows], 1, chosen.clamp(max=k - 1).unsqueeze(-1).expand(
        -1, -1, table["positions"].shape[2])).clone()
    fresh_rows, fresh_cols = (chosen >= k).nonzero(as_tuple=True)
    if fresh_rows.numel() and where is not None:
        flat = where[rows[fresh_rows], chosen[fresh_rows, fresh_cols] - k]
        coords = []
        for size in reversed(spatial):
            coords.append(flat % size)
            flat = flat // size
        positions[fresh_rows, fresh_cols] = torch.stack(coords[::-1], dim=1)
    table["values"][rows] = torch.gather(values, 1, chosen)
    table["indices"][rows] = torch.gather(indices, 1, chosen)
    table["positions"][rows] = positions
    labels = torch.cat([table["labels"][rows], label.expand(rows.numel(), n)], dim=1)
    table["labels"][rows] = torch.gather(labels, 1, chosen)


def merge_states(states: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Merge the states of passes over disjoint parts of one dataset (processes, or resumed pieces).

    A state is a dict with ``"layers"`` (``{name: table}``), counts ``"images"``, ``"skipped"``, the first
    unreadable items ``"skipped_items"`` (``[[index, id, reason], ...]``), ``"ids"`` (``[[index, id], ...]``) and
    ``"complete"``; other keys are taken from the first state. Tables come back on the CPU.
    """
    first = states[0]
    merged = {key: value for key, value in first.items() if key != "layers"}
    merged["images"] = sum(int(s["images"]) for s in states)
    merged["skipped"] = sum(int(s["skipped"]) for s in states)
    merged["skipped_items"] = sorted((item for s in states for item in s["skipped_items"]),
                                     key=lambda item: item[0])[:SKIPPED_NAMED]
    merged["ids"] = sorted({int(i): str(name) for s in states for i, name in s.get("ids", [])}.items())
    merged["ids"] = [list(pair) for pair in merged["ids"]]
    merged["complete"] = all(bool(s["complete"]) for s in states)
    merged["world"] = 1
    merged["rank"] = 0
    merged.pop("next", None)
    layers = {}
    for name in first["layers"]:
        tables = [{key: t.to("cpu") for key, t in s["layers"][name].items()} for s in states]
        values = torch.cat([t["values"] for t in tables], dim=1)
        indices = torch.cat([t["indices"] for t in tables], dim=1)
        chosen = select_top(values, indices, k)
        positions = torch.cat([t["positions"] for t in tables], dim=1)
        layers[name] = {
            "values": torch.gather(values, 1, chosen),
            "indices": torch.gather(indices, 1, chosen),
            "positions": torch.gather(positions, 1, chosen.unsqueeze(-1).expand(-1, -1, positions.shape[2])),
            "labels": torch.gather(torch.cat([t["labels"] for t in tables], dim=1), 1, chosen),
            "hist": torch.stack([t["hist"] for t in tables]).sum(dim=0),
            "fired": torch.stack([t["fired"] for t in tables]).sum(dim=0),
            "low": torch.stack([t["low"] for t in tables]).amin(dim=0),
        }
    merged["layers"] = layers
    return merged
