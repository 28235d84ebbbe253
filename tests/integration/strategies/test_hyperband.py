"""Successive halving, Hyperband and ASHA searches on the cluster: rows and ranking, resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.support import scheduler_probe
from tests.support.cli import TUNER
from tests.support.configs import budget_config, config_file, small_config
from tuner import Search


@pytest.mark.parametrize("strategy,search", [("hyperband", {}), ("asha", {"n_trials": 12}),
                                             ("successive_halving", {"n_trials": 9})])
def test_budgeted_search_rows_and_ranking(client, tmp_path, strategy, search):
    cfg = budget_config(tmp_path, strategy, **search)
    result = Search(cfg).run(client, progress=False, refit=True)
    df = result.results_
    assert df["trial_id"].is_unique and (df["status"] == "ok").all()
    for col in ("config_id", "bracket", "rung", "n_resources", "promoted", "continued"):
        assert col in df.columns
    assert set(df["n_resources"]) <= {5, 15, 45}
    higher = df[df["rung"] > 0]
    assert len(higher) > 0 and higher["continued"].all()  # survivors continue, never restart
    # every row above rung 0 belongs to a configuration promoted from the rung below
    promoted = set(zip(df.loc[df["promoted"], "config_id"], df.loc[df["promoted"], "rung"] + 1, strict=True))
    assert set(zip(higher["config_id"], higher["rung"], strict=True)) <= promoted
    # every rung row is a complete model scored by CV: all of them compete in the ranking
    best = df.loc[df["mean_test_score"].idxmin()]
    assert result.best_score_ == best["mean_test_score"] and result.best_trial_id_ == best["trial_id"]
    assert result.best_params_["n_estimators"] == best["n_resources"]
    assert not os.path.exists(tmp_path / "results" / cfg["name"] / "_checkpoints")
    if strategy == "hyperband":
        plan = Search(cfg).plan()
        expected_rows = sum(len(r) and r["n_configs"] for b in plan["brackets"] for r in b["rungs"])
        assert len(df) == expected_rows


@pytest.mark.parametrize("strategy", ["hyperband", "bohb"])
def test_a_rows_budget_trains_each_rung_afresh_on_its_share_of_the_rows(client, tmp_path, strategy):
    cfg = small_config(tmp_path, name=f"rows-{strategy}",
                       search={"strategy": strategy, "resource": "rows", "min_resource": 11, "max_resource": 100,
                               "eta": 3, "seed": 0},
                       models={"lightgbm": {"num_leaves": {"randint": [4, 32]}, "learning_rate": {"loguniform": [0.05, 0.3]},
                                            "n_estimators": 20, "min_child_samples": 5}})
    result = Search(cfg).run(client, progress=False, refit=True)
    df = result.results_
    assert (df["status"] == "ok").all() and set(df["param_rows"]) == {11, 33, 100}
    assert set(df["n_resources"]) == {11, 33, 100} and not df["continued"].any()  # nothing continues
    assert not os.path.exists(tmp_path / "results" / cfg["name"] / "_checkpoints")  # nothing to keep
    # the best rung row wins, whatever its share; the exported model is refit on all the rows
    best = df.loc[df["mean_test_score"].idxmin()]
    assert result.best_trial_id_ == best["trial_id"]
    assert "rows" not in result.best_estimator_.params and "rows" not in result.best_estimator_.estimator_.get_params()
    # the spend tuner plan reports is what the rows trained: each rung its 20 rounds, 3 folds
    assert Search(cfg).spend()["rounds"] == len(df) * 20 * 3


def test_killed_search_resumes_without_repeating_a_finished_rung(cluster, client, tmp_path):
    cfg = budget_config(tmp_path, "hyperband", window=1)  # one trial at a time: the kill lands midway
    # fits of a known length (3 folds x 60 ms a rung evaluation), so the search outlasts the first flush
    cfg["models"] = {"benchmarks.sleep_model.SleepRegressor": {"ms": 60, "offset": {"uniform": [-3.0, 3.0]}}}
    cfg["data"] = {"dataset": "synthetic", "n_samples": 60, "n_features": 2}
    cfg["cluster"] = {"kind": "address", "address": cluster.scheduler_address}
    path = config_file(tmp_path, cfg, "hb.yaml")
    out = tmp_path / "results" / cfg["name"]
    proc = subprocess.Popen([*TUNER, "run", str(path), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob("part-*.parquet")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = pd.read_parquet(out)
    total = sum(r.n_configs for b in Search(cfg).strategy().brackets() for r in b.rungs)
    assert 0 < len(before) < total, "the kill should land midway"

    scheduler_probe.install(client)
    result = Search(cfg).run(client, progress=False, refit=False)
    after = pd.read_parquet(out)
    assert after["trial_id"].is_unique  # no finished rung ran twice
    assert set(before["trial_id"]) <= set(after["trial_id"])
    assert len(after) == len(result.results_) == total
    assert result.dispatched == total - len(before)
    assert 1 <= scheduler_probe.read(client)["created"] <= result.dispatched  # tasks (trials are batched)


SUBSAMPLED = {
    "xgboost": {"max_depth": {"randint": [2, 6]}, "learning_rate": {"loguniform": [0.05, 0.3]},
                "subsample": {"uniform": [0.5, 0.9]}, "colsample_bytree": {"uniform": [0.5, 0.9]}},
    "lightgbm": {"num_leaves": {"randint": [4, 32]}, "learning_rate": 0.1, "bagging_fraction": 0.7,
                 "bagging_freq": 1, "feature_fraction": 0.8},
}


def test_the_same_search_twice_gives_identical_rows_with_subsampling(client, tmp_path):
    """Continued training is deterministic: rungs continue from the checkpoint's booster (its
    library's own format, loaded afresh) with a seed set for the continuation, never from
    whatever state a worker happens to hold -- so two workers or one give the same rows."""
    from distributed import Client, LocalCluster

    def run(name: str, on) -> pd.DataFrame:
        cfg = small_config(tmp_path, name=name, search={"strategy": "hyperband", "min_resource": 4,
                                                        "max_resource": 36, "seed": 0}, models=SUBSAMPLED)
        return Search(cfg).run(on, progress=False, refit=False).results_.set_index("trial_id").sort_index()

    first = run("two-workers", client)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as one, \
            Client(one) as single:
        second = run("one-worker", single)
    assert list(first.index) == list(second.index)
    assert first["continued"].sum() >= 4  # promoted configurations trained on from a checkpoint
    columns = ["mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score", "n_resources"]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def test_a_search_taken_further_trains_at_once_what_lost_its_checkpoint(client, tmp_path):
    """A search that ended after its first rung (its budget) removed its checkpoints; taken further,
    the rungs that would continue them train from scratch at once instead of waiting for checkpoints
    nobody writes, and the rung after those continues the checkpoints they wrote."""
    cfg = budget_config(tmp_path, "successive_halving", n_trials=9)
    first = Search({**cfg, "search": {**cfg["search"], "budget": {"rounds": 18 * 5 * 3}}})
    before = first.run(client, progress=False, refit=False).results_
    assert set(before["rung"]) == {0} and len(before) == 18
    further = Search(cfg)
    df = further.run(client, progress=False, refit=False).results_
    assert set(df["rung"]) == {0, 1, 2} and (df["status"] == "ok").all()
    assert further._gone_checkpoints == {(c, 5) for c in before["config_id"]}
    assert not df.loc[df["rung"] == 1, "continued"].any()  # from scratch: their checkpoints are gone
    assert df.loc[df["rung"] == 2, "continued"].all()  # from the checkpoints rung 1 wrote in this run
    resumed = df[df["rung"] == 0].set_index("trial_id")["mean_test_score"]
    assert resumed.equals(before.set_index("trial_id")["mean_test_score"].loc[resumed.index])
