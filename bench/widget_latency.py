"""Widget latency in a real browser against a real kernel, on the default model.

Claim (issue 3): a click on a tile → that unit's projection painted in Chromium takes at most 2× the kernel-side
compute time of the same projection; a new image → activation grid and predictions updated, likewise. Issue 13: a
click on a class of the top-5 → its Grad-CAM and guided Grad-CAM painted, against the kernel-side time of that
answer (computed in the class panel's background thread).

How: a JupyterLab 4 server and Debian's Chromium (as in the browser tests) run a one-cell notebook
``w = CNNViz(); w``. In the page, a click is timed from ``element.click()`` to the front end's ``cnnviz:painted``
event for that very unit (after its PNGs are decoded and drawn); the kernel records how long the same request took
to compute (``w.timings``: the projection alone, and the whole answer with its encoding). Each click asks for a
channel not asked before, so no cache helps. Units are projected at their strongest location, the default. Class clicks likewise each ask for a new answer: the
five predictions at one layer, then at the layer before (``w.class_layer``, set from the kernel between rounds).

Two servers: one with Nagle's algorithm on — a stock jupyter_server leaves it on, so whenever the kernel sends a
small message less than ~40 ms after another one (ipykernel's "busy" status precedes every answer) it waits for the
browser's delayed ACK: ~40 ms on every click, whatever the widget does — and a plain ``jupyter lab`` with no flag,
which the installed package gives TCP_NODELAY on its kernel websockets (``cnnviz_widget.nodelay``, enabled by
``etc/jupyter/jupyter_server_config.d``). The first is what users had before the package enabled it; the second
shows what the widget costs without that delay. ``--server`` runs one of them only.

Issue 12: a **burst** of rapid clicks on the grid (``--burst 100`` clicks, one due every ``--gap`` ms, each on
another tile of ``BURST_LAYERS``) → the last click's projection painted, timed from when the last click was due (a
page that falls behind the clicks pays for it, as a user's queued clicks would); with how many unit cards the kernel
computed for the burst (``w.timings``), how long the page spent in the clicks' handlers and how late the last one
ran. Goal: the last click painted ≤ 0.5 s after the burst. ``--only-bursts`` skips the rest.

Run: ``.venv/bin/python bench/widget_latency.py [--clicks 20] [--images 10] [--classes 15] [--burst 100] [--gap 10]
[--server both|nagle|plain] [--only-bursts]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
import jupyter_driver

LAYERS = ("features.0", "features.4", "features.7", "features.12")
#: Layers of the click bursts: a few hundred tiles, projections cheap and dear.
BURST_LAYERS = ("features.4", "features.12")

_CLICK = """async ([channel, layer]) => {
  const root = document.querySelector('.cnnviz-root');
  const tile = root.querySelector(`[data-testid=unit-tile][data-channel="${channel}"]`);
  return await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`no projection painted for ${layer} channel ${channel} in 60 s`)), 60000);
    const on = (event) => {
      const d = event.detail;
      if (d.panel === 'unit' && d.request.channel === channel && d.request.layer === layer) {
        root.removeEventListener('cnnviz:painted', on);
        resolve({ total: performance.now() - t0, arrived: d.received - t0 });
      }
    };
    root.addEventListener('cnnviz:painted', on);
    const t0 = performance.now();
    tile.click();
  });
}"""

# A burst of clicks, click i due at `gap` × i ms (as a user's clicks arrive, whether or not the page keeps up; 0: all
# in one task), each on the next tile in `channels`. Resolves when the last click's unit card is painted, with the
# time from when the last click was due (so a page that falls behind the clicks pays for it), how late the last
# click's handler ran, the unit cards painted on the way, the time inside the clicks' handlers and the main thread's
# long tasks (> 50 ms) during the burst.
_BURST = """async ([channels, layer, gap]) => {
  const root = document.querySelector('.cnnviz-root');
  const last = channels[channels.length - 1];
  const tiles = channels.map((c) => root.querySelector(`[data-testid=unit-tile][data-channel="${c}"]`));
  let handlers = 0;
  let lag = null;
  const painted = [];
  const long = [];
  const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => long.push(e.duration)));
  observer.observe({ type: 'longtask' });
  return await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`no projection painted for ${layer} channel ${last} in 120 s`)), 120000);
    const start = performance.now();
    const due = start + gap * (tiles.length - 1);
    const on = (event) => {
      const d = event.detail;
      if (d.panel !== 'unit' || d.request.layer !== layer) return;
      painted.push(d.request.channel);
      if (d.request.channel === last && lag !== null) {
        root.removeEventListener('cnnviz:painted', on);
        observer.disconnect();
        resolve({ after: performance.now() - due, lag, handlers, painted: painted.length,
                  long: long.reduce((a, b) => a + b, 0) });
      }
    };
    root.addEventListener('cnnviz:painted', on);
    const click = (i) => {
      const t = performance.now();
      tiles[i].click();
      handlers += performance.now() - t;
      if (i === tiles.length - 1) lag = t - due;
      else if (gap > 0) setTimeout(() => click(i + 1), Math.max(0, start + gap * (i + 1) - performance.now()));
      else click(i + 1);
    };
    click(0);
  });
}"""

_CLASS = """async ([index, key]) => {
  const root = document.querySelector('.cnnviz-root');
  const item = root.querySelector(`[data-testid=prediction][data-index="${index}"]`);
  return await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`no class evidence painted for ${key} in 60 s`)), 60000);
    const on = (event) => {
      const d = event.detail;
      if (d.panel === 'class' && d.key === key) {
        root.removeEventListener('cnnviz:painted', on);
        resolve({ total: performance.now() - t0, arrived: d.received - t0 });
      }
    };
    root.addEventListener('cnnviz:painted', on);
    const t0 = performance.now();
    item.click();
  });
}"""

_IMAGE = """async (index) => {
  const root = document.querySelector('.cnnviz-root');
  const old = Number(root.querySelector('[data-testid=activation-grid]').dataset.image);
  return await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`photo ${index} was not shown in 60 s`)), 60000);
    let grid = null;
    let unit = null;
    const on = (event) => {
      const d = event.detail;
      const now = performance.now() - t0;
      if (d.panel === 'atlas' && d.image > old) grid = now;  // predictions are shown before (they come first)
      if (d.panel === 'unit' && d.request.image > old) unit = now;
      if (grid !== null && unit !== null) {
        root.removeEventListener('cnnviz:painted', on);
        resolve({ grid, all: Math.max(grid, unit) });
      }
    };
    root.addEventListener('cnnviz:painted', on);
    const t0 = performance.now();
    root.querySelector(`[data-testid=gallery-item][data-index="${index}"]`).click();
  });
}"""


# The floor under every figure above: a widget that does nothing — the page sets a trait, a Python observer copies it
# into another, the page hears of it — through the same browser, server and kernel.
_ECHO_WIDGET = r'''
import anywidget, traitlets

class Echo(anywidget.AnyWidget):
    _esm = """export default { render({ model }) {
      window.cnnvizEcho = (n) => new Promise((resolve) => {
        const t0 = performance.now();
        const on = () => {
          if (model.get("answer") === n) { model.off("change:answer", on); resolve(performance.now() - t0); }
        };
        model.on("change:answer", on);
        model.set("question", n);
        model.save_changes();
      });
    } }"""
    question = traitlets.Int(0).tag(sync=True)
    answer = traitlets.Int(0).tag(sync=True)

    @traitlets.observe("question")
    def _copy(self, change):
        self.answer = change["new"]

echo = Echo()
echo
'''


def stats(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def report(title: str, ours: list[float], ours_what: str, baseline: list[float], baseline_what: str) -> float:
    o50, o95 = stats(ours)
    b50, b95 = stats(baseline)
    print(f"== {title} ({len(ours)} samples)")
    print(f"ours      {ours_what:44s} p50 {o50:7.1f} ms   p95 {o95:7.1f} ms")
    print(f"baseline  {baseline_what:44s} p50 {b50:7.1f} ms   p95 {b95:7.1f} ms")
    print(f"ratio     {'':44s} p50 {o50 / b50:7.2f}×     p95 {o95 / b95:7.2f}×   (goal ≤ 2.0×)")
    return o50 / b50


#: How each server is started: the extension turned off for the one (as a server without the package's config),
#: no flag at all for the other.
SERVERS = {
    "nagle": ("Nagle's algorithm on: the extension turned off (jupyter_server's default, before the package enabled "
              "it)", ["--ServerApp.jpserver_extensions={'cnnviz_widget.nodelay': False}"]),
    "plain": ("a plain `jupyter lab`, no flag: TCP_NODELAY from the installed config (cnnviz_widget.nodelay)", []),
}
NODELAY_LOG = "cnnviz_widget.nodelay: TCP_NODELAY on kernel websockets"


def measure(playwright, root: Path, extra: list[str], args: argparse.Namespace) -> None:
    browser = jupyter_driver.launch(playwright)
    server = jupyter_driver.JupyterServer(root, extra=extra).wait()
    try:
        nodelay = NODELAY_LOG in server.log()
        print(f"server: kernel websockets {'with TCP_NODELAY' if nodelay else 'with Nagle on'}")
        if not extra and not nodelay:
            print("warning: this environment lacks etc/jupyter/jupyter_server_config.d/cnnviz_widget.nodelay.json "
                  "(installed before the package enabled it? pip install -e . again)")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        jupyter_driver.open_notebook(page, server, "bench.ipynb")
        jupyter_driver.run_all(page)
        jupyter_driver.wait_cells(page)
        page.wait_for_selector(".cnnviz-root [data-testid=unit-tile]")
        page.wait_for_function("() => typeof window.cnnvizEcho === 'function'")
        if args.burst:
            measure_bursts(page, args)
        if args.only_bursts:
            page.close()
            return
        echo = [page.evaluate("n => window.cnnvizEcho(n)", n) for n in range(1, args.clicks + 4)][3:]
        e50, e95 = stats(echo)
        print(f"== floor: a widget that does nothing (trait set in the page → Python observer → trait back), "
              f"{len(echo)} samples\n          p50 {e50:.1f} ms   p95 {e95:.1f} ms")
        for layer in LAYERS:
            jupyter_driver.kernel_exec(page, f"w.layer = {layer!r}; w.timings.clear()")
            page.wait_for_function("l => document.querySelector('.cnnviz-root [data-testid=activation-grid]')"
                                   "?.dataset.layer === l", arg=layer)
            count = page.locator(".cnnviz-root [data-testid=unit-tile]").count()
            current = int(jupyter_driver.kernel_exec(page, "print(w.channel)"))
            channels = [c for c in range(count) if c != current][: args.clicks + 3]  # each one a new request
            clicks = [page.evaluate(_CLICK, [c, layer]) for c in channels][3:]
            kernel = json.loads(jupyter_driver.kernel_exec(
                page, "import json; print(json.dumps([t for t in w.timings if t['kind'] == 'unit']))"))[3:]
            again = [page.evaluate(_CLICK, [c, layer])["total"] for c in channels[3:13]]  # answers cached
            ratio = report(f"click on a tile → projection painted, {layer}", [t["total"] for t in clicks],
                           "(Chromium: click → projection painted)", [t["project_ms"] for t in kernel],
                           "(kernel: the projection alone)")
            above = ratio - e50 / stats([t["project_ms"] for t in kernel])[0]
            print(f"          above the do-nothing widget's floor: p50 {above:.2f}× the projection")
            total, arrived, floor = (stats([t["ms"] for t in kernel]), stats([t["arrived"] for t in clicks]),
                                     stats(again))
            print(f"          kernel answer incl. encoding p50 {total[0]:.1f} / p95 {total[1]:.1f} ms; answer in the "
                  f"page p50 {arrived[0]:.1f} / p95 {arrived[1]:.1f} ms; same clicks answered from the kernel's "
                  f"cache p50 {floor[0]:.1f} / p95 {floor[1]:.1f} ms")

        measure_classes(page, args.classes)

        jupyter_driver.kernel_exec(page, "w.layer = 'features.4'; w.timings.clear()")
        photos = page.locator(".cnnviz-root [data-testid=gallery-item]").count()
        order = [i % photos for i in range(1, args.images + 3)]  # never the photo shown now (index 0)
        times = [page.evaluate(_IMAGE, i) for i in order][2:]
        kernel = json.loads(jupyter_driver.kernel_exec(
            page, "import json; print(json.dumps([t for t in w.timings if t['kind'] == 'image']))"))[2:]
        report("new image → grid and predictions updated, features.4", [t["grid"] for t in times],
               "(Chromium: click photo → grid + top-5 shown)", [t["ms"] for t in kernel],
               "(kernel: read, predict, atlas, unit)")
        report("new image → everything updated (unit card too)", [t["all"] for t in times],
               "(Chromium: click photo → unit card painted)", [t["ms"] for t in kernel],
               "(kernel: read, predict, atlas, unit)")
        page.close()
    finally:
        server.stop()
        browser.close()


def measure_bursts(page, args: argparse.Namespace) -> None:
    """Bursts of ``args.burst`` clicks, each on another tile: the last click → its projection painted."""
    for layer in BURST_LAYERS:
        jupyter_driver.kernel_exec(page, f"w.layer = {layer!r}; w.channel = 0")
        page.wait_for_function("l => document.querySelector('.cnnviz-root [data-testid=activation-grid]')"
                               "?.dataset.layer === l", arg=layer)
        count = page.locator(".cnnviz-root [data-testid=unit-tile]").count()
        runs, computed = [], []
        for burst in range(args.bursts + 1):  # the first burst warms up
            jupyter_driver.kernel_exec(page, "w.timings.clear()")
            channels = [1 + (burst * args.burst + i) % (count - 1) for i in range(args.burst)]
            result = page.evaluate(_BURST, [channels, layer, args.gap])
            kernel = json.loads(jupyter_driver.kernel_exec(
                page, "import json; print(json.dumps([t for t in w.timings if t['kind'] == 'unit']))"))
            if burst:
                runs.append(result)
                computed.append(len(kernel))
            page.wait_for_timeout(500)
        after = stats([r["after"] for r in runs])
        print(f"== burst of {args.burst} clicks ({args.gap} ms apart) on {layer}'s {count} tiles, {len(runs)} bursts")
        print(f"ours      last click → its projection painted      p50 {after[0]:7.1f} ms   max {max(r['after'] for r in runs):7.1f} ms"
              f"   (goal ≤ 500 ms)")
        print(f"          per burst: unit cards the kernel computed {computed}; painted in the page "
              f"{[r['painted'] for r in runs]}; ms in the click handlers {[round(r['handlers']) for r in runs]}; "
              f"ms of long tasks {[round(r['long']) for r in runs]}; the last click's handler ran "
              f"{[round(r['lag']) for r in runs]} ms after it was due")


def measure_classes(page, count: int) -> None:
    """Clicks on the top-5 classes, each a new answer: five at the deepest map layer, five at the one before, …"""
    info = json.loads(jupyter_driver.kernel_exec(
        page, "w.timings.clear(); import json; print(json.dumps({'image': w.picture['id'], "
              "'layers': w.class_info['layers'], 'classes': [p['index'] for p in w.picture['predictions']]}))"))
    clicks = []
    layers = iter(reversed(info["layers"]))
    while len(clicks) < count + 2:
        layer = next(layers)
        jupyter_driver.kernel_exec(page, f"w.class_target = None; w.class_layer = {layer!r}; w.wait_class_evidence()")
        for index in info["classes"]:
            key = f"{info['image']}|{index}|{layer}|false"
            clicks.append(page.evaluate(_CLASS, [index, key]))
    clicks = clicks[2:count + 2]  # two warm-up clicks
    kernel = json.loads(jupyter_driver.kernel_exec(
        page, "import json; print(json.dumps([t for t in w.timings if t['kind'] == 'class']))"))[2:count + 2]
    report("click on a class of the top-5 → Grad-CAM and guided Grad-CAM painted", [t["total"] for t in clicks],
           "(Chromium: click → class evidence painted)", [t["ms"] for t in kernel],
           "(kernel: Grad-CAM + guided Grad-CAM + encoding)")
    arrived = stats([t["arrived"] for t in clicks])
    print(f"          answer in the page p50 {arrived[0]:.1f} / p95 {arrived[1]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20, help="timed clicks per layer (after 3 warm-up clicks)")
    parser.add_argument("--images", type=int, default=10, help="timed new images (after 2 warm-up images)")
    parser.add_argument("--server", choices=("both", *SERVERS), default="both",
                        help="nagle: the extension turned off; plain: `jupyter lab` with no flag (default: both)")
    parser.add_argument("--classes", type=int, default=15, help="timed class clicks (after 2 warm-up clicks)")
    parser.add_argument("--burst", type=int, default=100, help="clicks per burst (0: no bursts)")
    parser.add_argument("--bursts", type=int, default=3, help="timed bursts per layer (after one warm-up burst)")
    parser.add_argument("--gap", type=float, default=10.0, help="ms between the clicks of a burst (0: one task)")
    parser.add_argument("--only-bursts", action="store_true", help="measure the click bursts only")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    why = jupyter_driver.missing_browser()
    if why:
        print(f"skipped: {why}")
        return 0
    import nbformat
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        root = Path(tmp)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("from cnnviz_widget import CNNViz\nw = CNNViz()\nw"),
                    nbformat.v4.new_code_cell(_ECHO_WIDGET.strip())]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "bench.ipynb")
        print(f"browser: {jupyter_driver.CHROMIUM} (headless); kernel: this machine's CPU; model: squeezenet1_1")
        for name, (title, extra) in SERVERS.items():
            if args.server in ("both", name):
                print(f"\n######## JupyterLab 4, {title}")
                measure(playwright, root, extra, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
