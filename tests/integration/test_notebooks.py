"""Every notebook in notebooks/ runs top to bottom on a LocalCluster.

The notebooks are executed with nbclient in a kernel on this interpreter (``sys.executable``,
whatever ``python`` is on the PATH), with the working directory and the temporary directory set
to a pytest temporary folder, so whatever they write ends up there.
"""

from __future__ import annotations

import json
import os
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.notebooks import NOTEBOOKS, images
from tests.support.paths import SHARED_DATA

KERNEL = "tuner-tests"


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
    if "SCIKIT_LEARN_DATA" not in env and SHARED_DATA.is_dir():
        env["SCIKIT_LEARN_DATA"] = str(SHARED_DATA)  # offline copy of California housing
    return env


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
    assert images(nb) >= 1
    written = list((tmp_path / "work").rglob("part-*.parquet"))
    assert written, "the notebook wrote no results under its temporary folder"
