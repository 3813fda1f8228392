# /// script
# dependencies = ["cnnviz-widget", "marimo"]
# ///
"""cnnviz-widget in marimo: the widget in a reactive app.

Run it as an app (no code shown):   marimo run notebooks/marimo_app.py
or edit it:                         marimo edit notebooks/marimo_app.py
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="What a CNN sees")


@app.cell
def _():
    import marimo as mo

    from cnnviz_widget import CNNViz

    return CNNViz, mo


@app.cell
def _(mo):
    mo.md("""
    # What a CNN sees

    Pick a layer, click a unit of the activation grid: its projection back to pixels shows what it responds to
    (Zeiler & Fergus, 2013). The widget's selection is an ordinary Python value here — the cells below react to it.
    """)
    return


@app.cell
def _(CNNViz, mo):
    w = CNNViz()  # SqueezeNet 1.1 (ImageNet), offline, with the sample photos
    viz = mo.ui.anywidget(w)
    return viz, w


@app.cell
def _(mo, w):
    # A marimo control that sets the widget from Python.
    layer = mo.ui.dropdown(options=w.explorer.layer_names, value=w.layer, label="Jump to layer (set from Python)")
    layer
    return (layer,)


@app.cell
def _(layer, w):
    w.layer = layer.value
    return


@app.cell
def _(viz):
    viz
    return


@app.cell
def _(mo, viz):
    # Re-runs whenever a click in the widget changes its value (a change made from Python does not re-run it).
    mo.md(f"Last selection made in the widget: layer `{viz.value['layer']}`, channel **{viz.value['channel']}**, "
          f"projection rule *{viz.value['rule']}*.")
    return


if __name__ == "__main__":
    app.run()
