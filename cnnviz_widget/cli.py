"""The ``cnnviz`` command.

Subcommands (one ``add_<name>_command`` function each, registered in :data:`COMMANDS`):

* ``cnnviz mine`` — the top-k dataset exemplars of every unit into a cache folder the widget opens::

      cnnviz mine --model squeezenet1_1 --data photos/ --out cache/ [--layers features.3 ...] [--k 9]
      cnnviz mine --data "shards/train-{0000..0099}.tar" --out cache/     # also: a save_to_disk folder, imagenette

  Interrupted (Ctrl-C, a kill, a crash), it resumes where it stopped when run again. Under ``torchrun`` it splits
  the dataset across the processes (gloo on CPU, nccl on GPUs) and merges to exactly the one-process result::

      torchrun --nproc-per-node 4 -m cnnviz_widget.cli mine --data photos/ --out cache/

  (Each torchrun process computes exactly the batches one process would; on CPUs the last bit of a convolution can
  depend on the thread count, so a bitwise comparison with one process needs the same ``OMP_NUM_THREADS``.)

* ``cnnviz export`` — one self-contained HTML page of the widget (no Python needed to open it): by default the
  layers and units a reader needs, in seconds; ``--layers all`` (or a list) for every unit of those layers::

      cnnviz export --image cat.jpg --exemplars cache/ --out tour.html
      cnnviz export --image cat.jpg --layers features.0 features.4 --exemplars cache/ --out atlas.html

* ``cnnviz app`` — a notebook served to a class with Voilà: outputs only, offline, one kernel per open page::

      cnnviz app [lesson.ipynb] [--ip 0.0.0.0] [--port 8866] [--token TOKEN | --no-token]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import CNNVizError


def _device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def _init_distributed(device: str) -> bool:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); return whether we did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch
    import torch.distributed as dist

    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return True


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="squeezenet1_1",
                   help="squeezenet1_1 (offline ImageNet weights, the default), a torchvision model name, "
                        "'package.module:factory' (factory() returns your nn.Module or a cnnviz_widget.ModelSpec), or "
                        "the path of a module saved whole with torch.save(model, path)")
    p.add_argument("--weights", default="default",
                   help="'default' (pretrained), 'random', or a state-dict file (default: %(default)s)")
    p.add_argument("--input-size", type=int, metavar="PIXELS",
                   help="side of the square input of your own module, when its preprocessing is guessed")


def _load(args: argparse.Namespace, **kwargs: Any) -> Any:  # a ModelSpec (engine imported lazily)
    """The model named by ``--model`` / ``--weights``."""
    from .engine.model.models import load_model

    weights = {"default": "default", "random": None}.get(args.weights, args.weights)
    return load_model(args.model, weights=weights, input_size=args.input_size, **kwargs)


def _run_mine(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    from .engine.exemplars.datasets import open_dataset
    from .engine.exemplars.mining import Miner

    device = _device(args.device)
    distributed = _init_distributed(device)
    try:
        spec = _load(args, device=device)
        data = open_dataset(args.data, image_column=args.image_column, label_column=args.label_column)
        miner = Miner(spec, data, layers=args.layers, k=args.k, batch_size=args.batch_size, cache_dir=args.out,
                      checkpoint_every=args.checkpoint_every, workers=args.workers,
                      reduced_decode=not args.full_decode)
        result = miner.run(bar=False if args.quiet else None)
        if not distributed or dist.get_rank() == 0:
            if args.json:
                print(result.to_json())
            else:
                print(f"{result.images} images mined ({result.skipped} unreadable) from {result.dataset_name}")
                for name, info in result.summary()["layers"].items():
                    print(f"  {name}: {info['channels']} units, {info['dead']} dead")
                print(f"cache: {result.entry}")
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def add_mine_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mine", help="mine the top-k dataset exemplars of every unit into a cache folder",
        description="Mine the top-k dataset exemplars of every unit (Zeiler & Fergus, Figure 2) into a cache folder "
                    "the widget can open. Run it again after an interruption to resume; run it under torchrun to "
                    "split the work across processes.")
    _add_model_arguments(p)
    p.add_argument("--data", required=True,
                   help="a folder of images (searched recursively); a folder written by datasets' save_to_disk; "
                        "WebDataset tar shards ('shards/train-{0000..0099}.tar', a folder of .tar, one .tar); "
                        "'imagenette' or 'cifar10' (':train' for the training split; downloaded once into "
                        "$CNNVIZ_DATA, default ~/.cache/cnnviz/datasets); or 'demo'")
    p.add_argument("--image-column", metavar="NAME", help="a Hugging Face dataset's image column (default: detected)")
    p.add_argument("--label-column", metavar="NAME", help="a Hugging Face dataset's label column (default: detected)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="threads reading and decoding images (default: one per core, at most 8)")
    p.add_argument("--full-decode", action="store_true",
                   help="decode every JPEG in full (default: a large JPEG is decoded at 1/2, 1/4 or 1/8 size while its "
                        "shorter side stays at least twice the resize target)")
    p.add_argument("--out", required=True, help="the cache folder (created if needed)")
    p.add_argument("--layers", nargs="+", metavar="LAYER", help="layer names (default: every convolution, block and linear layer)")
    p.add_argument("--k", type=int, default=9, help="exemplars per unit (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: %(default)s)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: %(default)s)")
    p.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="seconds between checkpoints (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_mine)


def _run_export(args: argparse.Namespace) -> int:
    from .widget import CNNViz

    spec = _load(args)
    widget = CNNViz(model=spec, image=args.image, rule=args.rules[0] if args.rules else "auto")
    if args.exemplars:
        widget.load_exemplars(args.exemplars)
    layers = "all" if args.layers == ["all"] else args.layers
    report = widget.to_html(args.out, layers=layers, units=args.units, rules=args.rules, positions=args.positions,
                            lossless=args.lossless, quality=args.quality, max_side=args.max_side, title=args.title,
                            progress=not args.quiet)
    print(report)
    return 0


def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="write one self-contained HTML page of the widget, to open without Python",
        description="Write the widget for one image as a single HTML file — front end, state and pictures inline, no "
                    "CDN, no kernel — in which the activation grids, unit cards, projections and (with --exemplars) "
                    "top-9 panels of the exported layers stay clickable. Opens offline from a file.")
    _add_model_arguments(p)
    p.add_argument("--image", help="the image shown (default: the first sample photo)")
    p.add_argument("--layers", nargs="+", metavar="LAYER",
                   help="layers to export, or 'all' (default: one per stage, with the units a reader clicks)")
    p.add_argument("--units", choices=("reader", "all"),
                   help="the units a reader clicks (the strongest on the image, the layer atlas's first page, the "
                        "selected one) or all of them (default: reader for the default layers, all for --layers)")
    p.add_argument("--rules", nargs="+", choices=("auto", "deconvnet", "guided", "gradient"), metavar="RULE",
                   help="projection rules to precompute: auto (each layer's by depth, in its display and crop), "
                        "deconvnet, guided, gradient (default: auto)")
    p.add_argument("--positions", nargs="+", choices=("max", "map"), default=["max"], metavar="POSITION",
                   help="max (each unit at its strongest location) and/or map (its whole map) (default: max)")
    p.add_argument("--exemplars", metavar="CACHE_DIR",
                   help="a cache folder written by `cnnviz mine` for this model: adds the top-9 panels")
    p.add_argument("--lossless", action="store_true", help="PNG projections (exact pixels, about 5x larger)")
    p.add_argument("--quality", type=int, default=80, help="WebP quality of projections, 1-100 (default: %(default)s)")
    p.add_argument("--max-side", type=int, default=128, metavar="PIXELS",
                   help="shrink larger projections to this side when not --lossless (default: %(default)s)")
    p.add_argument("--title", help="the page title (default: model and image names)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_export)


def _run_app(args: argparse.Namespace) -> int:
    from .app import serve

    serve(args.notebook, ip=args.ip, port=args.port, token="" if args.no_token else args.token)
    return 0


def add_app_command(subparsers: argparse._SubParsersAction) -> None:
    from .app import DEFAULT_PORT

    p = subparsers.add_parser(
        "app", help="serve a notebook to a class as a web app (Voilà: no code shown, works offline)",
        description="Serve a notebook to a class with Voilà: its outputs without its code, in a page that needs no "
                    "network. Every page opened runs the notebook in a kernel of its own on this machine. Prints the "
                    "address to give the class; Ctrl-C stops the server.")
    p.add_argument("notebook", nargs="?",
                   help="the notebook to serve (default: the classroom app installed with the package)")
    p.add_argument("--ip", default="0.0.0.0",
                   help="address to listen on: 0.0.0.0 = every network interface, for a class; 127.0.0.1 = this "
                        "machine only (default: %(default)s)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token", help="the token in the address given to the class (default: a new random one)")
    token.add_argument("--no-token", action="store_true",
                       help="serve without a token: anyone who can reach the port gets a kernel")
    p.set_defaults(run=_run_app)


#: Every subcommand's registration function, in the order ``cnnviz --help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_mine_command, add_export_command,
                                                                 add_app_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnviz", description="See what a convolutional network has learned.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cnnviz`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CNNVizError as exc:
        print(f"cnnviz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnnviz {args.command}: interrupted (run it again to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
