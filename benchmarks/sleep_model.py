"""A scikit-learn regressor whose fit sleeps: trials of a known length, for the scale simulation."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class SleepRegressor(RegressorMixin, BaseEstimator):
    """Predicts the mean target plus ``offset``, a little better with more ``n_estimators``
    (a budget for Hyperband-style searches, continued with ``warm_start``); each fit sleeps ``ms``."""

    def __init__(self, ms: float = 1.0, offset: float = 0.0, n_estimators: int = 10, warm_start: bool = False):
        self.ms = ms
        self.offset = offset
        self.n_estimators = n_estimators
        self.warm_start = warm_start

    def fit(self, X, y):
        if self.ms < 0:  # a fit that takes its process down, as a segfault or the OOM killer would
            import os

            os._exit(1)
        time.sleep(self.ms / 1000)
        self.mean_ = float(np.mean(y)) + self.offset / self.n_estimators
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)
