"""Small, fast configurations (as dicts and as the YAML files a user passes to ``tuner``)."""

from __future__ import annotations

from pathlib import Path


def small_config(tmp_path: Path, **overrides) -> dict:
    """A search that finishes in seconds: diabetes data, small grids, 3 folds."""
    cfg = {
        "name": "small",
        "data": {"dataset": "diabetes"},
        "cv": {"folds": 3, "shuffle": True, "seed": 0},
        "metric": "rmse",
        "search": {"strategy": "grid"},
        "models": {
            "xgboost": {"max_depth": [2, 3], "n_estimators": [10, 20], "learning_rate": 0.3},
            "sklearn.ensemble.HistGradientBoostingRegressor": {"max_leaf_nodes": [7, 15], "max_iter": [20]},
        },
        "cluster": {"kind": "local", "workers": 2, "dashboard": False},
        "results": str(tmp_path / "results"),
    }
    cfg.update(overrides)
    return cfg


def config_file(tmp_path: Path, cfg: dict, name: str = "search.yaml") -> Path:
    """``cfg`` written as the YAML file a user would pass to ``tuner``."""
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def config_path(tmp_path: Path, **overrides) -> str:
    """:func:`small_config` with ``overrides`` written to ``tmp_path/search.yaml``: its path, as argv takes it."""
    return str(config_file(tmp_path, small_config(tmp_path, **overrides)))


def budget_config(tmp_path, strategy, **search):
    return small_config(
        tmp_path,
        name=f"budget-{strategy}",
        search={"strategy": strategy, "min_resource": 5, "max_resource": 45, "eta": 3, "seed": 1, **search},
        models={
            "xgboost": {"max_depth": [2, 3, 4], "learning_rate": {"loguniform": [0.05, 0.5]}},
            "lightgbm": {"num_leaves": [4, 8, 16], "learning_rate": {"loguniform": [0.05, 0.5]}, "min_child_samples": 5},
        },
    )


GRID_5 = {"xgboost": {"max_depth": [2, 3], "learning_rate": 0.3}}
BUDGET = {"min_resource": 5, "max_resource": 15, "eta": 3}
#: a small ``search`` section for every strategy
STRATEGY_SECTIONS = {
    "grid": {"strategy": "grid"},
    "random": {"strategy": "random", "n_trials": 3},
    "successive_halving": {"strategy": "successive_halving", "n_trials": 3, **BUDGET},
    "hyperband": {"strategy": "hyperband", **BUDGET},
    "asha": {"strategy": "asha", "n_trials": 3, **BUDGET},
    "tpe": {"strategy": "tpe", "n_trials": 3},
    "cmaes": {"strategy": "cmaes", "n_trials": 3},
    "bohb": {"strategy": "bohb", **BUDGET},
}
