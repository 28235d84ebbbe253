"""The trial record: what one finished evaluation of one trial is, and the only place it is built.

Every engine (tuner's own, dask-ml's) and every worker function turns an evaluation into a
:class:`TrialRecord` through :meth:`TrialRecord.ok` or :meth:`TrialRecord.failed`, and
:meth:`TrialRecord.as_row` turns it into the flat row of the results (one Parquet row, columns
laid out as scikit-learn's ``cv_results_``: ``params``, ``param_<name>``, ``mean_test_score``,
``split<i>_test_score``, ...). Rows read back from a results location become records again with
:meth:`TrialRecord.from_row`, which is how a resumed search tells a strategy what already finished.

Vocabulary, the same in every command, plot and API:

* a **trial** is one row: one configuration of one model evaluated by cross-validation at one
  budget. In successive halving, Hyperband and ASHA each rung of a configuration is its own trial
  (a complete model with that many boosting rounds); ``config_id`` groups the rungs of one
  configuration.
* a trial's **status** is :class:`TrialStatus`: ``ok`` (scored on every fold) or ``failed`` (the
  ``error`` column holds the library's message).

Example
-------
>>> from tuner.trial import Trial
>>> t = Trial.create("xgboost", {"max_depth": 3}, context="c")
>>> r = TrialRecord.ok(t, "rmse", [0.5, 0.7], fit_time=1.0, score_time=0.1)
>>> r.status, round(r.mean_test_score, 3), r.as_row()["split1_test_score"]
(<TrialStatus.OK: 'ok'>, 0.6, 0.7)
"""

from __future__ import annotations

import json
import math
import socket
import traceback
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from tuner.trial import Trial


class TrialStatus(StrEnum):
    """How a trial ended."""

    OK = "ok"
    FAILED = "failed"


#: columns of every results row, in order; ``param_<name>`` follow ``params`` and
#: ``split<i>_test_score`` follow ``std_test_score`` (see :func:`tuner.store.result_schema`)
HEAD_COLUMNS = [
    ("run_id", pa.string()),
    ("trial_id", pa.string()),
    ("model", pa.string()),
    ("params", pa.string()),
]
SCORE_COLUMNS = [
    ("metric", pa.string()),
    ("mean_test_score", pa.float64()),
    ("std_test_score", pa.float64()),
]
STATUS_COLUMNS = [
    ("n_resources", pa.int64()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("fit_time", pa.float64()),
    ("score_time", pa.float64()),
    ("worker", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("finished_at", pa.timestamp("us", tz="UTC")),
]
#: budgeted strategies (successive halving, Hyperband, ASHA) add these
RUNG_COLUMNS = [("config_id", pa.string()), ("bracket", pa.int64()), ("rung", pa.int64()), ("continued", pa.bool_())]
#: the columns without which a Parquet file is not tuner results
REQUIRED_COLUMNS = ("trial_id", "model", "params", "metric", "status", "mean_test_score")

MAX_ERROR_CHARS = 4000


def canonical_params(params: dict) -> str:
    """Parameters as JSON text with sorted keys: the ``params`` column and part of the trial id."""
    return json.dumps(params, sort_keys=True, default=str)


def now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """The Dask worker running this code (its name, else its address); the host name elsewhere."""
    try:
        from distributed import get_worker

        worker = get_worker()
        return str(worker.name) if worker.name is not None else worker.address
    except ValueError:  # not on a Dask worker (local evaluation, tests)
        return socket.gethostname()


def error_text(exc: BaseException) -> str:
    """The exception as the ``error`` column holds it: type and message, without the traceback
    (the first line names the problem; long messages keep their end, where libraries say why)."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[-MAX_ERROR_CHARS:]


def first_line(error: str | None) -> str:
    """The line of an error that names the problem (skips blank lines), at most 200 characters."""
    for line in str(error or "").splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


class RunFields(TypedDict, total=False):
    """How a trial ran, as the constructors of :class:`TrialRecord` take it (all optional)."""

    n_resources: int | None
    fit_time: float
    score_time: float
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial. Build it with :meth:`ok` or :meth:`failed`; store it with :meth:`as_row`."""

    trial_id: str
    model: str
    params: dict = field(hash=False)
    metric: str
    status: TrialStatus
    scores: tuple[float, ...] = ()  #: the test score of each CV fold (``ok`` trials)
    error: str | None = None
    n_resources: int | None = None  #: boosting rounds of the model (the rung's budget)
    fit_time: float = 0.0  #: seconds, summed over folds
    score_time: float = 0.0
    worker: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_id: str | None = None
    config_id: str | None = None
    bracket: int | None = None
    rung: int | None = None
    continued: bool | None = None  #: rung trials: trained on from the previous rung's checkpoint

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def ok(
        cls, trial: Trial, metric: str, scores: list[float], *, continued: bool = False, **run: Unpack[RunFields]
    ) -> TrialRecord:
        """A trial scored on every fold. Non-finite scores make it a failed trial instead."""
        scores = [float(s) for s in scores]
        if not scores or not all(math.isfinite(s) for s in scores):
            return cls.failed(trial, metric, f"FloatingPointError: non-finite scores {scores}", **run)
        return cls(
            **_trial_fields(trial),
            metric=metric,
            status=TrialStatus.OK,
            scores=tuple(scores),
            continued=continued if trial.resource is not None else None,
            **_times(run),
        )

    @classmethod
    def failed(cls, trial: Trial, metric: str, error: str | BaseException, **run: Unpack[RunFields]) -> TrialRecord:
        """A trial that could not be scored; ``error`` is the message (or the exception)."""
        if isinstance(error, BaseException):
            error = error_text(error)
        if run.get("n_resources") is None and trial.resource is not None:
            run["n_resources"] = int(trial.params[trial.resource])
        return cls(
            **_trial_fields(trial),
            metric=metric,
            status=TrialStatus.FAILED,
            error=str(error)[-MAX_ERROR_CHARS:],
            continued=False if trial.resource is not None else None,
            **_times(run),
        )

    def with_run(self, run_id: str) -> TrialRecord:
        return replace(self, run_id=run_id)

    # -- derived -------------------------------------------------------------------------------
    @property
    def is_ok(self) -> bool:
        return self.status is TrialStatus.OK

    @property
    def mean_test_score(self) -> float | None:
        return float(sum(self.scores) / len(self.scores)) if self.is_ok else None

    @property
    def std_test_score(self) -> float | None:
        if not self.is_ok:
            return None
        mean = sum(self.scores) / len(self.scores)
        return float(math.sqrt(sum((s - mean) ** 2 for s in self.scores) / len(self.scores)))

    # -- rows ----------------------------------------------------------------------------------
    def as_row(self) -> dict[str, Any]:
        """The flat row of the results (missing columns are null when written)."""
        row: dict[str, Any] = {
            "run_id": self.run_id,
            "trial_id": self.trial_id,
            "model": self.model,
            "params": canonical_params(self.params),
            **{f"param_{k}": v for k, v in self.params.items()},
            "metric": self.metric,
            "mean_test_score": self.mean_test_score,
            "std_test_score": self.std_test_score,
            **{f"split{i}_test_score": s for i, s in enumerate(self.scores)},
            "n_resources": self.n_resources,
            "status": self.status.value,
            "error": self.error,
            "fit_time": self.fit_time,
            "score_time": self.score_time,
            "worker": self.worker,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if self.config_id is not None or self.rung is not None:
            row.update(config_id=self.config_id, bracket=self.bracket, rung=self.rung, continued=self.continued)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TrialRecord:
        """A record from a results row (as :meth:`as_row` wrote it, read back with pandas)."""

        def value(name: str) -> Any:
            v = row.get(name)
            return None if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)) else v

        status_value: Any = row.get("status")
        status = TrialStatus(status_value)
        scores: list[float] = []
        i = 0
        while f"split{i}_test_score" in row and value(f"split{i}_test_score") is not None:
            scores.append(float(row[f"split{i}_test_score"]))
            i += 1
        n_resources, bracket, rung = (value(k) for k in ("n_resources", "bracket", "rung"))
        return cls(
            trial_id=str(row["trial_id"]),
            model=str(row["model"]),
            params=json.loads(row["params"]) if isinstance(row.get("params"), str) else {},
            metric=str(row["metric"]),
            status=status,
            scores=tuple(scores) if status is TrialStatus.OK else (),
            error=value("error"),
            n_resources=None if n_resources is None else int(n_resources),
            fit_time=float(value("fit_time") or 0.0),
            score_time=float(value("score_time") or 0.0),
            worker=value("worker"),
            started_at=value("started_at"),
            finished_at=value("finished_at"),
            run_id=value("run_id"),
            config_id=value("config_id"),
            bracket=None if bracket is None else int(bracket),
            rung=None if rung is None else int(rung),
            continued=None if value("continued") is None else bool(row["continued"]),
        )


def _trial_fields(trial: Trial) -> dict[str, Any]:
    return {
        "trial_id": trial.trial_id,
        "model": trial.model,
        "params": dict(trial.params),
        "config_id": trial.config_id,
        "bracket": trial.bracket,
        "rung": trial.rung,
    }


def _times(run: RunFields) -> dict[str, Any]:
    finished = run.get("finished_at") or now()
    return {**run, "finished_at": finished, "started_at": run.get("started_at") or finished}
