"""Activation maximisation: synthesise the image a unit responds to most (Yosinski et al. 2015, "Understanding
Neural Networks Through Deep Visualization", the Deep Visualization Toolbox).

Gradient ascent on the input, from faint noise, on the activation of one unit. Plain ascent produces
high-frequency noise that no photo contains; the four regularisers of Yosinski et al. (their Table 1) keep the image
closer to natural ones, and a random **jitter** (Mordvintsev et al.'s DeepDream) stops it from exploiting the exact
pixel grid. Each step:

1. shift the image by a random offset (``jitter``), forward it, take the gradient of the unit's activation, shift
   back;
2. step along the gradient normalised by its mean magnitude over the pixels it reaches (``lr``, a fraction of the
   pixel range), so one setting suits units of every depth and model;
3. **L2 decay**: shrink towards the dataset mean, ``x ← (1 − decay)·x``;
4. **Gaussian blur** of width ``blur_sigma`` every ``blur_every`` steps;
5. **clip pixels with small norm**: pixels whose norm (over channels) is below the ``norm_percentile``-th percentile
   become the mean; **clip pixels with small contribution**: likewise for ``|Σ_c x·∇x|`` and
   ``contribution_percentile``;
6. clip to the valid pixel range (0–255 before normalisation).

The image lives in model space, where ``0`` is the dataset mean for an :class:`~.preprocess.ImagePreprocess`.
Results are **seeded** (noise and jitter come from ``seed``) and **cached** per unit — in memory, and in a cache
folder when one is given (see :mod:`.cache`) — keyed by the model's weights fingerprint, the unit, the parameters
and the seed. A run reports ``progress`` and stops on ``cancel`` (see :mod:`.progress`), so a widget can run it in a
background thread.

The unit's own rectifier passes the gradient unmasked, so the ascent climbs the unit's **pre-activation**: a unit
that is silent for the starting noise still gets a signal (Lucid's "redirected ReLU", applied to the objective's
rectifier only); every rectifier below it keeps its true gradient. Where the unit responds the two are the same.

Warnings:
    Divergence (NaN or infinite values, e.g. from a too large ``lr``) raises :class:`SynthesisDiverged` and caches
    nothing.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from ...errors import CNNVizError, LayerError
from ..cache import atomic_save, entry_dir, key_digest, load_checked
from ..explorer import Explorer
from ..model.capture import eval_mode, run_to
from ..model.layers import LayerInfo
from ..model.preprocess import ImagePreprocess
from ..progress import Progress, check_cancel, report
from ..projection.projector import check_unit
from ..projection.rules import RECTIFIER_BACKWARDS

__all__ = ["AscentParams", "SynthesisDiverged", "SynthesisResult", "clear_memory_cache", "synthesize"]

#: Results kept in memory (least recently used dropped first).
MEMORY_CACHE_SIZE = 256
_CACHE_VERSION = 1


class SynthesisDiverged(CNNVizError):
    """Gradient ascent produced NaN or infinite values; nothing was cached."""


@dataclass(frozen=True)
class AscentParams:
    """Regularised gradient ascent (see the module docstring; names follow Yosinski et al.'s θ's).

    Attributes:
        steps: ascent steps.
        lr: step size as a fraction of the pixel range (the gradient is normalised by its mean magnitude over the
            pixels it reaches).
        decay: L2 decay per step (θ_decay).
        blur_every, blur_sigma: Gaussian blur of this width (pixels) every so many steps (θ_b_every, θ_b_width);
            0 turns it off.
        jitter: largest random shift per step, in pixels.
        norm_percentile: pixels with a norm below this percentile are set to the mean (θ_n_pct; 0 = off).
        contribution_percentile: pixels contributing less than this percentile are set to the mean (θ_c_pct).
        init_std: standard deviation of the starting noise, as a fraction of the pixel range.
    """

    steps: int = 200
    lr: float = 0.01
    decay: float = 0.005
    blur_every: int = 4
    blur_sigma: float = 0.7
    jitter: int = 1
    norm_percentile: float = 20.0
    contribution_percentile: float = 10.0
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise CNNVizError(f"steps must be at least 1, not {self.steps}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise CNNVizError(f"lr must be a positive finite number, not {self.lr}")
        if not 0 <= self.decay < 1:
            raise CNNVizError(f"decay must lie in [0, 1), not {self.decay} (it shrinks the image by (1 − decay) per step)")
        for name in ("norm_percentile", "contribution_percentile"):
            if not 0 <= getattr(self, name) < 100:
                raise CNNVizError(f"{name} must lie in [0, 100), not {getattr(self, name)}")
        if self.blur_every < 0 or self.blur_sigma < 0 or self.jitter < 0 or self.init_std < 0:
            raise CNNVizError("blur_every, blur_sigma, jitter and init_std must not be negative")


@dataclass(frozen=True)
class SynthesisResult:
    """A synthesised image.

    Attributes:
        layer, channel, position: the unit (``position`` ``None``: the channel's mean activation).
        input: ``float32 [C, H, W]`` — the image in model space.
        image: ``uint8 [H, W, 3]`` — the same, as pixels.
        field: the unit's receptive field ``(top, left, bottom, right)`` clipped to the image (crop ``image`` to
            it to show what the unit sees), or ``None`` for a whole channel or an untraceable model.
        activation: the unit's activation for ``input``.
        history: ``float32 [steps]`` — the activation at each step.
        params, seed: how it was made.
        from_cache: whether it came from the cache.
    """

    layer: str
    channel: int
    position: tuple[int, ...] | None
    input: np.ndarray
    image: np.ndarray
    field: tuple[int, int, int, int] | None
    activation: float
    history: np.ndarray
    params: AscentParams
    seed: int
    from_cache: bool = False


_memory: OrderedDict[str, SynthesisResult] = OrderedDict()
_memory_lock = threading.Lock()


def clear_memory_cache() -> None:
    """Forget every synthesised image kept in memory."""
    with _memory_lock:
        _memory.clear()


def _bounds(explorer: Explorer, channels: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Per-channel (low, high, range) of valid pixels in model space, if the preprocessing is known."""
    pre = explorer.spec.preprocess
    if not isinstance(pre, ImagePreprocess):
        return None
    mean = torch.tensor(pre.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(pre.std, dtype=torch.float32).view(-1, 1, 1)
    low, high = (0.0 - mean) / std, (pre.scale - mean) / std
    return low, high, high - low


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect" if min(x.shape[2:]) > radius else "replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1).contiguous(), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1).contiguous(), groups=channels)


def _resolve_position(info: LayerInfo, position: tuple[int, int] | str | None, channel: int
                      ) -> tuple[int, ...] | None:
    if len(info.shape) == 1:
        check_unit(info, channel, None)
        return None
    if position == "center":
        position = tuple((n - 1) // 2 for n in info.spatial)
    elif position == "max":
        raise LayerError("synthesis has no image to take a 'max' position from: pass (y, x), 'center' or None")
    pos = check_unit(info, channel, position)  # type: ignore[arg-type]
    return pos if isinstance(pos, tuple) else None


def _key(explorer: Explorer, info: LayerInfo, channel: int, position: tuple[int, ...] | None, params: AscentParams,
         seed: int) -> dict[str, Any]:
    return {"what": "activation maximisation", "version": _CACHE_VERSION, "model": explorer.spec.fingerprint(),
            "layer": info.name, "channel": channel, "position": list(position) if position is not None else None,
            "seed": seed, "params": dataclasses.asdict(params)}


def _load(entry: Path, key: dict[str, Any], params: AscentParams) -> SynthesisResult | None:
    state = load_checked(entry / "result.pt", key)
    if state is None:
        return None  # missing, damaged or another key's: computed afresh and overwritten
    return SynthesisResult(
        layer=key["layer"], channel=int(key["channel"]),
        position=tuple(key["position"]) if key["position"] is not None else None,
        input=state["input"].numpy(), image=state["image"].numpy(),
        field=tuple(state["field"]) if state["field"] is not None else None,  # type: ignore[arg-type]
        activation=float(state["activation"]), history=state["history"].numpy(), params=params,
        seed=int(key["seed"]), from_cache=True)


def _save(entry: Path, key: dict[str, Any], result: SynthesisResult) -> None:
    atomic_save(entry / "result.pt", {
        "input": torch.from_numpy(result.input), "image": torch.from_numpy(result.image),
        "history": torch.from_numpy(result.history), "activation": result.activation,
        "field": list(result.field) if result.field is not None else None}, key)


def synthesize(
    explorer: Explorer,
    layer: str,
    channel: int,
    position: tuple[int, int] | str | None = "center",
    *,
    params: AscentParams | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SynthesisResult:
    """Synthesise the image that maximises one unit (see the module docstring for the method).

    Args:
        explorer: the model.
        layer, channel: the unit's layer and channel.
        position: ``"center"`` (the unit at the centre of the map, default), ``(y, x)``, or ``None`` for the mean
            of the whole channel. Ignored for linear layers.
        params: ascent settings (:class:`AscentParams`; the defaults give recognisable patterns on the default
            model in 200 steps, a few seconds on a CPU).
        seed: seeds the starting noise and the jitter: the same seed gives the same image.
        cache_dir: also keep results as files here (reused across sessions).
        use_cache: return a cached result when there is one.
        progress, cancel: ``progress(step, steps)`` after each step; setting ``cancel`` stops the ascent
            (raises :class:`~.progress.Cancelled`; nothing is cached).

    Running it in the background from a widget::

        cancel = threading.Event()
        def work():
            result = synthesize(ex, "features.9", 12, progress=on_progress, cancel=cancel, cache_dir=folder)
            ...  # hand ``result.image`` (cropped to ``result.field``) to the front end
        threading.Thread(target=work, daemon=True).start()

    Raises:
        SynthesisDiverged: the ascent produced NaN or infinite values (lower ``lr`` or raise ``decay``).
        LayerError: unknown layer, channel or position.
    """
    if not isinstance(explorer, Explorer):
        raise TypeError(f"synthesize takes an Explorer (Explorer(model)), not {type(explorer).__name__}")
    params = params or AscentParams()
    info = explorer.layer(layer)
    pos = _resolve_position(info, position, channel)
    key = _key(explorer, info, int(channel), pos, params, int(seed))
    digest = key_digest(key)
    entry = entry_dir(cache_dir, key, prefix=f"synthesis-{info.name}-{channel}") if cache_dir is not None else None
    if use_cache:
        with _memory_lock:
            cached = _memory.get(digest)
            if cached is not None:
                _memory.move_to_end(digest)
                return dataclasses.replace(cached, from_cache=True)
        if entry is not None:
            loaded = _load(entry, key, params)
            if loaded is not None:
                _remember(digest, dataclasses.replace(loaded, from_cache=False))
                return loaded

    result = _ascend(explorer, info, int(channel), pos, params, int(seed), progress, cancel)
    _remember(digest, result)
    if entry is not None:
        _save(entry, key, result)
    return result


def _remember(key: str, result: SynthesisResult) -> None:
    with _memory_lock:
        _memory[key] = result
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_CACHE_SIZE:
            _memory.popitem(last=False)


class _PassTopRectifier(TorchDispatchMode):
    """During a backward pass: the first rectifier reached by a non-zero gradient (the unit's own) passes it
    unmasked, as if absent; the others are untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.passed = False

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if self.passed or func not in RECTIFIER_BACKWARDS or kwargs or not bool(args[0].any()):
            return func(*args, **(kwargs or {}))
        self.passed = True
        if func is torch.ops.aten._prelu_kernel_backward.default:
            return args[0], func(*args)[1]
        return args[0]


def _step(x: torch.Tensor, grad: torch.Tensor, step: int, params: AscentParams, span: torch.Tensor,
          bounds: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """One regularised ascent step on ``x`` (``[1, C, H, W]``) given the gradient ``grad`` (module docstring, 2–6)."""
    # The mean magnitude over the pixels the gradient reaches (the unit's receptive field): with the mean over the
    # whole image, a small-field unit would take steps hundreds of times too large.
    scale = grad.abs().sum() / max(int(torch.count_nonzero(grad)), 1)
    if scale > 0:
        x = x + (params.lr * span) * grad / scale
    if params.decay:
        x = x * (1.0 - params.decay)
    if params.blur_every and params.blur_sigma and (step + 1) % params.blur_every == 0:
        x = _gaussian_blur(x, params.blur_sigma)
    if params.norm_percentile:
        norms = x[0].norm(dim=0)
        x = x * (norms >= torch.quantile(norms.flatten(), params.norm_percentile / 100.0))
    if params.contribution_percentile:
        contribution = (x[0] * grad[0]).sum(dim=0).abs()
        x = x * (contribution >= torch.quantile(contribution.flatten(), params.contribution_percentile / 100.0))
    if bounds is not None:
        x = torch.maximum(torch.minimum(x, bounds[1]), bounds[0])
    return x


def _objective(a: torch.Tensor, channel: int, position: tuple[int, ...] | None) -> torch.Tensor:
    if a.dim() == 2:
        return a[0, channel]
    if position is None:
        return a[0, channel].mean()
    return a[(0, channel, *position)]


def _ascend(explorer: Explorer, info: LayerInfo, channel: int, position: tuple[int, ...] | None,
            params: AscentParams, seed: int, progress: Progress | None,
            cancel: threading.Event | None) -> SynthesisResult:
    model = explorer.model
    device, dtype = explorer.spec.device, explorer.spec.dtype
    shape = explorer.spec.input_shape
    generator = torch.Generator().manual_seed(seed)
    bounds = _bounds(explorer, shape[0])
    span = bounds[2] if bounds is not None else torch.ones(shape[0], 1, 1)
    x = torch.randn((1, *shape), generator=generator) * (params.init_std * span)
    shifts = torch.randint(-params.jitter, params.jitter + 1, (params.steps, 2), generator=generator).tolist()
    history = np.zeros(params.steps, dtype=np.float32)
    unit = f"{info.name}:{channel}" + (f"@{position}" if position is not None else "")

    def diverged(step: int, what: str) -> SynthesisDiverged:
        return SynthesisDiverged(
            f"gradient ascent on {unit} diverged at step {step} ({what}) — lower lr (now {params.lr}) or raise "
            f"decay (now {params.decay}); nothing was cached"
        )

    with eval_mode(model):
        for step in range(params.steps):
            check_cancel(cancel, "synthesis")
            dy, dx = shifts[step]
            xj = torch.roll(x, shifts=(dy, dx), dims=(2, 3)).to(device, dtype).requires_grad_(True)
            with torch.enable_grad():
                a = run_to(model, xj, [info], detach=False)[0][info.name]
                value = _objective(a, channel, position)
                if not torch.isfinite(value):
                    raise diverged(step, f"the activation became {float(value.detach())}")
                with _PassTopRectifier():
                    (grad,) = torch.autograd.grad(value, xj)
            history[step] = float(value.detach())
            grad = torch.roll(grad.detach().to("cpu", torch.float32), shifts=(-dy, -dx), dims=(2, 3))
            if not bool(torch.isfinite(grad).all()):
                raise diverged(step, "the gradient became NaN or infinite")
            x = _step(x, grad, step, params, span, bounds)
            if not bool(torch.isfinite(x).all()):
                raise diverged(step, "the image became NaN or infinite")
            report(progress, step + 1, params.steps)
        with torch.no_grad():
            final = float(_objective(run_to(model, x.to(device, dtype), [info])[0][info.name], channel, position))
    if not math.isfinite(final):
        raise diverged(params.steps, f"the final activation is {final}")
    field = None
    if position is not None and info.geometry is not None:
        top, left, bottom, right = explorer.receptive_field(info.name, position)
        height, width = shape[1], shape[2]
        field = (max(top, 0), max(left, 0), min(bottom, height), min(right, width))
    return SynthesisResult(layer=info.name, channel=channel, position=position, input=x[0].numpy().astype(np.float32),
                           image=explorer.to_pixels(x[0]), field=field, activation=final, history=history,
                           params=params, seed=seed)
