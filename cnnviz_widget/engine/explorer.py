"""The engine's public object: one model, its layers, and the verbs to look inside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CNNVizError, LayerError, ModelError
from .model.capture import eval_mode, fast_layout, model_output, run_to
from .model.layers import LayerInfo, discover_table
from .model.models import ModelSpec, load_model
from .model.receptive_field import unit_field
from .projection import class_evidence
from .projection.projector import Position, Projector, UnitRequest, check_unit

#: What :meth:`Explorer.default_layer` knows: the verb → how its default layer is chosen.
_DEFAULT_LAYERS: dict[str, Callable[[list[LayerInfo]], LayerInfo]] = {
    "grad_cam": class_evidence.grad_cam_layer,
    "guided_grad_cam": class_evidence.grad_cam_layer,
}


class Explorer:
    """Look inside a CNN: activations, projections (deconvnet / guided / gradient), class evidence (Grad-CAM,
    guided Grad-CAM), receptive fields, predictions.

    Example::

        spec = load_model("squeezenet1_1")
        ex = Explorer(spec)                       # or Explorer(my_module, preprocess=..., labels=...)
        x = spec.preprocess(image)                # Tensor[C,H,W]
        acts = ex.activations(x, ["features.3"])  # {"features.3": Tensor[C,h,w]}
        p = ex.project(x, "features.3", channel=5, position=(7, 9), rule="deconvnet")  # Tensor[C,H,W]

    Wherever an image ``x`` is taken, a ``Tensor[C,H,W]`` (or a batch ``Tensor[N,C,H,W]``) is the model's input as
    it is; anything else (PIL image, numpy array, path, bytes) is read and preprocessed first. Results come back
    on the CPU as float32; the computation runs on the model's own device and dtype. The model is evaluated in
    eval mode and its flags are restored afterwards.

    Wherever a layer name is taken, a name from :attr:`layer_names` or the name of any module the forward calls
    (``"layer4"``, ``"features"``: a container selects the layer whose output it returns) works.
    """

    def __init__(
        self,
        model: ModelSpec | nn.Module | str,
        *,
        preprocess: Callable[[Any], torch.Tensor] | None = None,
        labels: Sequence[str] | None = None,
        input_size: int | None = None,
        name: str | None = None,
        memory_budget: float = 1.5e9,
    ) -> None:
        if isinstance(model, ModelSpec):
            spec = model
            if preprocess is not None or labels is not None:
                spec = ModelSpec(model=spec.model, preprocess=preprocess or spec.preprocess,
                                 labels=list(labels) if labels is not None else spec.labels, name=name or spec.name,
                                 pretrained=spec.pretrained, source=spec.source, input_shape=spec.input_shape)
        elif isinstance(model, (nn.Module, str)):
            spec = load_model(model, preprocess=preprocess, labels=labels, input_size=input_size, name=name)
        else:
            raise ModelError(f"Explorer takes a ModelSpec, an nn.Module or a model name, not {type(model).__name__}")
        self.spec = spec
        self.model = spec.model
        example = torch.zeros((1, *spec.input_shape), device=spec.device, dtype=spec.dtype)
        with eval_mode(self.model):
            self._table = discover_table(self.model, example)
        # Decide the model's memory layout now (a probe of two forwards), not in the middle of the user's first call.
        probe = torch.rand(example.shape, generator=torch.Generator().manual_seed(0)).to(example)
        fast_layout(self.model, probe)
        self._projector = Projector(self.model, self._table, memory_budget=memory_budget)

    # ----------------------------------------------------------------------------------------------- layers
    @property
    def layers(self) -> list[LayerInfo]:
        """Every layer worth showing, in forward order."""
        return list(self._table.layers)

    @property
    def layer_names(self) -> list[str]:
        """Dotted names of the layers worth showing, in forward order."""
        return self._table.names

    @property
    def stages(self) -> list[LayerInfo]:
        """The model's stages — its outermost convolutions, blocks and linear layers, in forward order: the layers a
        tour of the network steps through (SqueezeNet: conv1, fire2…fire9, conv10). See ``LayerTable.stages``."""
        return self._table.stages

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` called ``name`` (``LayerError`` listing the closest names otherwise).

        ``name`` may also name a module that is not listed: a container or wrapper selects the layer whose output
        it returns (ResNet's ``"layer4"`` → ``"layer4.1"``, VGG's ``"features"`` → its last pool), any other module
        a layer of its own (not among :attr:`layers`). The info's ``name`` says which layer it is.
        """
        return self._table[name]

    def default_layer(self, verb: str = "grad_cam") -> str:
        """The layer ``verb`` uses when none is given: for ``"grad_cam"`` / ``"guided_grad_cam"`` the last layer
        with a spatial map."""
        choose = _DEFAULT_LAYERS.get(verb)
        if choose is None:
            raise CNNVizError(f"no default layer for {verb!r}; verbs with one: {', '.join(_DEFAULT_LAYERS)}")
        return choose(self._table.layers).name

    @property
    def first_conv(self) -> LayerInfo:
        """The first convolution in forward order (its weights are the paper's "layer 1 filters")."""
        return next(info for info in self._table if info.kind == "conv")

    def filters(self, layer: str | None = None) -> torch.Tensor:
        """Weights of a convolution (default: the first), ``Tensor[out, in, kh, kw]`` on the CPU."""
        info = self.first_conv if layer is None else self.layer(layer)
        module = dict(self.model.named_modules())[info.module_name]
        if info.kind != "conv":
            raise LayerError(f"layer {info.name!r} is a {info.kind}, not a convolution; filters need a conv layer")
        return module.weight.detach().to("cpu", torch.float32).clone()

    # ----------------------------------------------------------------------------------------------- inputs
    def prepare(self, image: Any) -> torch.Tensor:
        """Read and preprocess any image into the model's ``Tensor[C,H,W]`` (on the CPU)."""
        return self.spec.preprocess(image)

    def _batch(self, x: Any) -> tuple[torch.Tensor, bool]:
        """(batch on the model's device, whether the caller passed a single image)."""
        if isinstance(x, torch.Tensor) and x.dim() == len(self.spec.input_shape):
            batch, single = x.unsqueeze(0), True
        elif isinstance(x, torch.Tensor) and x.dim() == len(self.spec.input_shape) + 1:
            batch, single = x, False
        elif isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, float)):
            batch, single = torch.stack([self._batch(item)[0][0] for item in x]), False
        else:
            batch, single = self.prepare(x).unsqueeze(0), True
        if batch.shape[1] != self.spec.input_shape[0]:
            raise ModelError(
                f"input has {batch.shape[1]} channels but the model takes {self.spec.input_shape[0]} — "
                "pass an image (it is preprocessed for you) or the tensor spec.preprocess(image) returns"
            )
        return batch.to(self.spec.device, self.spec.dtype), single

    def to_pixels(self, x: torch.Tensor) -> np.ndarray:
        """The model input ``x`` as the uint8 RGB picture the model saw (H×W×3)."""
        return self.spec.to_pixels(x)

    # ------------------------------------------------------------------------------------------ activations
    def activations(self, x: Any, layers: Sequence[str] | str) -> dict[str, torch.Tensor]:
        """Outputs of ``layers`` for ``x``: ``{name: Tensor[C,h,w]}`` (``[N,C,h,w]`` for a batch; ``[F]`` for
        linear layers). The forward pass stops after the deepest layer requested."""
        names = [layers] if isinstance(layers, str) else list(layers)
        infos = [self.layer(n) for n in names]
        batch, single = self._batch(x)
        with eval_mode(self.model), torch.no_grad():
            captured, _ = run_to(self.model, batch, infos)
        return {n: (captured[info.name][0] if single else captured[info.name]).to("cpu", torch.float32)
                for n, info in zip(names, infos)}

    # ---------------------------------------------------------------------------------------- projections
    def project(self, x: Any, layer: str, channel: int, position: Position = None, rule: str = "deconvnet",
                seed: str = "activation") -> torch.Tensor:
        """Project one unit back to input space: ``Tensor[C,H,W]``.

        Args:
            x: one image.
            layer, channel: the unit's layer and channel.
            position: ``(y, x)`` in the layer's map; ``"max"`` for the channel's strongest location; ``None`` for
                the channel's whole feature map (the paper's "feature map" projections).
            rule: ``"deconvnet"`` (Zeiler & Fergus), ``"guided"`` (guided backprop) or ``"gradient"``.
            seed: ``"activation"`` — the backward pass starts from the unit's own activation(s), every other
                activation of the layer zeroed, as the paper does — or ``"one"`` (the derivative of the unit).
        """
        batch, _ = self._batch(x)
        if batch.shape[0] != 1:
            raise ModelError("project takes one image; use project_batch for several")
        return self.project_batch(batch, [UnitRequest(0, layer, channel, position)], rule=rule, seed=seed)[0]

    def project_batch(self, xs: Any, units: Sequence[UnitRequest | tuple], rule: str = "deconvnet",
                      seed: str = "activation", boxes: Sequence[tuple[int, ...]] | None = None) -> torch.Tensor:
        """Project many units of many images at once: ``Tensor[U,C,H,W]``, one projection per unit.

        Args:
            xs: a batch ``Tensor[N,C,H,W]`` or a list of images.
            units: :class:`UnitRequest` s or tuples ``(image_index, layer, channel, position)``.

        Units of one image share a forward pass; units at a position are computed on their receptive field only;
        results equal :meth:`project` one at a time (to float rounding) and do not depend on what else is asked.

        With ``boxes`` (one ``(top, left, bottom, right)`` per unit, all the same size — e.g. each unit's
        :meth:`receptive_field`) only that part of each projection comes back, ``Tensor[U,C,h,w]``, zero where a box
        leaves the image: no full-size canvas per unit.
        """
        batch, _ = self._batch(xs)
        requests = [u if isinstance(u, UnitRequest) else UnitRequest(*u) for u in units]
        with eval_mode(self.model):
            return self._projector.project(batch, requests, rule=rule, seed=seed, boxes=boxes)

    # -------------------------------------------------------------------------------------- class evidence
    def _class_evidence_inputs(self, x: Any, layer: str | None, verb: str) -> tuple[torch.Tensor, LayerInfo]:
        batch, _ = self._batch(x)
        if batch.shape[0] != 1:
            raise ModelError(f"{verb} takes one image, not a batch of {batch.shape[0]}")
        default = class_evidence.grad_cam_layer(self._table.layers)
        info = default if layer is None else self.layer(layer)
        class_evidence.check_layer(info, default)
        return batch, info

    def grad_cam(self, x: Any, layer: str | None, target: int | Sequence[int], *, upsample: bool = False,
                 counterfactual: bool = False) -> torch.Tensor:
        """Grad-CAM (Selvaraju et al. 2017): where in ``x`` the evidence for class ``target`` lies, seen at ``layer``.

        ``ReLU(Σ_k α_k A^k)``, ``A`` the layer's output and ``α_k`` the spatial mean of the derivative of the class's
        logit (before the softmax) with respect to map ``k`` (:mod:`~.projection.class_evidence`).

        Args:
            x: one image.
            layer: any layer with a spatial map; ``None`` for :meth:`default_layer` ``("grad_cam")``.
            target: a class index → ``Tensor[h, w]``; a list of them → ``Tensor[T, h, w]``, one map per class from
                one forward and one batched backward pass (each equal to its own call).
            upsample: the map at the input's size (bilinear, ``align_corners=False``) instead of the layer's.
            counterfactual: negated gradients — what argues *against* the class (the paper's counterfactual
                explanation).

        Raises:
            LayerError: a layer without a spatial map, or a class outside the model's classes.
            ModelError: the model's output is not class scores (``[1, classes]``).
        """
        batch, info = self._class_evidence_inputs(x, layer, "grad_cam")
        classes, single = class_evidence.class_list(target)
        with eval_mode(self.model):
            maps = class_evidence.grad_cam(self.model, batch, info, classes, upsample=upsample,
                                           counterfactual=counterfactual)
        maps = maps.to("cpu", torch.float32).contiguous()
        return maps[0] if single else maps

    def guided_grad_cam(self, x: Any, layer: str | None, target: int | Sequence[int]) -> torch.Tensor:
        """Guided Grad-CAM (Selvaraju et al. 2017): guided backprop of class ``target``'s logit times its Grad-CAM
        map at ``layer`` upsampled to the input (bilinear, ``align_corners=False``) — ``Tensor[C, H, W]``
        (``[T, C, H, W]`` for a list of classes, one forward and batched backwards). ``layer=None``: the default.

        Raises:
            LayerError: a layer without a spatial map, or a class outside the model's classes.
            ModelError: the model's output is not class scores (``[1, classes]``).
        """
        batch, info = self._class_evidence_inputs(x, layer, "guided_grad_cam")
        classes, single = class_evidence.class_list(target)
        with eval_mode(self.model):
            maps = class_evidence.guided_grad_cam(self.model, batch, info, classes)
        maps = maps.to("cpu", torch.float32).contiguous()
        return maps[0] if single else maps

    # ------------------------------------------------------------------------------------ receptive fields
    def receptive_field(self, layer: str, position: tuple[int, ...] = (0, 0)) -> tuple[int, ...]:
        """Theoretical receptive field of a unit: ``(top, left, bottom, right)`` in input pixels, half-open
        (``bottom - top`` is its height) and unclipped (it may extend past the image, into the padding)."""
        info = self.layer(layer)
        if info.geometry is None:
            raise ModelError(
                f"the receptive field of {info.name!r} could not be traced for {type(self.model).__name__} "
                "(an operation the tracer does not know) — projections still work"
            )
        pos = check_unit(info, 0, position)
        if pos is None:
            pos = tuple(0 for _ in info.geometry)
        elif pos == "max":
            raise LayerError("receptive_field needs an explicit position (y, x)")
        return unit_field(info.geometry, pos)  # type: ignore[arg-type]

    # ----------------------------------------------------------------------------------------- prediction
    def predict(self, x: Any, k: int = 5) -> list[tuple[int, str, float]]:
        """Top-``k`` classes: ``[(class_index, label, probability), ...]``, most probable first."""
        batch, single = self._batch(x)
        with eval_mode(self.model), torch.no_grad():
            logits = model_output(self.model(fast_layout(self.model, batch))).float()
        if logits.dim() > 2:
            logits = logits.flatten(1)
        probs = torch.softmax(logits, dim=1).to("cpu")
        k = min(k, probs.shape[1])
        labels = self.spec.labels
        results = []
        for row in probs:
            top = torch.topk(row, k)
            results.append([(int(i), labels[int(i)] if labels and int(i) < len(labels) else f"class {int(i)}",
                             float(p)) for p, i in zip(top.values, top.indices)])
        return results[0] if single else results  # type: ignore[return-value]
