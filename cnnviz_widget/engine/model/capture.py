"""Capturing layer outputs with forward hooks: only the layers asked for, stopping after the deepest one.

Hooks are always removed (``finally``). In-place operations after a captured layer (``ReLU(inplace=True)``)
would overwrite its output, so a captured output is handed on downstream as a copy and the original is kept.

Image batches on the CPU run in the channels-last memory layout (:func:`fast_layout`) when the model gives the same
output that way: PyTorch's CPU max-pooling is several times faster in it (SqueezeNet's forward: 2.3×, VGG-11's
1.5×). The values are the same; only float rounding of the convolutions may differ (~1e-6 relative). Captured
copies are handed back in the ordinary layout.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ...errors import LayerError
from .layers import LayerInfo

#: Run 4-D float32 CPU batches channels-last when the model allows it (see the module docstring); False: never.
CHANNELS_LAST = True
_LAYOUT_OK: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()


def fast_layout(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` (same values) in the memory layout ``model`` runs fastest in: channels-last for a 4-D float32 batch on
    the CPU, if a one-time probe shows the model gives the same output from it (a ``.view`` of a channels-last
    tensor fails, for one); otherwise ``x`` itself."""
    if not (CHANNELS_LAST and type(x) is torch.Tensor and x.dim() == 4 and x.device.type == "cpu"
            and x.dtype == torch.float32 and x.shape[0] > 0 and x.shape[2] * x.shape[3] > 1):
        return x
    ok = _LAYOUT_OK.get(model)
    if ok is None:
        ok = _LAYOUT_OK[model] = _same_output_channels_last(model, x[:1].detach())
    return x.contiguous(memory_format=torch.channels_last) if ok else x


def _same_output_channels_last(model: nn.Module, x: torch.Tensor) -> bool:
    try:
        with torch.no_grad(), eval_mode(model):
            plain = model_output(model(x.contiguous()))
            other = model_output(model(x.contiguous(memory_format=torch.channels_last)))
    except Exception:  # any failure in the other layout: keep the caller's
        return False
    if plain.shape != other.shape or not torch.isfinite(plain).all():
        return False
    scale = float(plain.abs().max()) + 1e-12
    return bool(torch.allclose(plain.float(), other.float(), rtol=1e-3, atol=1e-4 * scale))


class _StopForward(Exception):
    """Raised from the deepest hook: nothing after the last requested layer needs computing."""


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Evaluate in eval mode (BatchNorm running statistics, no dropout), restoring each module's flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def run_to(
    model: nn.Module,
    x: torch.Tensor,
    layers: Sequence[LayerInfo],
    *,
    stop: bool = True,
    detach: bool = True,
    keep: Callable[[LayerInfo, torch.Tensor], Any] | None = None,
    leaf: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Forward ``x`` through ``model`` and return ``({layer name: output}, model output or None)``.

    Args:
        layers: the layers to capture.
        stop: end the forward pass right after the deepest requested layer (the model output is then ``None``).
        detach: store detached copies (for display); with ``False`` the outputs stay in the autograd graph.
        keep: called as ``keep(info, output)`` inside the hook, and what it returns is stored instead of a copy
            of the output: a caller that only needs a reduction of each output (a per-channel maximum) computes
            it where the output is produced, before a later in-place op changes it, without keeping it.
        leaf: the autograd graph starts at the (one) captured layer: its output is stored as a new leaf that
            requires grad, and grad mode is switched on from there. Called under ``torch.no_grad()``, the forward
            records nothing below the layer (ResNet-18's forward: ~1.4× faster on the CPU) and a backward pass
            ends at the layer — all that a derivative with respect to the layer's output needs.

    Raises:
        LayerError: a requested layer did not run for this input (data-dependent control flow).
    """
    if leaf and (detach or len(layers) != 1):
        raise ValueError("leaf=True needs detach=False and exactly one layer")
    x = fast_layout(model, x)
    wanted: dict[str, dict[int, LayerInfo]] = {}
    for info in layers:
        wanted.setdefault(info.module_name, {})[info.call] = info
    named = dict(model.named_modules())
    expected = len({info.name for info in layers})
    captured: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    # Hooks belong to the module, not the call: a forward of the same model in another thread (a widget
    # answering a click while a mining pass runs) must neither be captured here nor stopped early.
    owner = threading.get_ident()

    def make_hook(module_name: str):  # type: ignore[no-untyped-def]
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> Any:
            if threading.get_ident() != owner:
                return None
            k = counts.get(module_name, 0)
            counts[module_name] = k + 1
            info = wanted[module_name].get(k)
            if info is None or not isinstance(output, torch.Tensor):
                return None
            if leaf:
                output = output.detach().requires_grad_(True)
                torch.set_grad_enabled(True)  # the caller's no_grad context restores the mode on exit
            if keep is not None:
                captured[info.name] = keep(info, output.detach() if detach else output)
            else:
                captured[info.name] = (output.detach().clone(memory_format=torch.contiguous_format) if detach
                                       else output)
            if stop and len(captured) == expected:
                raise _StopForward
            # Hand a copy downstream so later in-place ops cannot overwrite what we keep.
            return None if detach else output.clone()

        return hook

    handles = [named[name].register_forward_hook(make_hook(name)) for name in wanted]
    result = None
    try:
        result = model(x)
    except _StopForward:
        result = None
    finally:
        for h in handles:
            h.remove()
    missing = [info.name for info in layers if info.name not in captured]
    if missing:
        raise LayerError(
            f"layer(s) {', '.join(missing)} did not run for this input (the model's forward skipped them) — "
            "pick another layer or input"
        )
    return captured, result


def model_output(out: Any) -> torch.Tensor:
    """The logits tensor of a model output (first tensor of a tuple, ``.logits`` or ``["out"]``)."""
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, dict):
        for value in out.values():
            if isinstance(value, torch.Tensor):
                return value
    if isinstance(out, (tuple, list)):
        for value in out:
            if isinstance(value, torch.Tensor):
                return value
    raise TypeError(f"cannot find the logits in a model output of type {type(out).__name__}")
