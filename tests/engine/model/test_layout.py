"""Channels-last on the CPU (engine/capture.py, fast_layout): used only where the model gives the same output that
way, invisible in what callers get back."""

import torch
from torch import nn

from cnnviz_widget import Explorer
from cnnviz_widget.engine.model import capture

CL = torch.channels_last


class Flattens(nn.Module):
    """``.view`` of a 4-D map: fails on a channels-last tensor, as many hand-written models do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).view(x.size(0), -1))


def pooling_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)).eval()


def test_a_model_that_allows_it_runs_channels_last_and_callers_get_ordinary_tensors():
    ex = Explorer(pooling_net(), input_size=8)
    x = torch.rand(2, 3, 8, 8)
    assert capture.fast_layout(ex.model, x).is_contiguous(memory_format=CL)
    single, other = x[:, :, :1, :1], x.double()
    assert capture.fast_layout(ex.model, single) is single and capture.fast_layout(ex.model, other) is other
    seen = []
    handle = ex.model[0].register_forward_hook(lambda m, i, o: seen.append(o.is_contiguous(memory_format=CL)))
    try:
        acts = ex.activations(x, ["0"])["0"]
    finally:
        handle.remove()
    assert seen == [True] and acts.is_contiguous()  # ran channels-last, handed back in the ordinary layout
    with torch.no_grad():
        assert torch.allclose(acts, ex.model[0](x), atol=1e-6)
    projection = ex.project(x[0], "3", 1, "max")
    assert projection.is_contiguous() and projection.shape == (3, 8, 8)


def test_a_model_that_breaks_on_it_keeps_the_callers_layout():
    ex = Explorer(Flattens(), input_size=8)
    x = torch.rand(2, 3, 8, 8)
    assert capture.fast_layout(ex.model, x) is x
    assert len(ex.predict(x[0], k=2)) == 2  # and everything still works


def test_it_can_be_switched_off(monkeypatch):
    model = pooling_net()
    monkeypatch.setattr(capture, "CHANNELS_LAST", False)
    x = torch.rand(1, 3, 8, 8)
    assert capture.fast_layout(model, x) is x
