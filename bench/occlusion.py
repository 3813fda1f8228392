"""Occlusion sensitivity: batched + incremental forwards vs one occluder per forward pass.

The claim (issue 5): occlusion maps come ≥ 3× faster than forwarding one occluded image at a time. Both sides
compute the same 13×13 probability map (48-px gray square, stride 16) of the default model on one photo; the
maps are checked equal. Each side is timed as the best of a few runs (the CPU is shared).

    python bench/occlusion.py [--repeats 3] [--size 48] [--stride 16]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.engine.occlusion import occluder_positions, occlusion_maps
from cnnviz_widget.engine.samples import sample_photos


def one_per_forward(ex: Explorer, x: torch.Tensor, size: int, stride: int, target: int) -> np.ndarray:
    """The plain loop: paint the square, forward one image, read the probability."""
    tops = occluder_positions(x.shape[1], size, stride)
    lefts = occluder_positions(x.shape[2], size, stride)
    out = np.zeros((len(tops), len(lefts)), dtype=np.float32)
    with torch.no_grad():
        for i, top in enumerate(tops):
            for j, left in enumerate(lefts):
                occluded = x.clone()
                occluded[:, top:top + size, left:left + size] = 0.0
                out[i, j] = torch.softmax(ex.model(occluded[None]), dim=1)[0, target]
    return out


def best_of(repeats: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--stride", type=int, default=16)
    args = parser.parse_args()

    load = os.getloadavg()[0]
    ex = Explorer(load_model())
    x = ex.prepare(sample_photos()[0].path)
    target = ex.predict(x, k=1)[0][0]
    occlusion_maps(ex, x, size=args.size, stride=args.stride, target=target)  # warm-up (allocator, kernels)
    t_ours, maps = best_of(args.repeats, lambda: occlusion_maps(ex, x, size=args.size, stride=args.stride, target=target))
    t_batched, plain = best_of(args.repeats, lambda: occlusion_maps(ex, x, size=args.size, stride=args.stride,
                                                               target=target, incremental=False))
    t_base, base = best_of(args.repeats, lambda: one_per_forward(ex, x, args.size, args.stride, target))
    n = maps.probability.size  # type: ignore[union-attr]
    diff = float(np.abs(maps.probability - base).max())  # type: ignore[union-attr]
    diff_plain = float(np.abs(plain.probability - base).max())  # type: ignore[union-attr]
    print(f"model {ex.spec.name}, {n} occluder positions ({args.size}px, stride {args.stride}), "
          f"torch threads {torch.get_num_threads()}, load average at start {load:.2f} (other processes skew "
          "both sides; compare on an idle machine)")
    print(f"ours       batched + incremental  {t_ours:7.3f} s  ({1000 * t_ours / n:.1f} ms/position)  "
          f"max |Δp| vs baseline {diff:.1e}")
    print(f"batched    (incremental=False)    {t_batched:7.3f} s  ({1000 * t_batched / n:.1f} ms/position)  "
          f"max |Δp| vs baseline {diff_plain:.1e}")
    print(f"baseline   one occluder/forward   {t_base:7.3f} s  ({1000 * t_base / n:.1f} ms/position)")
    print(f"ratio      {t_base / t_ours:.2f}x  (goal ≥ 3x; batching alone: {t_base / t_batched:.2f}x)")


if __name__ == "__main__":
    main()
