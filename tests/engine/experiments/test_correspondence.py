"""Correspondence (Table 1) on an identity net, where every number can be counted by hand.

The net's layer is a 1×1 convolution with weight 1 on a 1×8×8 input (``x = v/255``): its feature-difference vector
for a mask is the masked pixels' values (fill 0), so ``sign(ε)`` is +1 on the masked pixels of positive value and 0
elsewhere. Two masks then disagree on exactly the pixels covered by one and not the other."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess
from cnnviz_widget.engine.experiments.correspondence import correspondence_analysis

GRAY8 = ImagePreprocess(size=8, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")


class Identity1x1(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.fc = nn.Linear(64, 2)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def _images():
    return [np.full((8, 8), 200, np.uint8), np.full((8, 8), 50, np.uint8), np.full((8, 8), 120, np.uint8)]


def test_same_part_is_consistent_and_shifted_parts_are_counted():
    ex = Explorer(Identity1x1(), preprocess=GRAY8)
    parts = {
        "eye": [(0, 0, 2, 2)] * 3,                               # the same 4 pixels in all three: distance 0
        "nose": [(0, 0, 2, 2), (0, 2, 2, 4), (0, 0, 2, 2)],      # pairs (0,1), (1,2) differ on 8 of 64 pixels
    }
    result = correspondence_analysis(ex, _images(), parts, layers=["conv"], random_trials=4, seed=1)
    assert result.parts == ["eye", "nose", "random"] and result.layers == ["conv"]
    assert result.scores["eye"]["conv"] == (0.0, 0.0)
    mean, std = result.scores["nose"]["conv"]
    assert mean == pytest.approx(np.mean([0.125, 0.0, 0.125])) and std == pytest.approx(np.std([0.125, 0.0, 0.125]))
    # The random baseline, counted from the boxes it used.
    distances = []
    for trial in result.boxes["random"]:
        masks = []
        for top, left, bottom, right in trial:
            m = np.zeros((8, 8), bool)
            m[top:bottom, left:right] = True
            masks.append(m)
        assert all(m.sum() == 4 for m in masks)  # each trial reuses one part's 2×2 boxes
        distances += [(masks[i] ^ masks[j]).mean() for i, j in ((0, 1), (0, 2), (1, 2))]
    assert result.scores["random"]["conv"][0] == pytest.approx(np.mean(distances))
    # The masked images are shown as the model saw them: the box is the mean (black here).
    assert result.masked["nose"].shape == (3, 8, 8, 3)
    assert result.masked["nose"][1, 0:2, 2:4].max() == 0 and result.masked["nose"][1, 2:, :].min() == 50
    again = correspondence_analysis(ex, _images(), parts, layers=["conv"], random_trials=4, seed=1)
    assert again.boxes["random"] == result.boxes["random"]  # seeded


def test_default_layers_and_bad_input():
    ex = Explorer(Identity1x1(), preprocess=GRAY8)
    result = correspondence_analysis(ex, _images(), {"eye": [(0, 0, 2, 2)] * 3}, random_trials=1)
    assert result.layers == ["conv"]  # the middle convolution; the penultimate layer is the conv as well
    with pytest.raises(ValueError, match="has 2 boxes for 3 images — give one box per image"):
        correspondence_analysis(ex, _images(), {"eye": [(0, 0, 2, 2)] * 2})
    with pytest.raises(ValueError, match=r"box \(0, 0, 9, 2\) is not inside the 8×8 model input"):
        correspondence_analysis(ex, _images(), {"eye": [(0, 0, 9, 2)] * 3})
    with pytest.raises(ValueError, match="at least two"):
        correspondence_analysis(ex, _images()[:1], {"eye": [(0, 0, 2, 2)]})
