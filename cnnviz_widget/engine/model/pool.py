"""The demo image pool: a few hundred labelled photos, made offline once and cached — the ``"demo"`` dataset and
the widget's gallery.

The sample photos (:func:`~.samples.sample_photos`, 33 with every source installed) are too few for the paper's
Figure 2: a unit's top 9 would be a quarter of them, and the same photos recur in every unit. The pool adds one
composite per photo cut-out of Debian's ``tuxpaint-stamps-default`` (GPL-2; animals, fruit and vegetables, musical
instruments, tools, vehicles, …; listed with their labels in ``stamps.tsv`` beside this file): the cut-out, scaled
to fill 55–85 % of the model's 227-pixel view (several smaller copies when it is too small to enlarge twice), at a
seeded random position, pasted by its alpha channel onto a blurred crop of one of the sample photos (a defocused
natural background, as in a photograph with shallow depth of field), saved as a 256×256 JPEG.

Labels: the ImageNet class index where the cut-out's subject is clearly one of the 1000 classes (a tiger, a
violin), else its own name (``"rosella"``), see :class:`Stamp`.

Cache: ``<cache root>/pool-v<POOL_VERSION>-<hash>/`` with ``index.json`` and ``images/``. The cache root is
``$CNNVIZ_CACHE`` if set, else ``~/.cache/cnnviz`` (:func:`~cnnviz_widget.engine.cache.cache_root`). The hash
covers everything that changes a pixel (the version, the seed, the catalogue, each input file's size and
modification time, the Pillow and numpy versions), so a changed input makes a new folder. The folder is written
under a temporary name and renamed when complete: a reader sees a whole pool or none. A folder with a missing file
is made again.

Without the Debian package (a pip-only install) the pool is the sample photos alone, with a warning naming the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageFilter

from ..cache import cache_root, key_digest
from .samples import SamplePhoto, sample_photos

__all__ = ["CATALOGUE", "POOL_VERSION", "STAMPS_FOLDER", "Stamp", "image_pool", "read_catalogue"]

#: Bumped whenever the way composites are made changes (a new cache folder follows).
POOL_VERSION = 1
#: Where Debian's ``tuxpaint-stamps-default`` installs its cut-outs.
STAMPS_FOLDER = Path("/usr/share/tuxpaint/stamps")
#: The cut-outs used, with their labels (tab-separated: path, name, ImageNet index or ``-``).
CATALOGUE = Path(__file__).with_name("stamps.tsv")

_SIZE = 256  # the side of a composite: the default model's resize; its 227-pixel centre crop is the view
_VIEW = 227
_SEED = 0
_MAX_ENLARGE = 2.0  # a cut-out enlarged more than twice turns to mush
_JPEG_QUALITY = 90
#: Sample photos not used as backgrounds: a silhouette with transparency, and two nearly black frames.
_NOT_BACKGROUNDS = ("horse (silhouette)", "hubble deep field", "retina")
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Stamp:
    """One photo cut-out of the catalogue.

    Attributes:
        path: the PNG (with alpha), relative to the stamps folder.
        name: what it shows, in plain words (``"tiger"``, ``"rosella"``).
        imagenet: the ImageNet class index when the subject is clearly one of the 1000 classes, else ``None``.
    """

    path: str
    name: str
    imagenet: int | None

    @property
    def id(self) -> str:
        """The composite's unique name in the dataset and the gallery (``"tiger_sumatran · tiger"``)."""
        return f"{Path(self.path).stem} · {self.name}"


def read_catalogue(path: str | os.PathLike = CATALOGUE) -> tuple[Stamp, ...]:
    """The cut-outs listed in a catalogue file (``#`` lines are comments)."""
    stamps = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        file, name, index = line.split("\t")
        stamps.append(Stamp(file, name, None if index == "-" else int(index)))
    return tuple(stamps)


def _stat(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _key(stamps: Path, catalogue: Sequence[Stamp], backgrounds: Sequence[SamplePhoto], seed: int) -> dict:
    return {
        "version": POOL_VERSION, "seed": seed, "size": _SIZE, "pillow": PIL.__version__, "numpy": np.__version__,
        "stamps": [[s.path, s.name, s.imagenet, _stat(stamps / s.path)] for s in catalogue],
        "backgrounds": [[b.name, str(b.path), _stat(b.path)] for b in backgrounds],
    }


def _fallback(reason: str) -> tuple[SamplePhoto, ...]:
    photos = sample_photos()
    warnings.warn(f"{reason}: the demo images are the {len(photos)} sample photos only, too few for telling top-9 "
                  "exemplars apart", stacklevel=3)
    return photos


def image_pool(
    *,
    stamps: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    catalogue: Sequence[Stamp] | None = None,
    backgrounds: Sequence[SamplePhoto] | None = None,
    seed: int = _SEED,
) -> tuple[SamplePhoto, ...]:
    """The demo pool: the sample photos, then one composite per cut-out (made on the first call, then cached).

    Args:
        stamps: the folder of cut-outs (default :data:`STAMPS_FOLDER`).
        root: the cache root (default :func:`~cnnviz_widget.engine.cache.cache_root`).
        catalogue: the cut-outs to use (default: :data:`CATALOGUE`); those missing from ``stamps`` are skipped.
        backgrounds: photos to crop backgrounds from (default: the sample photos, less a silhouette and two dark
            frames); with none, the background is the ImageNet mean colour.
        seed: the random seed of scales, positions and crops.

    Returns:
        The sample photos followed by the composites. A composite's ``label`` is its ImageNet class index (or
        ``None``) and its ``label_name`` the cut-out's name. Only the sample photos, with a warning, when no
        cut-out is found or the cache cannot be written.
    """
    folder = Path(stamps) if stamps is not None else STAMPS_FOLDER
    catalogue = read_catalogue() if catalogue is None else tuple(catalogue)
    present = tuple(s for s in catalogue if (folder / s.path).is_file())
    if not present:
        return _fallback(f"no photo cut-outs in {folder} — install them with `sudo apt-get install "
                         "tuxpaint-stamps-default` (Debian/Ubuntu), or mine a folder of your own photos instead of "
                         "'demo'")
    if backgrounds is None:
        backgrounds = tuple(p for p in sample_photos() if p.name not in _NOT_BACKGROUNDS)
    key = _key(folder, present, backgrounds, seed)
    target = Path(root if root is not None else cache_root()).expanduser() / f"pool-v{POOL_VERSION}-{key_digest(key)}"
    with _LOCK:
        made = _read(target, key)
        if made is None:
            try:
                _write(target, key, folder, present, backgrounds, seed)
            except OSError as exc:
                return _fallback(f"the demo pool could not be written to {target.parent} ({exc.strerror or exc}) — "
                                 "set CNNVIZ_CACHE to a writable folder")
            made = _read(target, key)
            if made is None:
                return _fallback(f"the demo pool written to {target} cannot be read back — delete that folder")
    return sample_photos() + made


def _read(target: Path, key: dict) -> tuple[SamplePhoto, ...] | None:
    try:
        index = json.loads((target / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("key") != key:
        return None
    photos = tuple(SamplePhoto(e["id"], target / "images" / e["file"], "tuxpaint-stamps", e["imagenet"], e["name"])
                   for e in index["images"])
    return photos if all(p.path.is_file() for p in photos) else None


def _write(target: Path, key: dict, folder: Path, catalogue: Sequence[Stamp], backgrounds: Sequence[SamplePhoto],
           seed: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        (work / "images").mkdir()
        bgs = [Image.open(b.path).convert("RGB") for b in backgrounds]
        entries = []
        for number, stamp in enumerate(catalogue):
            file = f"{number:03d}-{Path(stamp.path).stem}.jpg"
            rng = np.random.default_rng([seed, zlib.crc32(stamp.path.encode())])
            with Image.open(folder / stamp.path) as cutout:
                picture = composite(cutout.convert("RGBA"), bgs, rng)
            picture.save(work / "images" / file, "JPEG", quality=_JPEG_QUALITY)
            entries.append({"file": file, "id": stamp.id, "name": stamp.name, "imagenet": stamp.imagenet,
                            "stamp": stamp.path})
        (work / "index.json").write_text(json.dumps({"key": key, "images": entries}, indent=1), encoding="utf-8")
        if _read(target, key) is not None:  # another process finished first
            return
        if target.exists():  # incomplete or damaged: set it aside, then swap
            stale = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.stale."))
            with contextlib.suppress(OSError):
                os.replace(target, stale / "pool")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(work, target)
        except OSError:
            if _read(target, key) is None:  # not another process's complete pool: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _background(bgs: Sequence[Image.Image], rng: np.random.Generator) -> Image.Image:
    if not bgs:
        return Image.new("RGB", (_SIZE, _SIZE), (124, 116, 104))
    photo = bgs[int(rng.integers(len(bgs)))]
    side = int(min(photo.size) * rng.uniform(0.4, 0.9))
    left = int(rng.integers(photo.width - side + 1))
    top = int(rng.integers(photo.height - side + 1))
    crop = photo.crop((left, top, left + side, top + side)).resize((_SIZE, _SIZE), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop.filter(ImageFilter.GaussianBlur(float(rng.uniform(5.0, 10.0))))


def _scaled(cutout: Image.Image, scale: float) -> Image.Image:
    size = (max(1, round(cutout.width * scale)), max(1, round(cutout.height * scale)))
    # premultiplied alpha, so that transparent pixels' colours do not bleed into the edge
    return cutout.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")


def composite(cutout: Image.Image, backgrounds: Sequence[Image.Image], rng: np.random.Generator) -> Image.Image:
    """One ``256×256`` RGB composite of an RGBA ``cutout`` on a blurred background crop (see the module docstring).

    Args:
        cutout: the cut-out, RGBA.
        backgrounds: RGB photos to crop the background from (empty: the ImageNet mean colour).
        rng: the source of every random choice (the same generator state gives the same picture).
    """
    canvas = _background(backgrounds, rng)
    box = cutout.getchannel("A").getbbox()
    if box is None:
        return canvas
    cutout = cutout.crop(box)
    if rng.random() < 0.5:
        cutout = cutout.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    longest = max(cutout.size)
    scale = min(_VIEW * rng.uniform(0.55, 0.85) / longest, _MAX_ENLARGE)
    margin = (_SIZE - _VIEW) // 2
    copies = 1 if longest * scale >= 0.3 * _VIEW else int(rng.integers(3, 7))
    for _ in range(copies):
        piece = _scaled(cutout, scale * (1.0 if copies == 1 else rng.uniform(0.85, 1.15)))
        x = margin + int(rng.integers(max(1, _VIEW - piece.width + 1)))
        y = margin + int(rng.integers(max(1, _VIEW - piece.height + 1)))
        canvas.paste(piece, (x, y), piece)
    return canvas


def gallery_photos(size: int = 64) -> tuple[SamplePhoto, ...]:
    """A gallery's worth of the pool: the sample photos, then composites spread evenly over the rest of it, ``size``
    in all (the whole pool is the demo dataset; a gallery of hundreds of thumbnails would weigh megabytes)."""
    samples = sample_photos()
    pool = image_pool()
    composites = pool[len(samples):]
    room = max(0, size - len(samples))
    if not composites or room == 0:
        return pool[:size]
    step = len(composites) / room
    return samples + tuple(composites[int(i * step)] for i in range(min(room, len(composites))))
