"""What runs on a worker: cross-validate a batch of trials and return one flat record per trial.

The data and the CV splits are built once per worker process (:func:`tuner.data.load_cached`) and
reused by every trial. Splits are scikit-learn's ``KFold`` / ``StratifiedKFold`` with the
configured shuffle and seed, and scoring uses scikit-learn's scorers, so each trial's scores equal
``GridSearchCV``'s for the same estimator and splits.
"""

from __future__ import annotations

import socket
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from tuner.config import CVConfig
from tuner.data import DataSpec, load_cached
from tuner.metrics import get_metric, scorer_for
from tuner.models import get_adapter
from tuner.trial import Trial, TrialStatus, canonical_params


@dataclass(frozen=True)
class Problem:
    """Everything besides a trial's model and parameters that determines its scores."""

    data: DataSpec
    task: str
    cv: CVConfig
    metric: str
    seed: int = 0
    n_threads: int = 1  #: threads one trial may use: one worker slot

    def splitter(self):
        cls = StratifiedKFold if self.task == "classification" else KFold
        return cls(
            n_splits=self.cv.folds,
            shuffle=self.cv.shuffle,
            random_state=self.cv.seed if self.cv.shuffle else None,
        )

    def load(self):
        """``(X, y, splits)``, cached per worker process."""
        X, y = load_cached(self.data, self.task)
        key = (self.cv, self.task)
        splits = _splits_cache.get((id(X), key))
        if splits is None:
            splits = list(self.splitter().split(X, y))
            _splits_cache[(id(X), key)] = splits
        return X, y, splits


_splits_cache: dict = {}


def _now() -> datetime:
    return datetime.now(UTC)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
        return str(worker.name) if worker.name is not None else worker.address
    except ValueError:  # not on a Dask worker (local evaluation, tests)
        return socket.gethostname()


def evaluate_trial(problem: Problem, trial: Trial) -> dict:
    """Cross-validate one trial. Never raises for a failing trial: it is recorded as failed."""
    started = _now()
    record: dict = {
        "trial_id": trial.trial_id,
        "model": trial.model,
        "params": canonical_params(trial.params),
        **{f"param_{k}": v for k, v in trial.params.items()},
        "metric": problem.metric,
        "status": TrialStatus.OK.value,
        "error": None,
        "worker": _worker_name(),
        "started_at": started,
    }
    fit_time = score_time = 0.0
    scores: list[float] = []
    try:
        X, y, splits = problem.load()
        adapter = get_adapter(trial.model)
        metric = get_metric(problem.metric)
        scorer = scorer_for(metric, len(np.unique(y)) if problem.task == "classification" else None)
        with threadpool_limits(limits=problem.n_threads):
            for train, test in splits:
                est = adapter.make(trial.params, problem.task, problem.n_threads, problem.seed)
                t0 = time.perf_counter()
                est.fit(X.iloc[train], y[train])
                t1 = time.perf_counter()
                scores.append(metric.sign * float(scorer(est, X.iloc[test], y[test])))
                fit_time += t1 - t0
                score_time += time.perf_counter() - t1
        record["n_resources"] = adapter.n_resources(est)
        if not np.all(np.isfinite(scores)):
            raise FloatingPointError(f"non-finite scores {scores}")
    except Exception as exc:  # a trial's own failure: record it, the search goes on
        record["status"] = TrialStatus.FAILED.value
        tb = traceback.format_exception_only(type(exc), exc)
        record["error"] = "".join(tb).strip()[-4000:]
    if record["status"] == TrialStatus.OK.value:
        record["mean_test_score"] = float(np.mean(scores))
        record["std_test_score"] = float(np.std(scores))
        for i, s in enumerate(scores):
            record[f"split{i}_test_score"] = s
    record["fit_time"] = fit_time
    record["score_time"] = score_time
    record["finished_at"] = _now()
    return record


def evaluate_batch(problem: Problem, trials: list[Trial]) -> list[dict]:
    """The task the engine submits: several trials in a row, one record each."""
    return [evaluate_trial(problem, t) for t in trials]
