"""Feature evolution (Fig. 4) across hand-set checkpoints of a tiny net, on a three-image dataset.

The net is one 3×3 convolution (padding 1) → ReLU → global average → 2 classes; the input is gray, ``x = v/255``.
Two checkpoints of it:

* ``bright``: the kernel is 1 at its centre, bias 0 — the activation at a pixel is its value: the strongest unit is
  the single white pixel of image 0, at (2, 5), activation 255/255;
* ``dark``: the kernel is −1 at its centre, bias 1 — the activation is 1 − v: the strongest unit is the single
  black pixel of image 1, at (6, 1), activation 1.

Deconvnet projection of such a unit (seeded with its own activation a): the ReLU passes relu(a) = a, and the
transposed convolution spreads it with the flipped kernel — for a kernel that is ±1 at its centre, ±a at the unit's
own pixel and 0 elsewhere in its 3×3 receptive field."""

import threading

import numpy as np
import pytest
import torch
from handset_nets import TinyNet
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, ModelError
from cnnviz_widget.engine.experiments.evolution import feature_evolution
from cnnviz_widget.engine.progress import Cancelled

GRAY8 = ImagePreprocess(size=8, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")


def _checkpoint(center, bias):
    net = TinyNet()
    with torch.no_grad():
        net.conv.weight.zero_()
        net.conv.weight[0, 0, 1, 1] = center
        net.conv.bias.fill_(bias)
    return net.state_dict()


def _images():
    bright = np.full((8, 8), 100, np.uint8)
    bright[2, 5] = 255
    dark = np.full((8, 8), 100, np.uint8)
    dark[6, 1] = 0
    return [bright, dark, np.full((8, 8), 150, np.uint8)]


WHITE = float(np.float32(255) * np.float32(1 / 255))  # the preprocessing's value of a white pixel


def test_strongest_unit_patch_and_projection_at_each_checkpoint(tmp_path):
    torch.save(_checkpoint(1.0, 0.0), tmp_path / "bright.pt")
    explorer = Explorer(TinyNet(), preprocess=GRAY8)
    before = {k: v.clone() for k, v in explorer.model.state_dict().items()}
    result = feature_evolution(explorer, [tmp_path / "bright.pt", _checkpoint(-1.0, 1.0)], _images(),
                               [("conv", 0), ("relu", 0)])
    assert result.checkpoints == ["bright", "#1"]
    assert result.units == [("conv", 0), ("relu", 0)]
    np.testing.assert_allclose(result.activations, [[WHITE, 1.0], [WHITE, 1.0]], rtol=1e-6)

    bright, dark = result.cell(0, "bright"), result.cell(0, 1)
    assert (bright.index, bright.position, bright.box) == (0, (2, 5), (1, 4, 4, 7))
    assert (dark.index, dark.position, dark.box) == (1, (6, 1), (5, 0, 8, 3))
    patch = np.full((3, 3, 3), 100, np.uint8)
    patch[1, 1] = 255
    np.testing.assert_array_equal(bright.patch, patch)
    patch[1, 1] = 0
    np.testing.assert_array_equal(dark.patch, patch)
    expected = np.zeros((1, 3, 3), np.float32)
    expected[0, 1, 1] = WHITE
    np.testing.assert_allclose(np.asarray(bright.projection), expected, rtol=1e-6, atol=0)
    expected[0, 1, 1] = -1.0
    np.testing.assert_allclose(np.asarray(dark.projection), expected, rtol=1e-6, atol=0)
    # The explorer's own model is untouched; each column can be reopened as a model of its own.
    for k, v in explorer.model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert result.explorer("#1").model.conv.bias.item() == 1.0


def test_modules_and_named_checkpoints():
    explorer = Explorer(TinyNet(), preprocess=GRAY8)
    early = TinyNet()
    early.load_state_dict(_checkpoint(-1.0, 1.0))
    result = feature_evolution(explorer, {"epoch 1": early, "epoch 5": _checkpoint(1.0, 0.0)}, _images(),
                               [("conv", 0)], rule="gradient")
    assert result.checkpoints == ["epoch 1", "epoch 5"] and result.rule == "gradient"
    assert [result.cell(0, c).index for c in ("epoch 1", "epoch 5")] == [1, 0]
    # Plain gradient seeded with the activation: the same ±a at the centre here (no ReLU is inactive there).
    assert np.asarray(result.cell(0, "epoch 1").projection)[0, 1, 1] == pytest.approx(-1.0)


class OtherNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_checkpoint_of_another_architecture_names_the_keys(tmp_path):
    explorer = Explorer(TinyNet(), preprocess=GRAY8)
    torch.save(OtherNet().state_dict(), tmp_path / "other.pt")
    with pytest.raises(ModelError, match=r"checkpoint 'other': .*other.pt does not fit this architecture \(missing 2: "
                                         r"conv.bias, conv.weight; unexpected 2: features.bias, features.weight; shape "
                                         r"mismatch: fc.weight \(2, 4\) vs \(2, 1\)\)"):
        feature_evolution(explorer, [_checkpoint(1.0, 0.0), tmp_path / "other.pt"], _images(), [("conv", 0)])
    wide = {"conv.weight": torch.zeros(4, 1, 3, 3), "conv.bias": torch.zeros(4), "fc.weight": torch.zeros(2, 1),
            "fc.bias": torch.zeros(2)}
    with pytest.raises(ModelError, match=r"checkpoint '#0': .*shape mismatch: conv.bias \(4,\) vs \(1,\)"):
        feature_evolution(explorer, [wide], _images(), [("conv", 0)])
    with pytest.raises(ModelError, match="checkpoint '#0' is a float"):
        feature_evolution(explorer, [1.5], _images(), [("conv", 0)])


def test_bad_requests():
    explorer = Explorer(TinyNet(), preprocess=GRAY8)
    with pytest.raises(KeyError, match="unknown layer 'conv9'"):
        feature_evolution(explorer, [_checkpoint(1.0, 0.0)], _images(), [("conv9", 0)])
    with pytest.raises(ValueError, match="a list .or a {name: checkpoint} mapping., not a single checkpoint"):
        feature_evolution(explorer, _checkpoint(1.0, 0.0), _images(), [("conv", 0)])
    with pytest.raises(ValueError, match="no units given"):
        feature_evolution(explorer, [_checkpoint(1.0, 0.0)], _images(), [])


def test_progress_and_cancel():
    explorer = Explorer(TinyNet(), preprocess=GRAY8)
    seen = []
    feature_evolution(explorer, [_checkpoint(1.0, 0.0), _checkpoint(-1.0, 1.0)], _images(), [("conv", 0)],
                      batch_size=2, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and (3, 6) in seen
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="feature evolution was cancelled"):
        feature_evolution(explorer, [_checkpoint(1.0, 0.0)], _images(), [("conv", 0)], cancel=cancel)
