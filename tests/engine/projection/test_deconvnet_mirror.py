"""The deconvnet rule equals Zeiler & Fergus's explicit backward network, built here by hand:
unpool with the forward pass's switches → rectify → filter with the transposed weights, layer by layer."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess


class AlexLike(nn.Module):
    def __init__(self, pool_kernel=3, pool_stride=2, ceil=True):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 12, 3, padding=1)
        self.pool = dict(kernel_size=pool_kernel, stride=pool_stride, ceil_mode=ceil)
        self.pool1 = nn.MaxPool2d(**self.pool)
        self.pool2 = nn.MaxPool2d(**self.pool)
        self.relu1, self.relu2, self.relu3 = nn.ReLU(inplace=True), nn.ReLU(inplace=True), nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.relu3(self.conv3(x))


def _unpool(signal, indices, size):
    """Place each pooled value at its switch (the arg-max it came from). Overlapping windows can share a
    switch; their contributions add up."""
    n, c = signal.shape[:2]
    out = torch.zeros(n, c, size[0] * size[1], dtype=signal.dtype)
    out.scatter_add_(2, indices.flatten(2), signal.flatten(2))
    return out.view(n, c, *size)


def _conv_t(signal, conv, size):
    s, p, k = conv.stride[0], conv.padding[0], conv.kernel_size[0]
    op = size[0] - ((signal.shape[-1] - 1) * s - 2 * p + k)
    return F.conv_transpose2d(signal, conv.weight, stride=s, padding=p, output_padding=op)


def explicit_deconvnet(net, x, channel, position):
    """Zeiler & Fergus's deconvnet, written out."""
    with torch.no_grad():
        c1 = net.conv1(x)
        r1 = F.relu(c1)
        p1, i1 = F.max_pool2d(r1, return_indices=True, **net.pool)
        c2 = net.conv2(p1)
        r2 = F.relu(c2)
        p2, i2 = F.max_pool2d(r2, return_indices=True, **net.pool)
        r3 = F.relu(net.conv3(p2))
        seed = torch.zeros_like(r3)
        seed[(0, channel, *position)] = r3[(0, channel, *position)]  # keep this activation, zero the rest
        s = F.relu(seed)                                            # rectify (relu3)
        s = _conv_t(s, net.conv3, p2.shape[-2:])                   # transposed filters
        s = F.relu(_unpool(s, i2, r2.shape[-2:]))                  # unpool with switches, rectify (relu2)
        s = _conv_t(s, net.conv2, p1.shape[-2:])
        s = F.relu(_unpool(s, i1, r1.shape[-2:]))                  # unpool, rectify (relu1)
        return _conv_t(s, net.conv1, x.shape[-2:])[0]


@pytest.mark.parametrize("pool", [(3, 2, True), (2, 2, False)], ids=["overlapping-ceil", "2x2"])
def test_deconvnet_equals_explicit_mirror(pool):
    net = AlexLike(*pool).eval()
    ex = Explorer(net, preprocess=ImagePreprocess(size=45, resize=None))
    torch.manual_seed(1)
    x = torch.randn(3, 45, 45)
    acts = ex.activations(x, "relu3")["relu3"]
    checked = 0
    for channel in range(acts.shape[0]):
        flat = int(acts[channel].argmax())
        position = divmod(flat, acts.shape[-1])
        if acts[channel].max() <= 0:
            continue
        ours = ex.project(x, "relu3", channel, position, rule="deconvnet")
        ref = explicit_deconvnet(net, x[None], channel, position)
        assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-5), (channel, (ours - ref).abs().max())
        assert ref.abs().sum() > 0
        checked += 1
    assert checked >= 6


def test_non_overlapping_unpool_is_max_unpool2d():
    # Where windows do not overlap the switches are distinct, and unpooling is torch's max_unpool2d.
    torch.manual_seed(0)
    r = torch.relu(torch.randn(1, 4, 8, 8))
    pooled, idx = F.max_pool2d(r, 2, return_indices=True)
    signal = torch.randn_like(pooled)
    assert torch.equal(_unpool(signal, idx, (8, 8)), F.max_unpool2d(signal, idx, 2, output_size=(8, 8)))
