"""An estimator that reports where it runs: which process imported its module and which fits it,
and the thread settings it found (for the warm-start test of local workers)."""

from __future__ import annotations

import json
import os

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

IMPORTED_IN = os.getpid()  # the process that imported this module


class ProbeRegressor(RegressorMixin, BaseEstimator):
    """Predicts the mean; each fit appends a JSON line to the file named by ``TUNER_PROBE_FILE``."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        with open(os.environ["TUNER_PROBE_FILE"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"imported_in": IMPORTED_IN, "pid": os.getpid(),
                                "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}) + "\n")
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)
