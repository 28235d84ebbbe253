"""The notebooks in notebooks/ and what their saved outputs hold."""

from __future__ import annotations

import nbformat

from tests.support.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def images(nb: nbformat.NotebookNode) -> int:
    """How many PNG outputs the code cells of ``nb`` hold."""
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
