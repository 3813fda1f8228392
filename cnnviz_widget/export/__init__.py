"""One self-contained HTML page of a widget, to open without Python: ``CNNViz.to_html`` and ``cnnviz export``.

The page holds the bundled front end, the widget's state and every picture inline — no CDN, no kernel — and a
small static model (``js/src/static-model.js``) that answers the page's clicks from results computed here. The
panels are the widget's own and render from that state exactly as they do live.

**What is saved by default: what a reader needs** (``w.to_html("page.html")``, ``cnnviz export``; a few seconds
and a few MB for the default model with the demo set's exemplars, where every unit of every layer took 152 s and
34 MB without exemplars, and hours with them):

* the **layers the paper shows**, one per stage (:attr:`~cnnviz_widget.engine.Explorer.stages`; SqueezeNet:
  features.0, the eight fire modules, classifier.1), and the selected layer — each with its activation grid;
* of each layer, the **units a reader clicks** (``units="reader"``): unit cards of the :data:`STRONGEST` units
  strongest on the image (what the grid sorted by strength shows first), of the units on the layer atlas's first
  page and of the selected unit;
* with dataset exemplars (``w.mine()``, ``w.load_exemplars()``): the layer atlas's **first page in strength order**,
  :data:`ATLAS_UNITS` units (the paper's Figure 2 for the layer: the units whose best exemplars fire hardest), and
  the top-9 panels of those units and of the selected unit. Exemplar projections are the dear part: a unit's top-9
  is 9 projections, each of the whole image in the last layers;
* the class-evidence panel (Grad-CAM and guided Grad-CAM) of each of the image's top-5 classes — and of the class
  chosen at export time — at the default Grad-CAM layer and at the class layer chosen, with and without the
  counterfactual map: one batched engine call per layer for all the classes.

The page opens on the selected unit (the grid and the layer atlas sorted by strength, so what it holds comes
first) and says what it holds: the header lists it, the tiles of units it does not hold are dimmed, a click on
one says in the banner that it needs the live widget, and a top-9 panel or layer-atlas page it does not hold says
so in place.

**Everything, or what you choose.** ``layers="all"`` (every layer the widget lists) or a list of layers saves
**every unit** of them (``units="all"``, the default for layers you name; ``units="reader"`` keeps the reader's
choice on them): a unit card of each channel, and with exemplars every unit's top-9 and every page of the layer
atlas in both orders (18 pictures a unit: export the layers you will show). Either way:

* unit cards are at the unit's strongest location (``positions=("max",)``; add ``"map"`` for the whole-map
  projections), for the chosen rules, displays and crops (default: the widget's current ones, ``"auto"``
  included: each layer's default view, :mod:`.views`); projections are computed in batches,
  one receptive-field crop per unit (:meth:`~.engine.explorer.Explorer.project_batch`), and a unit that is silent
  on the image has a zero projection, known without computing it;
* a unit's exemplar projections are computed once (a batch of units at a time), for its top-9 panel and its row
  of the layer atlas, whatever the order of the page it is on;
* every unit synthesised in the session (activation maximisation) shows its image.

Another position (a click on the activation map), another rule or a new image needs the kernel: the page's rule and
position buttons it cannot answer are disabled with a title that says so.

**Interrupting.** The progress bar counts unit cards and top-9 panels; Ctrl-C (a notebook's interrupt) stops the
export within a batch, writes no file (the page is written whole at the end, through a temporary file), and leaves
the widget as it was.

**Storage.** Binary data is stored once per distinct content and base64-encoded. Pictures of *codes* (activation
maps, atlases: their values are coloured in the page) and the layer-1 filters stay lossless PNG; the unit cards'
RGB projections are WebP at ``quality``, those larger than ``max_side`` pixels shrunk to it (the units of the last
layers see the whole image), and so are the photos: the input, the gallery and the exemplar sheets of the top-9
panels (their tiles at :data:`EXEMPLAR_SIDE` px, the size the panel shows) and the layer atlas — unless
``lossless=True``: then every picture is the widget's own, pixel for pixel.

**Safety.** Every text (class names, layer names, file names) travels inside ``<script type="application/json">``
with ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no text can end the script or open
a tag, and the panels put it in the page with ``textContent`` only. The page's Content-Security-Policy allows no
network request at all: it runs from a ``file://`` URL, offline.
"""

from __future__ import annotations

from .page import ExportReport, export_html
from .plan import LayerPlan, default_layers, plan_layer

__all__ = ["ExportReport", "LayerPlan", "default_layers", "export_html", "plan_layer"]
