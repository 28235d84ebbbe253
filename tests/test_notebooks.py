"""Every notebook in notebooks/ runs top to bottom on a LocalCluster, and its saved copy renders.

The notebooks are executed with nbclient in a kernel on this interpreter (``sys.executable``,
whatever ``python`` is on the PATH), with the working directory and the temporary directory set
to a pytest temporary folder, so whatever they write ends up there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_BYTES = 1_000_000
KERNEL = "tuner-tests"


def _images(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


@pytest.fixture
def kernel_env(tmp_path, monkeypatch) -> dict[str, str]:
    """A kernel spec that starts ipykernel on this interpreter, and the kernel's environment."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ)
    env["TMPDIR"] = str(work)  # the notebooks keep their files in a tempfile.mkdtemp() folder
    shared = ROOT.parent / "shared" / "data" / "scikit_learn_data"
    if "SCIKIT_LEARN_DATA" not in env and shared.is_dir():
        env["SCIKIT_LEARN_DATA"] = str(shared)  # offline copy of California housing
    return env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_saved_notebook_is_small_and_has_plots(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes; clear large outputs"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert _images(nb) >= 1, f"{path.name}: saved without PNG plots; execute it and save the outputs"
    unexecuted = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} were saved without running"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: saved with an error output"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_env, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=240,
        resources={"metadata": {"path": str(tmp_path / "work")}},
    )
    client.execute(env=kernel_env)  # raises CellExecutionError on the first failing cell
    assert _images(nb) >= 1
    written = list((tmp_path / "work").rglob("part-*.parquet"))
    assert written, "the notebook wrote no results under its temporary folder"


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"tutorial.ipynb", "adaptive.ipynb"} <= names
