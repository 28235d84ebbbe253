"""The `tuner` command in process: what it says about a missing location or a bad override."""

from __future__ import annotations

from tests.support.configs import config_path
from tuner.cli import main


def test_results_table_and_missing(tmp_path, capsys):
    assert main(["results", str(tmp_path / "nothing")]) == 2
    assert "no results" in capsys.readouterr().err


def test_bad_override_exits_2(tmp_path, capsys):
    config = config_path(tmp_path)
    assert main(["run", str(config), "--cluster", "not-an-address"]) == 2
    assert "--cluster" in capsys.readouterr().err
    assert main(["run", str(config), "--workers", "0"]) == 2
    assert not (tmp_path / "results").exists()
