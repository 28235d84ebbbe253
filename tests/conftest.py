"""Shared fixtures: a real LocalCluster with worker processes, small fast configurations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scikit_learn_data"
if "SCIKIT_LEARN_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["SCIKIT_LEARN_DATA"] = str(SHARED_DATA)  # offline copy; workers inherit it


@pytest.fixture(scope="session")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


@pytest.fixture
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c


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


@pytest.fixture
def config(tmp_path):
    return small_config(tmp_path)
