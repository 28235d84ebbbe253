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
    for t, shared_record in zip(trials, shared, strict=True):
        rec, alone = shared_record.as_row(), evaluate_trial(problem, t).as_row()
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
    assert [r.status for r in records] == ["ok", "ok", "failed", "failed"]
    assert all("bagging_fraction" in r.error for r in records[2:])


def test_xgboost_reuses_its_training_matrix_and_scores_exactly_as_a_fresh_fit():
    """Trials on the same fold train on the worker thread's QuantileDMatrix (built once per
    binning), and every prediction equals that of a plain ``fit`` on the same rows."""
    import numpy as np
    import xgboost as xgb

    from tuner.models import xgboost as xgb_adapter

    problem = Problem(DataSpec(dataset="diabetes"), "regression", CVConfig(3, True, 0), "rmse")
    X, y, splits = problem.load()
    train, test = splits[0]
    adapter = get_adapter("xgboost")
    built = []
    original = xgb.XGBRegressor._create_dmatrix

    def counting(self, ref, **kwargs):
        built.append(ref is None)
        return original(self, ref, **kwargs)

    xgb_adapter._matrices.cache = None
    params = [{"max_depth": 2, "subsample": 0.8, "n_estimators": 15}, {"max_depth": 4, "n_estimators": 25},
              {"max_depth": 3, "max_bin": 16, "n_estimators": 10}, {"max_depth": 4, "n_estimators": 25}]
    with mock.patch.object(xgb.XGBRegressor, "_create_dmatrix", counting):
        cached = []
        for p in params:
            est = adapter.make(p, "regression", 1, 0)
            adapter.fit(est, X.iloc[train], y[train], data_key=("data", 0), keep=3)
            assert "_create_dmatrix" not in vars(est)  # nothing left on the model
            cached.append(est.predict(X.iloc[test]))
    assert sum(built) == 2  # one matrix for max_bin 256, one for max_bin 16
    for p, prediction in zip(params, cached, strict=True):
        fresh = adapter.make(p, "regression", 1, 0).fit(X.iloc[train], y[train]).predict(X.iloc[test])
        np.testing.assert_array_equal(prediction, fresh)


def test_xgboost_scores_a_fold_from_its_kept_test_matrix_with_the_same_predictions():
    """A regressor predicts the fold's test rows from a DMatrix kept per worker thread (built once),
    at every round count, exactly as its own predict; classifiers' labels and probabilities too."""
    import numpy as np
    import pandas as pd

    from tuner.models import xgboost as xgb_adapter

    problem = Problem(DataSpec(dataset="diabetes"), "regression", CVConfig(3, True, 0), "rmse")
    X, y, splits = problem.load()
    X = X.assign(group=pd.Categorical(np.arange(len(X)) % 4))  # a category column too
    train, test = splits[0]
    adapter = get_adapter("xgboost")
    xgb_adapter._test_matrices.cache = None
    est = adapter.make({"max_depth": 3, "n_estimators": 30, "enable_categorical": True}, "regression", 1, 0)
    est.fit(X.iloc[train], y[train])
    for n in (None, 10, 30):
        view = adapter.scoring(est, ("data", 0, "test"), keep=3, n=n)
        expected = est.predict(X.iloc[test], iteration_range=(0, n or 30))
        np.testing.assert_array_equal(view.predict(X.iloc[test]), expected)
    assert len(xgb_adapter._test_matrices.cache) == 1  # one matrix for the fold, whatever the rounds
    assert "get_booster" not in vars(est)  # nothing left on the model
    # classifiers: XGBoost's own labels and probabilities (binary, and softprob over 3 classes)
    xgb_adapter._test_matrices.cache = None
    for labels in (y > 150, np.digitize(y, [100, 200])):
        clf = adapter.make({"max_depth": 2, "n_estimators": 12, "enable_categorical": True}, "classification", 1, 0)
        clf.fit(X.iloc[train], labels[train])
        for n in (None, 4):
            view = adapter.scoring(clf, ("data", 0, "test"), keep=3, n=n)
            rounds = (0, n or 12)
            np.testing.assert_array_equal(view.predict(X.iloc[test]), clf.predict(X.iloc[test], iteration_range=rounds))
            np.testing.assert_array_equal(view.predict_proba(X.iloc[test]),
                                          clf.predict_proba(X.iloc[test], iteration_range=rounds))
            np.testing.assert_array_equal(view.classes_, clf.classes_)
    assert len(xgb_adapter._test_matrices.cache) == 1  # predicted from the kept matrix
    other = X.iloc[test].copy()  # rows that are not the kept ones: predicted as they are
    np.testing.assert_array_equal(view.predict_proba(other), clf.predict_proba(other, iteration_range=(0, 4)))
