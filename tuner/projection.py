"""What a search will cost before it starts: ``tuner plan CONFIG --calibrate --workers 16 200 1000``.

1. **The work.** Every fit the search will train (:func:`fit_tasks`): trials that differ only in
   their rounds are one fit at the largest count (round sharing), each fit is one task per CV
   fold, costliest first -- as the engine submits them.
2. **Calibration** (:func:`calibrate`): the smallest, a middle and the largest configuration of
   each model, timed on this machine on one CV fold of the real data (fit and score, as the
   engine runs them) at two round counts, give a time model per model:
   ``seconds = overhead + per_unit * rounds * size ** exponent`` (:class:`TimeModel`).
3. **The projection** (:func:`project`): the tasks are scheduled on N worker slots, longest first,
   each slot taking the next task when it is free (what the engine's window does), plus a
   per-task dispatch overhead. The wall time includes the last wave's tail -- the slots that
   idle while the longest fits finish -- and the efficiency is the ideal (total / N) over it.

Grid and random searches (rounds ladders too) are projected exactly as they will be submitted.
For successive halving, Hyperband, BOHB and ASHA the rungs are projected as if independent (a
lower bound: a rung waits for the one before it), and for ``tpe`` without a ladder the work is
``n_trials`` configurations drawn at random from the space.

Calibration timings come from this machine: slower or faster workers scale every figure.
"""

from __future__ import annotations

import contextlib
import heapq
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tuner.budget import FitTask, Spend
from tuner.trial import Trial

__all__ = ["FitTask", "Projection", "TimeModel", "calibrate", "durations", "fit_tasks", "project"]

DEFAULT_WORKERS = (2, 16, 64, 200, 1000)
TASK_OVERHEAD_S = 0.005  #: scheduler and transfer time per task (measured on a LocalCluster)
MAX_TASKS = 2_000_000  #: larger searches are not projected task by task


def fit_tasks(trials: Iterable[Trial], folds: int = 1, task: str = "regression") -> list[FitTask]:
    """The fits of ``trials`` (:class:`tuner.budget.Spend`'s accounting: shared fits once at their
    largest count, continued rungs with their extra rounds, unset rounds at the library's
    default), each ``folds`` times."""
    spend = Spend(task, folds=1)
    for t in trials:
        spend.add(t)
    return [unit for unit in spend.units.values() for _ in range(folds)]


@dataclass(frozen=True)
class TimeModel:
    """Seconds of one fold (fit and score) of a model:
    ``overhead + per_unit * rounds * size ** exponent``, ``size`` being the tree size (leaves or
    depth, :func:`size_of`); trees grow faster than linearly with depth, hence the exponent."""

    overhead: float
    per_unit: float
    exponent: float = 1.0

    def seconds(self, rounds: float, size: float) -> float:
        return max(0.0, self.overhead + self.per_unit * max(rounds, 1) * max(size, 1.0) ** self.exponent)


def size_of(adapter, params: dict) -> float:
    """A fit's tree size: :meth:`~tuner.models.base.ModelAdapter.cost` of one round."""
    one = {**params, adapter.rounds_param: 1} if adapter.rounds_param else params
    return float(adapter.cost(one)) / (1.0 if adapter.rounds_param else 100.0)


def calibrate(problem, models: Sequence, work: Sequence[FitTask] | None = None, low: int = 10, high: int = 40,
              seed: int = 0) -> dict[str, TimeModel]:
    """Time one fold (fit and score, as the engine runs it) of the smallest, a middle and the
    largest configuration of each model in ``work`` (or drawn from its space), at ``low`` and
    ``high`` rounds, and fit each model's :class:`TimeModel`: seconds per round against tree size
    as a power law, the rest as a fixed cost."""
    from tuner.evaluate import evaluate_fold

    problem.load()
    rng = np.random.default_rng(seed)
    out: dict[str, TimeModel] = {}
    for m in models:
        adapter = problem.adapter(m.name)
        found = [t.params for t in (work or ()) if t.model == m.name]
        candidates = found or [m.space.sample(rng) for _ in range(10)]
        candidates = sorted(candidates, key=lambda p: size_of(adapter, p))
        picks = [candidates[i] for i in sorted({0, len(candidates) // 2, len(candidates) - 1})]
        sizes: list[float] = []
        slopes: list[float] = []
        intercepts: list[float] = []
        plain: list[float] = []
        errors: list[str] = []
        for params in picks + [m.space.sample(rng) for _ in range(5)]:  # spares, for invalid points
            if len(plain) + len(slopes) >= len(picks):
                break
            timed = []
            for rounds in ((low, high) if adapter.rounds_param else (None,)):
                p = {**params, adapter.rounds_param: rounds} if rounds is not None else params
                with contextlib.redirect_stdout(io.StringIO()):  # a library's own complaint about an
                    # invalid point (LightGBM prints "[Fatal] ..."): the error is kept below instead
                    result = evaluate_fold(problem, [Trial.create(m.name, p, "calibration")], 0)
                if result.errors[0] is not None:  # fails in the search too: recorded as failed there
                    errors.append(result.errors[0])
                    break
                timed.append(result.seconds)
            if adapter.rounds_param and len(timed) == 2:
                slope = max((timed[1] - timed[0]) / (high - low), 1e-9)
                sizes.append(size_of(adapter, params))
                slopes.append(slope)
                intercepts.append(max(0.0, timed[0] - slope * low))
            elif not adapter.rounds_param and timed:
                plain.append(timed[0])
        if not slopes and not plain:
            raise ValueError(f"calibration: every configuration of {m.name} tried failed ({errors[0]})")
        if plain:  # no rounds: a fit costs what it cost
            out[m.name] = TimeModel(overhead=0.0, per_unit=float(np.median(plain)), exponent=0.0)
            continue
        overhead = float(np.median(intercepts))
        if len(set(sizes)) >= 2:
            exponent, log_a = np.polyfit(np.log(sizes), np.log(slopes), 1)
            exponent = float(min(max(exponent, 0.0), 3.0))
            per_unit = float(np.exp(np.mean(np.log(slopes)) - exponent * np.mean(np.log(sizes))))
        else:
            exponent, per_unit = 1.0, float(np.median(slopes)) / max(sizes[0], 1.0)
        out[m.name] = TimeModel(overhead=overhead, per_unit=per_unit, exponent=exponent)
    return out


@dataclass(frozen=True)
class Projection:
    """The projected run on ``workers`` slots."""

    workers: int
    wall_seconds: float
    busy_seconds: float  #: sum of every task's seconds (the work)
    tail_seconds: float  #: beyond the ideal (work / slots): slots idle while the last fits finish

    @property
    def efficiency(self) -> float:
        """The ideal (work / slots) over the projected wall time."""
        return self.busy_seconds / self.workers / self.wall_seconds if self.wall_seconds else 1.0

    def cost(self, price_per_core_hour: float) -> float:
        return self.workers * self.wall_seconds / 3600 * price_per_core_hour


def project(durations: Sequence[float], workers: int, task_overhead: float = TASK_OVERHEAD_S,
            folds: int = 1) -> Projection:
    """Longest-first list scheduling of ``durations`` on ``workers`` slots.

    With ``folds`` > 1 the durations are whole units of work (every fold of a fit, in a row), as
    the engine submits them; the last units, once fewer are left than twice the slots, go out
    as one task per fold (the engine's fold splitting), so the end of the run is not one slot
    finishing a long unit alone.
    """
    ordered = sorted(durations, reverse=True)
    if folds > 1:
        whole = max(0, len(ordered) - (2 * workers - 1))
        ordered = ordered[:whole] + sorted((d / folds for d in ordered[whole:] for _ in range(folds)), reverse=True)
    slots = [0.0] * min(workers, max(1, len(ordered)))
    heapq.heapify(slots)
    for d in ordered:
        start = heapq.heappop(slots)
        heapq.heappush(slots, start + d + task_overhead)
    wall = max(slots) if ordered else 0.0
    busy = float(sum(ordered))
    return Projection(workers=workers, wall_seconds=wall, busy_seconds=busy,
                      tail_seconds=max(0.0, wall - busy / workers))


def durations(tasks: Sequence[FitTask], models: dict[str, TimeModel]) -> list[float]:
    """Seconds of each task (one fold of a fit) under the models' :class:`TimeModel`."""
    from tuner.models import get_adapter

    return [models[t.model].seconds(t.rounds, size_of(get_adapter(t.model), t.params)) for t in tasks]


def format_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"
