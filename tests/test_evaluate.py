"""Round sharing: trials differing only in rounds share one fit and score exactly as separate fits."""

from __future__ import annotations

from unittest import mock

import pytest

from tuner.config import CVConfig
from tuner.data import DataSpec
from tuner.evaluate import Problem, evaluate_batch, evaluate_trial, share_key
from tuner.models import get_adapter
from tuner.trial import Trial

CASES = [
    ("xgboost", {"max_depth": 3, "learning_rate": 0.2, "subsample": 0.8}, "n_estimators"),
    ("lightgbm", {"num_leaves": 7, "learning_rate": 0.2, "subsample": 0.8, "subsample_freq": 1}, "n_estimators"),
    ("catboost", {"depth": 4, "learning_rate": 0.2}, "iterations"),
    ("sklearn.ensemble.GradientBoostingRegressor", {"max_depth": 2, "subsample": 0.8}, "n_estimators"),
    ("sklearn.ensemble.HistGradientBoostingRegressor", {"max_leaf_nodes": 7, "early_stopping": False}, "max_iter"),
]
CLASSIFIERS = {"sklearn.ensemble.GradientBoostingRegressor": "sklearn.ensemble.GradientBoostingClassifier",
               "sklearn.ensemble.HistGradientBoostingRegressor": "sklearn.ensemble.HistGradientBoostingClassifier"}


@pytest.mark.parametrize("task,metric,dataset", [("regression", "rmse", "diabetes"),
                                                  ("classification", "logloss", "breast_cancer"),
                                                  ("classification", "roc_auc", "breast_cancer")])
@pytest.mark.parametrize("model,params,rounds", CASES, ids=[c[0] for c in CASES])
def test_shared_fit_equals_separate_fits(model, params, rounds, task, metric, dataset):
    if task == "classification":
        model = CLASSIFIERS.get(model, model)
    problem = Problem(DataSpec(dataset=dataset), task, CVConfig(3, True, 0), metric)
    trials = [Trial.create(model, {**params, rounds: n}, "ctx") for n in (5, 12, 30)]
    assert len({share_key(t) for t in trials}) == 1 and share_key(trials[0]) is not None
    adapter = get_adapter(model)
    with mock.patch.object(type(adapter), "make", autospec=True, side_effect=type(adapter).make) as make:
        shared = evaluate_batch(problem, trials)
    assert make.call_count == 3  # one fit per fold, not one per trial and fold
    for t, rec in zip(trials, shared, strict=True):
        alone = evaluate_trial(problem, t)
        assert rec["status"] == alone["status"] == "ok"
        assert rec["trial_id"] == t.trial_id and rec["n_resources"] == t.params[rounds]
        for key in ("mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"):
            assert rec[key] == alone[key], key  # identical, not merely close


def test_no_sharing_where_it_would_not_be_exact():
    assert share_key(Trial.create("catboost", {"iterations": 10}, "c")) is None  # rate derived from iterations
    assert share_key(Trial.create("xgboost", {"booster": "dart", "n_estimators": 10}, "c")) is None
    assert share_key(Trial.create("lightgbm", {"boosting_type": "dart", "n_estimators": 10}, "c")) is None
    assert share_key(Trial.create("sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": 10}, "c")) is None
    assert share_key(Trial.create("sklearn.ensemble.RandomForestRegressor", {"n_estimators": 10}, "c")) is None
    assert share_key(Trial.create("xgboost", {"max_depth": 3}, "c")) is None  # rounds not varied


def test_failure_inside_a_shared_group_is_isolated():
    problem = Problem(DataSpec(dataset="diabetes"), "regression", CVConfig(3, False, 0), "rmse")
    good = [Trial.create("lightgbm", {"num_leaves": 7, "n_estimators": n}, "c") for n in (5, 10)]
    bad = [Trial.create("lightgbm", {"num_leaves": 7, "bagging_fraction": 1.2, "n_estimators": n}, "c") for n in (5, 10)]
    records = evaluate_batch(problem, good + bad)
    assert [r["status"] for r in records] == ["ok", "ok", "failed", "failed"]
    assert all("bagging_fraction" in r["error"] for r in records[2:])
