"""What runs on a worker: cross-validate a batch of trials and return one flat record per trial.

The data and the CV splits are built once per worker process (:func:`tuner.data.load_cached`) and
reused by every trial; adapters may keep their library's own dataset of each fold too
(:meth:`tuner.models.base.ModelAdapter.fit`). Splits are scikit-learn's ``KFold`` / ``StratifiedKFold`` with the
configured shuffle and seed, and scoring uses scikit-learn's scorers, so each trial's scores equal
``GridSearchCV``'s for the same estimator and splits.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

import numpy as np
import sklearn
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import ThreadpoolController

from tuner import checkpoints
from tuner.columns import Columns
from tuner.data import DataSpec, load_cached
from tuner.metrics import get_metric, scorer_for
from tuner.models import ModelAdapter, get_adapter
from tuner.record import RunFields, TrialRecord, canonical_params, error_text, now, worker_name
from tuner.trial import ROWS, Trial

if TYPE_CHECKING:
    from tuner.config import CVConfig
    from tuner.target import Target


@dataclass(frozen=True)
class Problem:
    """Everything besides a trial's model and parameters that determines its scores."""

    data: DataSpec
    task: str
    cv: CVConfig
    metric: str
    seed: int = 0
    n_threads: int = 1  #: threads one trial may use: one worker slot
    #: what the columns become and the target's labels (decided by the configuration from every
    #: row); None: decided from the data where they are loaded
    columns: Columns | None = None
    target: Target | None = None

    def splitter(self):
        cls = StratifiedKFold if self.task == "classification" else KFold
        return cls(
            n_splits=self.cv.folds,
            shuffle=self.cv.shuffle,
            random_state=self.cv.seed if self.cv.shuffle else None,
        )

    @property
    def data_key(self) -> tuple:
        """What decides ``(X, y, splits)``: the data, its columns and target, the task and the CV."""
        return self.data, self.task, self.cv, self.columns, self.target

    def load(self):
        """``(X, y, splits)``, cached per worker process (each task brings its own copy of the
        Problem, so the cache is keyed by what decides them, not by the object)."""
        loaded = _loaded.get(self.data_key)
        if loaded is None:
            X, y = load_cached(self.data, self.task, self.columns, self.target)
            loaded = _loaded[self.data_key] = X, y, list(self.splitter().split(X, y))
        return loaded

    def adapter(self, model: str) -> ModelAdapter:
        """The model's adapter, told the data's columns (categorical, missing values)."""
        return get_adapter(model).for_columns(self.columns)

    def model_input(self, adapter: ModelAdapter):
        """``X`` in the form ``adapter``'s library takes, converted once per worker process."""
        key = (self.data_key, adapter.input_kind)
        X = _inputs.get(key)
        if X is None:
            X = _inputs[key] = adapter.model_input(self.load()[0])
        return X


_loaded: dict = {}  #: Problem.data_key -> (X, y, splits)
_inputs: dict = {}  #: (Problem.data_key, ModelAdapter.input_kind) -> X as that library takes it


_limits = threading.local()
_controllers: dict[int, ThreadpoolController] = {}  #: len(sys.modules) -> the libraries loaded then


def _controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded OpenMP/BLAS libraries. Finding them reads the process's
    memory map (milliseconds: more than a tiny trial), so it is done again only once modules were
    imported since (a model library's first trial)."""
    n = len(sys.modules)
    if n not in _controllers:
        _controllers.clear()
        _controllers[n] = ThreadpoolController()
    return _controllers[n]


@contextlib.contextmanager
def _thread_limits(n_threads: int):
    """OpenMP/BLAS threads limited to the worker slot, once per task (not per trial)."""
    if getattr(_limits, "active", False):
        yield
        return
    _limits.active = True
    try:
        with _controller().limit(limits=n_threads):
            yield
    finally:
        _limits.active = False


def evaluate_trial(problem: Problem, trial: Trial) -> TrialRecord:
    """Cross-validate one trial. Never raises for a failing trial: it is recorded as failed."""
    started, worker = now(), worker_name()
    fit_time = score_time = 0.0
    continued = False
    try:
        _, y, splits = problem.load()
        adapter = problem.adapter(trial.model)
        X = problem.model_input(adapter)
        metric = get_metric(problem.metric)
        scorer = scorer_for(metric, len(np.unique(y)) if problem.task == "classification" else None)
        previous = None
        if trial.continue_from is not None and trial.checkpoints is not None:
            assert trial.config_id is not None  # rung trials always have one
            previous = checkpoints.load(
                checkpoints.checkpoint_url(trial.checkpoints, trial.config_id, trial.continue_from),
                adapter, trial.params, problem.task, problem.n_threads, problem.seed, len(splits),
            )
        models, scores = [], []
        params = trial.estimator_params
        with _thread_limits(problem.n_threads):
            for i, (train, test) in enumerate(splits):
                t0 = time.perf_counter()
                est = None
                data_key: tuple = (*problem.data_key, i)  # this fold: the library's dataset of it may be kept
                if trial.resource == ROWS:  # a rung on a share of the fold's rows, trained afresh
                    train = row_share(train, trial.params[ROWS], problem.seed, i)
                    data_key = (*data_key, ROWS, trial.params[ROWS])
                if previous is not None:
                    extra = trial.params[trial.resource] - trial.continue_from
                    est = adapter.continue_fit(
                        previous[i], trial.params, problem.task, problem.n_threads,
                        continuation_seed(problem.seed, trial.continue_from or 0),
                        X.iloc[train], y[train], extra, data_key=data_key, keep=problem.cv.folds,
                    )
                if est is None:
                    est = adapter.make(params, problem.task, problem.n_threads, problem.seed)
                    adapter.fit(est, X.iloc[train], y[train], data_key=data_key, keep=problem.cv.folds)
                else:
                    continued = True
                t1 = time.perf_counter()
                view = adapter.scoring(est, (*problem.data_key, i, "test"), keep=problem.cv.folds)
                scores.append(metric.sign * _score(scorer, view, X.iloc[test], y[test]))
                fit_time += t1 - t0
                score_time += time.perf_counter() - t1
                models.append(est)
        n_resources: int | None
        if trial.resource is not None:
            n_resources = int(trial.params[trial.resource])
            if trial.checkpoints is not None:
                assert trial.config_id is not None  # rung trials always have one
                # written in the background while the record goes back (off the critical path)
                checkpoints.save_later(
                    None if trial.final else checkpoints.checkpoint_url(trial.checkpoints, trial.config_id, n_resources),
                    adapter, models,
                    replaces=None if trial.continue_from is None
                    else checkpoints.checkpoint_url(trial.checkpoints, trial.config_id, trial.continue_from),
                )
        else:
            n_resources = adapter.n_resources(est)
    except Exception as exc:  # a trial's own failure: record it, the search goes on
        return TrialRecord.failed(trial, problem.metric, exc, fit_time=fit_time, score_time=score_time,
                                  worker=worker, started_at=started)
    return TrialRecord.ok(trial, problem.metric, scores, n_resources=n_resources, fit_time=fit_time,
                          score_time=score_time, worker=worker, started_at=started, continued=continued)


def row_share(train: np.ndarray, percent: int, seed: int, fold: int) -> np.ndarray:
    """``percent`` of a training fold's rows, the same for every configuration of a search (drawn
    from the search's seed, the fold and the share), in the fold's order."""
    if percent >= 100:
        return train
    n = max(1, int(round(len(train) * percent / 100)))
    rng = np.random.default_rng([seed, fold, percent])
    return np.sort(rng.choice(train, size=n, replace=False))


def _score(scorer, model, X, y) -> float:
    """The scorer's value for a fitted model. scikit-learn's check of the metric function's
    arguments (tuner's own, the same for every fold) is skipped: it costs more than a tiny
    trial's prediction; the arrays are still checked."""
    with sklearn.config_context(skip_parameter_validation=True):
        return float(scorer(model, X, y))


def continuation_seed(seed: int, continue_from: int) -> int:
    """The seed of a continued fit: set afresh for every continuation, from the search's seed and
    the rounds it continues from, so that row and column sampling never depend on what the
    worker thread trained before (XGBoost keeps its random state across fits otherwise)."""
    return (seed * 1_000_003 + continue_from) % 2**31


def share_key(trial: Trial) -> tuple | None:
    """Trials with the same key differ only in their number of rounds: one fit serves them all.

    None where the model has no rounds parameter, the trial does not set it, the library cannot
    score a prefix of its rounds exactly (DART, early stopping; CatBoost without learning_rate),
    or the trial belongs to a budgeted strategy (those continue training instead).
    """
    if trial.resource is not None:
        return None
    adapter = get_adapter(trial.model)
    rounds = adapter.rounds_param
    if rounds is None or rounds not in trial.params or not adapter.can_share_rounds(trial.params):
        return None
    rest = {k: v for k, v in trial.params.items() if k != rounds}
    return trial.model, canonical_params(rest)


def group_units(trials: list[Trial]) -> list[list[Trial]]:
    """Units of work, in first-seen order: trials that share a fit (:func:`share_key`) stay
    together, every other trial is a unit of its own."""
    groups: dict = {}
    for t in trials:
        key = share_key(t)
        groups.setdefault(key if key is not None else ("single", t.trial_id), []).append(t)
    return list(groups.values())


@dataclass
class FoldResult:
    """One CV fold of a unit of work (:func:`evaluate_fold`): per-trial lists, in the unit's order."""

    fold: int
    started: datetime
    finished: datetime
    worker: str
    scores: list[float | None]
    errors: list[str | None]
    n_resources: list[int | None]
    fit_time: list[float]
    score_time: list[float]

    @property
    def seconds(self) -> float:
        return sum(self.fit_time) + sum(self.score_time)


def evaluate_fold(problem: Problem, trials: list[Trial], fold: int) -> FoldResult:
    """One CV fold of one unit of work: a trial, or trials that differ only in their number of
    rounds. Those share one fit at the largest count, each scored from the first n rounds of it
    (XGBoost ``iteration_range``, LightGBM ``num_iteration``, CatBoost ``ntree_end``, scikit-learn
    ``staged_predict``) -- the predictions of a separate fit.

    Fit time is shared out in proportion to rounds. Never raises: should a shared fit fail, each
    trial is fitted on its own, so that each failure carries its own message.
    """
    started = now()
    n = len(trials)
    try:
        _, y, splits = problem.load()
        train, test = splits[fold]
        adapter = problem.adapter(trials[0].model)
        X = problem.model_input(adapter)
        metric = get_metric(problem.metric)
        scorer = scorer_for(metric, len(np.unique(y)) if problem.task == "classification" else None)
        counts = [int(t.params[adapter.rounds_param]) for t in trials] if n > 1 else None
        params = trials[int(np.argmax(counts))].params if counts else trials[0].params
        with _thread_limits(problem.n_threads):
            t0 = time.perf_counter()
            est = adapter.make(params, problem.task, problem.n_threads, problem.seed)
            adapter.fit(est, X.iloc[train], y[train], data_key=(*problem.data_key, fold), keep=problem.cv.folds)
            t1 = time.perf_counter()
            test_key = (*problem.data_key, fold, "test")
            views = [adapter.scoring(est, test_key, problem.cv.folds, n=c) for c in counts] if counts \
                else [adapter.scoring(est, test_key, problem.cv.folds)]
            scores = [metric.sign * _score(scorer, v, X.iloc[test], y[test]) for v in views]
            t2 = time.perf_counter()
        if not np.all(np.isfinite(scores)):
            raise FloatingPointError(f"non-finite scores {scores}")
    except Exception as exc:
        if n > 1:
            parts = [evaluate_fold(problem, [t], fold) for t in trials]
            merged = {name: [getattr(p, name)[0] for p in parts] for name in _PER_TRIAL}
            return FoldResult(fold=fold, started=started, finished=now(), worker=parts[0].worker, **merged)
        return FoldResult(fold=fold, started=started, finished=now(), worker=worker_name(), scores=[None],
                          errors=[error_text(exc)], n_resources=[None], fit_time=[0.0], score_time=[0.0])
    share = [c / sum(counts) for c in counts] if counts else [1.0]
    return FoldResult(
        fold=fold, started=started, finished=now(), worker=worker_name(),
        scores=list(scores), errors=[None] * n,
        n_resources=list(counts) if counts else [adapter.n_resources(est)],
        fit_time=[(t1 - t0) * w for w in share], score_time=[(t2 - t1) * w for w in share],
    )


_PER_TRIAL = ("scores", "errors", "n_resources", "fit_time", "score_time")


def combine_folds(problem: Problem, trials: list[Trial], parts: list[FoldResult]) -> list[TrialRecord]:
    """The records of a unit of work from its folds (:func:`evaluate_fold`), one per trial, as
    :func:`evaluate_trial` would have made them. A trial that failed in any fold is failed."""
    parts = sorted(parts, key=lambda p: p.fold)
    records = []
    for i, t in enumerate(trials):
        common: RunFields = dict(
            n_resources=parts[0].n_resources[i],
            fit_time=sum(p.fit_time[i] for p in parts),
            score_time=sum(p.score_time[i] for p in parts),
            worker=parts[0].worker,
            started_at=min(p.started for p in parts),
            finished_at=max(p.finished for p in parts),
        )
        error = next((p.errors[i] for p in parts if p.errors[i] is not None), None)
        if error is not None:
            records.append(TrialRecord.failed(t, problem.metric, error, **common))
        else:
            # no fold failed, so every fold has a score
            scores = cast("list[float]", [p.scores[i] for p in parts])
            records.append(TrialRecord.ok(t, problem.metric, scores, **common))
    return records


def evaluate_unit(problem: Problem, trials: list[Trial]) -> list[TrialRecord]:
    """A unit of work, every fold in a row: a trial, or trials that share one fit."""
    if trials[0].resource is not None:  # budgeted: continues from the previous rung's checkpoint
        return [evaluate_trial(problem, t) for t in trials]
    return combine_folds(problem, trials, [evaluate_fold(problem, trials, j) for j in range(problem.cv.folds)])


def evaluate_batch(problem: Problem, trials: list[Trial]) -> list[TrialRecord]:
    """The task the engine submits: trials in a row, one record each, in the order given.

    Trials that differ only in their number of rounds share one fit (:func:`evaluate_fold`).
    """
    by_id: dict[str, TrialRecord] = {}
    with _thread_limits(problem.n_threads):
        for group in group_units(trials):
            by_id.update((r.trial_id, r) for r in evaluate_unit(problem, group))
    return [by_id[t.trial_id] for t in trials]
