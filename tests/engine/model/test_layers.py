"""Layer discovery on the architectures we claim: Sequential, residual, branching/concat, nested, functional ReLU."""

import pytest
import torch
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, load_model


@pytest.fixture(scope="module")
def squeezenet():
    return Explorer(load_model("squeezenet1_1", weights=None))


def test_sequential_alexnet():
    ex = Explorer(load_model("alexnet", weights=None))
    assert ex.layer_names == [
        "features.0", "features.1", "features.2", "features.3", "features.4", "features.5", "features.6",
        "features.7", "features.8", "features.9", "features.10", "features.11", "features.12", "avgpool",
        "classifier.1", "classifier.2", "classifier.4", "classifier.5", "classifier.6",
    ]
    conv1 = ex.layer("features.0")
    assert (conv1.kind, conv1.shape, conv1.label) == ("conv", (64, 55, 55), "conv 11×11/4 · 64×55×55")
    assert ex.layer("features.1").kind == "activation"
    assert ex.layer("features.2").label == "max-pool 3×3/2 · 64×27×27"
    assert ex.layer("classifier.6").shape == (1000,) and ex.layer("classifier.6").spatial == (1, 1)
    assert ex.first_conv.name == "features.0" and ex.filters().shape == (64, 3, 11, 11)


def test_fire_modules_are_blocks_with_their_branches(squeezenet):
    names = squeezenet.layer_names
    i = names.index("features.3")
    assert names[i - 6:i + 1] == [
        "features.3.squeeze", "features.3.squeeze_activation", "features.3.expand1x1",
        "features.3.expand1x1_activation", "features.3.expand3x3", "features.3.expand3x3_activation", "features.3",
    ]
    fire = squeezenet.layer("features.3")
    assert fire.kind == "block" and fire.shape == (128, 56, 56) and fire.label == "Fire · 128×56×56"
    assert squeezenet.layer("classifier.3").label == "global avg-pool · 1000×1×1"


def test_residual_resnet18():
    ex = Explorer(load_model("resnet18", weights=None))
    names = ex.layer_names
    assert names[:4] == ["conv1", "relu", "maxpool", "layer1.0.conv1"]
    block = names[names.index("layer1.0.conv1"):names.index("layer1.0") + 1]
    assert block == ["layer1.0.conv1", "layer1.0.relu#0", "layer1.0.conv2", "layer1.0"]
    assert ex.layer("layer2.0").shape == (128, 28, 28)
    assert "layer2.0.downsample.0" in names  # the shortcut's 1×1 conv
    assert names[-2:] == ["avgpool", "fc"]


def test_branching_googlenet_with_functional_relu():
    torch.manual_seed(0)
    ex = Explorer(load_model("googlenet", weights=None))
    assert ex.layer("inception3a").shape == (256, 28, 28)  # the concat of four branches
    assert "inception3a.branch2.1.conv" in ex.layer_names
    x = torch.randn(3, 224, 224)
    channel = int(ex.activations(x, "inception3a")["inception3a"].amax((1, 2)).argmax())
    # GoogLeNet's BasicConv2d applies F.relu(x, inplace=True): deconvnet must differ from the plain gradient there
    d = ex.project(x, "inception3a", channel, "max", rule="deconvnet")
    g = ex.project(x, "inception3a", channel, "max", rule="gradient")
    assert d.abs().sum() > 0 and not torch.allclose(d, g)


def test_nested_custom_modules():
    class Stage(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)
            self.norm = nn.BatchNorm2d(cout)

        def forward(self, x):
            return torch.relu(self.norm(self.conv(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.ModuleDict({"a": Stage(3, 8), "b": Stage(8, 16)})
            self.head = nn.Linear(16, 4)

        def forward(self, x):
            x = self.body["b"](nn.functional.max_pool2d(self.body["a"](x), 2))
            return self.head(x.mean((2, 3)))

    ex = Explorer(Net(), preprocess=ImagePreprocess(size=16, resize=None))
    assert ex.layer_names == ["body.a.conv", "body.a", "body.b.conv", "body.b", "head"]
    assert ex.layer("body.b").shape == (16, 8, 8) and ex.layer("body.b").kind == "block"


def test_grayscale_model():
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3), nn.ReLU())
    ex = Explorer(net, preprocess=ImagePreprocess(size=28, resize=None, mean=(0.1307,), std=(0.3081,), channel_order="L"))
    assert [info.shape for info in ex.layers] == [(6, 24, 24), (6, 24, 24), (6, 12, 12), (8, 10, 10), (8, 10, 10)]
    assert ex.filters().shape == (6, 1, 5, 5)
    assert ex.receptive_field("4", (0, 0)) == (0, 0, 10, 10)


def test_stages_are_the_outermost_convolutions_blocks_and_linear_layers(squeezenet):
    """The layers a tour steps through: SqueezeNet's conv1, its eight fire modules and conv10; ResNet's conv1, each
    residual block and fc; AlexNet's convolutions and linear layers. Activations and pools are never stages."""
    assert [s.name for s in squeezenet.stages] == [
        "features.0", "features.3", "features.4", "features.6", "features.7", "features.9", "features.10",
        "features.11", "features.12", "classifier.1"]
    resnet = Explorer(load_model("resnet18", weights=None))
    assert [s.name for s in resnet.stages] == [
        "conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"]
    alexnet = Explorer(load_model("alexnet", weights=None))
    assert [s.name for s in alexnet.stages] == [
        "features.0", "features.3", "features.6", "features.8", "features.10", "classifier.1", "classifier.4",
        "classifier.6"]


def test_a_stage_is_never_inside_a_block():
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(4, 4, 3, padding=1)
            self.b = nn.Conv2d(4, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.b(torch.relu(self.a(x)))) + x

    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), Block(), nn.MaxPool2d(2), Block(), nn.Flatten(),
                        nn.LazyLinear(3))
    net(torch.zeros(1, 1, 10, 10))
    ex = Explorer(net.eval(), preprocess=ImagePreprocess(size=10, resize=None, mean=(0.0,), std=(1.0,),
                                                         channel_order="L"))
    assert [(s.name, s.kind) for s in ex.stages] == [("0", "conv"), ("2", "block"), ("4", "block"), ("6", "linear")]
