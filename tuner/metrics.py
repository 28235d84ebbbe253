"""Metrics: names in the configuration, scikit-learn scorers underneath, natural units in results.

Scores are stored in the metric's natural units (RMSE is positive and lower is better), so every
ranking needs the direction: :func:`greater_is_better`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sklearn.metrics import get_scorer


@dataclass(frozen=True)
class Metric:
    name: str
    scorer: str  #: scikit-learn scorer name
    sign: int  #: natural units = sign * scorer value (scikit-learn negates losses)
    task: str
    greater_is_better: bool


METRICS = {
    m.name: m
    for m in (
        Metric("rmse", "neg_root_mean_squared_error", -1, "regression", False),
        Metric("mae", "neg_mean_absolute_error", -1, "regression", False),
        Metric("r2", "r2", 1, "regression", True),
        Metric("logloss", "neg_log_loss", -1, "classification", False),
        Metric("roc_auc", "roc_auc", 1, "classification", True),
        Metric("accuracy", "accuracy", 1, "classification", True),
    )
}
DEFAULT_METRIC = {"regression": "rmse", "classification": "logloss"}


def get_metric(name: str) -> Metric:
    return METRICS[name]


def greater_is_better(name: str) -> bool:
    return METRICS[name].greater_is_better


def scorer_for(metric: Metric, n_classes: int | None = None):
    """The scikit-learn scorer; roc_auc on more than two classes is one-vs-rest."""
    if metric.name == "roc_auc" and n_classes is not None and n_classes > 2:
        return _scorer("roc_auc_ovr")
    return _scorer(metric.scorer)


@functools.cache
def _scorer(name: str):
    # scorers hold no state; get_scorer deep-copies one on every call, which costs more than a
    # millisecond trial's share of its scoring
    return get_scorer(name)
