"""Model adapters: one per library, looked up by the name used in the configuration.

``xgboost``, ``lightgbm`` and ``catboost`` name the libraries' scikit-learn estimators (regressor or
classifier by task); anything else is the dotted path of a scikit-learn-compatible class.
"""

from __future__ import annotations

from tuner.models.base import ModelAdapter
from tuner.models.catboost import CatBoostAdapter
from tuner.models.lightgbm import LightGBMAdapter
from tuner.models.sklearn import SklearnAdapter
from tuner.models.xgboost import XGBoostAdapter

BUILTIN = {a.name: a for a in (XGBoostAdapter(), LightGBMAdapter(), CatBoostAdapter())}

__all__ = ["BUILTIN", "ModelAdapter", "get_adapter"]


def get_adapter(name: str, key: str = "models") -> ModelAdapter:
    """The adapter for a model name of the configuration (raises ConfigError naming ``key``)."""
    if name in BUILTIN:
        return BUILTIN[name]
    if name not in _sklearn_adapters:  # import and inspect a class once per process, not per trial
        _sklearn_adapters[name] = SklearnAdapter.from_path(name, key)
    return _sklearn_adapters[name]


_sklearn_adapters: dict[str, SklearnAdapter] = {}
