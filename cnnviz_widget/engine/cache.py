"""Results on disk: one folder per cache key, files replaced atomically.

A cache key is a JSON-able dict of everything that changes an answer (weights hash, preprocessing, dataset
fingerprint, layers, k, code version, ...). Its entry is ``<root>/<prefix>-<hash of the key>/`` with the key written
out in ``key.json``; every file inside also carries the key and is checked against it when read, so a stale or
moved file is never used. Writes go to a temporary file in the same folder, are flushed to disk, then renamed over
the old file: a process killed at any moment leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

__all__ = ["atomic_save", "cache_root", "entry_dir", "key_digest", "list_entries", "load_checked"]

#: The environment variable naming the folder for generated data (the demo image pool).
CACHE_ENV = "CNNVIZ_CACHE"


def cache_root() -> Path:
    """The folder for data the package generates once and keeps: ``$CNNVIZ_CACHE`` if set, else ``~/.cache/cnnviz``."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/cnnviz").expanduser()


def key_digest(key: dict[str, Any]) -> str:
    """A short stable hash of a cache key."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:40] or "entry"


def entry_dir(root: str | os.PathLike, key: dict[str, Any], prefix: str = "") -> Path:
    """The folder of ``key`` under ``root`` (created, with its ``key.json``)."""
    path = Path(root).expanduser() / f"{_slug(prefix)}-{key_digest(key)}"
    path.mkdir(parents=True, exist_ok=True)
    key_file = path / "key.json"
    text = json.dumps(key, sort_keys=True, indent=1).encode()
    try:
        whole = key_file.read_bytes() == text
    except OSError:
        whole = False
    if not whole:  # missing, or damaged (a copy cut short): the entry must stay listable
        atomic_write_bytes(key_file, text)
    return path


def list_entries(root: str | os.PathLike) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(folder, key)`` of every readable entry under ``root``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return
    for key_file in sorted(root.glob("*/key.json")):
        try:
            key = json.loads(key_file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(key, dict) and key_file.parent.name.endswith("-" + key_digest(key)):
            yield key_file.parent, key


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically (temporary file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_save(path: Path, obj: dict[str, Any], key: dict[str, Any]) -> None:
    """``torch.save`` ``obj`` (tensors, numbers, strings, lists, dicts) with its ``key``, atomically."""
    import io

    buffer = io.BytesIO()
    torch.save({"key": json.dumps(key, sort_keys=True), **obj}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checked(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """What :func:`atomic_save` wrote to ``path``, or ``None`` if it is missing, unreadable or for another key."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, AttributeError, ImportError):
        return None
    except Exception:  # an unpickling error of a damaged file
        return None
    if not isinstance(obj, dict) or obj.get("key") != json.dumps(key, sort_keys=True):
        return None
    return obj


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files left by writers that were killed mid-write."""
    for tmp in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
