"""Budgets on a real cluster: the rounds a search trains (counted from its rows) never exceed the
budget by more than one ask, and the plan's spend equals what the rows show was trained."""

from __future__ import annotations

import pytest

from tests.support.configs import small_config
from tuner import Search

SPACE = {"max_depth": {"randint": [2, 9]}, "learning_rate": {"loguniform": [0.01, 0.3]}}


def trained_rounds(rows, folds: int = 3) -> int:
    """Rounds trained: rows of one configuration that differ only in rounds came from one fit."""
    config = rows["params"].str.replace(r'"n_estimators": \d+,? ?', "", regex=True)
    return int(rows.groupby(config)["n_resources"].max().sum()) * folds


@pytest.mark.parametrize("strategy", ["random", "tpe"])
def test_budget_in_rounds_is_respected(client, tmp_path, strategy):
    search = {"strategy": strategy, "n_trials": 40, "seed": 0, "max_resource": 27, "min_resource": 3,
              "budget": {"rounds": 600}}
    result = Search(small_config(tmp_path, search=search, models={"xgboost": SPACE})).run(
        client, progress=False, refit=False)
    spent = trained_rounds(result.results_)
    assert 600 <= spent <= 600 + 27 * 3 * 8  # at most one ask (a window of configurations) beyond
    assert len(result.results_) < 40 * 3  # the budget, not n_trials, ended it


def test_plan_spend_equals_the_rounds_the_rows_show(client, tmp_path):
    models = {"xgboost": {"max_depth": [2, 3], "n_estimators": [5, 10, 20]},
              "lightgbm": {"num_leaves": [4, 8], "n_estimators": [10, 15]}}
    cfg = small_config(tmp_path, models=models)
    search = Search(cfg)
    plan = search.plan()
    result = search.run(client, progress=False, refit=False)
    assert (plan.spend["rounds"], plan.spend["fits"]) == (trained_rounds(result.results_), 4 * 3)
    assert plan.spend["models"]["xgboost"] == {"rounds": 2 * 20 * 3, "fits": 2 * 3}  # one fit per depth, to 20
