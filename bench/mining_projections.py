"""Projections of every exemplar of a layer: batched (``Exemplars.atlas``) vs one ``Explorer.project`` call each.

SqueezeNet 1.1 (offline ImageNet weights), top-9 of every unit mined over the demo photos; then the deconvnet
projection of each of the layer's C × 9 exemplars at its recorded location, cropped to the receptive field. The
baseline calls ``ex.project(x, layer, channel, position)`` once per exemplar on the same preprocessed images; the
outputs are compared (best of 3 runs each; a batch may round a near-tie between two pooling inputs the other way, which moves that
unit's switch: such exemplars are counted). Goal: batched >= 5x faster. Run: .venv/bin/python bench/mining_projections.py
"""

from __future__ import annotations

import torch
from timing import timed

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.engine.exemplars.datasets import open_dataset
from cnnviz_widget.engine.exemplars.mining import mine
from cnnviz_widget.engine.exemplars.results import Exemplars
from cnnviz_widget.engine.model.samples import sample_photos

LAYERS = ["features.3.expand3x3", "features.7.expand3x3"]




def main() -> None:
    spec = load_model("squeezenet1_1")
    ex = Explorer(spec)
    xs = [spec.preprocess(p.path) for p in sample_photos()]
    data = open_dataset(xs, preprocessed=True)
    mined = mine(ex, data, layers=LAYERS, k=9, bar=False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; squeezenet1_1, {len(xs)} demo photos, "
          "deconvnet, top-9 of every unit")
    for layer in LAYERS:
        ours, atlas = timed(lambda layer=layer: Exemplars(mined._state, key=mined.key, explorer=ex,
                                                          dataset=data).atlas(layer), warmup=False)  # nothing remembered
        units = [e for exemplars in atlas.values() for e in exemplars]

        def baseline(units=units, layer=layer):
            return [ex.project(xs[e.index], layer, e.channel, e.position, rule="deconvnet") for e in units]

        base, full = timed(baseline, warmup=False)
        differ = 0
        for e, f in zip(units, full, strict=True):
            top, left = e.box[:2]
            t, lf, b, r = e.valid
            crop = f[:, top + t:top + b, left + lf:left + r]
            differ += float((crop - e.projection[:, t:b, lf:r]).abs().max() / crop.abs().max().clamp_min(1e-12)) > 1e-4
        print(f"{layer:22s} {len(units):5d} exemplars   ours (batched) {ours:6.2f} s   baseline (one call each) "
              f"{base:6.2f} s   ratio {base / ours:5.1f}x (goal >= 5x)   differ > 1e-4: {differ}")


if __name__ == "__main__":
    main()
