"""Activation maximisation on nets small enough to follow each ascent step by hand.

The nets are 1×1 convolutions on an 8×8 RGB input with the preprocessing ``x = pixel / 255`` (so the pixel range
in model space is [0, 1] and ``span`` = 1). With ``init_std=0`` the ascent starts from the mean image (all zeros),
with ``jitter=0`` the gradient lands on the unit's own pixel only, and with the regularisers off each step is::

    x ← clip(x + lr · g / mean|g over the pixels it reaches|, 0, 1)
"""

import threading

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, LayerError
from cnnviz_widget.engine.experiments import synthesis
from cnnviz_widget.engine.experiments.synthesis import (
    AscentParams,
    SynthesisDiverged,
    clear_memory_cache,
    synthesize,
)
from cnnviz_widget.engine.progress import Cancelled

UNIT = ImagePreprocess(size=8, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
PLAIN = dict(decay=0.0, blur_every=0, jitter=0, norm_percentile=0.0, contribution_percentile=0.0, init_std=0.0)


def _conv(weights, bias=0.0):
    conv = nn.Conv2d(3, len(weights), 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weights, dtype=torch.float32).view(len(weights), 3, 1, 1))
        conv.bias.fill_(bias)
    return conv


class Linear1x1(nn.Module):
    """conv: one channel, weights (1, 2, −3): the activation at a pixel is r + 2g − 3b."""

    def __init__(self):
        super().__init__()
        self.conv = _conv([[1.0, 2.0, -3.0]])

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_memory_cache()
    yield
    clear_memory_cache()


def test_two_plain_steps_by_hand():
    # g at (4, 4) is the weights (1, 2, −3), mean |g| = 2, so a step adds lr·(0.5, 1, −1.5) = (0.05, 0.1, −0.15)
    # there, and clipping to [0, 1] drops the negative blue: x1 = (0.05, 0.1, 0), activation 0.05 + 0.2 = 0.25;
    # x2 = (0.1, 0.2, 0), activation 0.5. The history holds the activation before each step: (0, 0.25).
    ex = Explorer(Linear1x1(), preprocess=UNIT)
    r = synthesize(ex, "conv", 0, "center", params=AscentParams(steps=2, lr=0.1, **PLAIN))
    expected = np.zeros((3, 8, 8), np.float32)
    expected[:, 3, 3] = (0.1, 0.2, 0.0)  # "center" of an 8×8 map is (3, 3)
    np.testing.assert_allclose(r.input, expected, rtol=1e-6, atol=0)
    assert r.position == (3, 3) and r.field == (3, 3, 4, 4)
    np.testing.assert_allclose(r.history, [0.0, 0.25], rtol=1e-6)
    assert r.activation == pytest.approx(0.5, rel=1e-6)
    assert r.image.dtype == np.uint8 and r.image.shape == (8, 8, 3)
    assert r.image[3, 3].tolist() == [26, 51, 0]  # round(0.1·255), round(0.2·255), 0
    assert r.from_cache is False


def test_whole_channel_objective_and_explicit_position():
    # position=None: the mean over the 64 pixels; its gradient reaches every pixel equally, so each pixel moves
    # by lr·(0.5, 1, −1.5) and the mean activation after one step is 0.05·1 + 0.1·2 = 0.25.
    ex = Explorer(Linear1x1(), preprocess=UNIT)
    r = synthesize(ex, "conv", 0, None, params=AscentParams(steps=1, lr=0.1, **PLAIN))
    np.testing.assert_allclose(r.input[0], np.full((8, 8), 0.05, np.float32), rtol=1e-6)
    assert r.position is None and r.field is None and r.activation == pytest.approx(0.25, rel=1e-6)
    r = synthesize(ex, "conv", 0, (0, 7), params=AscentParams(steps=1, lr=0.1, **PLAIN))
    assert r.input[1, 0, 7] == pytest.approx(0.1) and np.count_nonzero(r.input) == 2


class DeadUnit(nn.Module):
    """conv (weights 1, 1, 1; bias −1) → ReLU: silent for the mean image (pre-activation −1)."""

    def __init__(self):
        super().__init__()
        self.conv = _conv([[1.0, 1.0, 1.0]], bias=-1.0)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x)).mean(dim=(2, 3))


def test_a_silent_rectified_unit_climbs_its_pre_activation():
    # The unit's own ReLU passes the gradient: g = (1, 1, 1), mean 1, so a step adds 0.5 per channel.
    # x1 = 0.5 → pre-activation 0.5 → 0.5; x2 = 1 (clipped) → relu(3 − 1) = 2.
    ex = Explorer(DeadUnit(), preprocess=UNIT)
    r = synthesize(ex, "relu", 0, (2, 5), params=AscentParams(steps=2, lr=0.5, **PLAIN))
    np.testing.assert_allclose(r.history, [0.0, 0.5])
    assert r.activation == 2.0 and r.input[:, 2, 5].tolist() == [1.0, 1.0, 1.0]


class TwoReLUs(nn.Module):
    """conv1 (red only, bias −0.5) → ReLU → conv2 (weight 1, bias −1) → ReLU."""

    def __init__(self):
        super().__init__()
        self.conv1 = _conv([[1.0, 0.0, 0.0]], bias=-0.5)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.conv2.weight.fill_(1.0)
            self.conv2.bias.fill_(-1.0)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.conv2(self.relu1(self.conv1(x)))).mean(dim=(2, 3))


def test_only_the_units_own_rectifier_is_passed():
    # The top ReLU passes the gradient, but relu1 is silent (−0.5) and keeps its true, zero gradient: no step.
    ex = Explorer(TwoReLUs(), preprocess=UNIT)
    r = synthesize(ex, "relu2", 0, (4, 4), params=AscentParams(steps=3, lr=0.5, **PLAIN))
    assert not r.input.any() and not r.history.any() and r.activation == 0.0


def test_each_regulariser_by_hand():
    x = torch.zeros(1, 3, 4, 4)
    x[0, :, 1, 1] = torch.tensor([0.4, 0.3, 0.0])   # norm 0.5
    x[0, :, 2, 2] = torch.tensor([0.0, 0.0, 0.2])   # norm 0.2
    grad = torch.zeros_like(x)
    span = torch.ones(3, 1, 1)
    off = AscentParams(lr=1e-9, **PLAIN)
    # Decay 0.5 halves the image (the step itself is 1e-9·g, and g is zero here).
    out = synthesis._step(x, grad, 0, AscentParams(lr=1e-9, **{**PLAIN, "decay": 0.5}), span, None)
    torch.testing.assert_close(out, x / 2)
    # Norm percentile 95 of the 16 pixel norms (14 zeros, 0.2, 0.5) lies between 0.2 and 0.5: only (1, 1) stays.
    out = synthesis._step(x, grad, 0, AscentParams(lr=1e-9, **{**PLAIN, "norm_percentile": 95.0}), span, None)
    assert out[0, :, 1, 1].tolist() == pytest.approx([0.4, 0.3, 0.0]) and not out[0, :, 2, 2].any()
    # Contribution |Σ_c x·g|: with g = 1 on blue only, (2, 2) contributes 0.2 and (1, 1) nothing.
    grad[0, 2] = 1.0
    out = synthesis._step(x, grad, 0, AscentParams(lr=1e-9, **{**PLAIN, "contribution_percentile": 95.0}), span,
                          None)
    assert not out[0, :, 1, 1].any() and out[0, 2, 2, 2] == pytest.approx(0.2)
    # Clipping to the valid range, per channel.
    bounds = (torch.full((3, 1, 1), 0.1), torch.full((3, 1, 1), 0.35), torch.full((3, 1, 1), 0.25))
    out = synthesis._step(x, torch.zeros_like(x), 0, off, span, bounds)
    assert out[0, :, 1, 1].tolist() == pytest.approx([0.35, 0.3, 0.1]) and out[0, 0, 0, 0] == pytest.approx(0.1)
    # Blur happens on the steps that are a multiple of blur_every (counting from 1) and keeps a constant image.
    blur = AscentParams(lr=1e-9, **{**PLAIN, "blur_every": 2, "blur_sigma": 1.0})
    flat = torch.full((1, 3, 6, 6), 0.3)
    torch.testing.assert_close(synthesis._step(flat, torch.zeros_like(flat), 1, blur, span, None), flat)
    torch.testing.assert_close(synthesis._step(x, torch.zeros_like(x), 0, blur, span, None), x)
    assert synthesis._step(x, torch.zeros_like(x), 1, blur, span, None)[0, 0, 1, 1] < 0.4


def test_blur_equals_torchvision():
    from torchvision.transforms.functional import gaussian_blur

    torch.manual_seed(0)
    x = torch.randn(1, 3, 12, 12)
    torch.testing.assert_close(synthesis._gaussian_blur(x, 0.7), gaussian_blur(x, [7, 7], [0.7, 0.7]),
                               rtol=1e-5, atol=1e-6)


def test_seeded_and_cached_in_memory_and_on_disk(tmp_path):
    ex = Explorer(Linear1x1(), preprocess=UNIT)
    params = AscentParams(steps=5, lr=0.05, jitter=2, init_std=0.05, blur_every=2)
    first = synthesize(ex, "conv", 0, params=params, seed=3, cache_dir=tmp_path)
    again = synthesize(ex, "conv", 0, params=params, seed=3)
    assert again.from_cache and np.array_equal(again.input, first.input)
    clear_memory_cache()
    recomputed = synthesize(ex, "conv", 0, params=params, seed=3, use_cache=False)
    assert not recomputed.from_cache and np.array_equal(recomputed.input, first.input)  # seeded: reproducible
    other = synthesize(ex, "conv", 0, params=params, seed=4, use_cache=False)
    assert not np.array_equal(other.input, first.input)
    clear_memory_cache()
    from_disk = synthesize(ex, "conv", 0, params=params, seed=3, cache_dir=tmp_path)
    assert from_disk.from_cache and np.array_equal(from_disk.input, first.input)
    assert np.array_equal(from_disk.image, first.image) and np.array_equal(from_disk.history, first.history)
    assert from_disk.activation == first.activation and from_disk.field == first.field
    assert len(list(tmp_path.glob("*/result.pt"))) == 1
    # New weights → a new key: not served from the cache.
    with torch.no_grad():
        ex.model.conv.weight.mul_(2)
    ex.spec.invalidate_fingerprint()
    assert not synthesize(ex, "conv", 0, params=params, seed=3, cache_dir=tmp_path).from_cache


class SqrtBlock(nn.Module):
    """A block whose output is √(r + g + b − 1): NaN for the mean image."""

    def __init__(self):
        super().__init__()
        self.conv = _conv([[1.0, 1.0, 1.0]], bias=-1.0)

    def forward(self, x):
        return torch.sqrt(self.conv(x))


def test_divergence_is_a_clear_error_and_caches_nothing(tmp_path):
    ex = Explorer(nn.Sequential(SqrtBlock()), preprocess=UNIT)
    with pytest.raises(SynthesisDiverged, match=r"gradient ascent on 0:0@\(3, 3\) diverged at step 0 \(the "
                                                r"activation became nan\)"):
        synthesize(ex, "0", 0, params=AscentParams(steps=3, **PLAIN), cache_dir=tmp_path)
    # No clipping (custom preprocess) and an enormous step: the activation overflows to infinity at step 1.
    custom = Explorer(Linear1x1(), preprocess=lambda image: torch.zeros(3, 8, 8), input_size=8)
    with pytest.raises(SynthesisDiverged, match=r"diverged at step 1 \(the activation became inf\) — lower lr "
                                                r"\(now 1e\+38\) or raise decay"):
        synthesize(custom, "conv", 0, params=AscentParams(steps=3, lr=1e38, **PLAIN), cache_dir=tmp_path)
    assert not list(tmp_path.glob("*/result.pt"))
    with pytest.raises(SynthesisDiverged):  # not remembered either
        synthesize(custom, "conv", 0, params=AscentParams(steps=3, lr=1e38, **PLAIN))


def test_progress_and_cancel_cache_nothing(tmp_path):
    ex = Explorer(Linear1x1(), preprocess=UNIT)
    seen = []
    synthesize(ex, "conv", 0, params=AscentParams(steps=3, **PLAIN),
               progress=lambda step, total: seen.append((step, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    cancel = threading.Event()

    def stop(step, total):
        if step == 2:
            cancel.set()

    with pytest.raises(Cancelled, match="synthesis was cancelled"):
        synthesize(ex, "conv", 0, params=AscentParams(steps=10, **PLAIN), progress=stop, cancel=cancel,
                   cache_dir=tmp_path)
    assert not list(tmp_path.glob("*/result.pt"))


def test_runs_in_a_background_thread_while_the_model_is_used():
    # run_to's hooks ignore other threads' forwards, so both sides get their own, exact answers.
    ex = Explorer(DeadUnit(), preprocess=UNIT)
    params = AscentParams(steps=40, lr=0.01, jitter=1, init_std=0.02)
    expected = synthesize(ex, "relu", 0, params=params, use_cache=False)
    x = torch.rand(3, 8, 8)
    reference = ex.activations(x, ["conv"])["conv"]
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(r=synthesize(ex, "relu", 0, params=params, use_cache=False)))
    worker.start()
    while worker.is_alive():
        torch.testing.assert_close(ex.activations(x, ["conv"])["conv"], reference, rtol=0, atol=0)
    worker.join()
    assert np.array_equal(box["r"].input, expected.input)


class WithLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = _conv([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def test_positions_and_bad_units():
    ex = Explorer(WithLinear(), preprocess=UNIT)
    r = synthesize(ex, "fc", 2, params=AscentParams(steps=1, **PLAIN))
    assert r.position is None and r.field is None  # linear layers have no map
    with pytest.raises(LayerError, match="channel 3 is outside layer 'fc'"):
        synthesize(ex, "fc", 3)
    with pytest.raises(LayerError, match="position .9, 0. is outside layer 'conv'"):
        synthesize(ex, "conv", 0, (9, 0))
    with pytest.raises(LayerError, match="no image to take a 'max' position from"):
        synthesize(ex, "conv", 0, "max")
    with pytest.raises(ValueError, match="decay must lie in"):
        AscentParams(decay=1.0)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        AscentParams(lr=0.0)
    with pytest.raises(TypeError, match="takes an Explorer"):
        synthesize(WithLinear(), "conv", 0)


@pytest.mark.slow
def test_default_model_class_unit_grows_and_is_reproducible():
    from cnnviz_widget import load_model

    ex = Explorer(load_model())
    params = AscentParams(steps=20)
    r = synthesize(ex, "classifier.3", 130, params=params, use_cache=False)  # flamingo
    assert r.image.shape == (227, 227, 3) and r.history.shape == (20,)
    assert r.activation > 5 * max(r.history[0], 1.0)
    again = synthesize(ex, "classifier.3", 130, params=params, use_cache=False)
    assert np.array_equal(again.input, r.input)
