"""A table as people have it -- an ID column, text categories, a date, missing values, a text
label -- as CSV, as one Parquet file and as a Hive-partitioned Parquet folder, searched with every
kind of model on a real cluster; and your own estimator factory shipped to workers that lack it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.support.configs import config_file
from tests.support.tables import customer_table, write
from tuner import Search

MODELS = {
    "xgboost": {"n_estimators": [30], "max_depth": [3]},
    "lightgbm": {"n_estimators": [30]},
    "catboost": {"iterations": [30], "learning_rate": [0.3]},
    "sklearn.ensemble.HistGradientBoostingClassifier": {"max_iter": [30]},
    "sklearn.ensemble.RandomForestClassifier": {"n_estimators": [20]},
    "sklearn.linear_model.LogisticRegression": {"C": [1.0]},
}
BOOSTED = ("xgboost", "lightgbm", "catboost", "sklearn.ensemble.HistGradientBoostingClassifier")


def search_config(tmp_path: Path, data_path: Path, **overrides) -> dict:
    cfg = {
        "name": "customers",
        "data": {"path": str(data_path), "target": "segment"},
        "metric": "accuracy",
        "cv": {"folds": 3, "shuffle": True, "seed": 0},
        "models": MODELS,
        "cluster": {"kind": "local", "workers": 2, "dashboard": False},
        "results": str(tmp_path / "results"),
    }
    cfg.update(overrides)
    return cfg


@pytest.mark.parametrize("kind", ["csv", "parquet", "hive"])
def test_every_model_uses_categories_dates_and_gaps_and_predicts_the_labels(client, tmp_path, kind):
    frame = customer_table()
    path = write(frame, tmp_path / "data", kind)
    result = Search(search_config(tmp_path, path)).run(client, progress=False)

    rows = result.results_
    assert set(rows["model"]) == set(MODELS)
    assert (rows["status"] == "ok").all(), rows[["model", "error"]].to_string()
    best = result.best_per_model().set_index("model")["mean_test_score"]
    for model in BOOSTED:  # the label is the city: a model that really uses the category is exact
        assert best[model] > 0.97, (model, best[model])

    model = result.best_estimator_
    assert list(model.classes_) == ["basic", "gold", "silver"]
    raw = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    predicted = model.predict(raw.drop(columns=["segment"]))
    assert set(predicted) <= {"basic", "gold", "silver"}
    assert (predicted == raw["segment"].to_numpy()).mean() > 0.97
    # a new customer from a city never seen, with a missing plan: a prediction, not a crash
    new = pd.DataFrame([{"customer_id": "X1", "city": "Rennes", "plan": None, "signup": "2023-05-01",
                         "spend": 3.0, "region": "north"}])
    assert model.predict(new)[0] in {"basic", "gold", "silver"}


def test_validate_says_what_it_inferred(tmp_path):
    path = write(customer_table(), tmp_path / "data", "csv")
    cfg = config_file(tmp_path, search_config(tmp_path, path))
    out = subprocess.run([sys.executable, "-m", "tuner", "validate", str(cfg)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "1,500 rows" in text
    assert "not used: customer_id (identifier" in text
    assert "not used: Unnamed: 0 (an unnamed index column)" in text
    assert "categorical: city (5 levels), plan (2 levels), region (2 levels)" in text
    assert "dates: signup" in text
    assert "missing values in: city, plan, spend" in text
    assert "task: classification (from a text target)" in text
    assert "classes: 3 (basic:" in text
    assert not (tmp_path / "results").exists()


def test_columns_chosen_by_name(client, tmp_path):
    frame = customer_table()
    path = write(frame, tmp_path / "data", "parquet")
    cfg = search_config(tmp_path, path, models={"xgboost": {"n_estimators": [10]}})
    cfg["data"].update(features=["spend", "signup"], dates="drop")
    search = Search(cfg)
    assert search.config.columns.features == ("spend",)
    assert dict(search.config.columns.dropped) == {
        "customer_id": "not in data.features", "city": "not in data.features", "plan": "not in data.features",
        "region": "not in data.features", "signup": "a date (data.dates: drop)"}
    result = search.run(client, progress=False)
    assert (result.results_["status"] == "ok").all()
    assert result.best_per_model()["mean_test_score"].iloc[0] < 0.9  # the city is really left out


FACTORY = textwrap.dedent("""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler


    def ridge_pipeline():
        return Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
""")


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_pipeline_factory_beside_the_config_reaches_workers_started_elsewhere(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "my_models.py").write_text(FACTORY)
    cfg = config_file(project, {
        "name": "factory",
        "data": {"dataset": "diabetes"},
        "cv": {"folds": 3},
        "models": {"my_models.ridge_pipeline": {"ridge__alpha": [0.1, 1.0, 10.0]}},
        "results": str(project / "results"),
    })
    scheduler_file = elsewhere / "scheduler.json"
    procs = [_start(["distributed.cli.dask_scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                     "--no-dashboard"], elsewhere, elsewhere / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        procs.append(_start(["distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--nthreads",
                             "1", "--no-dashboard"], elsewhere, elsewhere / "worker.log"))
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            # the worker can not import the module by itself: it must come through Dask
            assert client.run(lambda: __import__("importlib.util").util.find_spec("my_models") is None) == {
                w: True for w in client.scheduler_info()["workers"]}
            address = client.scheduler.address
        out = subprocess.run([sys.executable, "-m", "tuner", "run", str(cfg), "--cluster", address],
                             cwd=elsewhere, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        rows = pd.read_parquet(project / "results" / "factory")
        assert len(rows) == 3 and (rows["status"] == "ok").all(), rows.get("error")
        assert sorted(rows["param_ridge__alpha"]) == [0.1, 1.0, 10.0]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def test_export_saves_one_object_that_takes_raw_rows(tmp_path):
    path = write(customer_table(), tmp_path / "data", "parquet")
    cfg = config_file(tmp_path, search_config(tmp_path, path, models={"lightgbm": {"n_estimators": [20, 40]}}))
    tuner = [sys.executable, "-m", "tuner"]
    run = subprocess.run([*tuner, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = tmp_path / "model.joblib"
    export = subprocess.run([*tuner, "export", str(cfg), "--output", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert export.returncode == 0, export.stdout + export.stderr
    assert "TunedModel(lightgbm, classification, classes ['basic', 'gold', 'silver']" in export.stdout

    from tuner import TunedModel
    from tuner.results import rank

    model = TunedModel.load(out)
    raw = pd.read_parquet(path)
    best = rank(pd.read_parquet(tmp_path / "results" / "customers")).iloc[0]  # tuner's one ranking
    assert model.params == json.loads(best["params"])
    assert (model.predict(raw) == raw["segment"].to_numpy()).mean() > 0.97  # the target column is ignored
    assert model.predict_proba(raw.head(3)).shape == (3, 3)
