"""A Figure returned by dlcourse.plots shows as a picture in Jupyter, even before pyplot was used."""
from __future__ import annotations

import nbclient
from nbformat.v4 import new_code_cell, new_notebook


def test_returned_figure_is_displayed_as_png(tmp_path):
    source = ("import numpy as np\nfrom dlcourse.plots import show_image_grid\n"
              "show_image_grid(np.random.default_rng(0).random((4, 8, 8)))")
    nb = new_notebook(cells=[new_code_cell(source)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o for o in outputs if "image/png" in o.get("data", {})], outputs
