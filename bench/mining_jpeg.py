"""Mining a folder of JPEGs end to end vs the forward alone and vs the loop a user writes, plus reduced-size decoding.

Part 1 — throughput. Makes ``--images`` (640) JPEGs of ImageNet size (500×375, quality 90) from the demo photos
(shifted crops, some mirrored, so no two are alike) in a temporary folder, and times over them, SqueezeNet 1.1,
batches of 32:

* floor: the bare forward over the inputs decoded and preprocessed beforehand (channels-last, the layout mining
  runs in; the forward as given, NCHW, is printed too);
* plain: what a user writes — a ``Dataset`` that opens each file with PIL and applies the model's preprocessing,
  ``DataLoader(batch_size=32, num_workers=2)``, and the forward under ``torch.no_grad()``;
* ours: ``mine(explorer, folder)`` end to end (listing, reading, decoding, preprocessing, the forward with its
  hooks, the top-9 tables of every default layer) — and, to split the cost, mining the decoded tensors.

Goals: ours >= 0.80x the floor and >= 1.0x plain. Modes alternate and the best of ``--repeat`` runs is kept.

Part 2 — reduced-size decoding. Makes ``--large`` (160) JPEGs of 2000×1500 — the demo photos scaled up, with
Gaussian noise of 8 grey levels for the fine texture a scaled-up photo lacks — which SqueezeNet's 256 px resize
lets the reader decode at half size (libjpeg's DCT scaling; it keeps twice the resize target), and prints: decode +
preprocess time per image (full vs reduced), how much the model input differs (grey levels), how much the units'
maxima move, and how many units' mined top-9 are unchanged.

Run: .venv/bin/python bench/mining_jpeg.py [--images 640] [--large 160] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.engine.exemplars.datasets import open_dataset
from cnnviz_widget.engine.exemplars.loading import BatchReader, default_workers
from cnnviz_widget.engine.exemplars.mining import mine
from cnnviz_widget.engine.model.images import load_image
from cnnviz_widget.engine.model.samples import sample_photos

BATCH = 32


def make_jpegs(folder: Path, n: int, size: tuple[int, int], noise: float = 0.0) -> list[Path]:
    """``n`` distinct JPEGs of ``size``: the demo photos scaled to cover it, cut at shifting offsets, some mirrored,
    with Gaussian ``noise`` (grey levels)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    photos = [load_image(p.path) for p in sample_photos()]
    w, h = size
    paths = []
    shift = 0
    while len(paths) < n:
        for j, photo in enumerate(photos):
            scale = max((w + 64) / photo.width, (h + 64) / photo.height)
            big = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BILINEAR)
            x, y = (shift * 7) % (big.width - w + 1), (shift * 5) % (big.height - h + 1)
            crop = big.crop((x, y, x + w, y + h))
            if shift % 2:
                crop = ImageOps.mirror(crop)
            if noise:
                grain = rng.normal(0.0, noise, (h, w, 3))
                crop = Image.fromarray((np.asarray(crop, np.float32) + grain).clip(0, 255).astype(np.uint8))
            path = folder / f"img_{len(paths):05d}_{j}.jpg"
            crop.save(path, quality=90)
            paths.append(path)
            if len(paths) == n:
                break
        shift += 1
    return paths


class Files(torch.utils.data.Dataset):
    """What a user writes: open with PIL, apply the model's preprocessing."""

    def __init__(self, paths: list[Path], preprocess) -> None:
        self.paths, self.preprocess = paths, preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.preprocess(Image.open(self.paths[i]).convert("RGB"))


def best(runs: dict[str, list[float]], name: str, n: int) -> float:
    return n / min(runs[name])


def throughput(spec, folder: Path, paths: list[Path], repeat: int) -> None:
    explorer = Explorer(spec)  # (the model's layers are found once, as a widget or `cnnviz mine` does)
    xs = [spec.preprocess(load_image(p)) for p in paths]
    batches = [torch.stack(xs[i:i + BATCH]) for i in range(0, len(xs), BATCH)]
    batches_cl = [b.contiguous(memory_format=torch.channels_last) for b in batches]
    decoded = open_dataset(xs, preprocessed=True)
    loader = torch.utils.data.DataLoader(Files(paths, spec.preprocess), batch_size=BATCH, num_workers=2)

    def floor_cl():
        with torch.no_grad():
            for b in batches_cl:
                spec.model(b)

    def floor_nchw():
        with torch.no_grad():
            for b in batches:
                spec.model(b)

    def plain():
        with torch.no_grad():
            for b in loader:
                spec.model(b)

    def ours():
        result = mine(explorer, folder, k=9, batch_size=BATCH, bar=False)
        assert result.images == len(paths)

    def ours_decoded():
        mine(explorer, decoded, k=9, batch_size=BATCH, bar=False)

    modes = {"floor": floor_cl, "floor_nchw": floor_nchw, "plain": plain, "ours": ours, "ours_decoded": ours_decoded}
    for run in modes.values():  # warm-up: the layout probe, the loader's first fork, the page cache
        run()
    runs: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(repeat):
        for name, run in modes.items():
            t = time.perf_counter()
            run()
            runs[name].append(time.perf_counter() - t)
    n = len(paths)
    f, o, p = best(runs, "floor", n), best(runs, "ours", n), best(runs, "plain", n)
    print(f"floor     bare forward, decoded tensors, channels-last   {f:7.1f} images/s")
    print(f"          bare forward, decoded tensors, NCHW            {best(runs, 'floor_nchw', n):7.1f} images/s")
    print(f"plain     DataLoader(num_workers=2) + PIL + forward      {p:7.1f} images/s")
    print(f"ours      mine(explorer, folder) end to end              {o:7.1f} images/s")
    print(f"          mine(...) over the decoded tensors             {best(runs, 'ours_decoded', n):7.1f} images/s")
    print(f"ratio     ours {o / f:.3f}x the floor (goal >= 0.80x); {o / p:.3f}x plain (goal >= 1.0x)")
    # What the floor leaves out: decoding runs on the same cores as the forward. One reader thread's cost per image,
    # and the best any overlap could do with it on these cores (the forward's core-seconds + the decode's, shared).
    reader = BatchReader(open_dataset(folder), spec.preprocess, spec.input_shape, model=spec.model,
                         device=torch.device("cpu"), dtype=torch.float32, batch_size=BATCH, workers=1)
    reader.inputs(range(8))  # warm-up
    t = time.perf_counter()
    reader.inputs(range(n))
    decode = (time.perf_counter() - t) / n
    cores = os.cpu_count() or 1
    d = best(runs, "ours_decoded", n)
    ceiling, ceiling_mined = 1 / (1 / f + decode / cores), 1 / (1 / d + decode / cores)
    print(f"decode    read + decode + preprocess, one thread     {decode * 1e3:7.2f} ms/image")
    print(f"ceiling   forward + decode sharing {cores} cores perfectly  {ceiling:7.1f} images/s = {ceiling / f:.3f}x the floor; "
          f"with mining's hooks {ceiling_mined:.1f} images/s: ours {o / ceiling_mined:.3f}x that")


def unit_maxima(explorer, x: torch.Tensor, layers: list[str]) -> torch.Tensor:
    """``[N, units]``: each image's maximum in every unit of ``layers``, in batches."""
    rows = []
    for i in range(0, len(x), BATCH):
        acts = explorer.activations(x[i:i + BATCH], layers)
        rows.append(torch.cat([a.flatten(2).amax(2) if a.dim() > 2 else a for a in acts.values()], dim=1))
    return torch.cat(rows)


def reduced_decoding(spec, folder: Path, paths: list[Path]) -> None:
    data = open_dataset(folder)
    readers = {r: BatchReader(data, spec.preprocess, spec.input_shape, model=spec.model, device=torch.device("cpu"),
                              dtype=torch.float32, batch_size=BATCH, workers=1, reduced_decode=r) for r in (False, True)}
    inputs, seconds = {}, {}
    for reduced, reader in readers.items():
        reader.inputs(range(8))  # warm-up
        t = time.perf_counter()
        inputs[reduced] = reader.inputs(range(len(data)))
        seconds[reduced] = (time.perf_counter() - t) / len(data)
    full = np.stack([spec.to_pixels(x) for x in inputs[False]]).astype(np.int16)
    reduced = np.stack([spec.to_pixels(x) for x in inputs[True]]).astype(np.int16)
    diff = np.abs(full - reduced)
    print(f"decode + preprocess, one thread: full {seconds[False] * 1e3:.2f} ms/image, reduced "
          f"{seconds[True] * 1e3:.2f} ms/image ({seconds[False] / seconds[True]:.2f}x)")
    print(f"model input, reduced vs full decode: mean |diff| {diff.mean():.3f} grey levels, 99.9th percentile "
          f"{np.percentile(diff, 99.9):.0f}, max {diff.max()}; {(diff > 8).mean() * 100:.3f} % of values differ by > 8")
    explorer = Explorer(spec)
    layers = [info.name for info in explorer.layers if info.kind in ("conv", "block", "linear")]
    maxima = {r: unit_maxima(explorer, inputs[r], layers) for r in (False, True)}
    moves = ((maxima[True] - maxima[False]).abs() / maxima[False].abs().clamp_min(1e-3)).flatten()
    print(f"units' maxima (every image x unit of the mined layers), relative change: median "
          f"{moves.median() * 100:.2f} %, 90th percentile {moves.quantile(0.9) * 100:.2f} %")
    results = {r: mine(explorer, folder, k=9, batch_size=BATCH, reduced_decode=r, bar=False) for r in (False, True)}
    units = same_set = same_order = 0
    rel = []
    for layer in results[False].layer_names:
        a, b = results[False].table(layer), results[True].table(layer)
        for c in range(a["indices"].shape[0]):
            units += 1
            same_order += bool(torch.equal(a["indices"][c], b["indices"][c]))
            same_set += set(a["indices"][c].tolist()) == set(b["indices"][c].tolist())
            top = float(a["values"][c, 0])
            if top > 0:
                rel.append(abs(float(b["values"][c, 0]) - top) / top)
    print(f"mined top-9 over {len(paths)} images, {units} units: same images {same_set / units * 100:.1f} %, same "
          f"order {same_order / units * 100:.1f} %; top-1 value: median relative change {np.median(rel) * 100:.2f} %, "
          f"max {max(rel) * 100:.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=640, help="500x375 JPEGs for part 1 (default: %(default)s)")
    parser.add_argument("--large", type=int, default=160, help="2000x1500 JPEGs for part 2 (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per mode (default: %(default)s)")
    args = parser.parse_args()
    spec = load_model("squeezenet1_1")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {os.cpu_count()} cores, "
          f"{default_workers()} reader threads; squeezenet1_1, batch {BATCH}, k=9")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = make_jpegs(Path(tmp) / "imagenet_size", args.images, (500, 375))
        print(f"== part 1: {len(paths)} JPEGs of 500x375 (made in {time.perf_counter() - t:.0f} s)")
        throughput(spec, Path(tmp) / "imagenet_size", paths, args.repeat)
        large = make_jpegs(Path(tmp) / "large", args.large, (2000, 1500), noise=8.0)
        print(f"== part 2: {len(large)} JPEGs of 2000x1500, decoded at half size for a 256 px resize")
        reduced_decoding(spec, Path(tmp) / "large", large)


if __name__ == "__main__":
    main()
