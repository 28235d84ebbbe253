"""Successive halving, Hyperband and ASHA: schedules, promotion, continued training, checkpoints, plans."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.support.configs import budget_config, config_file, small_config
from tests.support.payloads import ShellPayload
from tuner import ConfigError, load_config
from tuner.cli import main
from tuner.config import CVConfig
from tuner.data import DataSpec, load
from tuner.evaluate import Problem, evaluate_trial
from tuner.models import get_adapter
from tuner.strategies.hyperband import (
    asha_promotion,
    hyperband_schedule,
    rung_resources,
    successive_halving_schedule,
    top_k,
)
from tuner.trial import Trial


def table(brackets):
    return [(b.bracket, [(r.n_configs, r.n_resources) for r in b.rungs]) for b in brackets]


def test_hyperband_schedule_r81_eta3_matches_paper_table():
    # Li et al. (JMLR 2018), Table 1: R = 81, eta = 3 (units of min_resource = 1)
    assert table(hyperband_schedule(1, 81, 3)) == [
        (4, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]),
        (3, [(34, 3), (11, 9), (3, 27), (1, 81)]),
        (2, [(15, 9), (5, 27), (1, 81)]),
        (1, [(8, 27), (2, 81)]),
        (0, [(5, 81)]),
    ]


def test_hyperband_schedule_r8_eta2_in_rounds():
    # R = 80 / 10 = 8, eta = 2: s_max = 3, B = 4 * 8 = 32. Bracket s starts
    # n = ceil(32 / 8 * 2^s / (s + 1)) configurations at r = 8 * 2^-s units (x 10 rounds).
    assert table(hyperband_schedule(10, 80, 2)) == [
        (3, [(8, 10), (4, 20), (2, 40), (1, 80)]),
        (2, [(6, 20), (3, 40), (1, 80)]),
        (1, [(4, 40), (2, 80)]),
        (0, [(4, 80)]),
    ]


def test_successive_halving_and_rung_budgets():
    assert rung_resources(10, 810, 3) == [10, 30, 90, 270, 810]
    assert rung_resources(10, 100, 3) == [11, 33, 100]  # top rung is max_resource; R not a power of eta
    assert table([successive_halving_schedule(20, 10, 90, 3)]) == [(2, [(20, 10), (6, 30), (2, 90)])]


def test_top_k_never_promotes_failures_and_breaks_ties_by_id():
    scores = {"b": 1.0, "a": 1.0, "c": None, "d": 0.5}
    assert top_k(scores, 2, greater_is_better=False) == ["d", "a"]
    assert top_k(scores, 3, greater_is_better=True) == ["a", "b", "d"]


def test_asha_promotion_rule():
    promoted = [set(), set(), set()]
    # 2 results in rung 0 with eta 3: floor(2/3) = 0, nothing promotable yet
    assert asha_promotion([{"a": 0.3, "b": 0.1}, {}, {}], promoted, 3, False) is None
    # a third result: the best (lowest loss) of three is promotable
    rungs = [{"a": 0.3, "b": 0.1, "c": 0.2}, {}, {}]
    assert asha_promotion(rungs, promoted, 3, False) == (0, "b")
    promoted[0].add("b")
    assert asha_promotion(rungs, promoted, 3, False) is None  # b already promoted, top-1 only
    # six results: top 2 -> c can go too
    rungs[0].update({"d": 0.9, "e": 0.8, "f": 0.7})
    assert asha_promotion(rungs, promoted, 3, False) == (0, "c")
    # higher rungs come first
    rungs[1] = {"b": 0.05, "x": 0.5, "y": 0.6}
    promoted[0].add("c")
    assert asha_promotion(rungs, promoted, 3, False) == (1, "b")


# -- continued training: same predictions as training from scratch ----------------------------

CONTINUATION = [
    ("xgboost", {"max_depth": 3, "learning_rate": 0.1}),
    ("lightgbm", {"num_leaves": 15, "learning_rate": 0.1}),
    ("catboost", {"depth": 4, "learning_rate": 0.1}),
    ("sklearn.ensemble.HistGradientBoostingRegressor", {"max_leaf_nodes": 15, "early_stopping": False}),
    ("sklearn.ensemble.GradientBoostingRegressor", {"max_depth": 3}),
]


@pytest.mark.parametrize("model,params", CONTINUATION, ids=[m for m, _ in CONTINUATION])
def test_continued_training_predicts_like_training_from_scratch(model, params):
    X, y = load(DataSpec(dataset="california_housing", sample=2000, seed=0), "regression")
    adapter = get_adapter(model)
    resource = adapter.rounds_param
    first = adapter.make({**params, resource: 20}, "regression").fit(X, y)
    continued = adapter.continue_fit(first, {**params, resource: 60}, "regression", 1, 0, X, y, extra=40)
    scratch = adapter.make({**params, resource: 60}, "regression").fit(X, y)
    np.testing.assert_array_equal(continued.predict(X), scratch.predict(X))


def test_lost_checkpoint_recomputes_the_same_score(tmp_path, monkeypatch):
    from tuner import checkpoints

    monkeypatch.setattr(checkpoints, "WAIT_SECONDS", 0.2)  # no other worker is writing a lost one

    from tuner.checkpoints import checkpoint_url

    problem = Problem(DataSpec(dataset="diabetes"), "regression", CVConfig(3, True, 0), "rmse")
    make = lambda n, rung, prev: Trial.create(  # noqa: E731
        "xgboost", {"max_depth": 2, "n_estimators": n}, "ctx", bracket=0, rung=rung, resource="n_estimators",
        continue_from=prev, checkpoints=str(tmp_path / "ckpt"),
    )
    path = lambda n: checkpoint_url(str(tmp_path / "ckpt"), make(10, 0, None).config_id, n)  # noqa: E731
    r0 = evaluate_trial(problem, make(10, 0, None))
    checkpoints.wait_written()  # written in the background, off the trial's critical path
    assert r0.is_ok and os.listdir(tmp_path / "ckpt") == [os.path.basename(path(10))]
    continued = evaluate_trial(problem, make(30, 1, 10))
    assert continued.continued is True
    checkpoints.wait_written()
    assert os.listdir(tmp_path / "ckpt") == [os.path.basename(path(30))]  # previous removed
    # the rung-1 checkpoint is lost (or was never written): rung 2 trains from scratch, same score
    os.remove(path(30))
    recomputed = evaluate_trial(problem, make(30, 1, 10))
    checkpoints.wait_written()
    assert recomputed.continued is False
    assert recomputed.mean_test_score == pytest.approx(continued.mean_test_score, abs=1e-12)
    # a corrupt checkpoint is never trusted either
    with open(path(30), "wb") as fh:
        fh.write(b"not a checkpoint")
    again = evaluate_trial(problem, make(90, 2, 30))
    assert again.is_ok and again.continued is False


def test_checkpoint_replaced_by_a_code_running_pickle_is_refused(tmp_path):
    """Nothing from a results location is unpickled: the rung is recomputed, the code never runs."""
    import pickle

    from tuner import checkpoints
    from tuner.checkpoints import checkpoint_url

    problem = Problem(DataSpec(dataset="diabetes"), "regression", CVConfig(3, True, 0), "rmse")
    make = lambda n, rung, prev: Trial.create(  # noqa: E731
        "xgboost", {"max_depth": 2, "n_estimators": n}, "ctx", bracket=0, rung=rung, resource="n_estimators",
        continue_from=prev, checkpoints=str(tmp_path / "ckpt"),
    )
    first = evaluate_trial(problem, make(10, 0, None))
    assert first.is_ok
    checkpoints.wait_written()  # the real checkpoint is on disk before it is replaced below
    marker = tmp_path / "code-ran"
    with open(checkpoint_url(str(tmp_path / "ckpt"), first.config_id, 10), "wb") as fh:
        pickle.dump(ShellPayload(marker), fh)
    assert not marker.exists()
    rung = evaluate_trial(problem, make(30, 1, 10))
    assert rung.is_ok and rung.continued is False  # recomputed from scratch
    assert not marker.exists()
    scratch = evaluate_trial(problem, Trial.create(
        "xgboost", {"max_depth": 2, "n_estimators": 30}, "ctx", bracket=0, rung=1, resource="n_estimators"))
    assert rung.mean_test_score == scratch.mean_test_score


# -- plans and budget configurations ---------------------------------------------------------


def test_plan_json_shape(tmp_path, capsys):
    cfg = budget_config(tmp_path, "hyperband")
    cfg["search"].update(min_resource=10, max_resource=810)
    path = config_file(tmp_path, cfg, "hb.yaml")
    assert main(["plan", str(path), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {"name", "strategy", "models", "finished_trials", "brackets", "total_resources"} <= set(plan)
    assert plan["strategy"] == "hyperband" and plan["name"] == cfg["name"]
    # survivors continue: each rung trains only the rounds it adds to the one below
    assert plan["continued_resources"] == sum(
        b["rungs"][0]["n_configs"] * b["rungs"][0]["n_resources"]
        + sum(r["n_configs"] * (r["n_resources"] - q["n_resources"]) for q, r in zip(b["rungs"], b["rungs"][1:], strict=False))
        for b in plan["brackets"]
    )
    assert plan["brackets"][0] == {
        "bracket": 4,
        "rungs": [{"n_configs": n, "n_resources": r} for n, r in [(81, 10), (27, 30), (9, 90), (3, 270), (1, 810)]],
    }
    assert plan["total_resources"] == sum(
        r["n_configs"] * r["n_resources"] for b in plan["brackets"] for r in b["rungs"]
    )


@pytest.mark.parametrize(
    "search,models,key",
    [
        ({"strategy": "hyperband", "n_trials": 5}, None, "search.n_trials"),
        ({"strategy": "hyperband", "eta": 1}, None, "search.eta"),
        ({"strategy": "asha", "min_resource": 10, "max_resource": 20}, None, "search.max_resource"),
        ({"strategy": "grid", "eta": 3}, None, "search.eta"),
        ({"strategy": "hyperband"}, {"xgboost": {"n_estimators": [10, 20]}}, "models.xgboost.n_estimators"),
        ({"strategy": "hyperband"}, {"catboost": {"depth": [4]}}, "models.catboost.learning_rate"),
        ({"strategy": "hyperband"}, {"sklearn.neighbors.KNeighborsRegressor": {"n_neighbors": [3]}}, "models.sklearn.neighbors.KNeighborsRegressor"),
        ({"strategy": "hyperband", "engine": "dask-ml"}, None, "search.engine"),
    ],
)
def test_invalid_budget_configs(tmp_path, search, models, key):
    cfg = small_config(tmp_path, search=search)
    if models:
        cfg["models"] = models
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.key == key


# -- a share of the rows as the budget (search.resource: rows) -----------------------------------


def test_a_rows_budget_defaults_to_percent_and_needs_no_rounds_rules():
    cfg = load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": "hyperband", "resource": "rows"},
                       "models": {"catboost": {"depth": [2, 3]}}})  # no learning_rate: fine, nothing continues
    assert (cfg.search.resource, cfg.search.min_resource, cfg.search.max_resource) == ("rows", 11, 100)
    with pytest.raises(ConfigError, match="search.max_resource"):
        load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": "asha", "resource": "rows",
                                                                  "max_resource": 150}, "models": {"xgboost": {}}})
    with pytest.raises(ConfigError, match="search.resource"):  # a rounds ladder's budget is always its rounds
        load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": "random", "resource": "rows",
                                                                  "max_resource": 90}, "models": {"xgboost": {}}})


def test_a_rung_on_a_share_of_the_rows_trains_afresh_on_that_share():
    from tuner.evaluate import row_share

    problem = Problem(DataSpec(dataset="diabetes"), "regression", CVConfig(3, True, 0), "rmse")
    params = {"max_depth": 2, "n_estimators": 20}
    rung = lambda pct: Trial.create("xgboost", {**params, "rows": pct}, "ctx", bracket=0, rung=0,  # noqa: E731
                                    resource="rows", continue_from=None if pct == 11 else 11)
    plain = evaluate_trial(problem, Trial.create("xgboost", params, "ctx"))
    full, small = evaluate_trial(problem, rung(100)), evaluate_trial(problem, rung(11))
    assert full.is_ok and small.is_ok and full.continued is False and full.n_resources == 100
    assert full.mean_test_score == plain.mean_test_score  # all the rows: the same model
    assert small.mean_test_score != full.mean_test_score
    assert evaluate_trial(problem, rung(11)).mean_test_score == small.mean_test_score  # the same share every time
    train = np.arange(300)
    share = row_share(train, 33, seed=0, fold=1)
    assert len(share) == 99 and set(share) <= set(train) and list(share) == sorted(share)
    assert list(share) == list(row_share(train, 33, seed=0, fold=1)) != list(row_share(train, 33, seed=0, fold=2))
