"""The activation grid's scale: does the share of lit tiles follow the share of units that fire? (issue 9, item 3)

For every layer of the default model and every sample photo, the atlas is encoded twice — with the old rule (one
scale per layer = its largest value, linear: ``percentile=100, gamma=1``) and with the current one
(``encode.ATLAS_PERCENTILE``, ``encode.ATLAS_GAMMA``) — and read back from its PNG as the front end paints it:

* a unit **fires** when its peak on the image is above 0 (the atlas's ``max`` statistic);
* a tile is **lit** when its brightest code is at least ``LIT`` of full brightness above the code of zero
  (unsigned: ``code ≥ 64``; signed: ``code − 128 ≥ 32``) — visibly not black on a 30–40 px tile. ``STRICT``
  (half brightness) is printed as well.

Printed per layer (shares averaged over the photos): firing, lit before, lit after; then the worst and the mean gap
(firing − lit) over the unsigned layers (the ones after a ReLU: what a grid of "how strongly each unit fires" shows),
as ``baseline`` (old rule), ``ours`` (current rule) and their ``ratio``. No timing: the figures are exact for the
photos installed. Run: .venv/bin/python bench/atlas_lit_share.py [--photos N]
"""

from __future__ import annotations

import argparse
import io

import numpy as np
import torch
from PIL import Image

from cnnviz_widget import encode
from cnnviz_widget.engine import Explorer, load_image, load_model
from cnnviz_widget.engine.model.samples import sample_photos

LIT = 0.25
STRICT = 0.5
RULES = {"before": {"percentile": 100.0, "gamma": 1.0},
         "after": {"percentile": encode.ATLAS_PERCENTILE, "gamma": encode.ATLAS_GAMMA}}


def brightness(atlas: encode.Atlas) -> np.ndarray:
    """Each tile's brightest code as a fraction of full brightness above zero (what the page paints)."""
    sheet = np.asarray(Image.open(io.BytesIO(atlas.png)), dtype=np.int32)
    th, tw = atlas.tile
    peaks = np.array([sheet[(i // atlas.cols) * th:(i // atlas.cols + 1) * th,
                            (i % atlas.cols) * tw:(i % atlas.cols + 1) * tw].max() for i in range(atlas.count)])
    if atlas.signed:
        return np.maximum(peaks - encode.SIGNED_ZERO, 0) / (255 - encode.SIGNED_ZERO)
    return peaks / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=0, help="use only the first N sample photos (0: all)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    ex = Explorer(load_model())
    photos = list(sample_photos())[:args.photos or None]
    names = ex.layer_names
    rows: dict[str, dict[str, list[float]]] = {n: {"fire": [], "signed": []} for n in names}
    for photo in photos:
        acts = ex.activations(ex.prepare(load_image(photo.path)), names)
        for name in names:
            row = rows[name]
            for rule, options in RULES.items():
                atlas = encode.activation_atlas(acts[name], **options)
                light = brightness(atlas)
                row.setdefault(rule, []).append(float((light >= LIT).mean()))
                row.setdefault(rule + "_strict", []).append(float((light >= STRICT).mean()))
            row["fire"].append(float((atlas.stats[:, 1] > 0).mean()))
            row["signed"].append(float(atlas.signed))
    print(f"default model {ex.spec.name}, {len(photos)} photos; lit: brightest code ≥ {LIT:.0%} of full "
          f"(strict: ≥ {STRICT:.0%}); after: percentile {encode.ATLAS_PERCENTILE:g}, gamma {encode.ATLAS_GAMMA:g}")
    print(f"{'layer':34s} signed  firing   lit before  after   strict before  after")
    gaps: dict[str, list[float]] = {"before": [], "after": [], "before_strict": [], "after_strict": []}
    for name in names:
        row = {k: float(np.mean(v)) for k, v in rows[name].items()}
        signed = row["signed"] > 0
        print(f"{name:34s} {'yes' if signed else 'no':6s} {row['fire']:6.0%}   {row['before']:9.0%} "
              f"{row['after']:6.0%}   {row['before_strict']:12.0%} {row['after_strict']:6.0%}")
        if not signed:
            for key in gaps:
                gaps[key].append(row["fire"] - row[key])
    for suffix, label in (("", f"lit ≥ {LIT:.0%}"), ("_strict", f"lit ≥ {STRICT:.0%}")):
        before, after = np.array(gaps["before" + suffix]), np.array(gaps["after" + suffix])
        print(f"unsigned layers, {label}: worst gap (firing − lit)  baseline {before.max():.2f}  ours "
              f"{after.max():.2f}  ratio {before.max() / max(after.max(), 1e-9):.1f}")
        print(f"unsigned layers, {label}: mean gap                  baseline {before.mean():.2f}  ours "
              f"{after.mean():.2f}  ratio {before.mean() / max(after.mean(), 1e-9):.1f}")


if __name__ == "__main__":
    main()
