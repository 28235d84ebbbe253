"""Your own estimators: a model key that names a function returning an estimator.

.. code-block:: yaml

    models:
      my_models.churn_pipeline:        # my_models.py beside the configuration
        clf__C: {distribution: loguniform, low: 0.01, high: 100}
        select__k: [5, 10]

The function is called without arguments for every trial; the trial's parameters are set with
``set_params`` as scikit-learn addresses them (``step__param``), and every ``random_state`` and
``n_jobs`` parameter in it is set to the search's seed and the worker slot's threads. The
estimator receives the table after tuner's column preparation (categorical columns as pandas
``category``, dates as numeric parts) and encodes them as it likes: no ``prepare`` step is added.
A module beside the configuration (or listed under ``code:``) is shipped to the workers through
Dask, so a cluster whose workers lack it works.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from tuner.errors import ConfigError
from tuner.models.sklearn import SklearnAdapter


class FactoryAdapter(SklearnAdapter):
    """Estimators built by a function (dotted path), e.g. a scikit-learn ``Pipeline``."""

    def __init__(self, path: str, factory: Any, example: Any):
        self.factory = factory
        self.name = path
        self.cls = type(example)
        self._param_names = set(example.get_params(deep=True))
        self.rounds_param = None  # the budget of a composite estimator is not tuner's to guess

    @classmethod
    def from_function(cls, path: str, factory: Any, key: str) -> FactoryAdapter:
        allowed = "a function without required arguments that returns a scikit-learn-compatible estimator"
        try:
            example = factory()
        except Exception as exc:
            raise ConfigError(key, path, allowed, f"calling it failed: {type(exc).__name__}: {exc}") from None
        if not (hasattr(example, "fit") and hasattr(example, "get_params") and hasattr(example, "set_params")):
            raise ConfigError(key, path, allowed, f"it returned a {type(example).__name__}")
        return cls(path, factory, example)

    def known_params(self, task: str) -> tuple[set[str], bool]:
        return set(self._param_names), False

    def validate_values(self, space_values: dict[str, list], key: str) -> None:
        """Values are checked when the estimator is fitted (its steps' own validation)."""

    def check_task(self, task: str, key: str) -> None:
        from sklearn.base import is_classifier, is_regressor

        est = self.factory()
        if task == "classification" and not is_classifier(est):
            raise ConfigError(key, self.name, f"a classifier for task 'classification' (it returns a {self.cls.__name__}"
                              " that is not one)")
        if task == "regression" and not is_regressor(est):
            raise ConfigError(key, self.name, f"a regressor for task 'regression' (it returns a {self.cls.__name__}"
                              " that is not one)")

    def can_share_rounds(self, params: dict) -> bool:
        return False

    @property
    def allows_missing(self) -> bool:
        return True  # the user's estimator handles its own input

    def needs_encoding(self) -> bool:
        return False  # the user's estimator prepares its own input

    def make(self, params: dict, task: str, n_threads: int = 1, seed: int = 0) -> Any:
        est = self.factory()
        names = est.get_params(deep=True) if isinstance(est, BaseEstimator) or hasattr(est, "get_params") else {}
        fixed = {k: seed for k in names if k.split("__")[-1] == "random_state"}
        fixed.update({k: n_threads for k in names if k.split("__")[-1] == "n_jobs"})
        return est.set_params(**{**fixed, **params})

    def describe(self, task: str) -> str:
        return f"{self.name} (a {self.cls.__name__})"
