"""Hugging Face ``datasets`` as an :class:`~.datasets.ImageDataset`: a ``datasets.Dataset``, or its ``save_to_disk``
folder (the optional ``datasets`` package: ``pip install 'cnnviz-widget[hf]'``).

The image column is the dataset's ``Image`` feature (or a column named ``image`` / ``img``), the label column its
``ClassLabel`` feature (or an integer column named ``label``, ``labels``, ``target``, ``cls``, ``fine_label``) —
or the ones named with ``image_column=`` / ``label_column=``. Rows are read as Arrow, so an ``Image`` cell stays
the encoded file until a batch reader decodes it (a JPEG at a reduced size where the model allows); a column of
arrays is read as pixels. Ids are the row positions.

The fingerprint is the dataset's own (``Dataset._fingerprint``, which ``datasets`` updates with every transform
and stores with ``save_to_disk``) with the columns read: the same folder reopened, or the same rows built again,
find the same cache. A dataset transformed by a function ``datasets`` cannot hash gets a random fingerprint (it
warns): pass ``open_dataset(..., fingerprint="...")`` to keep its cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CNNVizError
from ..model.images import load_image
from .datasets import EncodedImage, ImageDataset, _as_label, _hash

__all__ = ["is_hf_dataset", "is_saved_dataset", "open_hf", "open_saved"]

_IMAGE_NAMES = ("image", "img", "picture", "pixel_values", "jpg", "png")
_LABEL_NAMES = ("label", "labels", "target", "cls", "fine_label")


def is_hf_dataset(data: Any) -> bool:
    """Whether ``data`` is an object of the ``datasets`` package (checked without importing it)."""
    return type(data).__module__.split(".")[0] == "datasets"


def is_saved_dataset(folder: Path) -> bool:
    """Whether ``folder`` is what ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk`` wrote."""
    return ((folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()) or (
        folder / "dataset_dict.json").is_file()


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise CNNVizError("reading a Hugging Face dataset needs the datasets package — "
                          "pip install 'cnnviz-widget[hf]' (or pip install datasets)") from None
    return datasets


def open_saved(folder: Path, *, image_column: str | None = None, label_column: str | None = None) -> ImageDataset:
    """The dataset ``save_to_disk`` wrote to ``folder``.

    Raises:
        CNNVizError: ``datasets`` is not installed, or the folder holds several splits (the message names them).
    """
    datasets = _datasets()
    if (folder / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in folder.iterdir() if (p / "state.json").is_file())
        raise CNNVizError(f"{str(folder)!r} holds the splits {', '.join(splits)} of a DatasetDict — pass one of them: "
                          + ", ".join(repr(str(folder / s)) for s in splits))
    return open_hf(datasets.load_from_disk(str(folder)), image_column=image_column, label_column=label_column,
                   path=folder)


def _pick(kind: str, given: str | None, columns: list[str], by_feature: list[str], by_name: tuple[str, ...],
          argument: str) -> str | None:
    if given is not None:
        if given not in columns:
            raise CNNVizError(f"the dataset has no {kind} column {given!r}; its columns: {', '.join(columns)} — "
                              f"pass {argument}=<one of them>")
        return given
    return next(iter(by_feature), None) or next((n for n in by_name if n in columns), None)


def _image_value(value: Any, name: str) -> Any:
    """An ``Image`` cell (``{"bytes", "path"}``) as the encoded file; anything else (arrays) as pixels."""
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        if value.get("bytes") is not None:
            return EncodedImage(value["bytes"], name=name)
        if value.get("path"):
            return EncodedImage(Path(value["path"]), name=name)
    return load_image(np.asarray(value), name=name)


def open_hf(ds: Any, *, image_column: str | None = None, label_column: str | None = None,
            path: Path | None = None) -> ImageDataset:
    """A ``datasets.Dataset`` as an :class:`ImageDataset` (see the module docstring).

    Args:
        ds: the dataset.
        image_column, label_column: the columns to read (detected when not given).
        path: the folder it was loaded from, if any (recorded so that a mined result can reopen it).

    Raises:
        CNNVizError: a ``DatasetDict`` or an ``IterableDataset`` (the fix is named), or no image column is found.
    """
    kind = type(ds).__name__
    if isinstance(ds, dict):  # DatasetDict, IterableDatasetDict
        raise CNNVizError(f"this is a DatasetDict with the splits {', '.join(map(str, ds))} — pass one: "
                          f"ds[{next(iter(ds))!r}]")
    if not (hasattr(ds, "features") and hasattr(ds, "with_format") and hasattr(ds, "__len__")):
        raise CNNVizError(f"a datasets.{kind} cannot be read at random (needed to resume and to shard a pass) — "
                          "pass a datasets.Dataset (load it without streaming=True, or Dataset.from_generator)")
    datasets = _datasets()
    features = ds.features
    columns = list(features)
    image = _pick("image", image_column, columns,
                  [n for n, f in features.items() if isinstance(f, datasets.Image)], _IMAGE_NAMES, "image_column")
    if image is None:
        raise CNNVizError(f"found no image column among {', '.join(columns)} — pass image_column=<its name> "
                          "(--image-column on the command line)")
    label = _pick("label", label_column, columns,
                  [n for n, f in features.items() if isinstance(f, datasets.ClassLabel) and n != image],
                  tuple(n for n in _LABEL_NAMES if isinstance(features.get(n), datasets.Value)
                        and "int" in features[n].dtype), "label_column")
    class_names = list(features[label].names) if label is not None and isinstance(
        features[label], datasets.ClassLabel) else None
    view = ds.select_columns([image] if label is None else [image, label]).with_format("arrow")
    n = len(ds)
    ids = [str(i) for i in range(n)]

    def reader(i: int) -> Any:
        row = view[i]
        value = _image_value(row.column(image)[0].as_py(), f"row {i}")
        return value, _as_label(row.column(label)[0].as_py()) if label is not None else None

    fingerprint = _hash("hf", [str(ds._fingerprint).encode(), image.encode(),
                               str(label).encode(), f"len={n}".encode()])
    source: dict[str, Any] = {"kind": "dataset", "type": f"datasets.{kind}"}
    if path is not None:
        source = {"kind": "hf", "path": str(Path(path).resolve()), "image_column": image, "label_column": label}
    where = f" {path}" if path is not None else ""
    return ImageDataset(name=f"Hugging Face dataset{where} ({n} rows, images in {image!r})", ids=ids, reader=reader,
                        labels=None, class_names=class_names, fingerprint=fingerprint, source=source)
