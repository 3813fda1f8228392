"""Peak memory of a mining pass at N and at 10 × N images (goal: the larger run needs <= 1.1x the smaller one).

SqueezeNet 1.1, every conv layer (3,944 units), k = 9, batches of 32. The images are made on demand by a torch
``Dataset`` (seeded noise, 300×260 px), so nothing but the pass itself can hold memory. Each size runs in a fresh
process that reports its own peak resident set size (``ru_maxrss``); the top-k tables and histograms are a fixed
size, the same for both. Run: .venv/bin/python bench/mining_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

SMALL = 64
CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from cnnviz_widget import load_model
from cnnviz_widget.engine.exemplars.mining import mine

class Noise(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n
    def __len__(self):
        return self.n
    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        return rng.integers(0, 256, (260, 300, 3), dtype=np.uint8), i % 10

n = int(sys.argv[1])
spec = load_model("squeezenet1_1")
t = time.perf_counter()
result = mine(spec, Noise(n), k=9, batch_size=32, bar=False)
elapsed = time.perf_counter() - t
state = sum(v.numel() * v.element_size() for table in result._tables.values() for v in table.values())
print(json.dumps({"images": result.images, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "tables_bytes": state, "seconds": elapsed}))
"""


def run(n: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    t = time.perf_counter()
    small, large = run(SMALL), run(10 * SMALL)
    assert small["images"] == SMALL and large["images"] == 10 * SMALL
    print(f"squeezenet1_1, all 26 conv layers, k=9, batch 32; tables + histograms: {small['tables_bytes'] / 1e6:.1f} MB "
          f"(same for both: {small['tables_bytes'] == large['tables_bytes']})")
    print(f"baseline  {SMALL:5d} images  peak RSS {small['peak_kb'] / 1024:7.1f} MB  ({small['seconds']:.1f} s)")
    print(f"ours      {10 * SMALL:5d} images  peak RSS {large['peak_kb'] / 1024:7.1f} MB  ({large['seconds']:.1f} s)")
    print(f"ratio     {large['peak_kb'] / small['peak_kb']:.3f}x the smaller run's peak (goal <= 1.1x); "
          f"bench took {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
