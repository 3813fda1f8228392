"""Receptive fields: known values for AlexNet and VGG16, and the measured gradient support on ResNet-18."""

import pytest
import torch
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, load_model


@pytest.fixture(scope="module")
def alexnet():
    return Explorer(load_model("alexnet", weights=None))


@pytest.mark.parametrize(("layer", "size"), [("features.0", 11), ("features.3", 51), ("features.6", 99),
                                             ("features.8", 131), ("features.10", 163)])
def test_alexnet_conv_fields(alexnet, layer, size):
    top, left, bottom, right = alexnet.receptive_field(layer, (6, 6))
    assert bottom - top == size and right - left == size


def test_alexnet_field_position_and_padding(alexnet):
    # conv1: kernel 11, stride 4, padding 2 → unit (0, 0) sees pixels −2…8, unit (1, 2) sees rows 2…12, cols 6…16
    assert alexnet.receptive_field("features.0", (0, 0)) == (-2, -2, 9, 9)
    assert alexnet.receptive_field("features.0", (1, 2)) == (2, 6, 13, 17)
    # the ReLU after it sees the same
    assert alexnet.receptive_field("features.1", (1, 2)) == (2, 6, 13, 17)


def test_vgg16_conv5_3():
    ex = Explorer(load_model("vgg16", weights=None))
    assert ex.layer("features.28").label.startswith("conv 3×3")
    top, left, bottom, right = ex.receptive_field("features.28", (7, 7))
    assert (bottom - top, right - left) == (196, 196)


def _support_box(ex, layer, channel, position, trials=12):
    """Bounding box of the pixels whose gradient is non-zero for at least one of several random inputs."""
    torch.manual_seed(0)
    union = None
    for _ in range(trials):
        x = torch.randn(3, *ex.spec.input_shape[1:])
        g = ex.project(x, layer, channel, position, rule="gradient", seed="one").abs().sum(0) > 0
        union = g if union is None else union | g
    rows = torch.nonzero(union.any(1)).flatten()
    cols = torch.nonzero(union.any(0)).flatten()
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


@pytest.mark.slow
@pytest.mark.parametrize(("layer", "position"), [("layer1.0", (28, 28)), ("layer2.0", (14, 13)), ("layer2.1.conv1", (9, 20))])
def test_resnet18_measured_support_matches_theory(layer, position):
    ex = Explorer(load_model("resnet18", weights=None))
    theory = ex.receptive_field(layer, position)
    measured = _support_box(ex, layer, 0, position)
    assert measured == theory


def test_fire_module_field_is_the_union_of_its_branches():
    ex = Explorer(load_model("squeezenet1_1", weights=None))
    expand1 = ex.receptive_field("features.3.expand1x1", (10, 10))
    expand3 = ex.receptive_field("features.3.expand3x3", (10, 10))
    fire = ex.receptive_field("features.3", (10, 10))
    assert fire == (min(expand1[0], expand3[0]), min(expand1[1], expand3[1]),
                    max(expand1[2], expand3[2]), max(expand1[3], expand3[3]))
    assert expand3[2] - expand3[0] == expand1[2] - expand1[0] + 2 * 4  # a 3×3 kernel at stride 4 adds 8 px


def test_global_pooling_and_linear_layers_see_everything():
    ex = Explorer(load_model("resnet18", weights=None))
    top, left, bottom, right = ex.receptive_field("fc", (0, 0))
    assert top <= 0 and left <= 0 and bottom >= 224 and right >= 224
    top, left, bottom, right = ex.receptive_field("avgpool", (0, 0))
    assert top <= 0 and bottom >= 224


def test_squeeze_excitation_makes_the_field_global():
    class SE(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.gate = nn.Linear(4, 4)

        def forward(self, x):
            y = torch.relu(self.conv(x))
            return y * torch.sigmoid(self.gate(y.mean((2, 3))))[:, :, None, None]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.se = SE()

        def forward(self, x):
            return self.se(x)

    ex = Explorer(Net(), preprocess=ImagePreprocess(size=16, resize=None))
    assert ex.receptive_field("se.conv", (5, 5)) == (4, 4, 7, 7)
    assert ex.receptive_field("se", (5, 5)) == (-1, -1, 17, 17)  # every unit is gated by the whole image


def test_data_dependent_control_flow_is_traced_not_crashed():
    class Dynamic(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3)
            self.conv2 = nn.Conv2d(4, 4, 3)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            if x.mean() > 1e9:  # data-dependent: FX tracing cannot follow this
                x = self.conv2(x)
            for _ in range(int(x.shape[-1] > 8)):
                x = self.pool(x)
            return self.conv2(x)

    ex = Explorer(Dynamic(), preprocess=ImagePreprocess(size=16, resize=None))
    assert ex.layer_names == ["conv1", "pool", "conv2"]
    assert ex.receptive_field("conv2", (0, 0)) == (0, 0, 8, 8)  # 3 + 1·1 (pool 2) + 2·2 (conv 3 at stride 2)
