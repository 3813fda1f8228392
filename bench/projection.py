"""Batched deconvnet projections vs a per-unit loop of Captum's NeuronDeconvolution, and one projection's latency
vs a bare forward + backward of the same model.

Shapes, as the issue defines them:
  (a) 64 units of one image (e.g. a unit card for every channel of a layer),
  (b) 64 (image, unit) pairs from 64 different images (as top-9 exemplars are).
Both sides compute the same thing (seed 1 at the unit, deconvnet rule) and the outputs are checked equal (≤ 1e-5
relative) to Captum run on the memory layout the engine uses (channels-last on the CPU where the model allows it;
see engine/capture.py); Captum is timed both on the inputs as given and on that layout. Random weights; times are
the best of a few runs (the least disturbed on a shared machine). Run: .venv/bin/python bench/projection.py
"""

from __future__ import annotations

import warnings

import torch
from timing import timed

from cnnviz_widget import Explorer, UnitRequest, load_model
from cnnviz_widget.engine.model.capture import fast_layout

warnings.filterwarnings("ignore")
N_UNITS = 64
CASES = {"squeezenet1_1": ["features.4", "features.12"], "alexnet": ["features.4", "features.11"]}




def units_for(ex, xs, layer, shape):
    """(image index, channel, (y, x)) for 64 units at each channel's strongest location."""
    acts = ex.activations(xs, layer)[layer]
    units = []
    for i in range(N_UNITS):
        image = 0 if shape == "a" else i
        channel = (i * 7) % acts.shape[1]
        flat = int(acts[image, channel].argmax())
        units.append((image, channel, divmod(flat, acts.shape[-1])))
    return units


def main() -> None:
    from captum.attr import NeuronDeconvolution

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    for arch, layers in CASES.items():
        ex = Explorer(load_model(arch, weights=None))
        size = ex.spec.input_shape[1]
        xs = torch.rand(N_UNITS, 3, size, size) * 2 - 1
        modules = dict(ex.model.named_modules())
        for layer in layers:
            captum = NeuronDeconvolution(ex.model, modules[ex.layer(layer).module_name])
            for shape in ("a", "b"):
                units = units_for(ex, xs, layer, shape)
                requests = [UnitRequest(i, layer, c, p) for i, c, p in units]
                ours_t, ours = timed(lambda requests=requests: ex.project_batch(xs, requests, rule="deconvnet", seed="one"))

                def baseline(units=units, captum=captum, inputs=xs):
                    return torch.stack([captum.attribute(inputs[i:i + 1], neuron_selector=(c, *p))[0]
                                        for i, c, p in units])

                base_t, _ = timed(baseline, repeat=2)
                # The engine runs this model channels-last (engine/capture.py); Captum on the same layout computes
                # bit for bit what we do (on the caller's layout, rounding may move a near-tied max-pool switch).
                same = fast_layout(ex.model, xs)
                same_t, ref = timed(lambda units=units, captum=captum, same=same: baseline(units, captum, same),
                                    repeat=2)
                err = float((ours - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
                print(f"{arch:14s} {layer:12s} shape ({shape}) 64 units: ours {ours_t * 1e3:7.1f} ms   "
                      f"captum loop {base_t * 1e3:7.1f} ms   ratio {base_t / ours_t:5.1f}x   | captum on our layout "
                      f"{same_t * 1e3:7.1f} ms   ratio {same_t / ours_t:5.1f}x   max rel diff {err:.1e}")
        # one projection vs a bare forward + backward of the same model
        x = xs[0]
        layer = layers[-1]
        one_t, _ = timed(lambda layer=layer: ex.project(x, layer, 5, "max", rule="deconvnet"), repeat=15)

        def bare(x=x):
            xg = fast_layout(ex.model, x[None].clone()).requires_grad_(True)  # the layout the engine uses
            out = ex.model(xg)
            out[0, 0].backward()
            return xg.grad

        bare_t, _ = timed(bare, repeat=15)
        print(f"{arch:14s} one projection ({layer}, 'max'): {one_t * 1e3:6.1f} ms   bare forward+backward "
              f"{bare_t * 1e3:6.1f} ms   ratio {one_t / bare_t:4.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
