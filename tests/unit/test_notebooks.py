"""Every notebook in notebooks/ is saved small, executed, with its plots and without errors.

That each one runs top to bottom on a LocalCluster is tests/integration/test_notebooks.py.
"""

from __future__ import annotations

import nbformat
import pytest

from tests.support.notebooks import NOTEBOOKS, images

MAX_BYTES = 1_000_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_saved_notebook_is_small_and_has_plots(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes; clear large outputs"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert images(nb) >= 1, f"{path.name}: saved without PNG plots; execute it and save the outputs"
    unexecuted = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} were saved without running"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: saved with an error output"


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"tutorial.ipynb", "adaptive.ipynb"} <= names
