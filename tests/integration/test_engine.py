"""The engine on a real LocalCluster: exact scores, resume, failures, bounded window, columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GridSearchCV, KFold
from xgboost import XGBRegressor

from tests.support import scheduler_probe
from tests.support.configs import small_config
from tuner import Search
from tuner.data import load

REQUIRED_COLUMNS = [
    "run_id", "trial_id", "model", "params", "metric", "mean_test_score", "std_test_score",
    "split0_test_score", "split1_test_score", "split2_test_score", "n_resources", "status", "error",
    "fit_time", "score_time", "worker", "started_at", "finished_at",
]


def test_scores_equal_gridsearchcv(client, tmp_path):
    cfg = small_config(
        tmp_path,
        data={"dataset": "california_housing", "sample": 1500, "seed": 1},
        models={
            "xgboost": {"max_depth": [2, 4], "n_estimators": [15, 30], "learning_rate": [0.1, 0.3]},
            "sklearn.ensemble.HistGradientBoostingRegressor": {"max_leaf_nodes": [7, 31], "max_iter": [10, 25]},
        },
    )
    result = Search(cfg).run(client, progress=False, refit=False)
    df = result.results_
    assert len(df) == 12 and (df["status"] == "ok").all()

    X, y = load(Search(cfg).config.data, "regression")
    cv = KFold(3, shuffle=True, random_state=0)
    baselines = {
        "xgboost": (XGBRegressor(n_jobs=1, random_state=0, verbosity=0), cfg["models"]["xgboost"]),
        "sklearn.ensemble.HistGradientBoostingRegressor": (
            HistGradientBoostingRegressor(random_state=0),
            cfg["models"]["sklearn.ensemble.HistGradientBoostingRegressor"],
        ),
    }
    for model, (est, grid) in baselines.items():
        gs = GridSearchCV(est, grid, cv=cv, scoring="neg_root_mean_squared_error", n_jobs=1).fit(X, y)
        ours = df[df["model"] == model]
        assert len(ours) == len(gs.cv_results_["params"])
        for params, score, s0 in zip(
            gs.cv_results_["params"], gs.cv_results_["mean_test_score"], gs.cv_results_["split0_test_score"], strict=True
        ):
            row = ours[ours["params"] == json.dumps(params, sort_keys=True)]
            assert len(row) == 1, params
            assert abs(row["mean_test_score"].iloc[0] - (-score)) < 1e-9
            assert abs(row["split0_test_score"].iloc[0] - (-s0)) < 1e-9


def test_results_columns_and_resume_dispatches_nothing(client, tmp_path):
    scheduler_probe.install(client)
    cfg = small_config(tmp_path)
    first = Search(cfg).run(client, progress=False, refit=False)
    assert first.dispatched == 6
    # xgboost's n_estimators 10 and 20 share one fit per max_depth: 2 + 2 units of work, not 6,
    # each one task or (while trial times are unknown) one task per fold
    stats = scheduler_probe.read(client)
    assert stats["units"] == 4 and 4 <= stats["created"] <= 4 * 3

    df = pd.read_parquet(tmp_path / "results" / "small")
    assert len(df) == 6 and df["trial_id"].is_unique
    for col in REQUIRED_COLUMNS + ["param_max_depth", "param_n_estimators", "param_max_leaf_nodes"]:
        assert col in df.columns, col
    assert (df["mean_test_score"] > 0).all()  # RMSE in natural units
    assert df["metric"].unique().tolist() == ["rmse"]
    xgb = df[df["model"] == "xgboost"]
    assert set(xgb["n_resources"]) == {10, 20}
    assert df["worker"].notna().all() and (df["finished_at"] >= df["started_at"]).all()
    json.loads(df["params"].iloc[0])

    scheduler_probe.reset(client)
    files_before = sorted(p.name for p in (tmp_path / "results" / "small").iterdir())
    second = Search(cfg).run(client, progress=False, refit=False)
    assert second.dispatched == 0
    assert scheduler_probe.read(client)["created"] == 0
    assert sorted(p.name for p in (tmp_path / "results" / "small").iterdir()) == files_before
    assert len(second.results_) == 6
    assert second.best_trial_id_ == first.best_trial_id_


def test_extending_the_grid_runs_only_new_points(client, tmp_path):
    cfg = small_config(tmp_path, models={"xgboost": {"max_depth": [2, 3], "n_estimators": [10]}})
    assert Search(cfg).run(client, progress=False, refit=False).dispatched == 2
    cfg["models"]["xgboost"]["max_depth"] = [2, 3, 4]
    second = Search(cfg).run(client, progress=False, refit=False)
    assert second.dispatched == 1 and len(second.results_) == 3


def test_failing_trial_is_recorded_and_search_completes(client, tmp_path):
    # LightGBM rejects bagging_fraction > 1, as in real-world grids: that point fails, the rest run.
    cfg = small_config(
        tmp_path,
        models={"lightgbm": {"bagging_fraction": [0.8, 1.2], "bagging_freq": [1], "n_estimators": [10]}},
    )
    result = Search(cfg).run(client, progress=False, refit=True)
    df = result.results_.set_index("param_bagging_fraction")
    assert df.loc[0.8, "status"] == "ok"
    assert df.loc[1.2, "status"] == "failed"
    assert "bagging_fraction" in df.loc[1.2, "error"]
    assert np.isnan(df.loc[1.2, "mean_test_score"])
    assert result.best_params_["bagging_fraction"] == 0.8
    assert result.best_estimator_.predict(load(result.config.data, "regression")[0]).shape == (442,)


def test_window_bounds_futures_on_scheduler(client, tmp_path):
    scheduler_probe.install(client)
    cfg = small_config(
        tmp_path,
        search={"strategy": "random", "n_trials": 30, "seed": 3, "window": 3},
        models={"sklearn.linear_model.Ridge": {"alpha": {"loguniform": [1e-3, 10.0]}}},
    )
    result = Search(cfg).run(client, progress=False, refit=False)
    assert len(result.results_) == 30
    stats = scheduler_probe.read(client)
    assert 1 <= stats["created"] <= 30  # tiny trials are batched
    assert 1 <= stats["max_live"] <= 3


def test_same_on_existing_scheduler_address(cluster, tmp_path):
    cfg = small_config(tmp_path, cluster={"kind": "address", "address": cluster.scheduler_address})
    result = Search(cfg).run(progress=False, refit=False)  # connects by address itself
    assert len(result.results_) == 6 and (result.results_["status"] == "ok").all()
    local = small_config(tmp_path / "local")
    from distributed import Client

    with Client(cluster) as c:
        other = Search(local).run(c, progress=False, refit=False)
    merged = result.results_.merge(other.results_, on="trial_id")
    np.testing.assert_allclose(merged["mean_test_score_x"], merged["mean_test_score_y"], rtol=0, atol=0)


@pytest.mark.parametrize("task,metric,dataset", [("classification", "logloss", "breast_cancer"),
                                                  ("classification", "roc_auc", "breast_cancer"),
                                                  ("classification", "accuracy", "synthetic")])
def test_classification_all_libraries(client, tmp_path, task, metric, dataset):
    cfg = small_config(
        tmp_path,
        data={"dataset": dataset, "n_samples": 300},
        task=task,
        metric=metric,
        models={
            "xgboost": {"n_estimators": [10]},
            "lightgbm": {"n_estimators": [10], "num_leaves": [7]},
            "catboost": {"iterations": [10], "learning_rate": [0.3]},
            "sklearn.ensemble.RandomForestClassifier": {"n_estimators": [10]},
        },
    )
    result = Search(cfg).run(client, progress=False, refit=False)
    df = result.results_
    assert (df["status"] == "ok").all(), df["error"].tolist()
    assert set(df["n_resources"]) == {10}
    assert df["mean_test_score"].between(0, 1 if metric != "logloss" else 5).all()


@pytest.mark.parametrize("window", [1, 2, 3])
def test_round_groups_are_never_split_across_tasks(client, tmp_path, window):
    cfg = small_config(
        tmp_path,
        search={"strategy": "grid", "window": window},
        models={
            "xgboost": {"max_depth": [2, 3, 4], "learning_rate": [0.1, 0.3], "n_estimators": [5, 10, 15]},
            # num_leaves sorts after n_estimators: the grid still enumerates the rounds fastest
            "lightgbm": {"num_leaves": [4, 8, 16], "learning_rate": [0.1, 0.3], "n_estimators": [5, 10, 15]},
        },
    )
    df = Search(cfg).run(client, progress=False, refit=False).results_
    assert len(df) == 36
    groups = df.groupby(["model", "param_max_depth", "param_num_leaves", "param_learning_rate"], dropna=False)
    assert groups.ngroups == 12
    # trials of one shared fit start and finish together: one fit per fold for the whole group
    assert (groups["started_at"].nunique() == 1).all() and (groups["finished_at"].nunique() == 1).all()


def test_costliest_fits_start_first(client, tmp_path, monkeypatch):
    from tuner.engine import Engine

    submitted = []
    original = Engine._submit

    def record(self, window, batch, attempt=0, units=1, fold=None):
        if not fold:  # a unit's first (or only) task
            submitted.extend(t.params for t in batch)
        return original(self, window, batch, attempt, units, fold)

    monkeypatch.setattr(Engine, "_submit", record)
    cfg = small_config(
        tmp_path,
        search={"strategy": "grid", "window": 4},
        models={"lightgbm": {"num_leaves": [4, 16, 64], "learning_rate": [0.1, 0.3], "n_estimators": [5, 10]}},
    )
    Search(cfg).run(client, progress=False, refit=False)
    leaves = [p["num_leaves"] for p in submitted]
    assert len(leaves) == 12  # every trial submitted once
    assert leaves == sorted(leaves, reverse=True)  # longest processing time first


@pytest.mark.parametrize("split", [True, False], ids=["one-task-per-fold", "whole-units"])
def test_fold_tasks_give_the_records_of_whole_units(client, tmp_path, split):
    """Long units of work go out as one task per CV fold; the records combined on the driver are
    those of the unit evaluated in one piece (same scores, same columns, every trial once)."""
    from tuner.engine import Engine
    from tuner.evaluate import evaluate_batch

    scheduler_probe.install(client)
    cfg = small_config(tmp_path)
    search = Search(cfg)
    engine = Engine(client, search.problem, search.store(), search.schema(), "run-1", split_folds=split)
    engine.run(search.strategy())
    engine.flush()
    stats = scheduler_probe.read(client)
    assert stats["units"] == 4  # 2 shared xgboost fits + 2 HistGradientBoosting trials
    assert stats["created"] == (4 * 3 if split else 4)  # one task per fold, or per unit
    df = pd.read_parquet(tmp_path / "results" / "small")
    assert len(df) == 6 and df["trial_id"].is_unique and (df["status"] == "ok").all()
    whole = {r.trial_id: r.as_row() for r in evaluate_batch(search.problem, list(search.strategy().trials()))}
    for _, row in df.iterrows():
        expected = whole[row["trial_id"]]
        for key in ("mean_test_score", "std_test_score", "split0_test_score", "split1_test_score",
                    "split2_test_score", "n_resources"):
            assert row[key] == expected[key], key
    assert (df["finished_at"] >= df["started_at"]).all() and (df["fit_time"] > 0).all()


def test_window_stays_full_while_fold_tasks_finish(client, tmp_path):
    """Every finished fold task frees a slot that the next unit's folds take as soon as they fit,
    not only when the rest of its own unit has finished."""
    from tuner.engine import Engine

    cfg = small_config(
        tmp_path,
        data={"dataset": "synthetic", "n_samples": 60, "n_features": 2},
        models={"benchmarks.sleep_model.SleepRegressor": {"ms": [20.0], "offset": [0.1 * i for i in range(12)]}},
    )
    search = Search(cfg)
    engine = Engine(client, search.problem, search.store(), search.schema(), "run-1", window=8, batch_size=1, split_folds=True)
    engine.run(search.strategy())
    engine.flush()
    assert engine.stats.finished == 12 and engine.stats.submitted_tasks == 12 * 3
    assert engine.stats.min_in_flight_waiting >= 8 - 3 + 1
    assert len(pd.read_parquet(tmp_path / "results" / "small")) == 12
