"""Which unit to show a class: the one whose top-9 images are most clearly one kind of thing.

The tour (``notebooks/01-tour.ipynb``) and the train-your-own notebook pick, at each layer, the unit a teacher
would show by one measure, computed from the mined top-k alone — the images a unit's top-9 panel shows, ranked by
the unit's peak activation over the dataset, the same ranking as the panels — never from pixels, so a whole layer
is scored in milliseconds.

**The measure.** Every image of the dataset has a *kind* (a class, or a coarser group such as "birds"). A unit's
top ``k`` holds ``n`` images of its commonest kinds; the measure is how unlikely that is by chance: the probability
that ``k`` images drawn at random, without replacement, from the ``N`` mined images hold at least ``n`` of a kind
that has ``K`` images there — the hypergeometric tail

    ``chance(n, K) = Σ_{j ≥ n} C(K, j) · C(N − K, k − j) / C(N, k)``,

taken for the unit's most unlikely kind. The smaller, the more coherent. Why not the share ``n / k`` alone: six
of nine images of a rare kind (17 vehicles among 365 images) say more than six of nine of a common one (64
mammals), and the share ties often; the tail ranks both. Ties left go to the lower channel number.

What chance alone gives is measured too (:func:`shuffled`): the same measure with the kinds shuffled over the
images — what a layer whose units ignored the kind of thing would show.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

import numpy as np

__all__ = ["Coherence", "coherence", "demo_kinds", "pool_kind", "shuffled", "tail_chance"]


@dataclass(frozen=True)
class Coherence:
    """How clearly one unit's top-k images are one kind of thing.

    Attributes:
        layer, channel: the unit.
        kind: its top-k's most unlikely kind; ``count``: how many of its ``k`` images are of that kind.
        chance: the probability of at least ``count`` of that kind among ``k`` random images (:func:`tail_chance`).
    """

    layer: str
    channel: int
    kind: str
    count: int
    k: int
    chance: float


@lru_cache(maxsize=4096)
def tail_chance(total: int, of_kind: int, draws: int, at_least: int) -> float:
    """``P(X ≥ at_least)`` for ``X`` the number of a kind's images among ``draws`` images drawn at random without
    replacement from ``total`` images, ``of_kind`` of which are of that kind (the hypergeometric tail), exact.

    Raises:
        ValueError: counts that cannot be (``of_kind`` or ``draws`` above ``total``, a negative one).
    """
    if not (0 <= of_kind <= total and 0 <= draws <= total and total > 0):
        raise ValueError(f"no such draw: {draws} of {total} images, {of_kind} of the kind")
    ways = sum(math.comb(of_kind, j) * math.comb(total - of_kind, draws - j)
               for j in range(max(at_least, 0), min(of_kind, draws) + 1))
    return ways / math.comb(total, draws)


def _codes(kinds: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    names = list(dict.fromkeys(kinds))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[kind] for kind in kinds], dtype=np.int64), names


def _score(indices: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> list[tuple[float, int, int]]:
    """Per row of ``indices`` (dataset indices): ``(chance, kind code, count)`` of its most unlikely kind."""
    total, draws = len(codes), indices.shape[1]
    out = []
    for row in codes[indices]:
        counts = Counter(row.tolist())
        out.append(min((tail_chance(total, int(sizes[kind]), draws, n), kind, n) for kind, n in counts.items()))
    return out


def _full_units(result: Any, layer: str, kinds: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Channels whose top-k is full and fires on every one of its images, and their top-k dataset indices."""
    if len(kinds) != result.total:
        raise ValueError(f"{len(kinds)} kinds for a dataset of {result.total} items: give one kind per item, in "
                         "dataset order")
    table = result.table(layer)
    values, indices = table["values"].numpy(), table["indices"].numpy()
    full = np.flatnonzero((indices >= 0).all(axis=1) & (values > 0).all(axis=1))
    return full, indices[full]


def coherence(result: Any, layer: str, kinds: Sequence[Any]) -> list[Coherence]:
    """Every unit of ``layer`` whose top-k is full and fires on all of it, most coherent first (smallest
    :attr:`Coherence.chance`, ties to the lower channel).

    Args:
        result: a mined :class:`~cnnviz_widget.engine.Exemplars`.
        layer: a mined layer.
        kinds: the kind of every dataset item, in dataset order (``len(kinds) == result.total``).
    """
    full, indices = _full_units(result, layer, kinds)
    codes, names = _codes(kinds)
    scores = _score(indices, codes, np.bincount(codes, minlength=len(names)))
    ranked = sorted(zip(full.tolist(), scores), key=lambda item: (item[1][0], item[0]))
    return [Coherence(layer, channel, str(names[kind]), count, indices.shape[1], chance)
            for channel, (chance, kind, count) in ranked]


def shuffled(result: Any, layer: str, kinds: Sequence[Any], trials: int = 20, seed: int = 0) -> list[list[Coherence]]:
    """:func:`coherence` of ``layer`` with ``kinds`` shuffled over the dataset, ``trials`` times (a seeded
    permutation each): what the measure finds when what the units respond to has nothing to do with kind."""
    rng = np.random.default_rng(seed)
    return [coherence(result, layer, [kinds[i] for i in rng.permutation(len(kinds))]) for _ in range(trials)]


def pool_kind(stamp_path: str) -> str:
    """The kind of a demo-pool cut-out from its place in Tux Paint's stamp folders: animals by their class
    (``animals/birds/crow.png`` → ``"birds"``, ``animals/mammals/cats/lion.png`` → ``"mammals"``), everything else
    by its section (``vehicles/auto/sedan.png`` → ``"vehicles"``, ``food/fruit/apple.png`` → ``"food"``)."""
    parts = PurePosixPath(stamp_path).parts
    return parts[1] if parts[0] == "animals" and len(parts) > 2 else parts[0]


def demo_kinds(ids: Sequence[str]) -> list[str]:
    """The kind of every image of the demo pool (``open_dataset("demo").ids``): a cut-out's :func:`pool_kind`;
    a sample photo is a kind of its own (its id), so it never makes a top-9 look coherent."""
    from ..engine.model.pool import read_catalogue

    kind = {stamp.id: pool_kind(stamp.path) for stamp in read_catalogue()}
    return [kind.get(i, i) for i in ids]
