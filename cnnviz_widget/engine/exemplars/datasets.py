"""Datasets for mining: one view over every form a user may hold, with stable ids and a fingerprint.

``open_dataset`` accepts

* a folder of images (searched recursively; hidden files skipped). When every image sits in a first-level
  sub-folder (``root/<class>/.../img.jpg``, torchvision's ``ImageFolder`` layout) the sub-folder is the label;
* a list of paths, PIL images, numpy arrays or image tensors;
* any map-style ``torch.utils.data.Dataset`` whose items are an image or ``(image, label, ...)`` — torchvision's
  ``ImageFolder`` included (its ``transform`` is honoured);
* a Hugging Face ``datasets.Dataset``, or the folder its ``save_to_disk`` wrote (:mod:`.hf_datasets`);
* WebDataset-style ``.tar`` shards: ``"shards/train-{0000..0099}.tar"``, a folder of ``.tar`` files or one
  ``.tar`` (:mod:`.tar_shards`);
* ``"imagenette"`` or ``"cifar10"`` (``":train"`` for the training split): torchvision's copies, downloaded once
  into ``$CNNVIZ_DATA`` (default ``~/.cache/cnnviz/datasets``) (:mod:`.named_datasets`);
* ``"demo"``: the demo image pool (:func:`~cnnviz_widget.engine.model.pool.image_pool`: the photos shipped inside installed packages and a
  few hundred labelled composites of Debian's photo cut-outs, made offline once and cached). Labels are ImageNet
  class indices; a composite whose subject is no ImageNet class has an index from 1000 on, named in
  ``class_names`` after the 1000 ImageNet names.

A path that exists is read as a folder or file first; a name or pattern is tried only when no such path exists.

Each item has a stable ``id`` (a relative path for files, the position otherwise), the image (an RGB PIL image,
or whatever tensor the user's dataset returns) and its label when known. Reading is lazy and random-access
(``dataset.read(i)``), so a pass can be split into chunks, resumed or sharded. Unreadable items raise
:class:`~cnnviz_widget.errors.ImageError` from ``read`` and are skipped and counted when iterating. Items that are
image files (folders, tar shards, Hugging Face image columns) stay encoded until read
(``read(i, decode=False)`` gives an :class:`EncodedImage`), so a batch reader can decode a JPEG at a reduced size.

Example::

    data = open_dataset("photos/")           # or open_dataset("demo"), open_dataset(ImageFolder(root)), ...
    for item in data:                        # DatasetItem(index, id, image, label)
        ...
    data.skipped                             # [(id, reason), ...] of the last iteration
    data.fingerprint()                       # part of every cache key
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ...errors import CNNVizError, ImageError
from ..model.images import load_image

__all__ = ["IMAGE_EXTENSIONS", "DatasetItem", "EncodedImage", "ImageDataset", "open_dataset", "reopen"]

#: File name endings read as images in a folder (case-insensitive); other files are ignored, not counted.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")


@dataclass(frozen=True)
class EncodedImage:
    """An image file not decoded yet: its path, or its encoded bytes (a tar member, a cell of an Arrow table).

    Attributes:
        data: the file's path, or its contents.
        name: how to call it in error messages (default: the path).
    """

    data: Path | bytes = field(repr=False)
    name: str | None = None

    def decode(self, draft: Callable[[Image.Image], None] | None = None) -> Image.Image:
        """The RGB image (see :func:`~.images.load_image`, whose ``draft`` hook may reduce a JPEG's decoded size).

        Raises:
            ImageError: the file is missing, corrupt or not an image.
        """
        return load_image(self.data, name=self.name, draft=draft)


@dataclass(frozen=True)
class DatasetItem:
    """One item of an :class:`ImageDataset`.

    Attributes:
        index: position in the dataset (``0 ≤ index < len(dataset)``).
        id: stable, unique name: the path relative to the folder for files, else the position as text.
        image: an RGB PIL image, or the tensor a user's ``Dataset`` returned (an image, or the model input when the
            dataset is ``preprocessed``); an :class:`EncodedImage` when read with ``decode=False``.
        label: class index when known, else ``None``.
    """

    index: int
    id: str
    image: Any
    label: int | None = None


class ImageDataset:
    """A random-access view of images with stable ids (built by :func:`open_dataset`; see the module docstring).

    Attributes:
        name: how the dataset is described to people (``"folder photos/ (1,234 files)"``).
        class_names: names of the label indices, when known.
        preprocessed: ``True`` if tensor items are the model's input as they are, ``False`` if they are images to
            preprocess, ``None`` to decide per item (a floating tensor of exactly the model's input shape is taken
            as the model's input).
        source: a JSON-able description (kind and, for folders, the path), recorded in caches so a viewer can
            reopen the images.
        skipped: ``[(id, reason), ...]`` for the items the last iteration could not read.
    """

    def __init__(self, *, name: str, ids: Sequence[str], reader: Any, labels: Sequence[int | None] | None,
                 class_names: Sequence[str] | None, fingerprint: str, source: dict[str, Any],
                 preprocessed: bool | None = None) -> None:
        self.name = name
        self._ids = list(ids)
        self._reader = reader
        self._labels = list(labels) if labels is not None else None
        self.class_names = list(class_names) if class_names is not None else None
        self._fingerprint = fingerprint
        self.source = source
        self.preprocessed = preprocessed
        self.skipped: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<ImageDataset {self.name}: {len(self)} items>"

    def id(self, index: int) -> str:
        """The stable id of item ``index``."""
        return self._ids[index]

    @property
    def ids(self) -> list[str]:
        """Every item's id, in order."""
        return list(self._ids)

    def read(self, index: int, *, decode: bool = True) -> DatasetItem:
        """Read item ``index``.

        Args:
            decode: ``False`` leaves an image file encoded (an :class:`EncodedImage`) for the caller to decode.

        Raises:
            ImageError: the item cannot be read (corrupt or missing file, a failing ``Dataset.__getitem__``).
        """
        if not 0 <= index < len(self._ids):
            raise IndexError(f"item {index} is outside the dataset of {len(self._ids)} items")
        try:
            image, label = self._reader(index)
            if decode and isinstance(image, EncodedImage):
                image = image.decode()
        except ImageError:
            raise
        except Exception as exc:  # a user's Dataset may fail in any way on a bad file
            raise ImageError(f"item {self._ids[index]!r} could not be read: {type(exc).__name__}: {exc}") from exc
        if label is None and self._labels is not None:
            label = self._labels[index]
        return DatasetItem(index, self._ids[index], image, label)

    def to_input(self, image: Any, preprocess: Any, input_shape: Sequence[int]) -> torch.Tensor:
        """The model input ``Tensor[C,H,W]`` for an item's image: ``preprocess(image)``, except for a tensor that
        already is the model's input (see :attr:`preprocessed`), which is returned as it is."""
        if isinstance(image, torch.Tensor) and image.is_floating_point() and (
                self.preprocessed or (self.preprocessed is None and tuple(image.shape) == tuple(input_shape))):
            return image
        return preprocess(image)

    def __iter__(self) -> Iterator[DatasetItem]:
        """Every readable item in order; unreadable ones are recorded in :attr:`skipped`."""
        self.skipped = []
        for index in range(len(self._ids)):
            try:
                yield self.read(index)
            except ImageError as exc:
                self.skipped.append((self._ids[index], str(exc)))

    def fingerprint(self) -> str:
        """A hash that changes whenever the items could have changed (part of every cache key).

        Files: names, sizes and modification times (not contents). In-memory images and arrays: their contents.
        A ``Dataset`` with ``.samples`` (``ImageFolder``) or ``.data`` arrays: those. Any other ``Dataset``: its
        type, length and the contents of up to 32 evenly spaced items — pass ``open_dataset(..., fingerprint=...)``
        (a version string) for a dataset that can change without those changing.
        """
        return self._fingerprint


# ------------------------------------------------------------------------------------------------ fingerprints
def _digest() -> Any:
    return hashlib.sha256()


def _stat_token(path: Path) -> bytes:
    try:
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}".encode()
    except OSError:
        return b"missing"


def _content_token(obj: Any) -> bytes:
    """Bytes that identify one in-memory image (or a path's file state)."""
    if isinstance(obj, Image.Image):
        return f"pil:{obj.mode}:{obj.size}:".encode() + hashlib.sha256(obj.tobytes()).digest()
    if isinstance(obj, torch.Tensor):
        t = obj.detach().to("cpu").contiguous()
        return f"tensor:{t.dtype}:{tuple(t.shape)}:".encode() + hashlib.sha256(t.view(torch.uint8).numpy().tobytes()).digest()
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        return f"array:{a.dtype}:{a.shape}:".encode() + hashlib.sha256(a.tobytes()).digest()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return b"bytes:" + hashlib.sha256(bytes(obj)).digest()
    if isinstance(obj, (str, os.PathLike)):
        return f"path:{os.fspath(obj)}:".encode() + _stat_token(Path(obj).expanduser())
    if isinstance(obj, (tuple, list)):
        return b"(" + b",".join(_content_token(o) for o in obj) + b")"
    if isinstance(obj, dict):
        return b"{" + b",".join(repr(k).encode() + b":" + _content_token(v) for k, v in sorted(obj.items(), key=repr)) + b"}"
    return f"{type(obj).__qualname__}:{obj!r}".encode()


def _hash(kind: str, tokens: Iterator[bytes] | Sequence[bytes]) -> str:
    digest = _digest()
    digest.update(kind.encode() + b"\0")
    for token in tokens:
        digest.update(token + b"\0")
    return digest.hexdigest()[:32]


# ------------------------------------------------------------------------------------------------ the forms
def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _read_file(path: Path) -> Any:
    return EncodedImage(path), None


def _from_folder(root: Path) -> ImageDataset:
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [Path(dirpath) / f for f in filenames if _is_image_file(Path(f))]
    rel = sorted(p.relative_to(root).as_posix() for p in files)
    labels: list[int | None] | None = None
    class_names: list[str] | None = None
    if rel and all("/" in r for r in rel):
        class_names = sorted({r.split("/", 1)[0] for r in rel})
        index = {c: i for i, c in enumerate(class_names)}
        labels = [index[r.split("/", 1)[0]] for r in rel]
    paths = [root / r for r in rel]
    fingerprint = _hash("folder", (r.encode() + b"=" + _stat_token(p) for r, p in zip(rel, paths, strict=True)))
    return ImageDataset(name=f"folder {root}/ ({len(rel)} image files)", ids=rel,
                        reader=lambda i: _read_file(paths[i]), labels=labels, class_names=class_names,
                        fingerprint=fingerprint, source={"kind": "folder", "path": str(root.resolve())})


def _from_demo() -> ImageDataset:
    from ..model.models import imagenet_labels
    from ..model.pool import image_pool

    photos = image_pool()
    class_names = imagenet_labels()
    extra = sorted({p.label_name for p in photos if p.label is None and p.label_name is not None})
    class_names += extra
    index = {name: len(class_names) - len(extra) + i for i, name in enumerate(extra)}
    labels = [p.label if p.label is not None else index.get(p.label_name) for p in photos]
    fingerprint = _hash("demo", (f"{p.name}|{p.source}|{p.path.name}=".encode() + _stat_token(p.path) for p in photos))
    return ImageDataset(name=f"demo photos ({len(photos)} offline images)", ids=[p.name for p in photos],
                        reader=lambda i: _read_file(photos[i].path), labels=labels,
                        class_names=class_names if any(lb is not None for lb in labels) else None,
                        fingerprint=fingerprint, source={"kind": "demo"})


def _unique_ids(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}#{seen[name] - 1}")
    return ids


def _from_list(items: Sequence[Any]) -> ImageDataset:
    items = list(items)
    names = [os.fspath(x) if isinstance(x, (str, os.PathLike)) else str(i) for i, x in enumerate(items)]

    def reader(i: int) -> Any:
        obj = items[i]
        if isinstance(obj, torch.Tensor):
            return obj, None
        if isinstance(obj, (str, os.PathLike)):
            return EncodedImage(Path(obj), name=names[i]), None
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return EncodedImage(bytes(obj), name=f"image {i}"), None
        return load_image(obj, name=f"image {i}"), None

    return ImageDataset(name=f"list of {len(items)} images", ids=_unique_ids(names), reader=reader, labels=None,
                        class_names=None, fingerprint=_hash("list", (_content_token(x) for x in items)),
                        source={"kind": "list"})


def _as_label(value: Any) -> int | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def _split_item(item: Any) -> tuple[Any, int | None]:
    if isinstance(item, (tuple, list)) and item:
        return item[0], _as_label(item[1]) if len(item) > 1 else None
    if isinstance(item, dict):
        image = next((item[k] for k in ("image", "img", "pixel_values", "input") if k in item), None)
        if image is None:
            raise ImageError(f"a dataset item is a dict with keys {sorted(item)}; expected an 'image' key")
        return image, _as_label(item.get("label", item.get("target")))
    return item, None


def _from_torch(dataset: Any) -> ImageDataset:
    n = len(dataset)
    kind = type(dataset).__qualname__
    samples = getattr(dataset, "samples", None) or getattr(dataset, "imgs", None)
    root = getattr(dataset, "root", None)
    transform = getattr(dataset, "transform", None)
    extra = f"transform={transform!r}|target_transform={getattr(dataset, 'target_transform', None)!r}".encode()
    labels: list[int | None] | None = None
    source: dict[str, Any] = {"kind": "dataset", "type": kind}
    if isinstance(samples, (list, tuple)) and len(samples) == n and all(
            isinstance(s, (tuple, list)) and len(s) >= 2 and isinstance(s[0], (str, os.PathLike)) for s in samples):
        paths = [Path(s[0]) for s in samples]
        labels = [_as_label(s[1]) for s in samples]
        try:
            ids = [p.relative_to(root).as_posix() for p in paths] if root is not None else [p.as_posix() for p in paths]
        except ValueError:
            ids = [p.as_posix() for p in paths]
        fingerprint = _hash(kind, [extra, *(i.encode() + b"=" + _stat_token(p) for i, p in zip(ids, paths, strict=True))])
        if root is not None and transform is None:
            source = {"kind": "folder", "path": str(Path(root).resolve())}
        ids = _unique_ids(ids)
    else:
        ids = [str(i) for i in range(n)]
        data = getattr(dataset, "data", None)
        if isinstance(data, (np.ndarray, torch.Tensor)) and len(data) == n:
            targets = getattr(dataset, "targets", None)
            fingerprint = _hash(kind, [extra, _content_token(data), _content_token(list(targets) if targets is not None else None)])
        else:
            picks = sorted({round(j * (n - 1) / 31) for j in range(32)}) if n else []
            tokens = [extra, f"len={n}".encode()]
            for i in picks:
                try:
                    tokens.append(f"{i}:".encode() + _content_token(dataset[i]))
                except Exception as exc:  # an unreadable item is part of what the dataset is
                    tokens.append(f"{i}:error {type(exc).__name__}".encode())
            fingerprint = _hash(kind, tokens)

    def reader(i: int) -> Any:
        image, label = _split_item(dataset[i])
        if not isinstance(image, torch.Tensor):
            image = load_image(image, name=ids[i])
        return image, label

    class_names = getattr(dataset, "classes", None)
    if not (isinstance(class_names, (list, tuple)) and all(isinstance(c, str) for c in class_names)):
        class_names = None
    return ImageDataset(name=f"{kind} ({n} items)", ids=ids, reader=reader, labels=labels, class_names=class_names,
                        fingerprint=fingerprint, source=source)


def _from_path(data: str | os.PathLike, image_column: str | None, label_column: str | None) -> ImageDataset:
    """A folder, a file, a shard pattern or a dataset name (an existing path wins over a name or pattern)."""
    dataset = _open_path(os.fspath(data), image_column, label_column)
    if (image_column is not None or label_column is not None) and dataset.source.get("kind") != "hf":
        raise CNNVizError(f"image_column and label_column name the columns of a Hugging Face dataset; {dataset.name} "
                          "has none — leave them out")
    return dataset


def _open_path(text: str, image_column: str | None, label_column: str | None) -> ImageDataset:
    from . import hf_datasets, named_datasets, tar_shards

    root = Path(text).expanduser()
    if not root.exists():
        if tar_shards.is_pattern(text):
            return tar_shards.open_shards(text)
        named = named_datasets.open_named(text)
        if named is not None:
            return named
        raise CNNVizError(
            f"no folder at {text!r} — check the path (or pass 'demo' for the offline photos, "
            f"{' or '.join(repr(n) for n in named_datasets.NAMES)}, or tar shards like 'shards/train-{{0000..0099}}.tar')"
        )
    if root.is_file():
        if tar_shards.is_shard(root):
            return tar_shards.open_shards(text)
        raise CNNVizError(f"{str(root)!r} is a file; pass the folder that holds the images, or a list of paths")
    if hf_datasets.is_saved_dataset(root):
        return hf_datasets.open_saved(root, image_column=image_column, label_column=label_column)
    dataset = _from_folder(root)
    if len(dataset) == 0 and any(tar_shards.is_shard(p) for p in root.iterdir()):
        return tar_shards.open_shards(text)
    if len(dataset) == 0:
        raise CNNVizError(
            f"no image files in {str(root)!r} (searched recursively for {', '.join(IMAGE_EXTENSIONS)}) — "
            "pass a folder that holds images"
        )
    return dataset


def open_dataset(
    data: Any,
    *,
    class_names: Sequence[str] | None = None,
    preprocessed: bool | None = None,
    fingerprint: str | None = None,
    name: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
) -> ImageDataset:
    """Open ``data`` as an :class:`ImageDataset`.

    Args:
        data: a folder path, ``"demo"``, a list of images (paths, PIL images, arrays, tensors), a map-style torch
            ``Dataset`` (items: an image, ``(image, label, ...)`` or a dict with ``"image"`` / ``"label"``), a
            Hugging Face ``datasets.Dataset`` or its ``save_to_disk`` folder, tar shards (a brace pattern, a
            folder of ``.tar`` files, one ``.tar``), ``"imagenette"`` / ``"cifar10"`` (``":train"`` for the
            training split), or an :class:`ImageDataset` (returned as it is, with the options applied).
        class_names: names of the label indices (default: the dataset's own, e.g. ``ImageFolder.classes``).
        preprocessed: whether tensor items are already the model's input (see :class:`ImageDataset`).
        fingerprint: a string that identifies this dataset's contents, replacing the computed fingerprint.
        name: how to call it in progress bars and reports.
        image_column: a Hugging Face dataset's image column (default: its ``Image`` feature, or a column named
            ``image`` / ``img``).
        label_column: its label column (default: its ``ClassLabel`` feature, or an integer column named ``label``,
            ``labels``, ``target``, ``cls``, ``fine_label``).

    Raises:
        CNNVizError: the folder or list holds no image (the message says where it looked), or ``data`` is of a
            kind that cannot be read (an iterable-only dataset, a file that is not a folder), a named dataset is
            neither on disk nor downloadable (the message says where to put a copy).
    """
    from . import hf_datasets

    if (image_column is not None or label_column is not None) and not (
            hf_datasets.is_hf_dataset(data) or isinstance(data, (str, os.PathLike))):
        raise CNNVizError("image_column and label_column name the columns of a Hugging Face dataset; "
                          f"a {type(data).__name__} has none — leave them out")
    if isinstance(data, ImageDataset):
        dataset = data
    elif isinstance(data, str) and data == "demo":
        dataset = _from_demo()
        if len(dataset) == 0:
            raise CNNVizError(
                "the demo dataset is empty: its photos come from the optional packages foolbox, scikit-image and "
                "matplotlib — run `pip install 'cnnviz-widget[demo]'`, or pass a folder of images"
            )
    elif hf_datasets.is_hf_dataset(data):
        dataset = hf_datasets.open_hf(data, image_column=image_column, label_column=label_column)
    elif isinstance(data, (str, os.PathLike)):
        dataset = _from_path(data, image_column, label_column)
    elif isinstance(data, torch.utils.data.IterableDataset):
        raise CNNVizError(
            f"{type(data).__name__} is an IterableDataset; mining needs random access (to resume and to shard) — "
            "pass a map-style Dataset, or list(...) of its images"
        )
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (list, tuple, bytes, dict)):
        dataset = _from_torch(data)
    elif isinstance(data, (list, tuple)):
        dataset = _from_list(data)
    else:
        raise CNNVizError(
            f"cannot read a dataset from a {type(data).__name__}; pass a folder path, 'demo', a list of images, "
            "a torch Dataset, a Hugging Face Dataset or tar shards"
        )
    if len(dataset) == 0:
        raise CNNVizError(f"the dataset {dataset.name} is empty — pass at least one image")
    if class_names is not None:
        dataset.class_names = list(class_names)
    if preprocessed is not None:
        dataset.preprocessed = preprocessed
    if fingerprint is not None:
        dataset._fingerprint = _hash("user", [fingerprint.encode()])
    if name is not None:
        dataset.name = name
    return dataset


def reopen(source: dict[str, Any]) -> ImageDataset | None:
    """The dataset a mined result's ``source`` describes, opened again (``None`` for one that lives only in memory:
    a list, a torch ``Dataset``, a Hugging Face dataset never saved to disk)."""
    kind = source.get("kind")
    if kind == "demo":
        return open_dataset("demo")
    if kind in ("folder", "tar", "named"):
        return open_dataset(source["path"])
    if kind == "hf":
        return open_dataset(source["path"], image_column=source.get("image_column"),
                            label_column=source.get("label_column"))
    return None
