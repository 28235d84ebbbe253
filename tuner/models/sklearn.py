"""Any scikit-learn-compatible estimator, given by its dotted import path."""

from __future__ import annotations

import importlib
import inspect

from sklearn.base import is_classifier, is_regressor

from tuner.errors import ConfigError
from tuner.models.base import ModelAdapter, StagedView, import_optional

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
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(key, path, allowed, "it could not be imported") from None
        if not (inspect.isclass(klass) and hasattr(klass, "fit") and hasattr(klass, "get_params")):
            raise ConfigError(key, path, allowed, "it is not a scikit-learn-compatible estimator class")
        return cls(path, klass)

    def estimator_class(self, task: str) -> type:
        return self.cls

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

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra):
        if "warm_start" not in self._param_names or self.rounds_param is None:
            return None
        total = previous.get_params()[self.rounds_param] + extra
        previous.set_params(warm_start=True, **{self.rounds_param: total})
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
        if type(est) is not self.cls:
            raise ValueError(f"a checkpoint of {self.name} holds a {type(est).__module__}.{type(est).__qualname__}")
        return est

    def _trusted_type(self, name: str) -> bool:
        """Whether ``module.Name`` is a class defined in the estimator's top-level package.

        Only modules under that package are imported to check (as skops would import them to
        load); a name re-exported from elsewhere, a function or a module is refused.
        """
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

        methods = {"predict": lambda X: nth(estimator.staged_predict(X))}
        for name in ("predict_proba", "decision_function"):
            if hasattr(estimator, f"staged_{name}"):
                methods[name] = (lambda m: lambda X: nth(getattr(estimator, f"staged_{m}")(X)))(name)
        return StagedView(estimator, methods)
