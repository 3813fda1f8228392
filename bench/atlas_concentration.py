"""The deepest layer's atlas on the 33 sample photos vs the demo pool: does one image crowd every unit's top-9?
(issue 9, item 1)

Mines the default model's last stage (``features.12``, k = 9) twice: over the sample photos alone
(``sample_photos()``, the demo set before the pool: ``baseline``) and over the demo pool (``open_dataset("demo")``:
``ours``). The **concentration** of a mined layer: the image that appears in the most units' top-9 (among the units
with any exemplar), and the share of those units whose top-9 holds it. Printed for both, with their ``ratio``; the
figures are exact for the images installed (no timing).

``--pictures DIR`` also draws the first page of the layer atlas (channels 0–15, the widget's default order) for each,
as ``DIR/atlas-before.png`` and ``DIR/atlas-after.png``: every unit's top-9 as ``encode.top9_figure`` draws it —
guided backprop, gray, the central half of the receptive field, the display notebooks/05 chose for this stage.
The README's pictures are made so: ``.venv/bin/python bench/atlas_concentration.py --pictures docs``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnviz_widget import encode
from cnnviz_widget.engine import Exemplars, Explorer, load_model, mine
from cnnviz_widget.engine.exemplars.datasets import open_dataset
from cnnviz_widget.engine.model.samples import sample_photos

LAYER = "features.12"
RULE, MODE, FRACTION = "guided", "gray", 0.5  # notebooks/05's choice for the last stages
PAGE = range(16)  # the layer atlas's first page in channel order


def concentration(result: Exemplars, layer: str) -> tuple[str, int, int]:
    """``(most frequent image, units whose top-k holds it, units with any exemplar)``; ties to the earlier image."""
    indices = result.table(layer)["indices"].numpy()
    units = indices[(indices >= 0).any(axis=1)]
    counts = Counter(int(i) for row in units for i in set(row.tolist()) if i >= 0)
    index, held = max(counts.items(), key=lambda item: (item[1], -item[0]))
    channel, rank = (int(v[0]) for v in np.nonzero(indices == index))
    return result.top(layer, channel)[rank].id, held, len(units)


def atlas_picture(result: Exemplars, explorer: Explorer, title: str, tile: int = 30) -> Image.Image:
    """The first atlas page: 16 units, 4 a row, each its channel number over its top-9 figure; ``title`` on top (two
    lines at most)."""
    order = explorer.spec.preprocess.channel_order
    figures = {}
    for channel, exemplars in result.atlas(LAYER, PAGE, rule=RULE).items():
        figures[channel] = encode.top9_figure([e.patch for e in exemplars], [e.projection for e in exemplars],
                                              mode=MODE, channel_order=order, fraction=FRACTION, tile=tile, gap=1)
    height, width = next(iter(figures.values())).shape[:2]
    font, caption, gap, margin, heading = ImageFont.load_default(size=13), 16, 14, 10, 54
    picture = Image.new("RGB", (2 * margin + 4 * width + 3 * gap, heading + 4 * (caption + height) + 3 * gap + margin),
                        "white")
    draw = ImageDraw.Draw(picture)
    draw.multiline_text((margin, margin), title, font=ImageFont.load_default(size=15), fill=(20, 20, 20), spacing=4)
    for i, (channel, figure) in enumerate(figures.items()):
        x = margin + (i % 4) * (width + gap)
        y = heading + (i // 4) * (caption + height + gap)
        draw.text((x, y), f"channel {channel}", font=font, fill=(90, 90, 90))
        picture.paste(Image.fromarray(figure), (x, y + caption))
    return picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pictures", type=Path, help="write atlas-before.png and atlas-after.png into this folder")
    args = parser.parse_args()
    explorer = Explorer(load_model())
    photos = sample_photos()
    names = {str(p.path): p.name for p in photos}  # a list of paths is mined under the paths' names
    runs = {"baseline": ("before", f"the {len(photos)} sample photos", [p.path for p in photos]),
            "ours": ("after", "the demo pool", open_dataset("demo"))}
    shares = {}
    for name, (when, words, data) in runs.items():
        result = mine(explorer, data, layers=[LAYER], k=9, bar=False)
        image, held, units = concentration(result, LAYER)
        image = names.get(image, image)
        shares[name] = held / units
        print(f"{name:8s} {100 * shares[name]:5.1f} % of {LAYER}'s units hold {image!r} in their top-9 ({held} of "
              f"{units}; {result.images} images mined: {words})")
        if args.pictures:
            title = (f"{LAYER} layer atlas, channels 0-15 · {RULE} projections, {MODE}, central half of the field\n"
                     f"mined on {words} ({result.images} images): {image} is in the top-9 of "
                     f"{100 * shares[name]:.0f} % of the units ({held} of {units})")
            path = args.pictures / f"atlas-{when}.png"
            atlas_picture(result, explorer, title).quantize(colors=256, dither=Image.Dither.NONE).save(
                path, optimize=True)
            print(f"         wrote {path} ({path.stat().st_size // 1024} KB)")
    print(f"ratio    {shares['baseline'] / shares['ours']:.1f}× less concentrated")


if __name__ == "__main__":
    main()
