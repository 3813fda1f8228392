"""WebDataset-style tar shards as an :class:`~.datasets.ImageDataset`, read at random with the standard library.

A shard is an uncompressed ``.tar`` whose members are grouped by key, WebDataset's convention: a member's key is
its path up to the first dot of its file name, the rest is its extension (``n01440764/img_0001.jpg`` and
``n01440764/img_0001.cls`` are the ``jpg`` and ``cls`` of key ``n01440764/img_0001``). Each key with an image
(``jpg``, ``jpeg``, ``png``, ``webp``, …; the first of these it has) is one item; its ``cls`` member, the class
index as text, is its label.

Shards are named by a brace pattern (``"shards/train-{0000..0099}.tar"``: numeric ranges, zero-padded as in the
shell, and ``{a,b}`` lists), a glob (``"shards/*.tar"``), a folder holding ``.tar`` files, or one ``.tar``.
Opening reads every member header once (``tarfile``; the labels too, which are a few bytes each) and keeps each
image's offset and size; reading an item is one seek and one read, so a pass can be split, resumed and sharded
like a folder's. Item ids are ``<shard>/<key>`` (the shard's path relative to the shards' common folder), stable
while the shards keep their names. The fingerprint is every shard's name, size and modification time.

Compressed shards (``.tar.gz``) cannot be read at random: decompress them first (``gunzip``).
"""

from __future__ import annotations

import glob
import os
import re
import tarfile
from pathlib import Path
from typing import Any

from ...errors import CNNVizError, ImageError
from .datasets import EncodedImage, ImageDataset, _hash, _stat_token, _unique_ids

__all__ = ["IMAGE_MEMBER_EXTENSIONS", "expand_braces", "is_pattern", "is_shard", "open_shards"]

#: Extensions of image members, in the order preferred when a key has several.
IMAGE_MEMBER_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "ppm", "pgm", "pbm", "bmp", "gif", "tif", "tiff")
_COMPRESSED = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst")
_BRACES = re.compile(r"\{([^{}]*)\}")


def is_shard(path: Path) -> bool:
    """Whether ``path`` is named like a shard (``.tar``, or a compressed tar, which gets a clear error later)."""
    name = path.name.lower()
    return path.is_file() and (name.endswith(".tar") or name.endswith(_COMPRESSED))


def is_pattern(text: str) -> bool:
    """Whether ``text`` names shards by a brace range or list, or a glob."""
    return bool(_BRACES.search(text)) or any(c in text for c in "*?[")


def expand_braces(pattern: str) -> list[str]:
    """Expand ``{0000..0099}`` ranges (zero-padded when an end is) and ``{a,b,c}`` lists, left to right, like bash.

    Raises:
        CNNVizError: an unbalanced brace or an empty range.
    """
    match = _BRACES.search(pattern)
    if match is None:
        if "{" in pattern or "}" in pattern:
            raise CNNVizError(f"unbalanced braces in {pattern!r} — write ranges as {{0000..0099}}, lists as {{a,b}}")
        return [pattern]
    body = match.group(1)
    numbers = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", body)
    if numbers:
        a, b = numbers.groups()
        step = 1 if int(b) >= int(a) else -1
        width = max(len(a), len(b)) if (a.lstrip("-").startswith("0") and len(a.lstrip("-")) > 1) or (
            b.lstrip("-").startswith("0") and len(b.lstrip("-")) > 1) else 0
        choices = [str(i).zfill(width) for i in range(int(a), int(b) + step, step)]
    elif "," in body:
        choices = body.split(",")
    else:
        choices = ["{" + body + "}"]  # bash leaves a brace group without a range or a comma as it is
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [head + choice + rest for choice in choices for rest in expand_braces(tail)]


def _shard_paths(text: str) -> list[Path]:
    path = Path(text).expanduser()
    if path.is_dir():
        shards = sorted(p for p in path.iterdir() if is_shard(p))
    elif path.is_file():
        shards = [path]
    else:
        expanded = expand_braces(os.path.expanduser(text))
        shards = []
        for name in expanded:
            if any(c in name for c in "*?["):
                shards += sorted(Path(p) for p in glob.glob(name) if is_shard(Path(p)))
            else:
                shards.append(Path(name))
        missing = [p for p in shards if not p.is_file()]
        if missing:
            raise CNNVizError(
                f"{len(missing)} of the {len(shards)} shards {text!r} names are missing (first: {str(missing[0])!r}) "
                "— check the pattern and the folder"
            )
    if not shards:
        raise CNNVizError(f"no .tar shards match {text!r} — check the pattern or the folder")
    compressed = [p for p in shards if p.name.lower().endswith(_COMPRESSED)]
    if compressed:
        raise CNNVizError(
            f"{str(compressed[0])!r} is compressed, and a compressed tar cannot be read at random (needed to resume "
            "and to shard a pass) — decompress the shards first (gunzip / xz -d / zstd -d), keeping the .tar"
        )
    return shards


def _label(data: bytes) -> int | None:
    try:
        return int(data.decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        return None


def _index(shard: Path) -> list[tuple[str, int, int, int | None]]:
    """``(key, offset, size, label)`` of every image of ``shard``, in the shard's order."""
    try:
        with tarfile.open(shard, mode="r:") as tar:
            groups: dict[str, dict[str, tarfile.TarInfo]] = {}
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                folder, _, base = member.name.rpartition("/")
                if base.startswith("."):
                    continue
                key, _, ext = base.partition(".")
                groups.setdefault(f"{folder}/{key}" if folder else key, {})[ext.lower()] = member
            items = []
            for key, members in groups.items():
                ext = next((e for e in IMAGE_MEMBER_EXTENSIONS if e in members), None)
                if ext is None:
                    continue
                label = None
                if "cls" in members:
                    handle = tar.extractfile(members["cls"])
                    label = _label(handle.read()) if handle is not None else None
                items.append((key, members[ext].offset_data, members[ext].size, label))
            return items
    except (tarfile.TarError, EOFError) as exc:
        raise CNNVizError(f"{str(shard)!r} is not a readable tar file ({exc}) — re-create or re-download it") from None


def _read_member(shard: Path, offset: int, size: int, name: str) -> bytes:
    try:
        with open(shard, "rb") as handle:
            handle.seek(offset)
            data = handle.read(size)
    except OSError as exc:
        raise ImageError(f"{name} could not be read ({exc}) — check the shard") from None
    if len(data) != size:
        raise ImageError(f"{name} is cut short ({len(data)} of {size} bytes): the shard is truncated — re-create it")
    return data


def open_shards(text: str) -> ImageDataset:
    """The images of the tar shards ``text`` names (see the module docstring).

    Raises:
        CNNVizError: no shard matches, a shard is missing, compressed or not a tar, or the shards hold no image.
    """
    shards = _shard_paths(text)
    common = Path(os.path.commonpath([str(p.resolve().parent) for p in shards]))
    names = [p.resolve().relative_to(common).as_posix() for p in shards]
    ids: list[str] = []
    where: list[tuple[Path, int, int]] = []
    labels: list[int | None] = []
    for shard, name in zip(shards, names, strict=True):
        for key, offset, size, label in _index(shard):
            ids.append(f"{name}/{key}")
            where.append((shard, offset, size))
            labels.append(label)
    if not ids:
        raise CNNVizError(
            f"the shards {text!r} hold no image members (keys with {', '.join(IMAGE_MEMBER_EXTENSIONS[:4])}, …) — "
            "check that they are WebDataset-style shards (key.jpg + key.cls)"
        )
    ids = _unique_ids(ids)

    def reader(i: int) -> Any:
        shard, offset, size = where[i]
        return EncodedImage(_read_member(shard, offset, size, ids[i]), name=ids[i]), None

    fingerprint = _hash("tar", (n.encode() + b"=" + _stat_token(p) for n, p in zip(names, shards, strict=True)))
    path = Path(text).expanduser()
    described = str(path.resolve()) if path.exists() else os.path.abspath(os.path.expanduser(text))
    return ImageDataset(name=f"tar shards {text} ({len(shards)} shards, {len(ids)} images)", ids=ids, reader=reader,
                        labels=labels if any(label is not None for label in labels) else None, class_names=None,
                        fingerprint=fingerprint, source={"kind": "tar", "path": described})
