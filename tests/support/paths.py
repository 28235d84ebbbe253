"""Where things are: the repository, its folders, the virtualenv's scripts, the offline data."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  #: the repository: tests/support/paths.py -> ../..
CLUSTER_DIR = ROOT / "cluster"
NOTEBOOKS_DIR = ROOT / "notebooks"
#: the interpreter's scripts folder (the virtualenv's ``dask``, ``tuner``, ``hadolint``)
BIN = Path(sys.executable).parent
#: offline copy of the scikit-learn datasets, beside the project where there is one
SHARED_DATA = ROOT.parent / "shared" / "data" / "scikit_learn_data"
