"""Occlusion sensitivity (Fig. 7) and the incremental forward behind it.

The hand-set nets below are small enough to work every map out on paper; the expected values are written in the
docstrings and tests, not produced by the code under test. Captum's ``Occlusion`` is the independent reference for
the class-probability map."""

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from handset_nets import SumNet
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess
from cnnviz_widget.engine.experiments.incremental import PatchedBatch
from cnnviz_widget.engine.experiments.occlusion import occluder_positions, occlusion_maps
from cnnviz_widget.engine.progress import Cancelled

GRAY4 = ImagePreprocess(size=4, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")



# 9s in the top-left block, −1s in the bottom-right block: sum 36 − 4 = 32.
X = torch.tensor([[[9.0, 9.0, 0.0, 0.0], [9.0, 9.0, 0.0, 0.0], [0.0, 0.0, -1.0, -1.0], [0.0, 0.0, -1.0, -1.0]]])


def _explorer(model, pre=GRAY4):
    return Explorer(model, preprocess=pre, labels=["yes", "no"])


def _softmax(total, k=0):
    m = torch.tensor(total, dtype=torch.float32) / 16
    return torch.softmax(torch.stack([m, -m], dim=-1), dim=-1)[..., k].numpy()


@pytest.mark.parametrize("incremental", [True, False])
def test_hand_checked_maps_of_a_summing_net(incremental):
    # 2×2 occluder, stride 2, fill 0 (the mean of this preprocessing): the four blocks.
    #   total activation = 32 − block sum: blocks 36, 0, 0, −4  →  [[−4, 32], [32, 36]]
    maps = occlusion_maps(_explorer(SumNet()), X, size=2, stride=2, layer="conv", channel=0, incremental=incremental)
    assert maps.shape == (2, 2)
    assert maps.tops.tolist() == [0, 2] and maps.lefts.tolist() == [0, 2]
    np.testing.assert_array_equal(maps.activation, np.array([[-4.0, 32.0], [32.0, 36.0]], dtype=np.float32))
    assert maps.reference_activation == 32.0
    # The unoccluded image is class 0 ("yes"); hiding the 9s flips it to class 1.
    assert maps.target == 0 and maps.target_label == "yes" and maps.reference_top_class == 0
    np.testing.assert_allclose(maps.probability, _softmax([[-4.0, 32.0], [32.0, 36.0]]), rtol=1e-6)
    assert maps.reference_probability == pytest.approx(float(_softmax(32.0)), rel=1e-6)
    assert maps.top_class.tolist() == [[1, 0], [0, 0]]
    assert maps.label(int(maps.top_class[0, 0])) == "no"
    np.testing.assert_allclose(maps.top_probability[0, 0], _softmax(-4.0, 1), rtol=1e-6)


def test_unit_position_and_chosen_class():
    # The unit at (0, 0) of the conv is x[0,0] = 9; only the top-left occluder hides it.
    maps = occlusion_maps(_explorer(SumNet()), X, size=2, stride=2, layer="conv", channel=0, position=(0, 0), target=1)
    np.testing.assert_array_equal(maps.activation, [[0.0, 9.0], [9.0, 9.0]])
    assert maps.position == (0, 0) and maps.target == 1 and maps.target_label == "no"
    np.testing.assert_allclose(maps.probability, _softmax([[-4.0, 32.0], [32.0, 36.0]], 1), rtol=1e-6)
    # "max": the strongest unit of the unoccluded image is the first 9 (arg-max takes the first).
    assert occlusion_maps(_explorer(SumNet()), X, size=2, stride=2, layer="conv", position="max").position == (0, 0)


def test_last_window_is_cut_at_the_border_and_every_pixel_is_covered():
    # size 3, stride 2 on 4 px: ceil((4 − 3) / 2) + 1 = 2 windows, at 0 and 2; the second is [2, 4), cut from [2, 5).
    assert occluder_positions(4, 3, 2).tolist() == [0, 2]
    assert occluder_positions(227, 48, 16).tolist() == list(range(0, 193, 16))
    maps = occlusion_maps(_explorer(SumNet()), X, size=3, stride=2, layer="conv", channel=0)
    assert maps.box(1, 1) == (2, 2, 4, 4) and maps.box(0, 1) == (0, 2, 3, 4)
    # [0,3)×[0,3) holds four 9s and one −1: 32 − 35 = −3; [0,3)×[2,4) holds four 0s and two −1s: 32 + 2 = 34;
    # [2,4)×[2,4) holds four −1s: 32 + 4 = 36.
    np.testing.assert_array_equal(maps.activation, [[-3.0, 34.0], [34.0, 36.0]])
    covered = maps.per_pixel(np.ones(maps.shape))
    np.testing.assert_array_equal(covered, np.ones((4, 4)))


def test_occluded_image_and_per_pixel_spread():
    maps = occlusion_maps(_explorer(SumNet()), X, size=2, stride=1, layer="conv", channel=0, fill=5.0)
    assert maps.shape == (3, 3) and maps.fill == (5.0,)
    expected = X.clone()
    expected[:, 1:3, 2:4] = 5.0
    torch.testing.assert_close(maps.occluded(1, 2), expected, rtol=0, atol=0)
    torch.testing.assert_close(maps.image, X, rtol=0, atol=0)
    # With fill 5 the 2×2 window over [1,3)×[2,4) holds 0,0,−1,−1 → total 32 − (−2) + 20 = 54.
    assert maps.activation[1, 2] == 54.0
    # Pixel (0, 0) is covered by window (0, 0) only; pixel (1, 1) by the four windows (0..1, 0..1).
    spread = maps.per_pixel(np.arange(9, dtype=np.float32).reshape(3, 3))
    assert spread[0, 0] == 0.0 and spread[1, 1] == pytest.approx((0 + 1 + 3 + 4) / 4)
    with pytest.raises(IndexError, match="outside the 3×3"):
        maps.box(3, 0)


def test_fill_is_the_preprocessing_mean():
    # Model space 0 is the mean for every ImagePreprocess; a custom preprocessing gets the image's own mean.
    ex = _explorer(SumNet())
    assert occlusion_maps(ex, X, size=2, stride=2).fill == (0.0,)
    custom = Explorer(SumNet(), preprocess=lambda image: torch.as_tensor(image, dtype=torch.float32).reshape(1, 4, 4),
                      labels=["yes", "no"], input_size=4)
    assert occlusion_maps(custom, X, size=2, stride=2).fill == (2.0,)  # 32 / 16
    caffe = Explorer(SumNet3(), preprocess=ImagePreprocess.caffe(size=8, resize=8))
    assert occlusion_maps(caffe, np.full((8, 8, 3), 200, np.uint8), size=4, stride=4).fill == (0.0, 0.0, 0.0)


class SumNet3(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


@pytest.mark.parametrize(("size", "stride", "match"), [
    (5, 1, r"occluder \(5 px\) is larger than the 4 px model input — use size ≤ 4"),
    (2, 0, "stride must be at least 1 pixel, not 0"),
    (0, 1, "occluder size must be a positive number of pixels"),
    (2, -3, "stride must be at least 1"),
])
def test_bad_occluders_are_refused_with_the_fix(size, stride, match):
    with pytest.raises(ValueError, match=match):
        occlusion_maps(_explorer(SumNet()), X, size=size, stride=stride)


def test_bad_target_layer_and_caller():
    ex = _explorer(SumNet())
    with pytest.raises(KeyError, match="target 7 is not a class of this model"):
        occlusion_maps(ex, X, size=2, stride=2, target=7)
    with pytest.raises(KeyError, match="unknown layer 'conv2'"):
        occlusion_maps(ex, X, size=2, stride=2, layer="conv2")
    with pytest.raises(KeyError, match="channel 3 is outside layer 'conv'"):
        occlusion_maps(ex, X, size=2, stride=2, layer="conv", channel=3)
    with pytest.raises(TypeError, match=r"Explorer \(Explorer\(model\)\)"):
        occlusion_maps(SumNet(), X)
    with pytest.raises(ValueError, match="fill needs 1 or 1 values"):
        occlusion_maps(ex, X, size=2, stride=2, fill=(1.0, 2.0))


def test_progress_and_cancel():
    ex = _explorer(SumNet())
    seen = []
    occlusion_maps(ex, X, size=1, stride=1, batch_size=5, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 16), (5, 16), (10, 16), (15, 16), (16, 16)]
    cancel = threading.Event()

    def stop_after_first(done, total):
        if done:
            cancel.set()

    with pytest.raises(Cancelled, match="occlusion was cancelled"):
        occlusion_maps(ex, X, size=1, stride=1, batch_size=5, progress=stop_after_first, cancel=cancel)


class SmallCNN(nn.Module):
    """Conv → in-place ReLU → max-pool (ceil mode) → conv → ReLU → global average → linear: 3 classes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, ceil_mode=True), nn.Conv2d(6, 8, 3), nn.ReLU())
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


RGB20 = ImagePreprocess(size=20, resize=None, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


@pytest.mark.parametrize(("size", "stride"), [(6, 4), (5, 5), (4, 3)])
def test_probability_map_equals_captum_occlusion(size, stride):
    from captum.attr import Occlusion

    model = SmallCNN().eval()
    ex = Explorer(model, preprocess=RGB20)
    torch.manual_seed(0)
    x = torch.randn(3, 20, 20)
    maps = occlusion_maps(ex, x, size=size, stride=stride, target=2)

    def prob(batch):
        return torch.softmax(model(batch), dim=1)

    attr = Occlusion(prob).attribute(x[None], sliding_window_shapes=(3, size, size), strides=(3, stride, stride),
                                     baselines=0.0, target=2)
    ours = maps.per_pixel(maps.reference_probability - maps.probability)
    for c in range(3):
        np.testing.assert_allclose(ours, attr[0, c].numpy(), atol=2e-7, rtol=1e-5)


class BranchyNet(nn.Module):
    """Every op kind the incremental forward splits or gives up on: strided/dilated/grouped convs, padding, eval
    BatchNorm, in-place ReLU, residual add, channel concat, ceil-mode max-pool, an in-place write into a slice, a
    per-row gate, avg-pool, flatten + linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.stem = nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)
        self.a = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.b = nn.Conv2d(8, 4, 1)
        self.c = nn.Conv2d(12, 6, 3, stride=2)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(6 * 4 * 4, 5)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        h = torch.relu_(self.bn(self.stem(x)))
        h = self.pool(h)
        h = h + self.a(h)
        h = torch.cat([h, F.relu(self.b(h))], dim=1)
        h[:, :, :1].mul_(0.5)
        gate = torch.sigmoid(h.mean(dim=(2, 3), keepdim=True))
        h = self.c(h * gate)
        return self.fc(self.avg(h).flatten(1))


@pytest.mark.parametrize("size", [3, 9, 64])
def test_incremental_forward_equals_the_plain_batch(size):
    torch.manual_seed(2)
    model = BranchyNet().eval()
    x = torch.randn(3, 64, 64)
    starts = np.minimum(np.array([(0, 0), (64 - size, 64 - size), (7, 39), (33, 2)]), 64 - size)
    patches = torch.randn(4, 3, size, size)
    batch = PatchedBatch(x[None], patches, starts)
    plain = batch.materialize()
    for k, (top, left) in enumerate(starts):
        torch.testing.assert_close(plain[k, :, top:top + size, left:left + size], patches[k], rtol=0, atol=0)
    with torch.no_grad():
        expected = model(plain)
        got = model(batch)
    assert type(got) is torch.Tensor
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_patched_batch_rejects_patches_that_do_not_fit():
    with pytest.raises(ValueError, match="do not fit a 4×4 map"):
        PatchedBatch(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3), np.array([[2, 0]]))


@pytest.mark.slow
def test_default_model_incremental_equals_plain_and_captum():
    from captum.attr import Occlusion

    from cnnviz_widget import load_model
    from cnnviz_widget.engine.model.samples import sample_photos

    ex = Explorer(load_model())
    x = ex.prepare(sample_photos()[0].path)
    maps = occlusion_maps(ex, x, size=57, stride=34, layer="features.5")
    plain = occlusion_maps(ex, x, size=57, stride=34, layer="features.5", incremental=False)
    assert maps.shape == (6, 6) and maps.target_label == "Egyptian cat"
    np.testing.assert_allclose(maps.probability, plain.probability, atol=1e-5)
    np.testing.assert_allclose(maps.activation, plain.activation, rtol=1e-5)
    assert (maps.top_class == plain.top_class).all()

    def prob(batch):
        return torch.softmax(ex.model(batch), dim=1)

    attr = Occlusion(prob).attribute(x[None], sliding_window_shapes=(3, 57, 57), strides=(3, 34, 34),
                                     baselines=0.0, target=maps.target, perturbations_per_eval=12)
    np.testing.assert_allclose(maps.per_pixel(maps.reference_probability - maps.probability), attr[0, 0].numpy(),
                               atol=1e-5)
