"""Public datasets by name: torchvision's Imagenette and CIFAR-10, downloaded once by torchvision's own code.

* ``"imagenette"``: Imagenette's 320 px version (fast.ai; 10 easy ImageNet classes, ImageNet-like photos), the
  validation split (3,925 images) or ``"imagenette:train"`` (9,469); read as the folder it unpacks to, so
  JPEGs are decoded at a reduced size where the model allows.
* ``"cifar10"``: CIFAR-10's test split (10,000 images, 32×32) or ``"cifar10:train"`` (50,000).

Both live in ``$CNNVIZ_DATA`` (default ``~/.cache/cnnviz/datasets``). When a dataset is not there it is downloaded
with ``torchvision.datasets`` (``download=True``: the archive is fetched, its checksum checked, and unpacked);
offline, a clear error says which archive to unpack where. Under ``torchrun`` only the first process downloads;
the others expect the files to be there (run once without torchrun first).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import CNNVizError
from .datasets import ImageDataset, _from_folder, _from_torch

__all__ = ["NAMES", "data_root", "open_named"]

#: The dataset names open_dataset understands (each may be followed by ``":train"`` or its default split).
NAMES = ("imagenette", "cifar10")
#: The Imagenette archive torchvision downloads for ``size="320px"`` (named in the offline error).
IMAGENETTE_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz"
_SPLITS = {"imagenette": ("val", "train"), "cifar10": ("test", "train")}


def data_root() -> Path:
    """Where named datasets live: ``$CNNVIZ_DATA``, else ``~/.cache/cnnviz/datasets``."""
    return Path(os.environ.get("CNNVIZ_DATA") or "~/.cache/cnnviz/datasets").expanduser()


def _may_download() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


def _fetch(make: Callable[[bool], Any], what: str, where: str) -> Any:
    """``make(download)``, turning a failed download or a missing copy into an error that says where to put one."""
    download = _may_download()
    try:
        return make(download)
    except Exception as exc:  # urllib, checksum, archive and "not found" errors all end here
        hint = "" if download else " (under torchrun only the first process downloads: run once without torchrun)"
        raise CNNVizError(
            f"{what} is not in {data_root()} and could not be " + ("downloaded" if download else "opened")
            + f"{hint} ({type(exc).__name__}: {exc}) — offline, put a copy there: {where}; or set $CNNVIZ_DATA to "
            "the folder that holds it"
        ) from exc


def _imagenette(split: str) -> ImageDataset:
    from torchvision.datasets import Imagenette

    root = data_root()
    url = IMAGENETTE_URL
    folder = root / "imagenette2-320" / split
    tv = _fetch(lambda download: Imagenette(str(root), split=split, size="320px", download=download),
                f"Imagenette ({split} split)",
                f"unpack {url} into {root}, so that {folder}/<wnid>/*.JPEG exist")
    dataset = _from_folder(folder)
    if len(dataset) == 0:
        raise CNNVizError(f"{folder} holds no images — unpack {url} there again")
    names = {wnid: tv.classes[index][0] for wnid, index in tv.wnid_to_idx.items()}
    dataset.class_names = [names.get(wnid, wnid) for wnid in dataset.class_names or []]
    dataset.name = f"Imagenette 320px {split} ({len(dataset)} images)"
    return dataset


def _cifar10(split: str) -> ImageDataset:
    from torchvision.datasets import CIFAR10

    root = data_root()
    tv = _fetch(lambda download: CIFAR10(str(root), train=split == "train", download=download),
                f"CIFAR-10 ({split} split)",
                f"unpack {CIFAR10.url} into {root}, so that {root / CIFAR10.base_folder}/data_batch_1 … test_batch "
                "and batches.meta exist")
    dataset = _from_torch(tv)
    dataset.name = f"CIFAR-10 {split} ({len(dataset)} images)"
    dataset.source = {"kind": "named", "path": f"cifar10:{split}"}
    return dataset


def open_named(text: str) -> ImageDataset | None:
    """The dataset ``text`` names (``"imagenette"``, ``"cifar10:train"``, …), or ``None`` if it names none.

    Raises:
        CNNVizError: an unknown split, or a dataset neither on disk nor downloadable (the message says where to
            put a copy).
    """
    name, _, split = text.strip().lower().partition(":")
    if name not in NAMES:
        return None
    splits = _SPLITS[name]
    split = split or splits[0]
    if split not in splits:
        raise CNNVizError(f"{name} has the splits {', '.join(splits)}, not {split!r} — pass {name}:{splits[0]}")
    return _imagenette(split) if name == "imagenette" else _cifar10(split)
