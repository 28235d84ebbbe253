"""The engine: runs trials on a ``distributed.Client`` and routes their records to the store.

* A bounded window of tasks is in flight (``search.window``, default 4 per worker thread), so a
  100,000-point grid never puts 100,000 futures on the scheduler.
* Each task evaluates a batch of trials (:func:`tuner.evaluate.evaluate_batch`); the data are
  loaded on the worker, never scattered. Trials that differ only in their number of rounds go
  to the same task, where one fit serves them all. Batches are sized from measured trial times
  so that a task lasts about ``target_task_seconds`` (tiny trials: per-task overhead stays small;
  longer on a large cluster, so that the driver spends at most a quarter of its time handling
  tasks), but never so large that workers starve at the end of a search.
* Tasks that finished while the driver was busy are handled together: one round trip for their
  results, one message to the scheduler for the tasks that replace them.
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
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from distributed import Client, Future, as_completed
from distributed.scheduler import KilledWorker

from tuner.evaluate import (
    FoldResult,
    Problem,
    combine_folds,
    evaluate_batch,
    evaluate_fold,
    group_units,
    share_key,
)
from tuner.models import get_adapter
from tuner.record import TrialRecord
from tuner.store import ResultStore
from tuner.strategies.base import Strategy
from tuner.trial import Trial

if TYPE_CHECKING:
    from dask.typing import Key

logger = logging.getLogger(__name__)

TASK_PREFIX = "tuner-trials"

Unit = list[Trial]  #: trials evaluated together: one trial, or trials sharing one fit


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


# -- the parts both engines share -----------------------------------------------------------------


class Recorder:
    """Where finished records go: stamped with the run id, counted, shown, and written to the
    store at least every ``flush_seconds`` as one atomic part file (always on :meth:`flush`)."""

    def __init__(
        self,
        store: ResultStore,
        schema: pa.Schema,
        run_id: str,
        stats: EngineStats,
        *,
        flush_seconds: float = 1.0,
        before_write: Callable[[], None] | None = None,
    ):
        self.store, self.schema, self.run_id, self.stats = store, schema, run_id, stats
        self.flush_seconds = flush_seconds
        self.before_write = before_write
        self.on_record: Callable[[TrialRecord], None] | None = None
        self._buffer: list[TrialRecord] = []
        self._last_flush = time.monotonic()

    def add(self, records: Iterable[TrialRecord]) -> list[TrialRecord]:
        stamped = [r.with_run(self.run_id) for r in records]
        for r in stamped:
            self.stats.finished += 1
            self.stats.failed += not r.is_ok
            if self.on_record is not None:
                self.on_record(r)
        self._buffer.extend(stamped)
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()
        return stamped

    def flush(self) -> None:
        if self._buffer:
            if self.before_write is not None:
                self.before_write()  # e.g. stop if another driver took the results over
            self.store.write([r.as_row() for r in self._buffer], self.schema)
            self._buffer = []
        self._last_flush = time.monotonic()


class SearchEngine(ABC):
    """The contract of an engine: drive a strategy to the end on a Dask client.

    An engine evaluates what :meth:`Strategy.ask` proposes, tells the strategy every
    :class:`~tuner.record.TrialRecord` (failures carry the library's own error), and hands each
    record to its :class:`Recorder` (store, lease check, progress). Trials already in
    ``finished`` (trial id -> record of an earlier run) are told without being evaluated: that is
    how a search resumes.
    """

    def __init__(self, client: Client, problem: Problem, store: ResultStore, schema: pa.Schema, run_id: str, *,
                 window: int | None = None, max_attempts: int = 3, flush_seconds: float = 1.0,
                 before_write: Callable[[], None] | None = None,
                 on_record: Callable[[TrialRecord], None] | None = None,
                 on_reused: Callable[[TrialRecord], None] | None = None):
        self.client, self.problem = client, problem
        self.window = window or default_window(client)  #: tasks in flight at most
        self.max_attempts = max_attempts  #: times a task is run when its worker dies
        self.stats = EngineStats()
        self.recorder = Recorder(store, schema, run_id, self.stats, flush_seconds=flush_seconds,
                                 before_write=before_write)
        self.on_record = on_record
        self.on_reused = on_reused

    @property
    def on_record(self) -> Callable[[TrialRecord], None] | None:
        return self.recorder.on_record

    @on_record.setter
    def on_record(self, fn: Callable[[TrialRecord], None] | None) -> None:
        self.recorder.on_record = fn

    def flush(self) -> None:
        self.recorder.flush()

    def fresh(self, strategy: Strategy, trials: list[Trial], finished: dict[str, TrialRecord]) -> list[Trial]:
        """The asked trials that must run; the others finished in an earlier run and are told now."""
        todo = []
        for t in trials:
            self.stats.trial_ids.add(t.trial_id)
            record = finished.get(t.trial_id)
            if record is None:
                todo.append(t)
                continue
            strategy.tell([record])
            if self.on_reused is not None:
                self.on_reused(record)
        return todo

    def failed_records(self, trials: list[Trial], error: str) -> list[TrialRecord]:
        """Records for trials whose task could not run at all (no worker ran them to the end)."""
        return [TrialRecord.failed(t, self.problem.metric, error) for t in trials]

    @abstractmethod
    def run(self, strategy: Strategy, finished: dict[str, TrialRecord] | None = None) -> None:
        """Evaluate everything ``strategy`` asks for, until it asks for nothing more."""


#: ``search.engine`` names -> "module:class"; imported when chosen (dask-ml only loads for its engine)
ENGINES = {"tuner": "tuner.engine:Engine", "dask-ml": "tuner.dask_ml_engine:DaskMLEngine"}


def get_engine(name: str) -> type[SearchEngine]:
    import importlib

    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


# -- tuner's own engine: its named parts ------------------------------------------------------------


@dataclass
class Task:
    """One Dask task: a batch of units (``fold`` None) or one CV fold of one unit."""

    trials: list[Trial]
    attempt: int = 0
    units: int = 1
    fold: int | None = None
    future: Future | None = None  #: None until sent

    @property
    def key(self) -> str:
        fold = "" if self.fold is None else f"-fold{self.fold}"
        return f"{TASK_PREFIX}-{self.trials[0].trial_id}{fold}-{self.attempt}"


class Window:
    """The tasks in flight, at most ``size`` of them, finishing in any order.

    Tasks are sent together and collected together: everything that finished while the driver
    was busy is handled as one batch, with one round trip for all their results, and the tasks
    that replace them go to the scheduler in one message. The driver's cost per task then stays
    small enough for hundreds of worker slots.
    """

    def __init__(self, client: Client, size: int, stats: EngineStats):
        self.client, self.size, self.stats = client, size, stats
        self.tasks: dict[Key, Task] = {}
        self.unsent: list[Task] = []
        self.completed = as_completed()

    def __len__(self) -> int:
        return len(self.tasks) + len(self.unsent)

    @property
    def room(self) -> int:
        return self.size - len(self)

    def add(self, task: Task) -> None:
        self.unsent.append(task)
        self.stats.max_in_flight = max(self.stats.max_in_flight, len(self))

    def send(self, problem: Problem) -> None:
        """Submit the tasks added since the last call: one ``client.map`` per kind of task."""
        for fold in (False, True):
            tasks = [t for t in self.unsent if (t.fold is not None) == fold]
            if not tasks:
                continue
            args: list[list[Any]] = [[problem] * len(tasks), [t.trials for t in tasks]]
            if fold:
                args.append([t.fold for t in tasks])
            futures = self.client.map(evaluate_fold if fold else evaluate_batch, *args,
                                      key=[t.key for t in tasks], pure=False, retries=0)
            for task, future in zip(tasks, futures, strict=True):
                task.future = future
                self.tasks[future.key] = task
            self.completed.update(futures)
        self.unsent = []

    def next_done(self) -> list[Task]:
        """Every task finished by now: at least one (waiting for it)."""
        return [self.tasks.pop(f.key) for f in self.completed.next_batch(block=True)]

    def results(self, tasks: list[Task]) -> dict[Key, Any]:
        """The results of the tasks that finished well, by key, in one round trip."""
        ok = [t.future for t in tasks if t.future is not None and t.future.status == "finished"]
        if not ok:
            return {}
        try:
            values = self.client.gather(ok, errors="skip")
        except Exception:  # noqa: BLE001 - e.g. cancelled meanwhile: each task is then asked on its own
            return {}
        return {f.key: v for f, v in zip(ok, values, strict=True)} if len(values) == len(ok) else {}

    def cancel_all(self) -> None:
        for task in self.tasks.values():
            if task.future is not None:
                task.future.cancel()
        self.tasks.clear()
        self.unsent = []


def unit_cost(unit: Unit) -> float:
    return max(get_adapter(t.model).cost(t.params) for t in unit)


class WorkQueue:
    """Units asked of the strategy and not submitted yet.

    A group of trials sharing one fit is never split across two asks (the next ask may bring more
    round counts of it: the last group is held back until the strategy is exhausted).
    Non-adaptive strategies are asked ahead (``lookahead`` times what fits), so that the costliest
    fits start first (longest processing time first: no worker idles at the end on a big fit).
    """

    LOOKAHEAD = 4

    def __init__(self, strategy: Strategy, engine: SearchEngine, finished: dict[str, TrialRecord]):
        self.strategy, self.engine, self.finished = strategy, engine, finished
        self.adaptive = strategy.adaptive
        self.total = strategy.total()
        self.asked = 0
        self.units: deque[Unit] = deque()
        self._held: list[Trial] = []

    def __bool__(self) -> bool:
        return bool(self.units)

    def refill(self, want: int) -> bool:
        """Ask the strategy for about ``want`` trials; False when it has none to give now."""
        if not self.adaptive:
            want *= self.LOOKAHEAD
        asked = self.strategy.ask(want)
        self.asked += len(asked)
        exhausted = len(asked) < want
        trials, self._held = self._held + asked, []
        if not trials:
            return False
        units = group_units(self.engine.fresh(self.strategy, trials, self.finished))
        if not exhausted and units and share_key(units[-1][0]) is not None:
            self._held = units.pop()  # the strategy may have more rounds of this fit
        if not self.adaptive:
            units.sort(key=unit_cost, reverse=True)
        self.units = deque(units)
        return True

    def take(self, n: int) -> list[Unit]:
        return [self.units.popleft() for _ in range(min(n, len(self.units)))]

    def put_back(self, unit: Unit) -> None:
        self.units.appendleft(unit)

    @property
    def units_left(self) -> int:
        """At most this many units are still to be submitted."""
        return len(self.units) + max(0, self.total - self.asked)


class BatchSizer:
    """How much work goes into one task: batches sized from measured seconds per unit so a task
    lasts about ``target_task_seconds`` -- longer on a large cluster, so that handling the tasks
    takes at most a quarter of the driver's time (each task costs the driver about a millisecond
    of CPU: 1,000 slots of 0.5 s tasks would need two cores) -- and whether a unit is split into
    one task per fold."""

    #: the share of the driver's time that handling tasks may take
    DRIVER_SHARE = 0.25

    def __init__(self, client: Client, folds: int, window: int, *, batch_size: int | None = None,
                 target_task_seconds: float = 0.5, split_folds: bool | None = None):
        self.client, self.folds, self.window = client, folds, window
        self.fixed = batch_size
        self.batch_size = batch_size or 1
        self.target_task_seconds = target_task_seconds
        self.split_folds = split_folds  #: None: where it keeps slots busy (see :meth:`split`)
        self.unit_seconds: float | None = None  #: measured seconds per unit of work (EWMA)
        self.driver_seconds: float | None = None  #: the driver's CPU seconds per task handled (EWMA)
        self._slots, self._slots_at = 1, -1e9

    def slots(self) -> int:
        """Worker threads in the cluster, asked of the scheduler at most every 5 seconds."""
        now = time.monotonic()
        if now - self._slots_at > 5:
            try:
                self._slots = max(1, sum(self.client.nthreads().values()))
            except Exception:  # scheduler busy or gone: keep the last answer
                pass
            self._slots_at = now
        return self._slots

    def observe_driver(self, cpu_seconds: float, tasks: int) -> None:
        """The driver's CPU time (all its threads) spent on ``tasks`` finished tasks."""
        if tasks:
            each = cpu_seconds / tasks
            self.driver_seconds = each if self.driver_seconds is None else 0.9 * self.driver_seconds + 0.1 * each

    def task_seconds(self) -> float:
        """How long a task should last: ``target_task_seconds``, or longer where the slots would
        otherwise ask more of the driver than :attr:`DRIVER_SHARE` of its time."""
        if self.driver_seconds is None:
            return self.target_task_seconds
        return max(self.target_task_seconds, self.slots() * self.driver_seconds / self.DRIVER_SHARE)

    def observe(self, units: float, seconds: float, remaining: int) -> None:
        """Re-estimate seconds per unit from a finished task and size the next batches."""
        if self.fixed is not None or units == 0:
            return
        seconds = seconds / units
        self.unit_seconds = seconds if self.unit_seconds is None else 0.7 * self.unit_seconds + 0.3 * seconds
        wanted = max(1, round(self.task_seconds() / max(self.unit_seconds, 1e-6)))
        # leave at least two tasks per worker slot for the rest of the search
        self.batch_size = int(max(1, min(wanted, 1000, remaining // (2 * self.slots()))))

    def split(self, unit: Unit, units_left: int) -> bool:
        """Whether a unit of work goes out as one task per CV fold: only where whole units would
        leave worker slots idle (fewer units left than twice the slots: a small grid on a large
        cluster, the end of a search), and only for long units (or nothing measured yet); each
        task costs a round trip to the scheduler. Budgeted trials continue from checkpoints of
        all folds, so they stay whole."""
        if not (1 < self.folds <= self.window and unit[0].resource is None):
            return False
        if self.split_folds is not None:
            return self.split_folds
        return (
            self.fixed is None
            and self.batch_size == 1
            and units_left < 2 * self.slots()
            and (self.unit_seconds is None or self.unit_seconds >= 2 * self.task_seconds())
        )


class FoldAssembler:
    """Units split into one task per fold: their finished folds until all are in."""

    def __init__(self, folds: int):
        self.folds = folds
        self._parts: dict[str, dict[int, FoldResult]] = {}  # first trial id of the unit -> folds

    def start(self, unit: Unit) -> None:
        self._parts[unit[0].trial_id] = {}

    def active(self, unit: Unit) -> bool:
        return unit[0].trial_id in self._parts

    def add(self, unit: Unit, part: FoldResult) -> list[FoldResult] | None:
        """The unit's folds once all are in (then forgotten), else None."""
        parts = self._parts[unit[0].trial_id]
        parts[part.fold] = part
        if len(parts) < self.folds:
            return None
        return list(self._parts.pop(unit[0].trial_id).values())

    def discard(self, unit: Unit) -> None:
        self._parts.pop(unit[0].trial_id, None)


class Engine(SearchEngine):
    """Evaluate trials on ``client`` with tuner's own tasks; every record goes to ``store``."""

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
        on_record: Callable[[TrialRecord], None] | None = None,
        on_reused: Callable[[TrialRecord], None] | None = None,
        before_write: Callable[[], None] | None = None,
    ):
        super().__init__(client, problem, store, schema, run_id, window=window, max_attempts=max_attempts,
                         flush_seconds=flush_seconds, before_write=before_write, on_record=on_record,
                         on_reused=on_reused)
        self.sizer = BatchSizer(client, problem.cv.folds, self.window, batch_size=batch_size,
                                target_task_seconds=target_task_seconds, split_folds=split_folds)

    def _submit(self, window: Window, trials: list[Trial], attempt: int = 0, units: int = 1,
                fold: int | None = None) -> None:
        """Queue a task in the window; :meth:`Window.send` submits it."""
        self.stats.submitted_tasks += 1
        self.stats.submitted_trials += len(trials) if attempt == 0 and not fold else 0
        window.add(Task(trials, attempt, units, fold))

    def _fill(self, window: Window, queue: WorkQueue, folds: FoldAssembler) -> None:
        """Submit work until the window is full or the strategy has nothing to give now."""
        self._add_work(window, queue, folds)
        window.send(self.problem)

    def _add_work(self, window: Window, queue: WorkQueue, folds: FoldAssembler) -> None:
        while window.room > 0:
            if not queue:
                queue.strategy.set_parallelism(self.sizer.slots())
            if not queue and not queue.refill(window.room * self.sizer.batch_size):
                return
            if not queue:
                continue
            chunk = queue.take(self.sizer.batch_size)
            if len(chunk) == 1 and self.sizer.split(chunk[0], queue.units_left + 1):
                if window.room < self.problem.cv.folds:
                    queue.put_back(chunk[0])  # wait for room for all its folds
                    return
                folds.start(chunk[0])
                for j in range(self.problem.cv.folds):
                    self._submit(window, chunk[0], fold=j)
            else:
                self._submit(window, [t for unit in chunk for t in unit], units=len(chunk))

    def _outcome(self, window: Window, task: Task, results: dict[Key, Any]) -> Any:
        """The task's result, or records of failure; None when it was resubmitted."""
        assert task.future is not None
        try:
            if task.future.key in results:
                return results[task.future.key]
            return task.future.result()
        except KilledWorker as exc:
            if task.attempt + 1 < self.max_attempts:
                self.stats.resubmitted += 1
                logger.warning("worker lost while running %s; resubmitting", task.future.key)
                self._submit(window, task.trials, task.attempt + 1, task.units, task.fold)
                return None
            return self.failed_records(
                task.trials, f"KilledWorker: the trial's worker died {task.attempt + 1} times: {exc}"
            )
        except Exception as exc:  # the task itself could not run (e.g. unpicklable)
            return self.failed_records(task.trials, f"{type(exc).__name__}: {exc}")
        finally:
            task.future.release()

    def run(self, strategy: Strategy, finished: dict[str, TrialRecord] | None = None) -> None:
        """Drive ``strategy`` (ask/tell) to the end, keeping up to ``window`` tasks in flight."""
        finished = finished or {}
        for record in strategy.restore(finished):  # model-based strategies learn from them first
            self.stats.trial_ids.add(record.trial_id)
            if self.on_reused is not None:
                self.on_reused(record)
        queue = WorkQueue(strategy, self, finished)
        window = Window(self.client, self.window, self.stats)
        folds = FoldAssembler(self.problem.cv.folds)
        try:
            self._fill(window, queue, folds)
            cpu = time.process_time()
            while len(window):
                if queue:
                    low = self.stats.min_in_flight_waiting
                    self.stats.min_in_flight_waiting = len(window) if low is None else min(low, len(window))
                done = window.next_done()
                results = window.results(done)
                for task in done:
                    self._handle(task, results, window, folds, queue, strategy)
                self._fill(window, queue, folds)
                now = time.process_time()  # every thread of the driver: the client's event loop too
                self.sizer.observe_driver(now - cpu, len(done))
                cpu = now
        except KeyboardInterrupt:
            window.tasks.clear()  # no cancel round trips: the cluster is going away with the driver
            raise
        finally:
            window.cancel_all()
            self.flush()

    def _handle(self, task: Task, results: dict[Key, Any], window: Window, folds: FoldAssembler,
                queue: WorkQueue, strategy: Strategy) -> None:
        """A finished task: its records told to the strategy and recorded (a fold is held until
        all the folds of its unit are in; a lost worker's task goes out again)."""
        assert task.future is not None
        if task.fold is not None and not folds.active(task.trials):
            task.future.release()  # another fold of this unit already failed it for good
            return
        result = self._outcome(window, task, results)
        if result is None:
            return
        if isinstance(result, FoldResult):
            self.sizer.observe(1 / self.problem.cv.folds, result.seconds, self._remaining(queue))
            parts = folds.add(task.trials, result)
            if parts is None:
                return
            records = combine_folds(self.problem, task.trials, parts)
        else:
            records = result
            if task.fold is None:
                self.sizer.observe(task.units, sum(r.fit_time + r.score_time for r in records),
                                   self._remaining(queue))
        folds.discard(task.trials)
        strategy.tell(self.recorder.add(records))

    def _remaining(self, queue: WorkQueue) -> int:
        return max(0, queue.total - self.stats.finished)
