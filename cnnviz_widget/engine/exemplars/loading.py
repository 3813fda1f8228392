"""Batches of model inputs read from an :class:`~.datasets.ImageDataset` for the forward pass (what mining eats).

Reading a folder of JPEGs — decoding, resizing, normalising — costs CPU time beside the forward's. How it is
arranged:

* **Threads, bounded read-ahead.** ``workers`` threads (one per core by default) each read one whole batch; at
  most ``workers + 1`` batches are in hand, so memory stays bounded. Threads rather than worker processes:
  Pillow's decoder and resampler and numpy's arithmetic release the GIL, and a finished batch needs no copy
  between processes.
* **On the CPU, readers and the forward take turns.** PyTorch runs the forward on every core (one OpenMP thread
  each), and an OpenMP team is as slow as its slowest thread: a reader that preempts one of its threads stalls
  the whole team at the next barrier (two torch processes on a 2-core machine slowed each other 80×, README).
  With every core busy in the forward there is no idle core for overlapping to win — the CPU work adds up either
  way — so the readers work only while the forward waits for its next batch, and then on every core: a pass
  costs the forward plus the reading divided among the cores, with no contention. (Readers at a lower OS
  priority running beside the forward, the first design, are fragile: a low-priority reader that holds the GIL
  while other processes take the cores stalls the forward behind it.) Readers use one intra-op thread each
  (``torch.set_num_threads`` is per thread), so a preprocessing that calls torch starts no OpenMP team of its
  own. On a GPU the CPU is free while the device computes, so there the readers run ahead without pause.
* **JPEGs decoded at a reduced size.** With an :class:`~.preprocess.ImagePreprocess`, a JPEG is decoded at 1/2,
  1/4 or 1/8 scale (libjpeg's DCT scaling, ``PIL.Image.draft``) when the part the model sees stays at least
  :data:`REDUCED_DECODE_MARGIN` (2) times the model's input — that is, never below twice the resize target — and
  is then resized as usual. This is not bit-identical to decoding in full and resizing: the DCT scaling averages
  differently from Pillow's resampling filter (how much: ``bench/mining_jpeg.py``, and the README). Keeping twice
  the input leaves most of the filtering to the final antialiasing resize, so the result stays closer to a full
  decode, and costs little speed: entropy decoding, which no scaling skips, is much of a reduced decode's time.
  So a JPEG is reduced only if its shorter side is at least four times the resize target (1,024 px for a 256 px
  resize): ImageNet's ~500×375 photos, or 1000×750 ones, decode in full and are exact. ``reduced_decode=False``
  decodes everything in full.
* **Normalised straight into a channels-last batch.** Resized pixels are uint8 (height × width × channels), so
  each channel's normalisation is a table of 256 values, computed once with :class:`ImagePreprocess`'s float32
  operations in its order — looking pixels up in it gives ``preprocess(image)``'s values bit for bit, in one pass.
  The lookups write each image into its place in a batch that *is* the channels-last layout the CPU forward runs
  fastest in (:func:`~.capture.fast_layout`): no stacking, no layout copy.

Anything else (a user's preprocessing callable, tensors from a ``Dataset``) is read by the same threads through
``dataset.to_input``, exactly as before.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ...errors import CNNVizError, ImageError
from ..model.capture import fast_layout
from ..model.preprocess import ImagePreprocess
from .datasets import EncodedImage, ImageDataset

__all__ = ["REDUCED_DECODE_MARGIN", "Batch", "BatchReader", "default_workers", "reduces_jpegs", "takes_fast_path"]

#: A JPEG is decoded at a reduced size only while the part the model sees keeps this many pixels per input pixel.
REDUCED_DECODE_MARGIN = 2
#: EXIF orientations that swap width and height.
_TRANSPOSED = (5, 6, 7, 8)


def default_workers() -> int:
    """Reader threads by default: one per core the process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def takes_fast_path(preprocess: Any, input_shape: Sequence[int]) -> bool:
    """Whether items are decoded, resized and normalised here rather than by ``preprocess(image)``: the model's
    preprocessing is an :class:`ImagePreprocess` (not a subclass, which may compute otherwise) for its input."""
    return type(preprocess) is ImagePreprocess and tuple(preprocess.input_shape) == tuple(input_shape)


def reduces_jpegs(preprocess: Any, input_shape: Sequence[int], reduced_decode: bool = True) -> bool:
    """Whether a reader may decode some JPEGs at a reduced size (part of a mining cache key)."""
    return reduced_decode and takes_fast_path(preprocess, input_shape)


@dataclass
class Batch:
    """One chunk of the dataset, read.

    Attributes:
        chunk: its number (items ``chunk * batch_size`` onwards).
        inputs: ``[N, C, H, W]`` model inputs in the layout the model runs in, or ``None`` if no item was readable.
        indices: the N items' dataset positions.
        labels: their labels (-1: unknown).
        skipped: ``[index, id, reason]`` of the chunk's unreadable items.
    """

    chunk: int
    inputs: torch.Tensor | None
    indices: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: list[list[Any]] = field(default_factory=list)


def _reader_thread_setup() -> None:
    torch.set_num_threads(1)


class BatchReader:
    """Reads chunks of ``batch_size`` items of ``dataset`` into model-input batches (see the module docstring).

    Args:
        dataset: the dataset.
        preprocess: the model's preprocessing (an :class:`ImagePreprocess` takes the fast path).
        input_shape: the model's input ``(C, H, W)``.
        model: the model (its layout is probed once by :func:`~.capture.fast_layout`).
        device, dtype: where the model runs and in what (CUDA batches are pinned; only float32 CPU batches may
            be channels-last).
        batch_size: items per chunk.
        workers: reader threads (default :func:`default_workers`).
        reduced_decode: decode large JPEGs at a reduced size (see the module docstring).
    """

    def __init__(self, dataset: ImageDataset, preprocess: Any, input_shape: Sequence[int], *, model: nn.Module,
                 device: torch.device, dtype: torch.dtype, batch_size: int, workers: int | None = None,
                 reduced_decode: bool = True) -> None:
        self.dataset = dataset
        self.preprocess = preprocess
        self.input_shape = tuple(input_shape)
        self.model = model
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 1:
            raise CNNVizError(f"workers must be at least 1 reader thread, not {workers!r}")
        #: Whether readers work only while the consumer waits for a batch (the CPU forward; see the docstring).
        self.gated = device.type == "cpu"
        self._turn = threading.Event()  # set while readers may work
        self._turn.set()
        self._closing = threading.Event()
        self.fast = takes_fast_path(preprocess, self.input_shape)
        self.reduces = reduces_jpegs(preprocess, self.input_shape, reduced_decode)
        if self.fast:
            p = preprocess
            # Each channel's 256 possible values, normalised with ImagePreprocess's float32 operations in its order
            # (pixel · (scale / 255), minus the mean, over the std): looking them up gives its results bit for bit.
            levels = np.arange(256, dtype=np.float32) * (p.scale / 255.0)
            self._table = np.stack([(levels - np.float32(m)) / np.float32(d) for m, d in zip(p.mean, p.std,
                                                                                              strict=True)])
            self._resample = Image.Resampling[p.interpolation.upper()]

    # ------------------------------------------------------------------------------------------ one item
    def _draft(self, reduced: list[int]) -> Any:
        """A ``load_image`` draft hook: ask a JPEG for the smallest DCT scale that keeps the part the model sees at
        :data:`REDUCED_DECODE_MARGIN` times its input size or more. A reduced decode is recorded in ``reduced`` as
        ``[scale, width, height]`` (the full size, as displayed)."""
        p = self.preprocess

        def draft(img: Image.Image) -> None:
            if img.format != "JPEG":
                return
            width, height = img.size
            turned = img.getexif().get(0x0112) in _TRANSPOSED
            shown_w, shown_h = (height, width) if turned else (width, height)
            left, top, right, bottom = p.crop_box(shown_w, shown_h)
            need_w = math.ceil(shown_w * p.size * REDUCED_DECODE_MARGIN / (right - left))
            need_h = math.ceil(shown_h * p.size * REDUCED_DECODE_MARGIN / (bottom - top))
            result = img.draft(img.mode, (need_h, need_w) if turned else (need_w, need_h))
            scale = round(width / result[1][2]) if result is not None else 1
            if scale > 1:
                reduced[:] = [scale, shown_w, shown_h]

        return draft

    def _pixels(self, image: Any) -> np.ndarray:
        """What :class:`ImagePreprocess` makes of ``image`` before its arithmetic: ``size``×``size`` uint8 pixels,
        height × width × channels, channels in the model's order."""
        p = self.preprocess
        reduced: list[int] = []
        if isinstance(image, EncodedImage):
            # decode() gives what geometry() starts from (RGB, turned upright, checked): resize its crop box here.
            # After a reduced decode, that is the full image's crop box in the reduced image's pixels (DCT
            # scaling maps s×s pixels to one).
            img = image.decode(draft=self._draft(reduced) if self.reduces else None)
            scale, width, height = reduced or (1, img.width, img.height)
            box = tuple(v / scale for v in p.crop_box(width, height))
            img = img.resize((p.size, p.size), resample=self._resample, reducing_gap=None, box=box)
        else:
            img = p.geometry(image)
        if p.channel_order == "L":
            return np.asarray(img.convert("L"))[..., None]
        pixels = np.asarray(img)
        return pixels[..., ::-1] if p.channel_order == "BGR" else pixels

    def _normalise(self, pixels: list[np.ndarray]) -> torch.Tensor:
        """uint8 pixels (height × width × channels each) → ``[N, C, H, W]`` float32 model inputs in the
        channels-last layout, each channel looked up in its table straight into its place in the batch."""
        out = np.empty((len(pixels), *pixels[0].shape), dtype=np.float32)
        for x, px in zip(out, pixels, strict=True):
            for c, table in enumerate(self._table):
                np.take(table, px[..., c], out=x[..., c], mode="clip")
        return torch.from_numpy(out).permute(0, 3, 1, 2)

    def _item(self, index: int) -> tuple[Any, int | None]:
        """Item ``index`` as uint8 pixels (fast path) or a model-input tensor, and its label."""
        item = self.dataset.read(index, decode=not self.fast)
        image = item.image
        if self.fast:
            if not (isinstance(image, torch.Tensor) and image.is_floating_point() and (
                    self.dataset.preprocessed or (self.dataset.preprocessed is None
                                                  and tuple(image.shape) == self.input_shape))):
                return self._pixels(image), item.label
            return image, item.label
        return self.dataset.to_input(image, self.preprocess, self.input_shape), item.label

    # ------------------------------------------------------------------------------------------ one batch
    def read(self, chunk: int) -> Batch:
        """Read chunk ``chunk`` (unreadable items are skipped and listed)."""
        batch = Batch(chunk, None)
        start = chunk * self.batch_size
        inputs: list[Any] = []
        for i in range(start, min(start + self.batch_size, len(self.dataset))):
            self._turn.wait()
            if self._closing.is_set():
                return batch
            try:
                x, label = self._item(i)
            except ImageError as exc:
                batch.skipped.append([i, self.dataset.id(i), str(exc)])
                continue
            except Exception as exc:  # the user's preprocess may fail on an odd image in any way
                batch.skipped.append([i, self.dataset.id(i), f"{type(exc).__name__}: {exc}"])
                continue
            inputs.append(x)
            batch.indices.append(i)
            batch.labels.append(-1 if label is None else int(label))
        if inputs:
            batch.inputs = self._laid_out(self._stack(inputs))
        return batch

    def inputs(self, indices: Sequence[int]) -> torch.Tensor:
        """The model inputs ``[N, C, H, W]`` (ordinary layout) of items ``indices``, exactly as a pass reads them.

        Raises:
            ImageError: an item cannot be read.
        """
        return self._stack([self._item(i)[0] for i in indices]).contiguous()

    def _stack(self, inputs: list[Any]) -> torch.Tensor:
        if all(isinstance(x, np.ndarray) for x in inputs):
            x = self._normalise(inputs)
        else:
            tensors = [self._normalise([x])[0] if isinstance(x, np.ndarray) else x for x in inputs]
            shapes = {tuple(t.shape) for t in tensors}
            if len(shapes) > 1 or tuple(tensors[0].shape) != self.input_shape:
                raise CNNVizError(
                    f"dataset items became inputs of shapes {sorted(shapes)} but the model takes "
                    f"{self.input_shape} — pass images (they are preprocessed for you), or "
                    "open_dataset(..., preprocessed=False) if the tensors are pictures rather than model inputs"
                )
            x = torch.stack(tensors)
        return x

    def _laid_out(self, x: torch.Tensor) -> torch.Tensor:
        """A batch as the pass hands it on: pinned for CUDA; on the CPU in the layout the model runs in."""
        if self.device.type == "cuda":
            return x.contiguous().pin_memory()  # lets the copy to the GPU overlap the previous batch's work
        if self.device.type != "cpu" or self.dtype != torch.float32:
            return x.contiguous()
        # The model's layout (fast_layout probes it once): channels-last batches stay as they are, copy-free.
        nchw = x[:1].contiguous()
        if fast_layout(self.model, nchw) is nchw:
            return x.contiguous()
        return x.contiguous(memory_format=torch.channels_last)

    # --------------------------------------------------------------------------------------- read ahead
    def batches(self, chunks: Sequence[int]) -> Iterator[Batch]:
        """The chunks' batches in order, read ahead by the reader threads (errors are raised here).

        Close the iterator (or let it finish) to stop: the threads finish the batch they are on and end.
        """
        pending: deque[Future] = deque()
        todo = iter(chunks)
        self._closing.clear()
        if self.gated:
            self._turn.clear()
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="cnnviz-reader", initializer=_reader_thread_setup)
        try:
            for chunk in todo:
                pending.append(pool.submit(self.read, chunk))
                if len(pending) > self.workers:
                    break
            while pending:
                future = pending.popleft()
                if self.gated:  # the consumer waits: the readers have the cores until its batch is there
                    self._turn.set()
                batch = future.result()
                if self.gated:  # the forward runs: readers pause after the image they are on
                    self._turn.clear()
                chunk = next(todo, None)
                if chunk is not None:
                    pending.append(pool.submit(self.read, chunk))
                yield batch
        finally:
            for future in pending:
                future.cancel()
            self._closing.set()
            self._turn.set()
            pool.shutdown(wait=True)
            self._closing.clear()
