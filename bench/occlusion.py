"""Occlusion sensitivity: batched + incremental forwards vs one occluder per forward pass.

The claim (issue 5): occlusion maps come ≥ 3× faster than forwarding one occluded image at a time. Both sides
compute the same 13×13 probability map (48-px gray square, stride 16) of the default model on one photo; the
maps are checked equal. Each side is timed as the best of a few runs, in wall-clock and in CPU time of this
process. On a shared machine other processes skew the wall-clock ratio (in either direction); with one thread
(``OMP_NUM_THREADS=1``) the CPU-time ratio is the steadiest figure.

    python bench/occlusion.py [--repeats 3] [--size 48] [--stride 16] [--model vgg11]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.engine.experiments.occlusion import occluder_positions, occlusion_maps
from cnnviz_widget.engine.model.samples import sample_photos


def one_per_forward(ex: Explorer, x: torch.Tensor, size: int, stride: int, target: int,
                    layout: torch.memory_format = torch.contiguous_format) -> np.ndarray:
    """The plain loop: paint the square, forward one image, read the probability."""
    tops = occluder_positions(x.shape[1], size, stride)
    lefts = occluder_positions(x.shape[2], size, stride)
    out = np.zeros((len(tops), len(lefts)), dtype=np.float32)
    with torch.no_grad():
        for i, top in enumerate(tops):
            for j, left in enumerate(lefts):
                occluded = x.clone()
                occluded[:, top:top + size, left:left + size] = 0.0
                batch = occluded[None].contiguous(memory_format=layout)
                out[i, j] = torch.softmax(ex.model(batch), dim=1)[0, target]
    return out


def best_of(repeats: int, fn) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Best wall-clock and best CPU time (this process, all threads) of a few runs, and the result."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--model", default="squeezenet1_1",
                        help="the default model, or a torchvision architecture (random weights: timing only)")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    ex = Explorer(load_model(args.model) if args.model == "squeezenet1_1" else load_model(args.model, weights=None))
    x = ex.prepare(sample_photos()[0].path)
    target = ex.predict(x, k=1)[0][0]
    occlusion_maps(ex, x, size=args.size, stride=args.stride, target=target)  # warm-up (allocator, kernels)
    t_ours, c_ours, maps = best_of(args.repeats, lambda: occlusion_maps(ex, x, size=args.size, stride=args.stride, target=target))
    t_batched, c_batched, plain = best_of(args.repeats, lambda: occlusion_maps(ex, x, size=args.size, stride=args.stride,
                                                               target=target, incremental=False))
    t_base, c_base, base = best_of(args.repeats, lambda: one_per_forward(ex, x, args.size, args.stride, target))
    # The engine runs CPU batches channels-last where the model allows it (engine/capture.py); the same plain loop
    # in that layout shows how much of the gain is the layout and how much the batching and incremental work.
    t_cl, c_cl, _ = best_of(args.repeats, lambda: one_per_forward(ex, x, args.size, args.stride, target,
                                                                  torch.channels_last))
    n = maps.probability.size  # type: ignore[union-attr]
    diff = float(np.abs(maps.probability - base).max())  # type: ignore[union-attr]
    diff_plain = float(np.abs(plain.probability - base).max())  # type: ignore[union-attr]
    print(f"model {ex.spec.name}, {n} occluder positions ({args.size}px, stride {args.stride}), "
          f"torch threads {torch.get_num_threads()}, load average at start {load:.2f} (other processes skew "
          "both sides; compare on an idle machine)")
    print(f"ours       batched + incremental  {t_ours:7.3f} s wall  {c_ours:7.3f} s cpu  "
          f"({1000 * t_ours / n:.1f} ms/position)  max |Δp| vs baseline {diff:.1e}")
    print(f"batched    (incremental=False)    {t_batched:7.3f} s wall  {c_batched:7.3f} s cpu  "
          f"({1000 * t_batched / n:.1f} ms/position)  max |Δp| vs baseline {diff_plain:.1e}")
    print(f"baseline   one occluder/forward   {t_base:7.3f} s wall  {c_base:7.3f} s cpu  "
          f"({1000 * t_base / n:.1f} ms/position)")
    print(f"baseline   ... in channels-last   {t_cl:7.3f} s wall  {c_cl:7.3f} s cpu  ({1000 * t_cl / n:.1f} ms/position)")
    print(f"ratio      {t_base / t_ours:.2f}x wall, {c_base / c_ours:.2f}x cpu  (goal ≥ 3x; batching alone: "
          f"{t_base / t_batched:.2f}x wall); vs the channels-last loop {t_cl / t_ours:.2f}x wall")


if __name__ == "__main__":
    main()
