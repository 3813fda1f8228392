"""The soak: mining a folder of 20,000 generated JPEGs through kills, a full disk and a damaged checkpoint.

Every run is a fresh process (``CHILD`` below: ``Miner(...).run()`` over the folder, like ``cnnviz mine``) that
reports its peak resident memory. In order:

1. an uninterrupted run into cache A — the reference ``result.pt``, its time T and peak memory;
2. the same over the first 2,000 images (a folder of links) — peak memory must stay flat: <= 1.1x;
3. into cache B: three runs killed with SIGKILL at random moments (uniform in 0.02–0.2 T after the run's first
   checkpoint, seeded); after
   the first kill the checkpoint is cut in half — the next run must say it is damaged and start over; one run
   whose 3rd checkpoint meets a full disk (``os.fsync`` raising ENOSPC) — it must stop with the error that says
   the previous checkpoint is intact, and that checkpoint must load; then a run to the end;
4. cache B's ``result.pt`` must equal cache A's byte for byte.

Prints each step and a verdict; exits 1 on a failed check. Full size takes several passes over 20,000 images (on 2
cores with SqueezeNet, roughly 4 x T). Run: .venv/bin/python bench/mining_soak.py [--images 20000] [--small 2000]
[--size 256x192] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

CHILD = r"""
import errno, json, os, resource, stat, sys, time, warnings
args = json.loads(sys.argv[1])
if args.get("full_disk_at"):
    from cnnviz_widget.engine import cache
    real, calls = os.fsync, [0]
    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode) and "progress" in os.readlink(f"/proc/self/fd/{fd}"):
            calls[0] += 1
            if calls[0] == args["full_disk_at"]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)
    cache.os.fsync = fsync
from cnnviz_widget import CNNVizError, load_model
from cnnviz_widget.engine.exemplars.mining import Miner
spec = load_model(args["model"])
t = time.perf_counter()
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        result = Miner(spec, args["data"], batch_size=args["batch_size"], cache_dir=args["cache"],
                       checkpoint_every=args["checkpoint_every"]).run(bar=False)
        out.update(images=result.images, complete=result.complete, entry=str(result.entry))
    except CNNVizError as exc:
        out["error"] = str(exc)
out.update(seconds=time.perf_counter() - t, peak_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           warnings=[str(w.message) for w in caught])
print(json.dumps(out))
"""


def make_jpegs(folder: Path, n: int, size: tuple[int, int], seed: int) -> None:
    """``n`` distinct JPEGs: a smooth colour field, a few blocks and discs, seeded."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) / max(w, h)
    for i in range(n):
        field = np.stack([128 + 90 * np.sin(rng.uniform(2, 12) * x + rng.uniform(2, 12) * y + rng.uniform(0, 6))
                          for _ in range(3)], axis=-1)
        for _ in range(3):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(8, h / 3)
            field[(y * max(w, h) - cy) ** 2 + (x * max(w, h) - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
        Image.fromarray(field.clip(0, 255).astype(np.uint8)).save(folder / f"im{i:06d}.jpg", quality=90)


def start(args: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"a mining process failed (exit {process.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def checkpoint_stamp(cache: Path) -> int | None:
    found = list(cache.glob("*/progress/rank0-of-1.pt"))
    try:
        return found[0].stat().st_mtime_ns if found else None
    except FileNotFoundError:
        return None


def checkpoint_images(cache: Path) -> int | None:
    import torch

    found = list(cache.glob("*/progress/rank0-of-1.pt"))
    if not found:
        return None
    try:
        return int(torch.load(found[0], weights_only=True)["images"])
    except Exception:  # being replaced, or damaged
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20000, help="JPEGs in the soak (default: %(default)s)")
    parser.add_argument("--small", type=int, default=2000, help="images of the memory reference (default: %(default)s)")
    parser.add_argument("--size", default="256x192", help="the JPEGs' size, WxH (default: %(default)s)")
    parser.add_argument("--model", default="squeezenet1_1", help="the model mined (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--checkpoint-every", type=float, default=5.0, help="seconds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep the images and caches here (default: a temporary folder)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    failures = []

    def check(ok: bool, what: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        folder, small = work / "jpegs", work / "jpegs_small"
        t = time.perf_counter()
        if not folder.is_dir() or len(list(folder.iterdir())) != args.images:
            make_jpegs(folder, args.images, size, args.seed)
        small.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir())[:args.small]:
            if not (small / path.name).exists():
                os.link(path, small / path.name)
        print(f"{args.images} JPEGs of {size[0]}x{size[1]} in {folder} ({time.perf_counter() - t:.0f} s); {args.model}, "
              f"batch {args.batch_size}, checkpoints every {args.checkpoint_every:g} s, {os.cpu_count()} cores")
        common = {"model": args.model, "batch_size": args.batch_size, "checkpoint_every": args.checkpoint_every}

        print("1. uninterrupted run")
        clean = finish(start({**common, "data": str(folder), "cache": str(work / "cache_a")}))
        seconds = clean["seconds"]
        print(f"  {clean['images']} images in {seconds:.0f} s ({clean['images'] / seconds:.1f} images/s), peak RSS "
              f"{clean['peak_kb'] / 1024:.0f} MB")
        check(clean.get("complete") is True and clean["images"] == args.images, "every image mined")

        print(f"2. peak memory against {args.small} images")
        few = finish(start({**common, "data": str(small), "cache": str(work / "cache_s")}))
        ratio = clean["peak_kb"] / few["peak_kb"]
        print(f"  {args.small} images: peak RSS {few['peak_kb'] / 1024:.0f} MB; {args.images}: "
              f"{clean['peak_kb'] / 1024:.0f} MB — {ratio:.3f}x")
        check(ratio <= 1.1, f"peak memory flat (<= 1.1x): {ratio:.3f}x")

        print("3. killed three times, a damaged checkpoint, a full disk, then to the end")
        rng = random.Random(args.seed)
        cache_b = work / "cache_b"
        for kill in range(3):
            before = checkpoint_stamp(cache_b)
            process = start({**common, "data": str(folder), "cache": str(cache_b)})
            while checkpoint_stamp(cache_b) == before and process.poll() is None:
                time.sleep(0.01)  # until this run has checkpointed once: then a random moment
            delay = rng.uniform(0.02, 0.2) * seconds
            time.sleep(delay)
            if process.poll() is not None:
                raise SystemExit("a run finished before it was killed: pass more --images")
            process.send_signal(signal.SIGKILL)
            process.wait()
            images = checkpoint_images(cache_b)
            print(f"  kill {kill + 1}, {delay:.1f} s after the run's first checkpoint: the checkpoint holds {images} "
                  "images")
            check(images is not None and images > 0, f"kill {kill + 1}: a whole checkpoint is on disk")
            if kill == 0:
                path = next(cache_b.glob("*/progress/rank0-of-1.pt"))
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
                print(f"  cut {path.name} in half")
                damaged = finish(start({**common, "data": str(folder), "cache": str(cache_b), "full_disk_at": 1}))
                said = any("damaged" in w for w in damaged["warnings"])
                check(said, "the damaged checkpoint is noticed: " + next(
                    (w for w in damaged["warnings"] if "damaged" in w), "no warning"))
                check(damaged.get("error", "").startswith("the disk is full") and
                      "no checkpoint had been written yet" in damaged.get("error", ""),
                      "it started over (nothing to resume from), and a full disk at its first checkpoint says so")
        before = checkpoint_images(cache_b)
        full = finish(start({**common, "data": str(folder), "cache": str(cache_b), "full_disk_at": 3}))
        after = checkpoint_images(cache_b)
        print(f"  full disk at the 3rd checkpoint: {full.get('error', 'no error')}")
        check("is intact" in full.get("error", "") and after is not None and after >= (before or 0),
              f"the previous checkpoint is intact and loads ({after} images)")
        final = finish(start({**common, "data": str(folder), "cache": str(cache_b)}))
        check(final.get("complete") is True, f"resumed to the end ({final['seconds']:.0f} s for the rest)")

        print("4. the result")
        a = (Path(clean["entry"]) / "result.pt").read_bytes()
        b = (Path(final["entry"]) / "result.pt").read_bytes()
        check(a == b, f"result.pt byte-identical to the uninterrupted run's ({len(a) / 1e6:.1f} MB)")
    print("soak: " + ("passed" if not failures else f"FAILED ({len(failures)}): " + "; ".join(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
