"""CatBoost (``CatBoostRegressor`` / ``CatBoostClassifier``)."""

from __future__ import annotations

import os
import tempfile

from tuner.errors import ConfigError
from tuner.models.base import ModelAdapter, StagedView, import_optional

#: the level missing values of a categorical column become: CatBoost takes no missing categories
MISSING = "(missing)"


class CatBoostAdapter(ModelAdapter):
    name = "catboost"
    rounds_param = "iterations"
    model_format = "catboost-cbm"
    input_kind = "catboost"

    def estimator_class(self, task: str) -> type:
        cb = import_optional("catboost")
        return cb.CatBoostClassifier if task == "classification" else cb.CatBoostRegressor

    def fixed_params(self, cls: type, n_threads: int, seed: int) -> dict:
        return {
            "thread_count": n_threads,
            "random_seed": seed,
            "verbose": False,
            "allow_writing_files": False,  # no catboost_info/ folders on the workers
        }

    def data_params(self, columns) -> dict:
        """Categorical columns as CatBoost's ``cat_features`` (its target statistics)."""
        return {"cat_features": [name for name, _ in columns.categorical]} if columns.categorical else {}

    def model_input(self, X):
        """Missing values of categorical columns become a level of their own, ``(missing)``."""
        if self.columns is None or not self.columns.categorical:
            return X
        X = X.copy(deep=False)
        for name, _ in self.columns.categorical:
            X[name] = X[name].cat.add_categories([MISSING]).fillna(MISSING)
        return X

    def n_resources(self, estimator) -> int | None:
        value = estimator.get_params().get("iterations")
        return 1000 if value is None else int(value)  # CatBoost's own default

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra, data_key=None, keep=1):
        # Exact only with learning_rate set: CatBoost otherwise derives it from `iterations`.
        est = self.make({**params, "iterations": extra}, task, n_threads, seed)
        return est.fit(X, y, init_model=previous)

    def dump_model(self, estimator) -> bytes:
        """The model in CatBoost's binary ``cbm`` format. CatBoost 1.2 saves only to a file
        name (``save_model`` has no stream); the file lives in a private temporary folder."""
        with tempfile.TemporaryDirectory(prefix="tuner-cbm-") as folder:
            path = os.path.join(folder, "model.cbm")
            estimator.save_model(path, format="cbm")
            with open(path, "rb") as fh:
                return fh.read()

    def load_model(self, data: bytes, params: dict, task: str, n_threads: int, seed: int):
        """An estimator of the trial's class holding the ``cbm`` model :meth:`dump_model` wrote."""
        est = self.make(params, task, n_threads, seed)
        est.load_model(blob=bytes(data))
        return est

    def check_budgeted(self, space, strategy, key):
        if "learning_rate" not in space.params:
            raise ConfigError(f"{key}.learning_rate", None,
                              "a value: CatBoost derives its learning rate from iterations otherwise, so rungs "
                              "would train with different rates")

    def can_share_rounds(self, params):
        # Without learning_rate CatBoost derives the rate from `iterations`: fits differ.
        return params.get("learning_rate") is not None and params.get("od_type") is None

    def staged(self, estimator, n):
        methods = {"predict": lambda X: estimator.predict(X, ntree_end=n)}
        if hasattr(estimator, "predict_proba"):
            methods["predict_proba"] = lambda X: estimator.predict_proba(X, ntree_end=n)
        return StagedView(estimator, methods)
