"""The `tuner` command end to end, as a user runs it (a real subprocess)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.support.cli import run_cli
from tests.support.configs import config_path


def test_run_results_plan_end_to_end(tmp_path):
    config = config_path(tmp_path)
    proc = run_cli("run", str(config), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "best trial per model" in proc.stdout
    assert "xgboost" in proc.stdout and "HistGradientBoostingRegressor" in proc.stdout
    assert "trials 6/6" in proc.stderr  # progress line: done/total
    df = pd.read_parquet(tmp_path / "results" / "small")
    assert len(df) == 6

    proc = run_cli("results", str(tmp_path / "results" / "small"), "--json", "--top", "3")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["trials"] == 6 and len(summary["best"]) == 3 and len(summary["best_per_model"]) == 2
    scores = [b["mean_test_score"] for b in summary["best"]]
    assert scores == sorted(scores)  # rmse: lower is better, best first
    assert summary["best"][0]["mean_test_score"] == df["mean_test_score"].min()

    proc = run_cli("plan", str(config), "--json")
    plan = json.loads(proc.stdout)
    assert plan["total_trials"] == 6 and plan["finished_trials"] == 6 and plan["to_run"] == 0
    assert plan["models"]["xgboost"] == {"trials": 4, "fits": 12, "finished": 4}


def test_run_against_scheduler_address(cluster, tmp_path):
    config = config_path(tmp_path)
    proc = run_cli("run", str(config), "--cluster", cluster.scheduler_address, "--results", str(tmp_path / "elsewhere"))
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(tmp_path / "elsewhere" / "small")) == 6
    assert not (tmp_path / "results").exists()


def test_builtin_search_plan():
    proc = run_cli("plan", "--json")
    plan = json.loads(proc.stdout)
    assert set(plan["models"]) == {"xgboost", "lightgbm", "catboost"}
    assert plan["name"] == "california-gbdt"


@pytest.mark.parametrize("warm", ["1", "0"])
def test_local_workers_start_with_the_models_module_imported(tmp_path, warm):
    """tuner run forks its local workers from a server that imported the model's module already
    (TUNER_WARM_START=0: each worker imports it itself), with Dask's thread settings either way."""
    probe = tmp_path / "probe.jsonl"
    config = config_path(tmp_path, models={"tests.support.probe.ProbeRegressor": {"alpha": [1.0, 2.0]}})
    proc = run_cli("run", config, "--workers", "2", "--quiet",
                   env={"TUNER_PROBE_FILE": str(probe), "TUNER_WARM_START": warm})
    assert proc.returncode == 0, proc.stderr
    fits = [json.loads(line) for line in probe.read_text().splitlines()]
    assert len(fits) >= 2 * 3  # two trials of three folds (and the checks' fits)
    assert {f["omp_num_threads"] for f in fits} == {"1"}
    if warm == "1":
        assert all(f["imported_in"] != f["pid"] for f in fits)
        assert len({f["imported_in"] for f in fits}) == 1  # one import for every worker
    else:
        assert all(f["imported_in"] == f["pid"] for f in fits)
