"""Batched projections: the shortcuts (shared forwards, receptive-field crops, chunks) never change a result."""

import pytest
import torch
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, UnitRequest, load_model
from cnnviz_widget.engine.projection.projector import Projector

ARCHS = {
    "alexnet": ["features.1", "features.4", "features.11"],
    "squeezenet1_1": ["features.2", "features.4", "features.9", "features.12"],  # ceil-mode pools
    "resnet18": ["layer1.0.relu#0", "layer2.0", "layer3.1"],
    "mobilenet_v2": ["features.2", "features.5.conv.0.2", "features.10"],  # ReLU6, residual adds
    "mobilenet_v3_small": ["features.1", "features.4"],  # squeeze-excitation: global fields, never cropped
}


def _positions(info, count=5):
    h, w = info.spatial
    corners = [(0, 0), (h - 1, w - 1), (0, w - 1), (h // 2, w // 2), (h // 3, 1)]
    return corners[:count]


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(0)
    return torch.randn(3, 3, 224, 224)


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("rule", ["deconvnet", "guided"])
def test_cropped_equals_full_image(arch, rule, images):
    torch.manual_seed(1)
    ex = Explorer(load_model(arch, weights=None))
    size = ex.spec.input_shape[1]
    xs = torch.nn.functional.interpolate(images, size=(size, size))
    full = Projector(ex.model, ex._table, crop=False)
    requests = []
    for i, layer in enumerate(ARCHS[arch]):
        info = ex.layer(layer)
        for j, pos in enumerate(_positions(info)):
            requests.append(UnitRequest((i + j) % 3, layer, (7 * j + i) % info.channels, pos))
    ours = ex.project_batch(xs, requests, rule=rule)
    reference = full.project(xs, requests, rule=rule)
    assert ours.shape == reference.shape
    acts = ex.activations(xs, sorted({r.layer for r in requests}))
    top = float(reference.abs().max())
    for k, r in enumerate(requests):
        value = float(acts[r.layer][(r.image, r.channel, *r.position)])
        if abs(value) < 1e-4:
            # the seed is the unit's activation: 0 here, maybe 1e-7 there (float rounding); both project to ~0
            assert ours[k].abs().max() <= 1e-4 * top and reference[k].abs().max() <= 1e-4 * top
        else:
            scale = float(reference[k].abs().max())
            # float32 rounding differs between a crop and the full image (other conv algorithms): 1e-4 of the row
            assert torch.allclose(ours[k], reference[k], atol=1e-4 * scale), (r, (ours[k] - reference[k]).abs().max())


def test_results_do_not_depend_on_the_rest_of_the_batch(images):
    ex = Explorer(load_model("squeezenet1_1", weights=None))
    xs = torch.nn.functional.interpolate(images, size=(227, 227))
    a = [UnitRequest(0, "features.4", 3, (5, 7)), UnitRequest(1, "features.4", 3, "max")]
    b = [UnitRequest(2, "features.4", 9, None), UnitRequest(0, "features.4", 3, (40, 2)),
         UnitRequest(1, "features.9", 100, (3, 3)), UnitRequest(0, "features.4", 8, (5, 7))]
    alone = ex.project_batch(xs, a)
    mixed = ex.project_batch(xs, b[:2] + a + b[2:])
    singles = torch.stack([ex.project(xs[r.image], r.layer, r.channel, r.position) for r in a])
    assert torch.allclose(mixed[2:4], alone, rtol=1e-5, atol=1e-5)
    assert torch.allclose(singles, alone, rtol=1e-5, atol=1e-5)


def test_many_units_of_one_image_share_a_forward():
    # 16 channels × whole map on one image: one forward, one batched backward — equal to one at a time.
    ex = Explorer(load_model("alexnet", weights=None))
    torch.manual_seed(3)
    x = torch.randn(3, 224, 224)
    requests = [UnitRequest(0, "features.7", c, None) for c in range(16)]
    calls = []
    handle = ex.model.features[0].register_forward_hook(lambda m, i, o: calls.append(o.shape[0]))
    try:
        together = ex.project_batch(x[None], requests)
    finally:
        handle.remove()
    assert calls == [1]
    one_by_one = torch.stack([ex.project(x, "features.7", c, None) for c in range(16)])
    assert torch.allclose(together, one_by_one, rtol=1e-5, atol=1e-4)


def test_memory_budget_chunks_give_the_same_answer(images):
    ex = Explorer(load_model("alexnet", weights=None))
    requests = [UnitRequest(i % 3, "features.4", i, (i % 27, (3 * i) % 27)) for i in range(12)]
    big = ex.project_batch(images, requests)
    ex._projector.memory_budget = 1.0  # one row per chunk
    small = ex.project_batch(images, requests)
    assert torch.allclose(big, small, rtol=1e-5, atol=1e-5)


def test_a_forward_that_depends_on_the_input_size_is_never_cropped():
    class SizeDependent(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            y = torch.relu(self.conv1(x))
            if x.shape[-1] < 64:  # a crop would take the other branch
                y = y * 0.5
            return torch.relu(self.conv2(y))

    ex = Explorer(SizeDependent(), preprocess=ImagePreprocess(size=96, resize=None))
    x = torch.randn(3, 96, 96)
    ours = ex.project_batch(x[None], [UnitRequest(0, "conv2", 1, (40, 40)), UnitRequest(0, "conv2", 2, (10, 60))])
    full = Projector(ex.model, ex._table, crop=False).project(
        x[None], [UnitRequest(0, "conv2", 1, (40, 40)), UnitRequest(0, "conv2", 2, (10, 60))])
    assert torch.allclose(ours, full, atol=1e-6)
    assert "conv2" in ex._projector._uncroppable
