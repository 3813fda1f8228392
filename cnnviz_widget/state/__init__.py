"""The state seam: every trait value a panel shows is built by a function here, from explicit inputs.

The live widget's panels (:mod:`cnnviz_widget.panels`) and the HTML export (:mod:`cnnviz_widget.export`) call the
same functions, so a saved page shows exactly what the widget showed. :mod:`.keys` defines which saved result
answers which selection in a page without a kernel.
"""
