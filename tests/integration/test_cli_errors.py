"""The ``tuner`` command gone wrong in a real process: every trial failing, a closed pipe, Ctrl-C.
One clear line, a documented exit code, never a traceback (the in-process table is in
tests/unit/test_cli_errors.py)."""

from __future__ import annotations

import os
import signal
import subprocess

import pandas as pd
import pytest

from tests.support.cli import TUNER
from tests.support.configs import config_path
from tests.support.records import write_records
from tests.support.waiting import wait_for


@pytest.mark.slow
def test_run_where_every_trial_fails(tmp_path):
    cfg = config_path(tmp_path, models={"lightgbm": {"bagging_fraction": [1.2, 1.5], "n_estimators": [5]}})
    proc = subprocess.run([*TUNER, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "2 x lightgbm: lightgbm.basic.LightGBMError: Check failed: (bagging_fraction) <= (1.0)" in proc.stdout
    assert "no trial succeeded" in proc.stderr
    assert len(pd.read_parquet(tmp_path / "results" / "small")) == 2  # the failures are kept


def test_closed_pipe_is_silent(tmp_path):
    folder = write_records(tmp_path / "r", n=2000)
    proc = subprocess.Popen([*TUNER, "results", str(folder), "--json", "--top", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)  # `| head -c 100`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


@pytest.mark.slow
def test_ctrl_c_saves_what_finished_and_says_how_to_resume(tmp_path):
    models = {"xgboost": {"max_depth": list(range(2, 10)), "min_child_weight": list(range(1, 30)),
                          "n_estimators": [30], "learning_rate": 0.3}}
    cfg = config_path(tmp_path, models=models)
    proc = subprocess.Popen([*TUNER, "run", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as a terminal's job
    results = tmp_path / "results" / "small"
    wait_for(lambda: list(results.glob("part-*.parquet")), 120, interval=0.2, message="a trial to finish")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in out + err
    saved = len(pd.read_parquet(results))
    assert f"interrupted: {saved} trial{'' if saved == 1 else 's'} saved in {results}; run the same command to resume" in err
    assert 0 < saved < len(models["xgboost"]["max_depth"]) * len(models["xgboost"]["min_child_weight"])
