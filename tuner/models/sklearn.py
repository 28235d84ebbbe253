"""Any scikit-learn-compatible estimator, given by its dotted import path.

How an estimator is given the data's columns (:class:`tuner.columns.Columns`):

- estimators with native categorical support (``HistGradientBoosting*``: a
  ``categorical_features`` parameter) get the prepared frame, pandas ``category`` columns
  included (``categorical_features="from_dtype"``); a column with more levels than the
  estimator's bins (255) is given as its level codes;
- every other estimator becomes ``Pipeline([("prepare", ColumnTransformer(...)), ("model", est)])``
  when the data need it: categorical columns one-hot encoded with their levels fixed from the
  whole data (missing and unseen levels: all zeros); where the estimator cannot take missing
  values (scikit-learn's ``allow_nan`` tag), numeric columns imputed with the training fold's
  median; and for estimators that are not trees (outside ``sklearn.ensemble`` and
  ``sklearn.tree``: linear models, SVMs, neighbours) numeric columns standardized. Its
  parameters keep their names; the pipeline is what ``best_estimator_`` holds.
"""

from __future__ import annotations

import functools
import importlib
import inspect

from sklearn.base import is_classifier, is_regressor

from tuner.errors import ConfigError
from tuner.models.base import ModelAdapter, StagedView, import_optional

#: levels a HistGradientBoosting estimator takes as categories (its max_bins); more: codes
MAX_NATIVE_LEVELS = 255
#: names besides the estimator package's classes that a checkpoint may hold: numpy's dtype (the
#: encoders' output type), and the input check HistGradientBoosting's categorical preprocessing
#: keeps (a partial of scikit-learn's own check_array)
_SAFE_TYPES = ("numpy.dtype", "functools.partial", "sklearn.utils.validation.check_array")

#: module names under an estimator's own package that are no part of a fitted model: test code
_NOT_MODEL_MODULES = ("tests", "_testing", "conftest", "externals")


class SklearnAdapter(ModelAdapter):
    """An estimator class by dotted path, e.g. ``sklearn.ensemble.HistGradientBoostingRegressor``.

    Threads: ``n_jobs`` is set where the estimator has it; OpenMP/BLAS threads are limited to the
    worker slot by :mod:`tuner.evaluate` with threadpoolctl for every model.
    """

    model_format = "skops"

    def __init__(self, path: str, cls: type):
        self.name = path
        self.cls = cls
        self._param_names = set(cls().get_params())
        # n_estimators (ensembles); max_iter only where training can continue (warm_start), as in
        # HistGradientBoosting -- a linear model's solver iterations are no boosting budget.
        self.rounds_param = "n_estimators" if "n_estimators" in self._param_names else None
        if self.rounds_param is None and {"max_iter", "warm_start"} <= self._param_names:
            self.rounds_param = "max_iter"

    @classmethod
    def from_path(cls, path: str, key: str) -> SklearnAdapter:
        module_name, _, attr = path.rpartition(".")
        allowed = "xgboost, lightgbm, catboost, or the dotted path of an estimator class"
        try:
            module = importlib.import_module(module_name)
            klass = getattr(module, attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(key, path, allowed, f"it could not be imported: {type(exc).__name__}: {exc}") from None
        except Exception as exc:  # the module itself fails while it is imported
            raise ConfigError(key, path, allowed, f"importing it failed: {type(exc).__name__}: {exc}") from None
        if inspect.isfunction(klass):  # a factory, e.g. one that returns a Pipeline
            from tuner.models.factory import FactoryAdapter

            return FactoryAdapter.from_function(path, klass, key)
        if not (inspect.isclass(klass) and hasattr(klass, "fit") and hasattr(klass, "get_params")):
            raise ConfigError(key, path, allowed, "it is not a scikit-learn-compatible estimator class")
        return cls(path, klass)

    def estimator_class(self, task: str) -> type:
        return self.cls

    # -- the data's columns -----------------------------------------------------------------
    @property
    def native_categories(self) -> bool:
        """Whether the estimator splits on categorical columns itself (HistGradientBoosting)."""
        return "categorical_features" in self._param_names

    @functools.cached_property
    def allows_missing(self) -> bool:
        """scikit-learn's ``allow_nan`` tag (an estimator built once per adapter to read it)."""
        try:
            return bool(self.cls().__sklearn_tags__().input_tags.allow_nan)
        except Exception:  # an estimator without scikit-learn's tags: assume it cannot
            return False

    @property
    def input_kind(self) -> str:  # type: ignore[override]
        return "codes-over-255" if self.native_categories else "prepared"

    def model_input(self, X):
        """Native categories: a column with more levels than the bins is given as codes."""
        if self.columns is None or not self.native_categories:
            return X
        wide = [name for name, levels in self.columns.categorical if len(levels) > MAX_NATIVE_LEVELS]
        if not wide:
            return X
        X = X.copy(deep=False)
        for name in wide:
            X[name] = X[name].cat.codes.astype("float64").where(X[name].notna())
        return X

    def needs_encoding(self) -> bool:
        """Whether estimators are wrapped in a Pipeline that encodes (imputes, scales) first."""
        c = self.columns
        if c is None or self.native_categories:
            return False
        return bool(c.categorical) or (bool(c.missing) and not self.allows_missing) or (
            not self.tree_based and bool(c.dates))

    def encoder(self):
        """The ``prepare`` step: one-hot categories (levels fixed), impute numbers if needed."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        assert self.columns is not None
        cats = [name for name, _ in self.columns.categorical]
        numbers = [c for c in self.columns.model_columns if c not in set(cats)]
        steps = []
        if cats:
            steps.append(("categories", OneHotEncoder(categories=[list(lv) for _, lv in self.columns.categorical],
                                                      handle_unknown="ignore", sparse_output=False), cats))
        if numbers:
            number_steps = []
            if not self.allows_missing and self.columns.missing:
                number_steps.append(SimpleImputer(strategy="median", keep_empty_features=True))
            if not self.tree_based:
                number_steps.append(StandardScaler())
            steps.append(("numbers", make_pipeline(*number_steps) if number_steps else "passthrough", numbers))
        return ColumnTransformer(steps, verbose_feature_names_out=False)

    @property
    def tree_based(self) -> bool:
        """Trees split on thresholds, so scaling changes nothing; other models are given
        standardized numbers (linear models, SVMs, neighbours)."""
        return self.cls.__module__.startswith(("sklearn.ensemble", "sklearn.tree"))

    def make(self, params, task, n_threads=1, seed=0):
        est = super().make(params, task, n_threads, seed)
        if not self.needs_encoding():
            return est
        from sklearn.pipeline import Pipeline

        return Pipeline([("prepare", self.encoder()), ("model", est)])

    @staticmethod
    def final(estimator):
        """The estimator itself, inside the ``prepare`` Pipeline or not."""
        from sklearn.pipeline import Pipeline

        return estimator[-1] if isinstance(estimator, Pipeline) and "prepare" in estimator.named_steps else estimator

    def n_resources(self, estimator) -> int | None:
        return super().n_resources(self.final(estimator))

    def param_prefix(self, estimator) -> str:
        return "model__" if self.final(estimator) is not estimator else ""

    def known_params(self, task: str) -> tuple[set[str], bool]:
        names, open_kwargs = super().known_params(task)
        return names | self._param_names, open_kwargs

    def check_space(self, space, task: str, key: str) -> None:
        """Classifier or regressor as the task needs, and every listed value checked with the
        estimator's own parameter constraints, besides the names."""
        self.check_task(task, key)
        self.validate_values({n: space.possible_values(n) for n in space.params}, key)
        super().check_space(space, task, key)

    def check_task(self, task: str, key: str) -> None:
        est = self.cls()
        if task == "classification" and is_regressor(est):
            raise ConfigError(key, self.name, "a classifier for task 'classification'")
        if task == "regression" and is_classifier(est):
            raise ConfigError(key, self.name, "a regressor for task 'regression'")
        if not (is_classifier(est) or is_regressor(est)):
            raise ConfigError(key, self.name, f"a {'classifier' if task == 'classification' else 'regressor'} "
                              "(a transformer or clustering estimator has no score to tune)")

    def fixed_params(self, cls: type, n_threads: int, seed: int) -> dict:
        fixed = {}
        if "n_jobs" in self._param_names:
            fixed["n_jobs"] = n_threads
        if "random_state" in self._param_names:
            fixed["random_state"] = seed
        return fixed

    def validate_values(self, space_values: dict[str, list], key: str) -> None:
        """Check every listed value with the estimator's own parameter constraints."""
        if not hasattr(self.cls, "_parameter_constraints"):  # third-party estimators: checked at fit time
            return
        for name, values in space_values.items():
            for value in values:
                try:
                    self.cls(**{name: value})._validate_params()
                except (ValueError, TypeError) as exc:
                    raise ConfigError(f"{key}.{name}", value, str(exc).split("Got")[0].strip().rstrip(".")) from None

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra, data_key=None, keep=1):
        if "warm_start" not in self._param_names or self.rounds_param is None:
            return None
        model = self.final(previous)
        total = model.get_params()[self.rounds_param] + extra
        model.set_params(warm_start=True, **{self.rounds_param: total})
        return previous.fit(X, y)

    def dump_model(self, estimator) -> bytes:
        """The estimator in skops' format (``skops.io.dumps``): a zip of JSON and ``.npy``
        arrays, loaded without pickle."""
        sio = import_optional("skops.io")
        return sio.dumps(estimator)

    def load_model(self, data: bytes, params: dict, task: str, n_threads: int, seed: int):
        """The estimator :meth:`dump_model` wrote, after checking every type it names.

        skops trusts builtins and numpy types of its own list; every other type in the file
        (``skops.io.get_untrusted_types``, read without importing anything) must be a class
        defined in the estimator class's own top-level package (e.g. ``sklearn.``), outside its
        test code, else the file is refused. The result must be an instance of the class.

        Raises
        ------
        ValueError
            For a type outside those modules, or an object of another class.
        """
        sio = import_optional("skops.io")
        untrusted = sio.get_untrusted_types(data=data)
        refused = [name for name in untrusted if not self._trusted_type(name)]
        if refused:
            raise ValueError(f"untrusted types {refused} in a checkpoint of {self.name}")
        est = sio.loads(data, trusted=untrusted)
        if type(self.final(est)) is not self.cls:
            raise ValueError(f"a checkpoint of {self.name} holds a {type(est).__module__}.{type(est).__qualname__}")
        return est

    def _trusted_type(self, name: str) -> bool:
        """Whether ``module.Name`` is a class defined in the estimator's top-level package.

        Only modules under that package are imported to check (as skops would import them to
        load); a name re-exported from elsewhere, a function or a module is refused.
        """
        if name in _SAFE_TYPES:
            return True
        package = self.cls.__module__.split(".")[0]
        module_name, _, attr = name.rpartition(".")
        parts = module_name.split(".")
        if parts[0] != package or not attr or any(p in _NOT_MODEL_MODULES for p in parts):
            return False
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError, TypeError):
            return False
        return (inspect.isclass(obj) and obj.__module__ == module_name
                and obj.__qualname__ == attr)

    def can_share_rounds(self, params):
        # staged predictions are exact for boosting; early stopping would pick its own count
        merged = {**self.cls().get_params(), **params}
        if "early_stopping" in merged:  # HistGradientBoosting: 'auto' turns on with many rows
            stops_early = merged["early_stopping"] is not False
        else:  # GradientBoosting: early stopping only with n_iter_no_change
            stops_early = merged.get("n_iter_no_change") is not None
        return self.rounds_param is not None and hasattr(self.cls, "staged_predict") and not stops_early

    def staged(self, estimator, n):
        def nth(stages):
            out = None
            for i, out in enumerate(stages, start=1):  # noqa: B007
                if i == n:
                    break
            return out

        model = self.final(estimator)

        def prepared(X):
            return X if model is estimator else estimator[:-1].transform(X)

        methods = {"predict": lambda X: nth(model.staged_predict(prepared(X)))}
        for name in ("predict_proba", "decision_function"):
            if hasattr(model, f"staged_{name}"):
                methods[name] = (lambda m: lambda X: nth(getattr(model, f"staged_{m}")(prepared(X))))(name)
        return StagedView(estimator, methods)
