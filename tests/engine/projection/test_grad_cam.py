"""Grad-CAM and guided Grad-CAM: a hand-set net whose maps were worked out on paper, equality with Captum's
``LayerGradCam`` / ``GuidedGradCam`` (an independent implementation) on small nets of every kind we claim, the
batched list against one call per class, and the errors."""

import pytest
import torch
import torch.nn.functional as F
from captum.attr import GuidedGradCam, LayerGradCam
from handset_nets import CamNet
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, load_model
from cnnviz_widget.engine.model.capture import fast_layout, run_to
from cnnviz_widget.errors import CNNVizError, LayerError, ModelError

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning")


PRE = ImagePreprocess(size=3, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")
X = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]])
CAM_RELU = [[[0.0, 2.5], [0.0, 0.0]], [[0.5, 0.0], [0.0, 1.0]]]
COUNTER_RELU = [[[0.0, 0.0], [0.0, 0.5]], [[0.0, 1.25], [0.0, 0.0]]]
CAM_CONV = [[[0.25, 2.125], [0.25, 0.0]], [[0.125, 0.0], [0.0, 0.375]]]
UP_RELU_0 = [[0.0, 1.25, 2.5], [0.0, 0.625, 1.25], [0.0, 0.0, 0.0]]
GUIDED_GRAD_CAM = [[[[0.0, 0.625, 0.0], [0.0, 0.625, 0.625], [0.0, 0.0, 0.0]]],
                   [[[0.0, 0.125, 0.0], [-0.125, 0.0, 0.25], [0.0, -0.25, 0.0]]]]


@pytest.fixture(scope="module")
def camnet():
    return Explorer(CamNet(), preprocess=PRE)


def test_hand_computed_grad_cam(camnet):
    assert camnet.default_layer("grad_cam") == "relu"
    assert torch.equal(camnet.grad_cam(X, "relu", 0), torch.tensor(CAM_RELU[0]))
    assert torch.equal(camnet.grad_cam(X, "relu", [0, 1]), torch.tensor(CAM_RELU))
    assert torch.equal(camnet.grad_cam(X, None, [0, 1]), torch.tensor(CAM_RELU))  # None: the default layer
    assert torch.equal(camnet.grad_cam(X, "conv", [0, 1]), torch.tensor(CAM_CONV))
    assert torch.equal(camnet.grad_cam(X, "relu", [0, 1], counterfactual=True), torch.tensor(COUNTER_RELU))
    assert torch.equal(camnet.grad_cam(X, "relu", 0, upsample=True), torch.tensor(UP_RELU_0))


def test_hand_computed_guided_grad_cam(camnet):
    assert torch.equal(camnet.guided_grad_cam(X, "relu", [0, 1]), torch.tensor(GUIDED_GRAD_CAM))
    assert torch.equal(camnet.guided_grad_cam(X, "relu", 1), torch.tensor(GUIDED_GRAD_CAM[1]))


def test_the_model_is_left_as_it_was():
    net = CamNet().double().train()
    ex = Explorer(net, preprocess=PRE)
    x = X.double()
    before = net(x[None]).detach().clone()
    cam = ex.grad_cam(x, "conv", [0, 1])
    guided = ex.guided_grad_cam(x, "relu", 0)
    # float64 model: computed in its dtype, returned as CPU float32 — the hand numbers are exact in both
    assert cam.dtype == torch.float32 and torch.equal(cam, torch.tensor(CAM_CONV))
    assert torch.equal(guided, torch.tensor(GUIDED_GRAD_CAM[0]))
    assert all(m.training for m in net.modules())
    assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    assert torch.is_grad_enabled()
    assert torch.equal(net(x[None]), before)


def test_grad_cam_forward_records_no_graph_below_the_layer():
    net = _seeded(lambda: Plain("inplace"))
    ex = Explorer(net, preprocess=RGB16)
    with torch.no_grad():
        captured, out = run_to(net, torch.rand(1, 3, 16, 16), [ex.layer("conv2")], stop=False, detach=False, leaf=True)
    a = captured["conv2"]
    assert a.is_leaf and a.requires_grad and out.requires_grad and torch.is_grad_enabled()
    (grad,) = torch.autograd.grad(out[0, 1], [a])
    assert grad.shape == a.shape
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        torch.autograd.grad(out[0, 1], [net.conv1.weight])  # below the layer: not recorded
    with pytest.raises(ValueError, match="exactly one layer"):
        run_to(net, torch.rand(1, 3, 16, 16), [ex.layer("conv1"), ex.layer("conv2")], detach=False, leaf=True)


class IgnoresReturn(nn.Module):
    """Applies an in-place ReLU and reads its input afterwards, ignoring what the module returned (``assign=False``)."""

    def __init__(self, assign: bool):
        super().__init__()
        self.conv, self.relu, self.fc = nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Linear(4, 3)
        self.assign = assign

    def forward(self, x):
        x = self.conv(x)
        if self.assign:
            x = self.relu(x)
        else:
            self.relu(x)
        return self.fc(x.mean((2, 3)))


def test_a_forward_that_ignores_the_layers_return_value():
    x = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(6))
    pre = ImagePreprocess(size=8, resize=None)
    ignoring, assigning = Explorer(_seeded(lambda: IgnoresReturn(False)), preprocess=pre), Explorer(
        _seeded(lambda: IgnoresReturn(True)), preprocess=pre)
    expected = assigning.grad_cam(x, "relu", [0, 1, 2])
    assert expected.abs().max() > 0
    assert torch.equal(ignoring.grad_cam(x, "relu", [0, 1, 2]), expected)
    assert torch.equal(ignoring.guided_grad_cam(x, "relu", 1), assigning.guided_grad_cam(x, "relu", 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_model_stays_on_cuda():
    spec = load_model("resnet18", weights=None, device="cuda")
    ex = Explorer(spec)
    x = torch.randn(3, 224, 224)
    cam = ex.grad_cam(x, "layer4", [1, 2, 3], upsample=True)
    guided = ex.guided_grad_cam(x, "layer3", 2)
    assert spec.device.type == "cuda" and cam.device.type == "cpu" and cam.shape == (3, 224, 224)
    assert guided.shape == (3, 224, 224) and guided.abs().max() > 0


# ------------------------------------------------------------------------------------------- against Captum
class Residual(nn.Module):
    """conv → BN → ReLU → a residual block (conv-BN-ReLU-conv-BN + identity, ReLU) → global pool → 5 classes."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.conv1, self.bn1 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.fc(self.relu2(x + y).mean(dim=(2, 3)))


class Plain(nn.Module):
    """conv → ReLU → max-pool → conv → ReLU → global pool → 5 classes; the ReLUs as modules (in-place or not) or
    as ``F.relu``."""

    def __init__(self, relu: str = "module"):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(6, 8, 3, padding=1)
        self.relu1, self.relu2 = nn.ReLU(inplace=relu == "inplace"), nn.ReLU(inplace=relu == "inplace")
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8, 5)
        self.functional = relu == "F.relu"

    def forward(self, x):
        act1, act2 = (F.relu, F.relu) if self.functional else (self.relu1, self.relu2)
        return self.fc(act2(self.conv2(self.pool(act1(self.conv1(x))))).mean(dim=(2, 3)))


def _sequential():
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def _seeded(make, seed=0):
    torch.manual_seed(seed)
    net = make()
    for m in net.modules():  # BatchNorm with running statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


RGB16 = ImagePreprocess(size=16, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
# net → (its factory, the layers compared: a ReLU, the conv before it — which an in-place ReLU then overwrites —, a
# container's name). The first layer is the one guided Grad-CAM is compared at.
NETS = {
    "sequential": (_sequential, ["4", "3"]),
    "residual": (Residual, ["relu2", "conv2", "stem"]),
    "module-relu": (lambda: Plain("module"), ["relu2", "conv2", "relu1"]),
    "inplace-relu": (lambda: Plain("inplace"), ["relu2", "conv2", "conv1"]),
    "functional-relu": (lambda: Plain("F.relu"), ["conv2", "conv1"]),
}


def _report(record_property, what: str, ours: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.detach()
    diff = float((ours - ref).abs().max())
    record_property(f"max_abs_diff[{what}]", diff)
    print(f"{what}: largest difference from Captum {diff:.3g} (largest value {float(ref.abs().max()):.3g})")
    return diff


@pytest.mark.parametrize("kind", list(NETS))
def test_grad_cam_equals_captum(kind, record_property):
    make, layers = NETS[kind]
    net = _seeded(make)
    ex = Explorer(net, preprocess=RGB16)
    x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(1))
    xb = fast_layout(net, x[None])  # the layout our forward runs in, so both see the same float rounding
    modules = dict(net.named_modules())
    classes = [0, 1, 2, 3, 4]
    for layer in layers:
        ours = ex.grad_cam(x, layer, classes)
        reference = LayerGradCam(net, modules[layer])
        ref = torch.stack([reference.attribute(xb, target=c, relu_attributions=True)[0, 0] for c in classes])
        diff = _report(record_property, f"{kind}/{layer}", ours, ref)
        assert torch.equal(ours, ref), diff
        assert ref.abs().max() > 0
        counter = ex.grad_cam(x, layer, classes, counterfactual=True)
        raw = torch.stack([reference.attribute(xb, target=c)[0, 0] for c in classes])
        assert torch.equal(counter, torch.relu(-raw))


@pytest.mark.parametrize("kind", list(NETS))
def test_guided_grad_cam_equals_captum(kind, record_property):
    make, layers = NETS[kind]
    net = _seeded(make)
    # Captum's guided backprop sees nn.ReLU modules only: for F.relu it is checked on the same weights with modules
    twin = _seeded(lambda: Plain("module")) if kind == "functional-relu" else net
    ex = Explorer(net, preprocess=RGB16)
    x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(2))
    xb = fast_layout(net, x[None])
    layer = layers[0]
    classes = [4, 0, 2]
    ours = ex.guided_grad_cam(x, layer, classes)
    reference = GuidedGradCam(twin, dict(twin.named_modules())[layer])
    ref = torch.cat([reference.attribute(xb.clone().requires_grad_(), target=c, interpolate_mode="bilinear")
                     for c in classes])
    diff = _report(record_property, f"guided {kind}/{layer}", ours, ref)
    assert torch.equal(ours, ref), diff
    assert ref.abs().max() > 0
    if kind == "functional-relu":  # on the functional net itself Captum falls back to the plain gradient
        plain = GuidedGradCam(net, dict(net.named_modules())[layer])
        assert not torch.allclose(ours[0], plain.attribute(xb.clone().requires_grad_(), target=4,
                                                           interpolate_mode="bilinear")[0])


def test_resnet18_layer4_equals_captum(record_property):
    torch.manual_seed(0)
    spec = load_model("resnet18", weights=None)
    ex = Explorer(spec)
    net = spec.model.eval()
    x = torch.randn(*spec.input_shape, generator=torch.Generator().manual_seed(3))
    xb = fast_layout(net, x[None])
    with torch.no_grad():
        top5 = net(xb)[0].topk(5).indices.tolist()
    assert ex.default_layer("grad_cam") == "layer4.1"
    ours = ex.grad_cam(x, "layer4", top5)  # the name Grad-CAM code uses: the container of the last blocks
    reference = LayerGradCam(net, net.layer4)
    ref = torch.stack([reference.attribute(xb, target=c, relu_attributions=True)[0, 0] for c in top5])
    assert ours.shape == (5, 7, 7)
    diff = _report(record_property, "resnet18/layer4", ours, ref)
    assert torch.equal(ours, ref), diff


# -------------------------------------------------------------------------------------- batched vs one by one
def test_a_list_of_classes_equals_one_call_per_class():
    net = _seeded(Residual)
    ex = Explorer(net, preprocess=RGB16)
    x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(4))
    classes = [3, 0, 3, 4, 1]
    for layer in ("relu2", "stem.1"):
        many = ex.grad_cam(x, layer, classes, upsample=True)
        assert many.shape == (5, 16, 16)
        assert all(torch.equal(many[t], ex.grad_cam(x, layer, c, upsample=True)) for t, c in enumerate(classes))
        counter = ex.grad_cam(x, layer, classes, counterfactual=True)
        assert all(torch.equal(counter[t], ex.grad_cam(x, layer, c, counterfactual=True))
                   for t, c in enumerate(classes))
    guided = ex.guided_grad_cam(x, "stem", classes)
    assert guided.shape == (5, 3, 16, 16)
    assert all(torch.equal(guided[t], ex.guided_grad_cam(x, "stem", c)) for t, c in enumerate(classes))


def test_upsampled_map_is_the_bilinear_interpolation_of_the_layer_map():
    ex = Explorer(_seeded(_sequential), preprocess=RGB16)
    x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(5))
    small = ex.grad_cam(x, "4", 2)
    assert small.shape == (8, 8)
    expected = F.interpolate(small[None, None], size=(16, 16), mode="bilinear", align_corners=False)[0, 0]
    assert torch.equal(ex.grad_cam(x, "4", 2, upsample=True), expected)


# ---------------------------------------------------------------------------------------------------- errors
def test_layer_without_a_spatial_map(camnet):
    with pytest.raises(LayerError, match=r"'fc' has no spatial map .*default 'relu'"):
        camnet.grad_cam(X, "fc", 0)
    pooled = Explorer(_seeded(_sequential), preprocess=RGB16)
    with pytest.raises(LayerError, match=r"'5' has no spatial map \(its output is 8×1×1\)"):
        pooled.guided_grad_cam(torch.zeros(3, 16, 16), "5", 0)
    with pytest.raises(LayerError, match="unknown layer 'rleu'; closest: 'relu'"):
        camnet.grad_cam(X, "rleu", 0)


@pytest.mark.parametrize("target", [2, -1, [0, 7]])
def test_class_outside_the_model(camnet, target):
    with pytest.raises(LayerError, match=r"class (2|-1|7) is outside this model's classes 0–1"):
        camnet.grad_cam(X, "relu", target)
    with pytest.raises(LayerError, match="outside this model's classes"):
        camnet.guided_grad_cam(X, "relu", target)


@pytest.mark.parametrize("target", [True, 0.5, "cat", [], [0, None]])
def test_target_that_is_not_a_class_index(camnet, target):
    with pytest.raises(LayerError, match="target must be a class index"):
        camnet.grad_cam(X, "relu", target)


def test_model_whose_output_is_not_class_scores():
    net = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Conv2d(2, 3, 1))  # a map of scores, [1, 3, 2, 2]
    ex = Explorer(net, preprocess=PRE)
    with pytest.raises(ModelError, match=r"needs class scores.*shape \(1, 3, 2, 2\).*flatten or pool"):
        ex.grad_cam(X, "1", 0)


def test_one_image_and_known_verbs_only(camnet):
    with pytest.raises(ModelError, match="takes one image, not a batch of 2"):
        camnet.grad_cam(torch.stack([X, X]), "relu", 0)
    with pytest.raises(CNNVizError, match="no default layer for 'occlusion'; verbs with one: grad_cam"):
        camnet.default_layer("occlusion")


def test_the_default_layer_is_the_last_map_before_a_class_map_head():
    """SqueezeNet's conv10 has one 13×13 map per class and is only pooled after: Grad-CAM there is class
    activation mapping (one channel per class, no counterfactual), so the default is fire9's output. A net whose
    last maps happen to be as many as its classes but feed a linear layer keeps them (CamNet: 2 maps, 2 classes)."""
    assert Explorer(load_model("squeezenet1_1", weights=None)).default_layer("grad_cam") == "features.12"
    assert Explorer(CamNet(), preprocess=PRE).default_layer("grad_cam") == "relu"
