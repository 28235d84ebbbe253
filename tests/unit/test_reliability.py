"""A results location with damaged or foreign files is reported before anything runs.

What survives killed workers and drivers is tests/integration/test_reliability.py.
"""

from __future__ import annotations

import os

import pytest

from tests.support.configs import config_file, small_config
from tuner import Search
from tuner.cli import main
from tuner.errors import ResultsError


def test_damaged_and_foreign_files_are_reported(tmp_path, capsys):
    cfg = small_config(tmp_path)
    path = config_file(tmp_path, cfg)
    out = tmp_path / "results" / "small"
    out.mkdir(parents=True)
    (out / "part-20260101T000000-bad.parquet").write_bytes(b"PAR1 this is not parquet")
    assert main(["run", str(path), "--quiet"]) == 2
    assert "part-20260101T000000-bad.parquet" in capsys.readouterr().err
    os.remove(out / "part-20260101T000000-bad.parquet")
    (out / "notes.csv").write_text("a,b\n")
    with pytest.raises(ResultsError, match="notes.csv"):
        Search(cfg).run(progress=False)
    assert main(["results", str(out)]) == 2
