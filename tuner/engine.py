"""The engine: runs trials on a ``distributed.Client`` and routes their records to the store.

* A bounded window of tasks is in flight (``search.window``, default 4 per worker thread), so a
  100,000-point grid never puts 100,000 futures on the scheduler.
* Each task evaluates a batch of trials (:func:`tuner.evaluate.evaluate_batch`); the data are
  loaded on the worker, never scattered. Trials that differ only in their number of rounds go
  to the same task, where one fit serves them all. Batches are sized from measured trial times
  so that a task lasts about ``target_task_seconds`` (tiny trials: per-task overhead stays small),
  but never so large that workers starve at the end of a search.
* Where fewer units of work are left than twice the worker slots (a small grid on a large
  cluster, the end of any search), a long unit (a large fit, or a fit shared by many round
  counts) is split into one task per CV fold (:func:`tuner.evaluate.evaluate_fold`), so that
  every slot stays busy; the driver combines the folds into the trials' records.
* Records are flushed to the store at least every ``flush_seconds``, and always at the end or on
  an error, as one atomic part file per flush.
* A trial that raises is recorded as failed by the worker. A task whose worker died is resubmitted;
  after ``max_attempts`` lost workers its trials are recorded as failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
from distributed import Client, as_completed
from distributed.scheduler import KilledWorker

from tuner.evaluate import Problem, combine_folds, evaluate_batch, evaluate_fold
from tuner.models import get_adapter
from tuner.store import ResultStore
from tuner.trial import Trial, TrialStatus

logger = logging.getLogger(__name__)

TASK_PREFIX = "tuner-trials"


@dataclass
class EngineStats:
    submitted_tasks: int = 0
    submitted_trials: int = 0
    finished: int = 0
    failed: int = 0
    resubmitted: int = 0
    max_in_flight: int = 0
    #: fewest tasks in flight while work was waiting to be submitted (None: work never waited);
    #: below window - folds + 1 means the engine left slots idle
    min_in_flight_waiting: int | None = None
    trial_ids: set = field(default_factory=set)  #: every trial the strategy asked for


def default_window(client: Client) -> int:
    threads = sum(client.nthreads().values()) if client.scheduler_info().get("workers") else 0
    return max(8, 4 * threads)


class Engine:
    """Evaluate trials on ``client``; every finished record goes to ``store`` with ``run_id``."""

    def __init__(
        self,
        client: Client,
        problem: Problem,
        store: ResultStore,
        schema: pa.Schema,
        run_id: str,
        *,
        window: int | None = None,
        batch_size: int | None = None,
        target_task_seconds: float = 0.5,
        split_folds: bool | None = None,
        max_attempts: int = 3,
        flush_seconds: float = 1.0,
        on_record: Callable[[dict], None] | None = None,
        on_reused: Callable[[dict], None] | None = None,
        before_write: Callable[[], None] | None = None,
    ):
        self.client = client
        self.problem = problem
        self.store = store
        self.schema = schema
        self.run_id = run_id
        self.window = window or default_window(client)
        self.fixed_batch = batch_size
        self.batch_size = batch_size or 1
        self.target_task_seconds = target_task_seconds
        self.split_folds = split_folds  #: None: where it keeps slots busy (see _split_folds)
        self._unit_seconds: float | None = None  # measured seconds per unit of work (EWMA)
        self._total = 0
        self._slots_cached, self._slots_at = 1, -1e9
        self.max_attempts = max_attempts
        self.flush_seconds = flush_seconds
        self.on_record = on_record
        self.on_reused = on_reused
        self.before_write = before_write
        self.stats = EngineStats()
        self._buffer: list[dict] = []
        self._last_flush = time.monotonic()
        self._problem_future = None

    # -- store -------------------------------------------------------------------------------
    def _add(self, records: list[dict]) -> None:
        for r in records:
            r["run_id"] = self.run_id
            self.stats.finished += 1
            self.stats.failed += r["status"] == TrialStatus.FAILED.value
            if self.on_record is not None:
                self.on_record(r)
        self._buffer.extend(records)
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            if self.before_write is not None:
                self.before_write()  # e.g. stop if another driver took the results over
            self.store.write(self._buffer, self.schema)
            self._buffer = []
        self._last_flush = time.monotonic()

    # -- dispatch ----------------------------------------------------------------------------
    def _submit(self, batch: list[Trial], attempt: int, fold: int | None = None):
        self.stats.submitted_tasks += 1
        self.stats.submitted_trials += len(batch) if attempt == 0 and not fold else 0
        if fold is None:
            key = f"{TASK_PREFIX}-{batch[0].trial_id}-{attempt}"
            return self.client.submit(evaluate_batch, self.problem, batch, key=key, pure=False, retries=0)
        key = f"{TASK_PREFIX}-{batch[0].trial_id}-fold{fold}-{attempt}"
        return self.client.submit(evaluate_fold, self.problem, batch, fold, key=key, pure=False, retries=0)

    def _split_folds(self, unit: list[Trial], units_left: int) -> bool:
        """Whether a unit of work goes out as one task per CV fold: only where whole units would
        leave worker slots idle (fewer units left than twice the slots: a small grid on a large
        cluster, the end of a search), and only for long units (or nothing measured yet); each
        task costs a round trip to the scheduler. Budgeted trials continue from checkpoints of
        all folds, so they stay whole."""
        if not (1 < self.problem.cv.folds <= self.window and unit[0].resource is None):
            return False
        if self.split_folds is not None:
            return self.split_folds
        return (
            self.fixed_batch is None
            and self.batch_size == 1
            and units_left < 2 * self._slots()
            and (self._unit_seconds is None or self._unit_seconds >= 2 * self.target_task_seconds)
        )

    def _slots(self) -> int:
        """Worker threads in the cluster, asked of the scheduler at most every 5 seconds."""
        now = time.monotonic()
        if now - self._slots_at > 5:
            try:
                self._slots_cached = max(1, sum(self.client.nthreads().values()))
            except Exception:  # scheduler busy or gone: keep the last answer
                pass
            self._slots_at = now
        return self._slots_cached

    def _resize(self, units: float, seconds: float) -> None:
        """Re-estimate seconds per unit from a finished task and size the next batches."""
        if self.fixed_batch is not None or units == 0:
            return
        seconds = seconds / units
        self._unit_seconds = seconds if self._unit_seconds is None else 0.7 * self._unit_seconds + 0.3 * seconds
        wanted = max(1, round(self.target_task_seconds / max(self._unit_seconds, 1e-6)))
        remaining = max(0, self._total - self.stats.finished)
        # leave at least two tasks per worker slot for the rest of the search
        self.batch_size = int(max(1, min(wanted, 1000, remaining // (2 * self._slots()))))

    def _failed_records(self, batch: list[Trial], error: str) -> list[dict]:
        """Records for trials whose task could not run at all (no worker ran them to the end)."""
        from tuner.evaluate import _base_record, _now

        now = _now()
        records = []
        for t in batch:
            r = _base_record(self.problem, t, now)
            r.update(status=TrialStatus.FAILED.value, error=error, worker=None, finished_at=now)
            if t.resource is not None:
                r["n_resources"] = t.params[t.resource]
            records.append(r)
        return records

    def run(self, strategy, finished: dict[str, dict] | None = None) -> None:
        """Drive ``strategy`` (ask/tell) to the end, keeping up to ``window`` tasks in flight.

        Trials already in ``finished`` (trial_id -> record, from earlier runs) are told to the
        strategy at once without being dispatched: that is how a search resumes.
        """
        from tuner.evaluate import share_key

        finished = finished or {}
        self._total = strategy.total()
        in_flight: dict = {}
        folds: dict[str, dict] = {}  # first trial id of a unit split into folds -> its finished folds
        ac = as_completed()

        def submit(batch, attempt=0, units=1, fold=None):
            fut = self._submit(batch, attempt, fold)
            in_flight[fut.key] = (fut, batch, attempt, units, fold)
            ac.add(fut)
            self.stats.max_in_flight = max(self.stats.max_in_flight, len(in_flight))

        def units_of(trials: list[Trial]) -> list[list[Trial]]:
            """Trials sharing a fit stay together; each group is one unit of work."""
            groups: dict = {}
            for t in trials:
                key = share_key(t)
                groups.setdefault(key if key is not None else t.trial_id, []).append(t)
            return list(groups.values())

        asked_total = 0
        held: list[Trial] = []  # a group that the next ask may complete (same fit, more rounds)
        queue: list[list[Trial]] = []  # complete units not submitted yet
        adaptive = getattr(strategy, "adaptive", True)

        def unit_cost(unit: list[Trial]) -> float:
            return max(get_adapter(t.model).cost(t.params) for t in unit)

        def fill():
            nonlocal held, queue, asked_total
            while len(in_flight) < self.window:
                if not queue:
                    want = (self.window - len(in_flight)) * self.batch_size
                    if not adaptive:
                        want *= 4  # look ahead, so that the costliest fits can start first
                    asked = strategy.ask(want)
                    asked_total += len(asked)
                    exhausted = len(asked) < want
                    trials, held = held + asked, []
                    if not trials:
                        return
                    fresh = []
                    for t in trials:
                        self.stats.trial_ids.add(t.trial_id)
                        if t.trial_id in finished:
                            record = finished[t.trial_id]
                            strategy.tell([record])
                            if self.on_reused is not None:
                                self.on_reused(record)
                        else:
                            fresh.append(t)
                    queue = units_of(fresh)
                    if not exhausted and queue and share_key(queue[-1][0]) is not None:
                        # the strategy may have more rounds of the last group: never split a shared fit
                        held = queue.pop()
                    if not adaptive:
                        # longest first (LPT), so that no worker idles at the end on a big fit
                        queue.sort(key=unit_cost, reverse=True)
                    continue
                chunk, queue = queue[: self.batch_size], queue[self.batch_size :]
                units_left = len(queue) + 1 + max(0, self._total - asked_total)  # at most
                if len(chunk) == 1 and self._split_folds(chunk[0], units_left):
                    if len(in_flight) + self.problem.cv.folds > self.window:
                        queue.insert(0, chunk[0])  # wait for room for all its folds
                        return
                    folds[chunk[0][0].trial_id] = {}
                    for j in range(self.problem.cv.folds):
                        submit(chunk[0], fold=j)
                else:
                    submit([t for unit in chunk for t in unit], units=len(chunk))

        def seconds(records: list[dict]) -> float:
            return sum((r.get("fit_time") or 0.0) + (r.get("score_time") or 0.0) for r in records)

        try:
            fill()
            while in_flight:
                if queue:
                    low = self.stats.min_in_flight_waiting
                    self.stats.min_in_flight_waiting = len(in_flight) if low is None else min(low, len(in_flight))
                fut = next(ac)
                _, batch, attempt, units, fold = in_flight.pop(fut.key)
                unit_id = batch[0].trial_id
                if fold is not None and unit_id not in folds:
                    fut.release()  # another fold of this unit already failed it for good
                    fill()
                    continue
                try:
                    result = fut.result()
                except KilledWorker as exc:
                    if attempt + 1 < self.max_attempts:
                        self.stats.resubmitted += 1
                        logger.warning("worker lost while running %s; resubmitting", fut.key)
                        submit(batch, attempt + 1, units, fold)
                        continue
                    result = self._failed_records(
                        batch, f"KilledWorker: the trial's worker died {attempt + 1} times: {exc}"
                    )
                except Exception as exc:  # the task itself could not run (e.g. unpicklable)
                    result = self._failed_records(batch, f"{type(exc).__name__}: {exc}")
                finally:
                    fut.release()
                if fold is not None and isinstance(result, dict):  # one fold of a unit
                    parts = folds[unit_id]
                    parts[fold] = result
                    self._resize(1 / self.problem.cv.folds, sum(result["fit_time"]) + sum(result["score_time"]))
                    if len(parts) < self.problem.cv.folds:
                        fill()
                        continue
                    records = combine_folds(self.problem, batch, list(parts.values()))
                else:
                    records = result
                    self._resize(units, seconds(records))
                folds.pop(unit_id, None)
                self._add(records)
                strategy.tell(records)
                fill()
        finally:
            for fut, *_ in in_flight.values():
                fut.cancel()
            self.flush()
