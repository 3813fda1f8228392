"""Layer names users bring from Grad-CAM code and torchvision's feature extraction: a container (ResNet's
``"layer4"``, VGG's ``"features"``) selects the layer whose output it returns; a module whose output is no listed
layer gets one of its own; every verb that takes a layer name takes them."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, LayerError, load_model
from cnnviz_widget.engine import mine
from cnnviz_widget.engine.experiments.invariance import invariance_curves
from cnnviz_widget.engine.experiments.occlusion import occlusion_maps


def test_resnet18_stages():
    ex = Explorer(load_model("resnet18", weights=None))
    for k in (1, 2, 3, 4):
        assert ex.layer(f"layer{k}") is ex.layer(f"layer{k}.1")  # a stage ends with its second block
        assert f"layer{k}" not in ex.layer_names
    assert ex.layer("layer4").shape == (512, 7, 7)
    assert ex.layer("layer1.0.relu#1") is ex.layer("layer1.0")  # the ReLU that ends a block is the block's output
    shortcut = ex.layer("layer2.0.downsample")  # conv → BatchNorm: its BatchNorm's output, a layer of its own
    assert (shortcut.name, shortcut.module_name, shortcut.shape) == ("layer2.0.downsample.1", "layer2.0.downsample.1",
                                                                      (128, 28, 28))
    assert shortcut.name not in ex.layer_names and shortcut.label == "BatchNorm2d · 128×28×28"


@pytest.mark.parametrize(("name", "features", "classifier"), [("alexnet", "features.12", "classifier.6"),
                                                              ("vgg11", "features.20", "classifier.6")])
def test_features_and_classifier_of_alexnet_and_vgg(name, features, classifier):
    ex = Explorer(load_model(name, weights=None))
    assert ex.layer("features") is ex.layer(features) and ex.layer(features).kind == "pool"
    assert ex.layer("classifier") is ex.layer(classifier)


def test_densenet_block_and_features():
    # The dense block (a ModuleDict with a forward of its own) concatenates its layers: a new tensor, listed. Its
    # "features" end in a BatchNorm, whose output is the layer "features" names.
    net = torchvision.models.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2,
                                      num_classes=3)
    ex = Explorer(net, preprocess=ImagePreprocess(size=32, resize=None))
    block = ex.layer("features.denseblock2")  # 8 channels from the transition + 2 layers × growth 4, at 32/8 px
    assert (block.kind, block.shape, block.name in ex.layer_names) == ("block", (16, 4, 4), True)
    features = ex.layer("features")
    assert features is ex.layer("features.norm5") and features.name == "features.norm5"
    assert features.name not in ex.layer_names


class Wrapper(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return self.conv(x)


class Nested(nn.Module):
    """stem (conv → ReLU) → body (a Sequential holding conv → BatchNorm) → wrap (a module around a conv) → shared
    (a Sequential applied twice) → global mean → 3 classes."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)))
        self.wrap = Wrapper(nn.Conv2d(4, 5, 3, stride=2, padding=1))
        self.shared = nn.Sequential(nn.ReLU())
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        x = self.shared(self.wrap(self.body(self.stem(x))))
        return self.head(self.shared(x - 0.1).mean(dim=(2, 3)))


RGB8 = ImagePreprocess(size=8, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def nested():
    torch.manual_seed(0)
    net = Nested().eval()
    net.body[0][1].running_mean.uniform_(-0.5, 0.5)
    return Explorer(net, preprocess=RGB8)


def test_nested_module_names(nested):
    assert nested.layer_names == ["stem.0", "stem.1", "body.0.0", "wrap.conv", "shared.0#0", "shared.0#1", "head"]
    assert nested.layer("stem") is nested.layer("stem.1")
    assert nested.layer("wrap") is nested.layer("wrap.conv")
    assert nested.layer("shared#0") is nested.layer("shared.0#0") and nested.layer("shared#1") is nested.layer(
        "shared.0#1")
    body = nested.layer("body")
    assert body is nested.layer("body.0") is nested.layer("body.0.1")
    assert (body.name, body.kind, body.shape, body.index) == ("body.0.1", "block", (4, 8, 8), 3)
    with pytest.raises(LayerError, match="unknown layer 'shared'; closest: .*'shared#0'"):
        nested.layer("shared")  # called twice: which call is meant must be said
    with pytest.raises(LayerError, match="unknown layer 'stme'; closest: 'stem'"):
        nested.layer("stme")


def test_every_verb_takes_the_names(nested):
    net = nested.model
    x = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(1))
    acts = nested.activations(x, ["stem", "body", "stem.1"])
    assert list(acts) == ["stem", "body", "stem.1"] and torch.equal(acts["stem"], acts["stem.1"])
    with torch.no_grad():
        assert torch.allclose(acts["body"], net.body(net.stem(x[None]))[0], atol=1e-6)
    assert torch.equal(nested.project(x, "stem", 2, "max"), nested.project(x, "stem.1", 2, "max"))
    assert torch.equal(nested.project_batch(x[None], [(0, "wrap", 1, (1, 1))]),
                       nested.project_batch(x[None], [(0, "wrap.conv", 1, (1, 1))]))
    assert torch.equal(nested.project(x, "body", 0, None), nested.project(x, "body.0.1", 0, None))
    assert nested.receptive_field("stem", (3, 4)) == nested.receptive_field("stem.1", (3, 4))
    assert torch.equal(nested.filters("wrap"), net.wrap.conv.weight.detach())
    assert torch.equal(nested.grad_cam(x, "body", [0, 2]), nested.grad_cam(x, "body.0.1", [0, 2]))
    assert torch.equal(nested.guided_grad_cam(x, "stem", 1), nested.guided_grad_cam(x, "stem.1", 1))

    occluded = occlusion_maps(nested, x, size=4, stride=4, layer="stem", channel=0)
    assert np.array_equal(occluded.activation, occlusion_maps(nested, x, size=4, stride=4, layer="stem.1",
                                                              channel=0).activation)
    curves = invariance_curves(nested, x, transforms={"translate": [0.0, 2.0]}, layers=["body"], keep_images=False)
    assert list(curves.curves["translate"].distance) == ["body"]
    images = [np.random.default_rng(i).integers(0, 256, (8, 8, 3), dtype=np.uint8) for i in range(4)]
    mined = mine(nested, images, layers=["stem"], k=2, bar=False)
    assert mined.layer_names == ["stem.1"]
    assert [e.index for e in mined.top("stem", 0)] == [e.index for e in mined.top("stem.1", 0)]
