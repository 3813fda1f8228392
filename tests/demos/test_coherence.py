"""Which unit to show: the coherence of a unit's top-k (``cnnviz_widget.demos.coherence``) on a hand-set net.

``Brightness``: a 1×1 convolution of a gray image with three filters — channel 0 is the brightness ``x``, channel 1
is ``1 − x``, channel 2 is ``−1`` everywhere (never fires). The images are eight flat grays, image ``i`` of
brightness ``(i + 1) · 10 / 255``, so channel 0's top 3 are images 7, 6, 5 (the brightest) and channel 1's are
images 0, 1, 2 (the darkest). With the kinds ``b c b c b a a a`` (N = 8; a: 3 images, b: 3, c: 2):

* channel 0 holds a, a, a: chance of 3 or more a's among 3 random images = C(3,3) / C(8,3) = 1/56;
* channel 1 holds b, c, b: for b, P(X ≥ 2) = (C(3,2)·C(5,1) + C(3,3)) / 56 = 16/56; for c, P(X ≥ 1) =
  1 − C(6,3)/56 = 36/56; its most unlikely kind is b, chance 16/56;
* channel 2 never fires: not scored.
"""

import math

import pytest
import torch
from PIL import Image
from torch import nn

from cnnviz_widget import ImagePreprocess, load_model
from cnnviz_widget.demos.coherence import Coherence, coherence, demo_kinds, pool_kind, shuffled, tail_chance
from cnnviz_widget.engine.exemplars.mining import mine

KINDS = ["b", "c", "b", "c", "b", "a", "a", "a"]


@pytest.fixture(scope="module")
def result():
    net = nn.Sequential(nn.Conv2d(1, 3, 1))
    with torch.no_grad():
        net[0].weight[:] = torch.tensor([1.0, -1.0, 0.0]).view(3, 1, 1, 1)
        net[0].bias[:] = torch.tensor([0.0, 1.0, -1.0])
    spec = load_model(net, preprocess=ImagePreprocess(size=8, resize=None, mean=(0.0,), std=(1.0,),
                                                      channel_order="L"))
    images = [Image.new("L", (8, 8), (i + 1) * 10) for i in range(8)]
    return mine(spec, images, k=3, bar=False)


def test_tail_chance_is_the_hypergeometric_tail():
    assert tail_chance(10, 3, 2, 2) == pytest.approx(3 / 45, rel=1e-15)  # C(3,2)·C(7,0) / C(10,2)
    assert tail_chance(10, 3, 2, 1) == pytest.approx(24 / 45, rel=1e-15)  # 1 − C(7,2) / C(10,2)
    assert tail_chance(10, 3, 2, 0) == 1.0
    assert tail_chance(10, 3, 2, 3) == 0.0  # more than drawn: impossible
    assert tail_chance(365, 35, 9, 9) == pytest.approx(math.comb(35, 9) / math.comb(365, 9), rel=1e-12)
    with pytest.raises(ValueError, match="no such draw"):
        tail_chance(5, 6, 2, 1)


def test_units_ranked_by_the_chance_of_their_commonest_unlikely_kind(result):
    layer = result.layer_names[0]
    assert [e.index for e in result.top(layer, 0)] == [7, 6, 5]
    assert [e.index for e in result.top(layer, 1)] == [0, 1, 2]
    ranked = coherence(result, layer, KINDS)
    assert [(c.channel, c.kind, c.count, c.k) for c in ranked] == [(0, "a", 3, 3), (1, "b", 2, 3)]
    assert ranked[0].chance == pytest.approx(1 / 56, rel=1e-15)
    assert ranked[1].chance == pytest.approx(16 / 56, rel=1e-15)
    assert isinstance(ranked[0], Coherence) and ranked[0].layer == layer


def test_ties_go_to_the_lower_channel(result):
    layer = result.layer_names[0]
    same = coherence(result, layer, ["x"] * 8)  # one kind: every unit holds 3 of 3, chance 1
    assert [(c.channel, c.count, c.chance) for c in same] == [(0, 3, 1.0), (1, 3, 1.0)]


def test_one_kind_per_dataset_item(result):
    with pytest.raises(ValueError, match="8 items"):
        coherence(result, result.layer_names[0], KINDS[:7])


def test_shuffled_kinds(result):
    layer = result.layer_names[0]
    trials = shuffled(result, layer, KINDS, trials=3, seed=1)
    assert len(trials) == 3 and all(sorted(c.channel for c in t) == [0, 1] for t in trials)
    assert trials == shuffled(result, layer, KINDS, trials=3, seed=1)  # seeded
    assert shuffled(result, layer, ["x"] * 8, trials=2) == [coherence(result, layer, ["x"] * 8)] * 2


def test_pool_kinds():
    assert pool_kind("animals/birds/crow.png") == "birds"
    assert pool_kind("animals/mammals/cats/lion.png") == "mammals"
    assert pool_kind("animals/frog.png") == "animals"
    assert pool_kind("vehicles/auto/sedan.png") == "vehicles"
    assert pool_kind("food/fruit/apple.png") == "food"
    assert demo_kinds(["crow · crow", "chelsea (cat)"]) == ["birds", "chelsea (cat)"]
