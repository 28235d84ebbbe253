"""What runs on a worker: cross-validate a batch of trials and return one flat record per trial.

The data and the CV splits are built once per worker process (:func:`tuner.data.load_cached`) and
reused by every trial; adapters may keep their library's own dataset of each fold too
(:meth:`tuner.models.base.ModelAdapter.fit`). Splits are scikit-learn's ``KFold`` / ``StratifiedKFold`` with the
configured shuffle and seed, and scoring uses scikit-learn's scorers, so each trial's scores equal
``GridSearchCV``'s for the same estimator and splits.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
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

    @property
    def data_key(self) -> tuple:
        """What decides ``(X, y, splits)``: the data, the task and the CV."""
        return self.data, self.task, self.cv

    def load(self):
        """``(X, y, splits)``, cached per worker process (each task brings its own copy of the
        Problem, so the cache is keyed by what decides them, not by the object)."""
        loaded = _loaded.get(self.data_key)
        if loaded is None:
            X, y = load_cached(self.data, self.task)
            loaded = _loaded[self.data_key] = X, y, list(self.splitter().split(X, y))
        return loaded


_loaded: dict = {}  #: Problem.data_key -> (X, y, splits)


_limits = threading.local()


@contextlib.contextmanager
def _thread_limits(n_threads: int):
    """OpenMP/BLAS threads limited to the worker slot. Entered once per task, not per trial:
    threadpoolctl inspects every loaded library, which costs more than a tiny trial."""
    if getattr(_limits, "active", False):
        yield
        return
    _limits.active = True
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        _limits.active = False


def _now() -> datetime:
    return datetime.now(UTC)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
        return str(worker.name) if worker.name is not None else worker.address
    except ValueError:  # not on a Dask worker (local evaluation, tests)
        return socket.gethostname()


def _load_checkpoint(path: str) -> list | None:
    """The fold models saved at the previous rung, or None when lost or unreadable: the rung is
    then trained from scratch, which gives the same scores, only slower."""
    import pickle

    import fsspec

    try:
        with fsspec.open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception:  # lost with a volume, deleted, half-written: recompute, never guess
        return None


def _save_checkpoint(path: str, models: list) -> None:
    """Write atomically: a temporary name, then a rename (one upload on object stores)."""
    import pickle

    import fsspec

    fs, fpath = fsspec.core.url_to_fs(path)
    data = pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL)
    fs.makedirs(fpath.rsplit("/", 1)[0], exist_ok=True)
    if type(fs).__name__ == "LocalFileSystem":
        import os

        tmp = f"{fpath}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, fpath)
    else:
        fs.pipe_file(fpath, data)


def _remove(path: str) -> None:
    import fsspec

    fs, fpath = fsspec.core.url_to_fs(path)
    try:
        fs.rm(fpath)
    except (FileNotFoundError, OSError):
        pass


def evaluate_trial(problem: Problem, trial: Trial) -> dict:
    """Cross-validate one trial. Never raises for a failing trial: it is recorded as failed."""
    record = _base_record(problem, trial, _now())
    fit_time = score_time = 0.0
    scores: list[float] = []
    try:
        X, y, splits = problem.load()
        adapter = get_adapter(trial.model)
        metric = get_metric(problem.metric)
        scorer = scorer_for(metric, len(np.unique(y)) if problem.task == "classification" else None)
        previous = None
        if trial.continue_from is not None and trial.checkpoints is not None:
            previous = _load_checkpoint(trial.checkpoint_path(trial.continue_from))
            if previous is not None and len(previous) != len(splits):
                previous = None
        models = []
        with _thread_limits(problem.n_threads):
            for i, (train, test) in enumerate(splits):
                t0 = time.perf_counter()
                est = None
                if previous is not None:
                    extra = trial.params[trial.resource] - trial.continue_from
                    est = adapter.continue_fit(
                        previous[i], trial.params, problem.task, problem.n_threads, problem.seed,
                        X.iloc[train], y[train], extra,
                    )
                if est is None:
                    est = adapter.make(trial.params, problem.task, problem.n_threads, problem.seed)
                    est.fit(X.iloc[train], y[train])
                else:
                    record["continued"] = True
                t1 = time.perf_counter()
                scores.append(metric.sign * float(scorer(est, X.iloc[test], y[test])))
                fit_time += t1 - t0
                score_time += time.perf_counter() - t1
                models.append(est)
        if trial.resource is not None:
            record["n_resources"] = int(trial.params[trial.resource])
            if trial.checkpoints is not None:
                try:
                    _save_checkpoint(trial.checkpoint_path(record["n_resources"]), models)
                except Exception:  # unwritable: the next rung trains from scratch, same score
                    logging.getLogger(__name__).warning("could not write checkpoint %s", trial.checkpoint_path(
                        record["n_resources"]), exc_info=True)
                if trial.continue_from is not None:
                    _remove(trial.checkpoint_path(trial.continue_from))
        else:
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


def _base_record(problem: Problem, trial: Trial, started: datetime) -> dict:
    return {
        "trial_id": trial.trial_id,
        "model": trial.model,
        "params": canonical_params(trial.params),
        **{f"param_{k}": v for k, v in trial.params.items()},
        "metric": problem.metric,
        "status": TrialStatus.OK.value,
        "error": None,
        "worker": _worker_name(),
        "started_at": started,
        **(
            {"config_id": trial.config_id, "bracket": trial.bracket, "rung": trial.rung, "continued": False}
            if trial.resource is not None
            else {}
        ),
    }


def evaluate_fold(problem: Problem, trials: list[Trial], fold: int) -> dict:
    """One CV fold of one unit of work: a trial, or trials that differ only in their number of
    rounds. Those share one fit at the largest count, each scored from the first n rounds of it
    (XGBoost ``iteration_range``, LightGBM ``num_iteration``, CatBoost ``ntree_end``, scikit-learn
    ``staged_predict``) -- the predictions of a separate fit.

    Returns per-trial lists (``scores``, ``errors``, ``n_resources``, ``fit_time``,
    ``score_time``; fit time shared out in proportion to rounds) that :func:`combine_folds` turns
    into records. Never raises: should a shared fit fail, each trial is fitted on its own, so that
    each failure carries its own message.
    """
    started = _now()
    n = len(trials)
    try:
        X, y, splits = problem.load()
        train, test = splits[fold]
        adapter = get_adapter(trials[0].model)
        metric = get_metric(problem.metric)
        scorer = scorer_for(metric, len(np.unique(y)) if problem.task == "classification" else None)
        counts = [int(t.params[adapter.rounds_param]) for t in trials] if n > 1 else None
        params = trials[int(np.argmax(counts))].params if counts else trials[0].params
        with _thread_limits(problem.n_threads):
            t0 = time.perf_counter()
            est = adapter.make(params, problem.task, problem.n_threads, problem.seed)
            adapter.fit(est, X.iloc[train], y[train], data_key=(*problem.data_key, fold), keep=problem.cv.folds)
            t1 = time.perf_counter()
            views = [adapter.staged(est, c) for c in counts] if counts else [est]
            scores = [metric.sign * float(scorer(v, X.iloc[test], y[test])) for v in views]
            t2 = time.perf_counter()
        if not np.all(np.isfinite(scores)):
            raise FloatingPointError(f"non-finite scores {scores}")
    except Exception as exc:
        if n > 1:
            parts = [evaluate_fold(problem, [t], fold) for t in trials]
            return {**parts[0], **{k: [p[k][0] for p in parts] for k in _PER_TRIAL}}
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[-4000:]
        return {"fold": fold, "started": started, "finished": _now(), "worker": _worker_name(),
                "scores": [None], "errors": [error], "n_resources": [None], "fit_time": [0.0], "score_time": [0.0]}
    share = [c / sum(counts) for c in counts] if counts else [1.0]
    return {
        "fold": fold, "started": started, "finished": _now(), "worker": _worker_name(),
        "scores": scores, "errors": [None] * n,
        "n_resources": counts or [adapter.n_resources(est)],
        "fit_time": [(t1 - t0) * w for w in share], "score_time": [(t2 - t1) * w for w in share],
    }


_PER_TRIAL = ("scores", "errors", "n_resources", "fit_time", "score_time")


def combine_folds(problem: Problem, trials: list[Trial], parts: list[dict]) -> list[dict]:
    """The records of a unit of work from its folds (:func:`evaluate_fold`), one per trial, as
    :func:`evaluate_trial` would have made them. A trial that failed in any fold is failed."""
    parts = sorted(parts, key=lambda p: p["fold"])
    records = []
    for i, t in enumerate(trials):
        record = _base_record(problem, t, min(p["started"] for p in parts))
        record["worker"] = parts[0]["worker"]
        error = next((p["errors"][i] for p in parts if p["errors"][i] is not None), None)
        if error is not None:
            record.update(status=TrialStatus.FAILED.value, error=error)
        else:
            scores = [p["scores"][i] for p in parts]
            record.update(
                mean_test_score=float(np.mean(scores)),
                std_test_score=float(np.std(scores)),
                **{f"split{j}_test_score": float(s) for j, s in enumerate(scores)},
            )
        record.update(
            n_resources=parts[0]["n_resources"][i],
            fit_time=sum(p["fit_time"][i] for p in parts),
            score_time=sum(p["score_time"][i] for p in parts),
            finished_at=max(p["finished"] for p in parts),
        )
        records.append(record)
    return records


def evaluate_unit(problem: Problem, trials: list[Trial]) -> list[dict]:
    """A unit of work, every fold in a row: a trial, or trials that share one fit."""
    if trials[0].resource is not None:  # budgeted: continues from the previous rung's checkpoint
        return [evaluate_trial(problem, t) for t in trials]
    return combine_folds(problem, trials, [evaluate_fold(problem, trials, j) for j in range(problem.cv.folds)])


def evaluate_batch(problem: Problem, trials: list[Trial]) -> list[dict]:
    """The task the engine submits: trials in a row, one record each, in the order given.

    Trials that differ only in their number of rounds share one fit (:func:`evaluate_fold`).
    """
    groups: dict = {}
    for t in trials:
        key = share_key(t)
        groups.setdefault(key if key is not None else ("single", t.trial_id), []).append(t)
    by_id: dict[str, dict] = {}
    with _thread_limits(problem.n_threads):
        for group in groups.values():
            by_id.update((r["trial_id"], r) for r in evaluate_unit(problem, group))
    return [by_id[t.trial_id] for t in trials]
