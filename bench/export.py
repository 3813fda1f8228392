"""The HTML export's time and size on the tour's widget: before and after issue 12.

Claim: the default export of the tour's widget — the default model with the demo set's exemplars,
``w = CNNViz(); w.mine("demo"); w.wait_exemplars(); w.to_html(path)`` — takes ≤ 10 s and makes ≤ 5 MB; and
``layers="all"`` (every unit of the layers named) got faster.

How: every run is a fresh process (no run reuses another's caches) that builds the tour's widget and times
``to_html`` alone. The baseline is the code of commit ``--before`` (default: the commit before this change), taken
with ``git archive`` into a temporary folder, the current built front end copied beside it, run the same way:

* **default export** — ours: ``w.to_html(path)`` (one layer per stage and the selected one, the units a reader
  clicks). Baseline: the old default, every unit of every layer with every unit's exemplars (18,400 units on the
  tour's widget). It is stopped after ``--cap`` seconds and its time **extrapolated** from its progress
  (``done / total`` units). Its progress counts unit cards first (the cheap ones, of the first layers) and top-9
  panels last, and leaves out the layer-atlas pages it builds afterwards: the extrapolation is a floor.
* **every unit of some layers** — ``w.to_html(path, layers=LAYERS)`` (``--layers``, default features.0, features.7
  and features.12; every unit's card and top-9, every layer-atlas page in both orders), ours and the old code's,
  each run to the end unless it passes ``--cap-all`` seconds (then extrapolated, as above).

Run: ``.venv/bin/python bench/export.py [--cap 120] [--layers features.0 features.7 features.12] [--cap-all 0]
[--before COMMIT]``. It needs git and the repository (for the baseline) and a built front end (``make js``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The commit before issue 12's export: the baseline.
BEFORE = "05b180f"


class _Capped(Exception):
    """The run passed its time cap (raised from the progress callback: the export stops and writes nothing)."""


def worker(options: dict) -> dict:
    """In a fresh process: the tour's widget, then one timed export. Prints nothing; returns the figures."""
    from cnnviz_widget import CNNViz

    start = time.perf_counter()
    w = CNNViz()
    w.mine("demo")
    w.wait_exemplars()
    built = time.perf_counter() - start
    progress = {"done": 0, "total": 0}
    cap = options.pop("cap", 0)

    def tick(done: int, total: int) -> None:
        progress.update(done=done, total=total)
        if cap and time.perf_counter() - begin > cap:
            raise _Capped

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.html"
        begin = time.perf_counter()
        try:
            w.to_html(path, progress=tick, **options)
            capped = False
        except _Capped:
            capped = True
        seconds = time.perf_counter() - begin
        size = None if capped else path.stat().st_size
    w.close()
    return {"seconds": seconds, "size": size, "capped": capped, "built": built, **progress}


def run(code: Path, options: dict) -> dict:
    """:func:`worker` in a new process importing ``cnnviz_widget`` from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(options)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def checkout(commit: str, into: Path) -> Path:
    """The package of ``commit`` in ``into`` (git archive), with the current built front end."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "cnnviz_widget"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    shutil.copytree(REPO / "cnnviz_widget" / "static", into / "cnnviz_widget" / "static", dirs_exist_ok=True)
    return into


def figure(r: dict) -> str:
    """Seconds (extrapolated when capped) and MB, in words."""
    if r["capped"]:
        total = r["seconds"] * r["total"] / max(r["done"], 1)
        return (f"≥ {total:7.0f} s   (stopped at {r['seconds']:.0f} s after {r['done']} of {r['total']} units; "
                "extrapolated, a floor)")
    return f"{r['seconds']:9.1f} s   {r['size'] / 1e6:5.1f} MB   ({r['total']} units)"


def seconds(r: dict) -> float:
    return r["seconds"] * r["total"] / max(r["done"], 1) if r["capped"] else r["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before the old default export is stopped")
    parser.add_argument("--layers", nargs="+", default=["features.0", "features.7", "features.12"],
                        help="layers of the every-unit export")
    parser.add_argument("--cap-all", type=float, default=0.0, help="seconds cap of the every-unit exports (0: none)")
    parser.add_argument("--before", default=BEFORE, help="the baseline's commit (default: %(default)s)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    sys.stdout.reconfigure(line_buffering=True)
    print(f"model: squeezenet1_1 with the demo set mined (the tour's widget); torch threads: "
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}; baseline: commit {args.before}")
    with tempfile.TemporaryDirectory() as tmp:
        before = checkout(args.before, Path(tmp))
        ours = run(REPO, {})
        print(f"== default export: w.to_html(path)   (building the widget and mining: {ours['built']:.1f} s)")
        print(f"ours      one layer per stage + the selected one, a reader's units  {figure(ours)}   "
              "(goal ≤ 10 s, ≤ 5 MB)")
        old = run(before, {"cap": args.cap})
        print(f"baseline  the old default: every unit of every layer              {figure(old)}")
        print(f"ratio     {seconds(old) / seconds(ours):.0f}× faster (a floor)")

        print(f"== every unit of {', '.join(args.layers)}: w.to_html(path, layers=[...])")
        ours = run(REPO, {"layers": args.layers, "cap": args.cap_all})
        print(f"ours      {figure(ours)}")
        old = run(before, {"layers": args.layers, "cap": args.cap_all})
        print(f"baseline  {figure(old)}")
        print(f"ratio     {seconds(old) / seconds(ours):.2f}× faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
