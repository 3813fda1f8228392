"""The documented rule at each kind of nonlinearity (see cnnviz_widget/engine/rules.py), the linear ops that every
rule leaves as gradient, and that nothing leaks into the model afterwards."""

import copy

import pytest
import torch
import torchvision
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, LayerError

X = torch.tensor([[[-2.0, -0.5], [0.5, 3.0]]])  # 1×2×2
K = torch.tensor([[1.0, -1.0], [1.0, -1.0]])  # the signal that reaches the activation's output
PRE = ImagePreprocess(size=2, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")


class ActNet(nn.Module):
    """x → activation → conv with kernel K (2×2 → one unit): the backward signal at the activation is K."""

    def __init__(self, act):
        super().__init__()
        self.act = act
        self.conv = nn.Conv2d(1, 1, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(K[None, None])

    def forward(self, x):
        return self.conv(self.act(x))


def local_slope(act):
    """f'(x) at X, by autograd on the bare function (independent of the rules under test)."""
    x = X.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(act(x).sum(), x)
    return g[0]


def project(act, rule):
    return Explorer(ActNet(act), preprocess=PRE).project(X, "conv", 0, (0, 0), rule=rule, seed="one")[0]


RELU_LIKE = [nn.ReLU(), nn.ReLU6(), nn.Threshold(0.0, 0.0)]
SMOOTH = [nn.GELU(), nn.SiLU(), nn.Hardswish(), nn.Mish(), nn.ELU(), nn.SELU(), nn.CELU(), nn.Softplus()]
GATES = [nn.Sigmoid(), nn.Tanh(), nn.Hardtanh(-1.0, 1.0), nn.Hardsigmoid()]


@pytest.mark.parametrize("act", RELU_LIKE + SMOOTH + GATES + [nn.LeakyReLU(0.1)], ids=lambda a: type(a).__name__)
def test_gradient_rule_is_plain_gradient(act):
    assert torch.allclose(project(act, "gradient"), K * local_slope(act))


@pytest.mark.parametrize("act", RELU_LIKE, ids=lambda a: type(a).__name__)
def test_rectifiers(act):
    # X = [[−2, −0.5], [0.5, 3]]: slope [[0,0],[1,1]]; K = [[1,−1],[1,−1]]
    assert torch.equal(project(act, "deconvnet"), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))  # relu(K)
    assert torch.equal(project(act, "guided"), torch.tensor([[0.0, 0.0], [1.0, 0.0]]))  # relu(K)·1[x>0]


def test_relu6_guided_masks_the_saturated_side():
    x = torch.tensor([[[7.0, 1.0], [1.0, 1.0]]])
    ex = Explorer(ActNet(nn.ReLU6()), preprocess=PRE)
    assert torch.equal(ex.project(x, "conv", 0, (0, 0), rule="guided", seed="one")[0],
                       torch.tensor([[0.0, 0.0], [1.0, 0.0]]))  # x=7 is past the cap: no gradient there
    assert torch.equal(ex.project(x, "conv", 0, (0, 0), rule="deconvnet", seed="one")[0],
                       torch.tensor([[1.0, 0.0], [1.0, 0.0]]))


def test_leaky_relu_applies_itself_to_the_signal():
    act = nn.LeakyReLU(0.1)
    assert torch.allclose(project(act, "deconvnet"), torch.tensor([[1.0, -0.1], [1.0, -0.1]]))
    assert torch.allclose(project(act, "guided"), torch.tensor([[0.1, 0.0], [1.0, 0.0]]))


def test_prelu_like_leaky():
    act = nn.PReLU(init=0.25)
    assert torch.allclose(project(act, "deconvnet"), torch.tensor([[1.0, -0.25], [1.0, -0.25]]))
    assert torch.allclose(project(act, "guided"), torch.tensor([[0.25, 0.0], [1.0, 0.0]]))


@pytest.mark.parametrize("act", SMOOTH, ids=lambda a: type(a).__name__)
def test_smooth_rectifiers(act):
    slope = local_slope(act)
    assert torch.equal(project(act, "deconvnet"), torch.relu(K))
    assert torch.allclose(project(act, "guided"), torch.relu(K) * slope.clamp(min=0))


@pytest.mark.parametrize("act", GATES, ids=lambda a: type(a).__name__)
def test_gates_keep_the_gradient_under_every_rule(act):
    expected = K * local_slope(act)
    for rule in ("deconvnet", "guided"):
        assert torch.allclose(project(act, rule), expected)


class LinearOps(nn.Module):
    """BatchNorm, residual add, concat, average pooling, dropout and a linear layer — no rectifier anywhere."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.branch = nn.Conv2d(4, 4, 1)
        self.pool = nn.AvgPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8 * 4 * 4, 5)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-1, 1)
            self.bn.running_var.uniform_(0.5, 2)

    def forward(self, x):
        y = self.bn(self.conv(x))
        y = y + self.branch(y)
        y = torch.cat([y, self.branch(y)], dim=1)
        return self.fc(self.drop(self.pool(y)).flatten(1))


def test_linear_ops_are_gradient_under_every_rule_and_dropout_is_off():
    net = LinearOps()
    net.train()  # the explorer evaluates in eval mode and restores the flags afterwards
    ex = Explorer(net, preprocess=ImagePreprocess(size=8, resize=None))
    x = torch.randn(3, 8, 8)
    results = {rule: ex.project(x, "fc", 2, None, rule=rule, seed="one") for rule in ("gradient", "deconvnet", "guided")}
    assert net.training and net.drop.training
    assert torch.equal(results["gradient"], results["deconvnet"])
    assert torch.equal(results["gradient"], results["guided"])
    # and it is the true eval-mode gradient of fc's unit 2
    net.eval()
    xg = x[None].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(xg)[0, 2], xg)
    assert torch.allclose(results["gradient"], g[0], atol=1e-6)


def test_avg_pool_spreads_the_signal_evenly():
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.AvgPool2d(2))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    ex = Explorer(net, preprocess=ImagePreprocess(size=4, resize=None, mean=(0.0,), std=(1.0,), channel_order="L"))
    p = ex.project(torch.ones(1, 4, 4), "1", 0, (1, 0), rule="deconvnet", seed="one")
    expected = torch.zeros(1, 4, 4)
    expected[0, 2:4, 0:2] = 0.25
    assert torch.equal(p, expected)


@pytest.mark.parametrize("rule", ["deconvnet", "guided", "gradient"])
def test_inplace_and_not_inplace_relu_agree_on_alexnet(rule):
    torch.manual_seed(0)
    inplace = torchvision.models.alexnet().eval()
    plain = copy.deepcopy(inplace)
    for m in plain.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    x = torch.randn(3, 224, 224)
    a, b = Explorer(inplace), Explorer(plain)
    for layer, channel in (("features.4", 3), ("features.11", 17)):
        pa = a.project(x, layer, channel, "max", rule=rule)
        pb = b.project(x, layer, channel, "max", rule=rule)
        assert pa.abs().sum() > 0
        assert torch.allclose(pa, pb, atol=1e-6)


class Block(nn.Module):
    def __init__(self, form):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.c2 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.relu_b = nn.ReLU()
        self.form = form

    def forward(self, x):
        if self.form == "reused":  # one module called twice, as torchvision's ResNet does
            return self.relu(self.c2(self.relu(self.c1(x))) + x)
        if self.form == "separate":
            return self.relu_b(self.c2(torch.relu(self.c1(x))) + x)
        return torch.nn.functional.relu(self.c2(self.c1(x).relu_()) + x)


class Stem(nn.Module):
    def __init__(self, form):
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.block = Block(form)

    def forward(self, x):
        return self.block(torch.relu(self.conv(x)))


@pytest.mark.parametrize("rule", ["deconvnet", "guided"])
def test_reused_module_relu_functional_and_inplace_give_identical_projections(rule):
    x = torch.randn(3, 12, 12)
    pre = ImagePreprocess(size=12, resize=None)
    results = [Explorer(Stem(form), preprocess=pre).project(x, "block", 1, "max", rule=rule)
               for form in ("reused", "separate", "functional")]
    assert results[0].abs().sum() > 0
    assert torch.allclose(results[0], results[1], atol=1e-6)
    assert torch.allclose(results[0], results[2], atol=1e-6)


def test_reused_relu_calls_are_separate_layers():
    ex = Explorer(Stem("reused"), preprocess=ImagePreprocess(size=12, resize=None))
    # call 0 of block.relu is listed under its own name; call 1 is the block's output and goes by "block"
    assert "block.relu#0" in ex.layer_names
    assert "block.relu#1" not in ex.layer_names
    assert "block" in ex.layer_names


def _hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_nothing_leaks_into_the_model():
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        before = model(x)
    ex = Explorer(model)
    for rule in ("deconvnet", "guided", "gradient"):
        ex.project(x[0], "layer2.0", 5, "max", rule=rule)
        ex.project(x[0], "layer1.0.relu#0", 3, (10, 10), rule=rule)
    with pytest.raises(LayerError):
        ex.project(x[0], "layer2.0", 999, "max")
    assert _hooks(model) == 0
    assert torch._C._len_torch_dispatch_stack() == 0
    with torch.no_grad():
        after = model(x)
    assert torch.equal(before, after)
    # and a normal backward is an ordinary gradient again
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xg)[0, 0], xg)
    assert (g < 0).any()


def test_hooks_are_removed_when_the_forward_fails():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3)
            self.armed = False

        def forward(self, x):
            y = self.conv(x)
            if self.armed:
                raise RuntimeError("boom")
            return y.mean((2, 3))

    net = Fails()
    ex = Explorer(net, preprocess=ImagePreprocess(size=8, resize=None))
    net.armed = True
    with pytest.raises(RuntimeError, match="boom"):
        ex.predict(torch.zeros(3, 8, 8))
    assert _hooks(net) == 0
