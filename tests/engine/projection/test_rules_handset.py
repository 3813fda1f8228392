"""The three backward rules on nets small enough to compute by hand. Every expected tensor below was worked out
on paper (the derivations are in the comments), not produced by the code under test."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess

PRE = ImagePreprocess(size=3, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")


def _conv(kernel):
    conv = nn.Conv2d(1, 1, len(kernel), bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(kernel, dtype=torch.float32)[None, None])
    return conv


class NetA(nn.Module):
    """x (3×3) → conv k1 → ReLU → conv k2 → one unit.

    x = [[1,2,0],[0,1,3],[2,0,1]], k1 = [[1,-1],[2,0]]  ⇒  y[i,j] = x[i,j] − x[i,j+1] + 2·x[i+1,j]
      y = [[1−2+0, 2−0+2], [0−1+4, 1−3+0]] = [[−1, 4], [3, −2]];  relu(y) = [[0, 4], [3, 0]]
    k2 = [[1,−1],[2,1]]  ⇒  z = 0 − 4 + 6 + 0 = 2.
    """

    def __init__(self, relu="module"):
        super().__init__()
        self.conv1 = _conv([[1.0, -1.0], [2.0, 0.0]])
        self.relu = nn.ReLU(inplace=(relu == "inplace"))
        self.conv2 = _conv([[1.0, -1.0], [2.0, 1.0]])
        self.kind = relu

    def forward(self, x):
        y = self.conv1(x)
        if self.kind in ("module", "inplace"):
            y = self.relu(y)
        elif self.kind == "F.relu":
            y = F.relu(y)
        elif self.kind == "torch.relu":
            y = torch.relu(y)
        elif self.kind == "Tensor.relu":
            y = y.relu()
        elif self.kind == "relu_":
            y = y.relu_()
        return self.conv2(y)


X_A = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]])

# Backward from z with seed 1: the signal reaching relu(y) is k2 = [[1,−1],[2,1]]. The ReLU mask (y > 0) is
# [[0,1],[1,0]].
#   gradient : k2 ⊙ mask          = [[0,−1],[2,0]]
#   deconvnet: relu(k2)           = [[1, 0],[2,1]]
#   guided   : relu(k2) ⊙ mask    = [[0, 0],[2,0]]
# Then conv1ᵀ: each g[i,j] adds g[i,j]·k1 to x-grad[i:i+2, j:j+2] (k1 = [[1,−1],[2,0]]):
#   gradient : −1·k1 at (0,1), 2·k1 at (1,0)          → [[0,−1,1],[2,−4,0],[4,0,0]]
#   deconvnet: 1·k1 at (0,0), 2·k1 at (1,0), 1·k1 at (1,1) → [[1,−1,0],[4,−1,−1],[4,2,0]]
#   guided   : 2·k1 at (1,0)                          → [[0,0,0],[2,−2,0],[4,0,0]]
EXPECTED_A = {
    "gradient": [[0.0, -1.0, 1.0], [2.0, -4.0, 0.0], [4.0, 0.0, 0.0]],
    "deconvnet": [[1.0, -1.0, 0.0], [4.0, -1.0, -1.0], [4.0, 2.0, 0.0]],
    "guided": [[0.0, 0.0, 0.0], [2.0, -2.0, 0.0], [4.0, 0.0, 0.0]],
}


@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_hand_computed_rules_seed_one(rule):
    ex = Explorer(NetA(), preprocess=PRE)
    p = ex.project(X_A, "conv2", channel=0, position=(0, 0), rule=rule, seed="one")
    assert torch.equal(p, torch.tensor([EXPECTED_A[rule]]))


@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_paper_seed_is_the_units_own_activation(rule):
    # The paper keeps the unit's activation (z = 2) and zeros the rest of the layer: everything doubles.
    ex = Explorer(NetA(), preprocess=PRE)
    p = ex.project(X_A, "conv2", channel=0, position=(0, 0), rule=rule)
    assert torch.equal(p, 2.0 * torch.tensor([EXPECTED_A[rule]]))


@pytest.mark.parametrize("form", ["inplace", "F.relu", "torch.relu", "Tensor.relu", "relu_"])
@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_every_form_of_relu_gets_the_rule(form, rule):
    ex = Explorer(NetA(relu=form), preprocess=PRE)
    p = ex.project(X_A, "conv2", channel=0, position=(0, 0), rule=rule, seed="one")
    assert torch.equal(p, torch.tensor([EXPECTED_A[rule]]))


class NetB(nn.Module):
    """x (4×4) → conv k1 → ReLU → max-pool 2×2 stride 1 → conv k2 → one unit: tests the switches.

    x = [[1,2,0,1],[0,1,3,1],[2,0,1,1],[1,1,0,2]], k1 = [[1,−1],[2,0]]:
      y = [[−1,4,5],[3,−2,4],[4,1,0]], relu(y) = [[0,4,5],[3,0,4],[4,1,0]]
    2×2/1 max-pool (no ties): p = [[4,5],[4,4]] with switches at (0,1), (0,2), (2,0), (1,2).
    k2 = [[1,−1],[1,1]]  ⇒  z = 4 − 5 + 4 + 4 = 7.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = _conv([[1.0, -1.0], [2.0, 0.0]])
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2, stride=1)
        self.conv2 = _conv([[1.0, -1.0], [1.0, 1.0]])

    def forward(self, x):
        return self.conv2(self.pool(self.relu(self.conv1(x))))


X_B = torch.tensor([[[1.0, 2.0, 0.0, 1.0], [0.0, 1.0, 3.0, 1.0], [2.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 2.0]]])
# Unpooling k2 through the switches: g = [[0,1,−1],[0,0,1],[1,0,0]] at relu(y).
#   deconvnet: relu(g) = [[0,1,0],[0,0,1],[1,0,0]]; conv1ᵀ adds k1 at (0,1), (1,2), (2,0).
#   gradient : g ⊙ (y > 0) = g (every switch sits on a positive y); conv1ᵀ adds k1 at (0,1), (1,2), (2,0) and −k1 at (0,2).
EXPECTED_B = {
    "deconvnet": [[0.0, 1.0, -1.0, 0.0], [0.0, 2.0, 1.0, -1.0], [1.0, -1.0, 2.0, 0.0], [2.0, 0.0, 0.0, 0.0]],
    "gradient": [[0.0, 1.0, -2.0, 1.0], [0.0, 2.0, -1.0, -1.0], [1.0, -1.0, 2.0, 0.0], [2.0, 0.0, 0.0, 0.0]],
}


@pytest.mark.parametrize("rule", ["deconvnet", "gradient"])
def test_unpooling_uses_the_switches(rule):
    ex = Explorer(NetB(), preprocess=ImagePreprocess(size=4, resize=None, mean=(0.0,), std=(1.0,), channel_order="L"))
    p = ex.project(X_B, "conv2", channel=0, position=(0, 0), rule=rule, seed="one")
    assert torch.equal(p, torch.tensor([EXPECTED_B[rule]]))
    # the paper's seed: the unit's activation z = 7
    p7 = ex.project(X_B, "conv2", channel=0, position=(0, 0), rule=rule)
    assert torch.equal(p7, 7.0 * torch.tensor([EXPECTED_B[rule]]))


def test_whole_map_seed_keeps_only_that_channel():
    # Two channels after conv1; projecting channel 1's whole map must ignore channel 0 entirely.
    net = nn.Sequential(nn.Conv2d(1, 2, 2, bias=False), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[[[5.0, 5.0], [5.0, 5.0]]], [[[1.0, 0.0], [0.0, 0.0]]]]))
    ex = Explorer(net, preprocess=PRE)
    p = ex.project(X_A, "1", channel=1, position=None, rule="deconvnet")
    # channel 1 = x[i,j] on the top-left 2×2 (all ≥ 0): seed [[1,2],[0,1]], conv1ᵀ with kernel [[1,0],[0,0]]
    # copies the seed to the top-left 2×2 of the input.
    assert torch.equal(p, torch.tensor([[[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]))
