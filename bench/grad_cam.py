"""Grad-CAM of the top-5 classes: one batched call of ours vs five calls of Captum's LayerGradCam.

Models, as the issue defines them: the default model (SqueezeNet 1.1, its ImageNet weights, a sample photo) and
torchvision ResNet-18 (random weights, a random input), each at its last convolution and at the default Grad-CAM
layer (the last layer with a spatial map; ResNet-18's ``"layer4"`` — the name Grad-CAM code uses — is that layer).
Ours: ``Explorer.grad_cam(x, layer, top5)``, one forward (recording the graph only above the layer) and one batched
backward. Captum: ``LayerGradCam(model, module).attribute(x, target=c, relu_attributions=True)`` for each class, a
forward and a backward each, timed on the input as given and on the memory layout the engine runs in
(channels-last on the CPU where the model allows it, engine/model/capture.py) — where the maps are compared: the
largest difference is printed (0 means bit for bit). Times are the best of a few runs (the least disturbed on a
shared machine). Run: .venv/bin/python bench/grad_cam.py
"""

from __future__ import annotations

import warnings

import torch
from timing import timed

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.engine.model.capture import fast_layout
from cnnviz_widget.engine.model.samples import sample_photos

warnings.filterwarnings("ignore")




def main() -> None:
    from captum.attr import LayerGradCam

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    cases = [("squeezenet1_1", load_model("squeezenet1_1")), ("resnet18", load_model("resnet18", weights=None))]
    for arch, spec in cases:
        ex = Explorer(spec)
        model = spec.model.eval()
        photos = sample_photos()
        x = ex.prepare(photos[0].path) if arch == "squeezenet1_1" and photos else torch.randn(*spec.input_shape)
        same = fast_layout(model, x[None])
        top5 = [c for c, _label, _p in ex.predict(x, k=5)]
        last_conv = [info.name for info in ex.layers if info.kind == "conv"][-1]
        layers = dict.fromkeys([last_conv, "layer4" if arch == "resnet18" else ex.default_layer("grad_cam")])
        modules = dict(model.named_modules())
        for layer in layers:
            ours_t, ours = timed(lambda layer=layer: ex.grad_cam(x, layer, top5), repeat=5)
            one_t, _ = timed(lambda layer=layer: ex.grad_cam(x, layer, top5[0]), repeat=5)
            captum = LayerGradCam(model, modules[layer])

            def baseline(inputs, captum=captum):
                return torch.stack([captum.attribute(inputs, target=c, relu_attributions=True)[0, 0].detach()
                                    for c in top5])

            base_t, _ = timed(lambda: baseline(x[None]), repeat=3)
            same_t, ref = timed(lambda: baseline(same), repeat=3)
            diff = float((ours - ref).abs().max())
            print(f"{arch:14s} {layer:13s} {tuple(ex.layer(layer).shape)!s:15s} top-5: ours {ours_t * 1e3:6.1f} ms "
                  f"(one class {one_t * 1e3:5.1f} ms)   captum x5 {base_t * 1e3:6.1f} ms   ratio {base_t / ours_t:4.1f}x"
                  f"   | captum on our layout {same_t * 1e3:6.1f} ms   ratio {same_t / ours_t:4.1f}x (goal >= 3x)   "
                  f"max diff {diff:.1e} of {float(ref.abs().max()):.2g}")


if __name__ == "__main__":
    main()
