"""Validation: every invalid configuration names the key and the value, and nothing runs."""

from __future__ import annotations

import copy

import pytest

from tests.support.configs import config_file, small_config
from tuner import ConfigError, load_config
from tuner.cli import main

# (dotted key to set, value, expected key in the message, expected fragment of the message)
INVALID = [
    ("name", "", "name", "letters, digits"),
    ("name", "has space", "name", "letters, digits"),
    ("colour", "red", "colour", "one of name, data"),
    ("data", None, "data", "dataset"),
    ("data", {"dataset": "mnist"}, "data.dataset", "california_housing"),
    ("data", {"dataset": "diabetes", "path": "x.csv"}, "data", "exactly one"),
    ("data", {"path": "missing.parquet", "target": "y"}, "data.path", "no such file"),
    ("data", {"path": "data.txt", "target": "y"}, "data.path", ".parquet"),
    ("data", {"dataset": "diabetes", "sample": 3}, "data.sample", ">= 10"),
    ("data", {"dataset": "diabetes", "colour": 1}, "data.colour", "one of dataset"),
    ("task", "ranking", "task", "regression, classification"),
    ("metric", "f1", "metric", "rmse"),
    ("metric", "accuracy", "metric", "a regression metric"),
    ("cv", {"folds": 1}, "cv.folds", ">= 2"),
    ("cv", {"folds": "3"}, "cv.folds", "an integer"),
    ("cv", {"shuffle": "yes"}, "cv.shuffle", "true or false"),
    ("cv", {"fold": 3}, "cv.fold", "did you mean 'folds'"),
    ("search", {"strategy": "bayes"}, "search.strategy", "grid, random, successive_halving, hyperband, asha"),
    ("search", {"strategy": "random", "n_trials": 0}, "search.n_trials", ">= 1"),
    ("search", {"strategy": "grid", "n_trials": 5}, "search.n_trials", "only with strategy random"),
    ("search", {"engine": "ray"}, "search.engine", "tuner, dask-ml"),
    ("search", {"window": 0}, "search.window", ">= 1"),
    ("models", {}, "models", "at least one model"),
    ("models", {"xgbost": {}}, "models.xgbost", "did you mean 'xgboost'?"),
    ("models", {"sklearn.ensemble.NoSuchModel": {}}, "models.sklearn.ensemble.NoSuchModel", "could not be imported"),
    ("models", {"os.path": {}}, "models.os.path", "xgboost, lightgbm, catboost"),
    ("models", {"sklearn.ensemble.RandomForestClassifier": {}}, "models.sklearn.ensemble.RandomForestClassifier", "a regressor"),
    ("models", {"xgboost": {"max_dept": [3]}}, "models.xgboost.max_dept", "did you mean 'max_depth'"),
    ("models", {"lightgbm": {"num_leave": [3]}}, "models.lightgbm.num_leave", "did you mean 'num_leaves'"),
    ("models", {"catboost": {"dpth": [3]}}, "models.catboost.dpth", "a parameter of catboost"),
    ("models", {"xgboost": {"max_depth": []}}, "models.xgboost.max_depth", "non-empty list"),
    ("models", {"xgboost": {"max_depth": [[1]]}}, "models.xgboost.max_depth", "scalar values"),
    ("models", {"xgboost": {"eta": {"uniform": [1, 0]}}}, "models.xgboost.eta.uniform", "low < high"),
    ("models", {"xgboost": {"eta": {"loguniform": [0, 1]}}}, "models.xgboost.eta.loguniform", "positive"),
    ("models", {"xgboost": {"eta": {"normal": [0, 1]}}}, "models.xgboost.eta", "uniform"),
    ("models", {"xgboost": {"max_depth": {"randint": [1.5, 4]}}}, "models.xgboost.max_depth.randint", "integers"),
    ("models", {"xgboost": {"max_depth": {"choice": []}}}, "models.xgboost.max_depth.choice", "non-empty"),
    ("models", {"sklearn.ensemble.HistGradientBoostingRegressor": {"max_iter": [10, -1]}},
     "models.sklearn.ensemble.HistGradientBoostingRegressor.max_iter", "-1"),
    ("models", ["xgboost"], "models", "a mapping"),
    ("cluster", {"kind": "yarn"}, "cluster.kind", "local, address"),
    ("cluster", {"kind": "address"}, "cluster.address", "tcp://"),
    ("cluster", {"workers": 0}, "cluster.workers", ">= 1"),
    ("results", "", "results", "folder path"),
    ("results", "nosuchproto://bucket/x", "results", "known protocol"),
]


@pytest.mark.parametrize("key,value,expected_key,fragment", INVALID, ids=[f"{k}={v!r}"[:60] for k, v, *_ in INVALID])
def test_invalid_config_names_the_key(tmp_path, key, value, expected_key, fragment):
    cfg = copy.deepcopy(small_config(tmp_path))
    cfg[key] = value
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.key == expected_key
    message = str(info.value)
    assert f"'{expected_key}'" in message and fragment in message
    assert repr(value)[:20] in message or repr(info.value.value) in message


def test_cli_invalid_config_exits_2_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    results = tmp_path / "results"
    path.write_text(f"data: {{dataset: diabetes}}\ncv: {{folds: 1}}\nmodels: {{xgboost: {{}}}}\nresults: {results}\n")
    for verb in ("run", "validate", "plan"):
        assert main([verb, str(path)]) == 2
        err = capsys.readouterr().err
        assert "cv.folds" in err and "1" in err and ">= 2" in err
    assert not results.exists()


def test_cli_invalid_yaml_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed\n")
    assert main(["validate", str(bad)]) == 2
    assert "valid YAML" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_file_data_and_task_inference(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    frame["price"] = frame["a"] * 3 + rng.normal(size=100)
    frame["label"] = (frame["a"] > 0).astype(int)
    frame.to_parquet(tmp_path / "houses.parquet")
    frame.to_csv(tmp_path / "houses.csv", index=False)
    for name in ("houses.parquet", "houses.csv"):
        cfg = small_config(tmp_path, data={"path": str(tmp_path / name), "target": "price"})
        assert load_config(cfg).task == "regression"
        cfg = small_config(tmp_path, data={"path": str(tmp_path / name), "target": "label"}, metric="accuracy",
                           models={"xgboost": {"max_depth": [2]}})
        assert load_config(cfg).task == "classification"
    cfg = small_config(tmp_path, data={"path": str(tmp_path / "houses.csv"), "target": "nope"})
    with pytest.raises(ConfigError, match="data.target.*'nope'.*a column of the file: a, b, price"):
        load_config(cfg)


def test_yaml_file_equals_dict(tmp_path):

    cfg = small_config(tmp_path)
    path = config_file(tmp_path, cfg)
    assert load_config(str(path)) == load_config(cfg)


def test_issue_example_config_is_valid(tmp_path):
    text = f"""
name: california-gbdt
data:
  dataset: california_housing
task: regression
cv: {{folds: 3, shuffle: false, seed: 0}}
metric: rmse
search: {{strategy: grid}}
models:
  xgboost:   {{max_depth: [3, 5, 7], learning_rate: [0.05, 0.1], n_estimators: [100, 200, 400]}}
  lightgbm:  {{num_leaves: [15, 31, 63], learning_rate: {{loguniform: [0.01, 0.3]}}}}
  catboost:  {{depth: [4, 6, 8], learning_rate: [0.05, 0.1]}}
  sklearn.ensemble.HistGradientBoostingRegressor: {{max_leaf_nodes: [15, 31]}}
cluster: {{kind: local, workers: 2, threads_per_worker: 1}}
results: {tmp_path}/results/
"""
    from tuner import Search

    plan = Search(text).plan()
    assert plan["models"]["xgboost"]["trials"] == 18
    assert plan["models"]["lightgbm"]["trials"] == 9  # 3 grid points from the loguniform
    assert plan["models"]["catboost"]["trials"] == 6
    assert plan["total_fits"] == (18 + 9 + 6 + 2) * 3


@pytest.mark.parametrize(("search", "expected"), [
    ({"strategy": "hyperband", "max_resource": 810}, 90),   # two rungs below the top: 90, 270, 810
    ({"strategy": "asha"}, 30),                              # the default max_resource 270
    ({"strategy": "bohb", "max_resource": 100, "eta": 2}, 25),
    ({"strategy": "random", "max_resource": 810, "n_trials": 2}, 90),  # the rounds ladder too
    ({"strategy": "hyperband", "max_resource": 810, "min_resource": 10}, 10),  # yours wins
])
def test_min_resource_defaults_to_two_rungs_below_the_top(search, expected):
    from tuner.config import load_config

    cfg = load_config({"data": {"dataset": "diabetes"}, "search": search, "models": {"xgboost": {"max_depth": [2, 3]}}})
    assert cfg.search.min_resource == expected
