"""Mining the top-9 exemplars of every conv layer vs a bare forward pass of the same model over the same batches.

SqueezeNet 1.1 (the offline ImageNet weights), 26 conv layers (3,944 units), k = 9, batches of 32 preprocessed
photos (the demo pool, cut into distinct crops). The baseline is ``model(batch)`` under ``torch.no_grad()``; ours is
``mine(...)`` over the same tensors in the same batches (reading, hooks, per-unit maxima, top-k tables, histograms).
Mining runs channels-last (see engine/capture.py), so the goal is judged against the same forward in that layout;
the forward as given (NCHW) is printed too. Times alternate and the best of a few runs is kept.
Goal: ours >= 0.90x the forward throughput. Run: .venv/bin/python bench/mining_throughput.py
"""

from __future__ import annotations

import time

import torch

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.engine.exemplars.datasets import open_dataset
from cnnviz_widget.engine.exemplars.mining import mine
from cnnviz_widget.engine.model.samples import sample_photos

N_IMAGES = 512
BATCH = 32
REPEAT = 3


def photo_batches(spec, n):
    """``n`` distinct preprocessed inputs: the demo photos, each also cut at a few offsets and mirrored."""
    from PIL import ImageOps

    photos = [spec.preprocess.geometry(p.path) for p in sample_photos()]
    xs = []
    shift = 0
    while len(xs) < n:
        for photo in photos:
            w, h = photo.size
            crop = photo.crop((shift, shift, w - 8 + shift, h - 8 + shift))
            xs.append(spec.preprocess(ImageOps.mirror(crop) if (shift // 2) % 2 else crop))
            if len(xs) == n:
                break
        shift += 2
    return xs


def main() -> None:
    spec = load_model("squeezenet1_1")
    ex = Explorer(spec)
    layers = [info.name for info in ex.layers if info.kind == "conv"]
    xs = photo_batches(spec, N_IMAGES)
    data = open_dataset(xs, preprocessed=True)
    batches = [torch.stack(xs[i:i + BATCH]) for i in range(0, N_IMAGES, BATCH)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; squeezenet1_1, {len(layers)} conv "
          f"layers ({sum(ex.layer(n).channels for n in layers)} units), {N_IMAGES} images, batch {BATCH}, k=9")

    def forward():
        with torch.no_grad():
            for b in batches:
                spec.model(b)

    # The same forward in the channels-last layout that mining runs in (engine/capture.py: fast_layout): the
    # fair baseline for the overhead of mining itself.
    batches_cl = [b.contiguous(memory_format=torch.channels_last) for b in batches]

    def forward_cl():
        with torch.no_grad():
            for b in batches_cl:
                spec.model(b)

    def mining():
        return mine(ex, data, layers=layers, k=9, batch_size=BATCH, bar=False)

    forward()  # warm-up
    forward_cl()
    mining()
    fwd, fwd_cl, ours = [], [], []
    for _ in range(REPEAT):
        t = time.perf_counter()
        forward()
        fwd.append(time.perf_counter() - t)
        t = time.perf_counter()
        forward_cl()
        fwd_cl.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = mining()
        ours.append(time.perf_counter() - t)
    assert result.images == N_IMAGES
    f, fc, o = N_IMAGES / min(fwd), N_IMAGES / min(fwd_cl), N_IMAGES / min(ours)
    print(f"baseline  bare forward, as given (NCHW)     {f:7.1f} images/s")
    print(f"baseline  bare forward, channels-last       {fc:7.1f} images/s")
    print(f"ours      mining all convs (channels-last)  {o:7.1f} images/s")
    print(f"ratio     {o / fc:.3f}x the channels-last forward (goal >= 0.90x); {o / f:.3f}x the forward as given")


if __name__ == "__main__":
    main()
