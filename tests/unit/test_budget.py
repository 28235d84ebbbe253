"""What a trial costs (rounds and fits, shared fits and continued rungs counted once), and the
guard that stops asking once a budget is spent."""

from __future__ import annotations

import pytest

from tuner.budget import Budget, BudgetGuard, Spend
from tuner.config import load_config
from tuner.errors import ConfigError
from tuner.search import Search
from tuner.trial import Trial


def test_spend_counts_shared_fits_once_and_continued_rungs_by_their_extra_rounds():
    spend = Spend("regression", folds=3)
    for n in (10, 30, 90):  # a rounds ladder: one fit to 90
        spend.add(Trial.create("xgboost", {"max_depth": 3, "n_estimators": n}, "c"))
    assert (spend.rounds, spend.fits) == (270, 3)
    spend.add(Trial.create("xgboost", {"max_depth": 4}, "c"))  # XGBoost's default: 100 rounds
    assert (spend.rounds, spend.fits) == (570, 6)
    rung = Trial.create("lightgbm", {"n_estimators": 30}, "c", config_id="a", rung=1, resource="n_estimators",
                        continue_from=10)
    spend.add(rung)
    assert (spend.rounds, spend.fits) == (630, 9)
    spend.add(Trial.create("sklearn.linear_model.Ridge", {"alpha": 1.0}, "c"))  # no rounds: a fit
    assert (spend.rounds, spend.fits) == (630, 12)
    assert spend.by_model == {"xgboost": {"rounds": 570, "fits": 6}, "lightgbm": {"rounds": 60, "fits": 3},
                              "sklearn.linear_model.Ridge": {"rounds": 0, "fits": 3}}


def search(**budget) -> Search:
    return Search({"data": {"dataset": "diabetes"}, "cv": {"folds": 3},
                   "search": {"strategy": "random", "n_trials": 50, "max_resource": 90,
                              **({"budget": budget} if budget else {})},
                   "models": {"xgboost": {"max_depth": {"randint": [2, 9]}, "learning_rate": {"loguniform": [0.01, 0.3]}}}})


def test_guard_stops_asking_once_spent_overshooting_by_one_ask_at_most():
    strategy = search(rounds=1000).strategy()
    assert isinstance(strategy, BudgetGuard) and not strategy.adaptive
    asked = []
    while batch := strategy.ask(3):  # 3 rows: one configuration of the ladder 10, 30, 90
        asked += batch
    assert 1000 <= strategy.spend.rounds < 1000 + 3 * 90  # one ask beyond the budget at most
    assert len(asked) == 3 * (strategy.spend.rounds // 270)


def test_fits_budget_and_the_plan_reports_spend_and_budget():
    strategy = search(fits=9).strategy()
    while strategy.ask(3):
        pass
    assert strategy.spend.fits == 9
    plan = search(rounds=5000).plan(with_store=False)
    assert (plan.spend["rounds"], plan.spend["fits"]) == (50 * 90 * 3, 150) and plan.budget == {"rounds": 5000}
    assert any(line.startswith("budget: 5,000 rounds") for line in plan.lines())


@pytest.mark.parametrize("budget", [{"rounds": 0}, {"round": 5}, {"minutes": -1}, [], {"minutes": True}])
def test_bad_budgets_are_refused(budget):
    with pytest.raises(ConfigError, match="search.budget"):
        load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": "random", "budget": budget},
                     "models": {"xgboost": {"max_depth": [2]}}})


def test_budget_of_minutes_stops_asking():
    guard = BudgetGuard(search().strategy(), Budget(minutes=1e-9), "regression", 3)
    assert guard.ask(3)  # the clock starts at the first ask
    assert guard.ask(3) == []


@pytest.mark.parametrize("models", [
    {"xgboost": {"max_depth": [2, 3, 4], "n_estimators": [10, 50, 30], "learning_rate": {"loguniform": [0.01, 0.3]}}},
    {"xgboost": {"booster": ["gbtree", "dart"], "n_estimators": [10, 20]}},  # DART: no sharing
    {"xgboost": {"max_depth": [2, 2, 3]}},  # no rounds in the grid, a point listed twice
    {"catboost": {"depth": [2, 3], "iterations": [10, 20]}},  # no learning_rate: no sharing
    {"catboost": {"depth": [2, 3], "iterations": [10, 20], "learning_rate": [0.1]},
     "lightgbm": {"num_leaves": [4, 8], "n_estimators": {"randint": [10, 100]}},
     "sklearn.linear_model.Ridge": {"alpha": [0.1, 1.0]}},
])
def test_a_grid_counted_a_fit_group_at_a_time_spends_what_its_trials_do(models):
    """tuner plan counts a grid's spend group by group (Spend.add_grid); it must equal the
    trial-by-trial count the engine's own sharing rule gives."""
    s = Search({"data": {"dataset": "diabetes"}, "cv": {"folds": 3}, "search": {"strategy": "grid"},
                "models": models})
    reference = Spend(s.config.task, 3)
    for t in s.strategy().iter_trials():
        reference.add(t)
    assert s.spend() == reference.as_dict()
    fast = Spend(s.config.task, 3)
    for m in s.config.models:
        fast.add_grid(m.name, m.space, s.config.search.grid_resolution)
    assert sorted((u.model, u.rounds) for u in fast.units.values()) == \
        sorted((u.model, u.rounds) for u in reference.units.values())
