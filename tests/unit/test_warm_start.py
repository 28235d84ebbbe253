"""Which modules a local search's workers get imported before they start (tuner.warm_start)."""

from __future__ import annotations

from tuner.warm_start import WORKER_MODULES, worker_modules


def test_library_names_and_dotted_paths_become_modules():
    text = """
models:
  xgboost: {max_depth: [2]}
  catboost: {depth: [4]}
  sklearn.ensemble.RandomForestRegressor: {n_estimators: [10]}
  my_models.make_pipeline: {clf__C: [1.0]}
"""
    assert worker_modules(text) == [*WORKER_MODULES, "xgboost", "catboost", "sklearn.ensemble", "my_models"]


def test_nothing_for_a_remote_cluster_or_a_configuration_that_does_not_parse():
    assert worker_modules("models: {xgboost: {}}\ncluster: {kind: kubernetes}") == []
    assert worker_modules("models: {xgboost: {}}", cluster_override="tcp://10.0.0.1:8786") == []
    assert worker_modules("models: {xgboost: {}}", cluster_override="local") == [*WORKER_MODULES, "xgboost"]
    assert worker_modules("models: [xgboost") == []  # invalid YAML: validation names it, not this
    assert worker_modules("- a list") == []
    assert worker_modules("models: xgboost") == []
