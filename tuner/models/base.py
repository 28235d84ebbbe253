"""The contract every model adapter fulfils: build an estimator for one trial.

An adapter turns ``(params, task, n_threads, seed)`` into an unfitted scikit-learn-compatible
estimator that uses exactly ``n_threads`` threads and is seeded, so that a re-run reproduces every
score. Fitting, scoring and cross-validation are the same for every library and live in
:mod:`tuner.evaluate`.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from tuner.columns import Columns
    from tuner.space import ParamSpace

INSTALL_HINTS = {
    "xgboost": "pip install xgboost",
    "lightgbm": "pip install lightgbm",
    "catboost": "pip install catboost",
}


def import_optional(module: str) -> Any:
    """Import a library that only some models need, with an install hint when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        hint = INSTALL_HINTS.get(module.split(".")[0], f"pip install {module.split('.')[0]}")
        raise ImportError(f"the model needs '{module}', which is not installed: {hint}") from exc


class StagedView:
    """A fitted model seen through its first ``n`` rounds: predicts what a model trained for ``n``
    rounds predicts. Scorers see an estimator of the same kind (tags and ``classes_`` delegate)."""

    def __init__(self, estimator: Any, methods: dict[str, Any]):
        self._estimator = estimator
        if hasattr(estimator, "classes_"):
            self.classes_ = estimator.classes_
        for name, fn in methods.items():
            fn.__name__ = name  # scikit-learn's scorers look methods up by name
            setattr(self, name, fn)

    def __sklearn_tags__(self):
        return self._estimator.__sklearn_tags__()


class ModelAdapter:
    """Builds estimators of one library for a trial.

    Subclasses set :attr:`name` and implement :meth:`estimator_class`; they may override
    :meth:`fixed_params` to pin threads, seeds and verbosity.
    """

    #: model name as written in the configuration, e.g. ``"xgboost"``
    name: str = ""
    #: the parameter that counts boosting rounds / iterations, if the model has one
    rounds_param: str | None = None
    #: the library's own format :meth:`dump_model` writes (recorded in checkpoints), if any
    model_format: str | None = None
    #: the data's columns (:meth:`for_columns`): which are categorical, which have missing values
    columns: Columns | None = None

    def estimator_class(self, task: str) -> type:
        raise NotImplementedError

    def fixed_params(self, cls: type, n_threads: int, seed: int) -> dict:
        """Parameters tuner sets itself: threads from the worker slot, the seed, quiet logs."""
        return {}

    def for_columns(self, columns: Columns | None) -> ModelAdapter:
        """This adapter for data with ``columns``: its estimators are told which columns are
        categorical (:meth:`data_params`) and take :meth:`model_input`."""
        if columns is None or columns == self.columns:
            return self
        bound = copy.copy(self)
        bound.columns = columns
        return bound

    def data_params(self, columns: Columns) -> dict:
        """Parameters that tell the library about the data's categorical columns (none by default)."""
        return {}

    #: what :meth:`model_input` does to a prepared frame; adapters with the same kind share one
    #: converted copy of the data per worker
    input_kind = "prepared"

    def model_input(self, X: pd.DataFrame) -> pd.DataFrame:
        """The prepared frame (:meth:`tuner.columns.Columns.prepare`) in the form this library
        takes; by default as it is (pandas ``category`` columns for categorical features)."""
        return X

    def param_prefix(self, estimator: Any) -> str:
        """How ``estimator``'s own parameters are addressed in ``set_params`` (e.g. ``model__``
        when :meth:`make` wrapped it in a preparing Pipeline); empty by default."""
        return ""

    def make(self, params: dict, task: str, n_threads: int = 1, seed: int = 0) -> Any:
        cls = self.estimator_class(task)
        data = self.data_params(self.columns) if self.columns is not None else {}
        return cls(**{**data, **params, **self.fixed_params(cls, n_threads, seed)})

    def n_resources(self, estimator: Any) -> int | None:
        """Boosting rounds of an estimator (None for models without rounds)."""
        if self.rounds_param is None:
            return None
        value = estimator.get_params().get(self.rounds_param)
        return int(value) if value is not None else None

    def fit(self, estimator: Any, X, y, data_key: tuple | None = None, keep: int = 1) -> Any:
        """Fit ``estimator`` on ``(X, y)``. ``data_key`` names these exact data (a CV fold of a
        search's data set): an adapter may keep the library's own dataset built from them, up
        to ``keep`` of them per worker thread, and train later trials on it."""
        return estimator.fit(X, y)

    def continue_fit(self, previous: Any, params: dict, task: str, n_threads: int, seed: int, X, y, extra: int,
                     data_key: tuple | None = None, keep: int = 1) -> Any:
        """Train ``extra`` more rounds on top of the fitted ``previous``; None where unsupported.

        The result predicts like a model trained for the total number of rounds from scratch
        where the library's training is deterministic (no row or column subsampling).
        ``data_key`` and ``keep`` are :meth:`fit`'s: the library's dataset of these exact data may
        be reused.
        """
        return None

    def dump_model(self, estimator: Any) -> bytes:
        """A fitted estimator in the library's own format, for :mod:`tuner.checkpoints`.

        Parameters
        ----------
        estimator
            A model fitted by :meth:`fit` or :meth:`continue_fit`.

        Returns
        -------
        bytes
            The model as :attr:`model_format`; never a pickle.

        Raises
        ------
        NotImplementedError
            Where the adapter has no such format: checkpoints are then not written and later
            rungs train from scratch (same scores, only slower).
        """
        raise NotImplementedError(
            f"model '{self.name or type(self).__name__}' has no checkpoint format without pickle: "
            "successive-halving rungs of it train from scratch"
        )

    def load_model(self, data: bytes, params: dict, task: str, n_threads: int, seed: int) -> Any:
        """The estimator :meth:`dump_model` wrote, ready for ``continue_fit(loaded, ...)``.

        Parameters
        ----------
        data
            What :meth:`dump_model` returned. It comes from a results location that others may
            write to: an implementation never unpickles it, nor imports or calls what it names.
        params, task, n_threads, seed
            The trial's, as for :meth:`make`.

        Returns
        -------
        Any
            A model that :meth:`continue_fit` continues exactly as the one that was dumped.

        Raises
        ------
        NotImplementedError
            Where the adapter has no such format.
        Exception
            Whatever the library raises for data that are not a model of its format, or that
            the adapter refuses.
        """
        raise NotImplementedError(
            f"model '{self.name or type(self).__name__}' has no checkpoint format without pickle"
        )

    def cost(self, params: dict) -> float:
        """A rough relative cost of fitting ``params``, only to start the biggest fits first:
        rounds times tree size (leaves or depth), where the parameters say."""
        rounds = params.get(self.rounds_param) if self.rounds_param else None
        size = next(
            (params[k] for k in ("num_leaves", "max_leaf_nodes", "max_depth", "depth")
             if isinstance(params.get(k), (int, float)) and not isinstance(params.get(k), bool)),
            1,
        )
        return float(rounds if isinstance(rounds, (int, float)) else 100) * max(float(size), 1.0)

    def can_share_rounds(self, params: dict) -> bool:
        """Whether trials differing only in rounds can be scored from one fit at the largest count."""
        return False

    def scoring(self, estimator: Any, data_key: tuple | None = None, keep: int = 1, n: int | None = None) -> Any:
        """``estimator`` as the scorer sees it on a CV fold's test rows named ``data_key`` (its first
        ``n`` rounds: :meth:`staged`). An adapter may keep the library's own dataset of those rows,
        up to ``keep`` per worker thread, and predict from it (the same predictions)."""
        return estimator if n is None else self.staged(estimator, n)

    def staged(self, estimator: Any, n: int) -> StagedView | None:
        """``estimator`` (fitted with at least ``n`` rounds) as a model of ``n`` rounds."""
        return None

    # -- validation -------------------------------------------------------------------------
    def known_params(self, task: str) -> tuple[set[str], bool]:
        """(parameter names the estimator declares, whether it accepts other names too)."""
        cls = self.estimator_class(task)
        names: set[str] = set()
        open_kwargs = False
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind is p.VAR_KEYWORD:
                    open_kwargs = True
                elif p.name != "self":
                    names.add(p.name)
        names |= set(self.extra_param_names())
        return names, open_kwargs

    def extra_param_names(self) -> set[str]:
        return set()

    def check_space(self, space: ParamSpace, task: str, key: str) -> None:
        """Check a model's space before anything runs; raise ConfigError naming ``key``.

        Every adapter checks the parameter names; adapters add their library's own rules.
        """
        self.validate_param_names(list(space.params), task, key)

    def check_budgeted(self, space: ParamSpace, strategy: str, key: str) -> None:
        """Rules of this library for successive halving, Hyperband and ASHA, where training
        continues from rung to rung (none by default)."""

    def validate_param_names(self, names: list[str], task: str, key: str) -> None:
        known, open_kwargs = self.known_params(task)
        for name in names:
            if name in known:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            if open_kwargs and not close:
                continue  # passed through to the library, which checks it at fit time
            hint = f"did you mean '{close[0]}'?" if close else None
            raise ConfigError(f"{key}.{name}", name, f"a parameter of {self.describe(task)}", hint)

    def describe(self, task: str) -> str:
        cls = self.estimator_class(task)
        return f"{cls.__module__.split('.')[0]}.{cls.__name__}"
