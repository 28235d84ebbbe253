"""The best model as one object: rows of your table in, predictions in your units and labels out.

:attr:`tuner.SearchResult.best_estimator_` is a :class:`TunedModel`: the best configuration refit
on all the data, with the column preparation it was trained with (:class:`tuner.columns.Columns`)
and the target's labels (:class:`tuner.target.Target`).

>>> model = result.best_estimator_                          # doctest: +SKIP
>>> model.predict(pd.read_csv("new_customers.csv"))         # doctest: +SKIP
array(['gold', 'basic', ...], dtype=object)
>>> model.save("model.joblib"); TunedModel.load("model.joblib")   # doctest: +SKIP

Rows are given exactly as they are in the data file: the same columns, the target absent;
columns the search did not use (identifiers, dropped columns) may be present and are ignored.
Loading a saved model needs tuner and the model's own library (and, for your own estimators,
their module).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from tuner.columns import Columns
from tuner.target import Target


class TunedModel:
    """A fitted estimator with the preparation of its input and the decoding of its output.

    Attributes
    ----------
    estimator_
        The library's fitted estimator (``XGBRegressor``, a scikit-learn ``Pipeline``, ...).
    model, params
        The model name as in the configuration, and the configuration's parameters.
    columns, target
        How rows are prepared, and the task and labels.
    classes_
        Classification: the labels, as in the data (``["basic", "gold", "silver"]``).
    """

    def __init__(self, estimator: Any, model: str, params: dict, columns: Columns, target: Target):
        self.estimator_ = estimator
        self.model = model
        self.params = dict(params)
        self.columns = columns
        self.target = target

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def classes_(self) -> np.ndarray:
        if self.target.classes is None:
            raise AttributeError("a regression model has no classes_")
        return np.asarray(self.target.classes)

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The table's columns the model uses (before dates are split into parts)."""
        return np.asarray(self.columns.features, dtype=object)

    def prepare(self, rows: Any) -> pd.DataFrame:
        """``rows`` as the estimator sees them (what every trial was trained on)."""
        from tuner.models import get_adapter

        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        if self.target.name is not None and self.target.name in frame.columns:
            frame = frame.drop(columns=[self.target.name])
        adapter = get_adapter(self.model).for_columns(self.columns)
        return adapter.model_input(self.columns.prepare(frame))

    def predict(self, rows: Any) -> np.ndarray:
        """Predictions for ``rows`` (a DataFrame, or records as dicts): values (regression) or
        the data's labels (classification)."""
        out = self.estimator_.predict(self.prepare(rows))
        return self.target.decode(out) if self.target.task == "classification" else np.asarray(out)

    def predict_proba(self, rows: Any) -> np.ndarray:
        """Classification: one column per label of :attr:`classes_`, in that order."""
        if self.target.task != "classification":
            raise AttributeError("predict_proba is for classification; this model does regression")
        return np.asarray(self.estimator_.predict_proba(self.prepare(rows)))

    def score(self, rows: Any, y: Any) -> float:
        """Accuracy (classification) or R² (regression) on ``rows`` with true values ``y``."""
        from sklearn.metrics import accuracy_score, r2_score

        pred = self.predict(rows)
        return float(accuracy_score(np.asarray(y), pred) if self.task == "classification" else r2_score(y, pred))

    def save(self, path: str | os.PathLike) -> str:
        """Write the model with joblib (a pickle: load only files you trust). Returns the path."""
        import joblib

        joblib.dump(self, path)
        return str(path)

    @staticmethod
    def load(path: str | os.PathLike) -> TunedModel:
        """A model written by :meth:`save` (or ``tuner export``). Unpickles: trusted files only."""
        import joblib

        model = joblib.load(path)
        if not isinstance(model, TunedModel):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a tuner model")
        return model

    def __repr__(self) -> str:
        labels = f", classes {list(self.target.classes)}" if self.target.classes is not None else ""
        return f"TunedModel({self.model}, {self.task}{labels}, {len(self.columns.features)} features)"


def fit_best(problem: Any, model: str, params: dict) -> TunedModel:
    """Fit ``params`` of ``model`` on all of ``problem``'s data (runs on a worker)."""
    from threadpoolctl import threadpool_limits

    from tuner.data import describe, load_cached, raw
    from tuner.models import get_adapter
    from tuner.target import check_target

    columns, target = problem.columns, problem.target
    if columns is None or target is None:  # a Problem built by hand: decide them from the data
        frame, y = raw(problem.data, problem.task)
        columns = columns or describe(problem.data, frame)
        target = target or check_target(y, problem.data.target, problem.task, folds=1)
    X, y = load_cached(problem.data, problem.task, columns, target)
    adapter = get_adapter(model).for_columns(columns)
    with threadpool_limits(limits=problem.n_threads):
        est = adapter.make(params, problem.task, problem.n_threads, problem.seed)
        est.fit(adapter.model_input(X), y)
    return TunedModel(est, model, params, columns, target)

