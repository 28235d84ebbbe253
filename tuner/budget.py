"""A budget every strategy respects: boosting rounds, fits or minutes.

.. code-block:: yaml

    search:
      strategy: tpe
      n_trials: 500
      budget: {rounds: 2000000}      # and/or fits: 3000, minutes: 90

What a trial costs is what it trains (:class:`Spend`), summed over CV folds:

- a trial trains its number of rounds (``n_estimators``, ``iterations``, ``max_iter``; the
  library's default where the space does not set it), once per fold;
- trials that differ only in their rounds share one fit (grid round sharing, the rounds ladder of
  ``random`` and ``tpe``): the group costs its largest count once;
- a continued rung (successive halving, Hyperband, ASHA) trains only the rounds it adds to its
  previous rung.

:class:`BudgetGuard` wraps the strategy: once the trials asked so far have spent the budget,
nothing more is asked, so the search stops at most one ask's worth of work beyond it. Trials
finished by an earlier run count too: the budget is the search's, across resumes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuner.strategies.base import Strategy
from tuner.trial import ROWS, Trial

if TYPE_CHECKING:
    from tuner.record import TrialRecord

BUDGET_KEYS = ("rounds", "fits", "minutes")


@dataclass(frozen=True)
class Budget:
    """Limits of a search (None: no limit of that kind)."""

    rounds: int | None = None  #: boosting rounds trained, summed over folds
    fits: int | None = None  #: model fits, counting each fold
    minutes: float | None = None  #: wall-clock minutes from the first trial asked

    def as_dict(self) -> dict:
        return {k: v for k, v in (("rounds", self.rounds), ("fits", self.fits), ("minutes", self.minutes))
                if v is not None}

    def spent_by(self, spend: Spend) -> bool:
        """Whether ``spend`` has used up the rounds or fits of this budget (not the minutes)."""
        return (self.rounds is not None and spend.rounds >= self.rounds) or \
            (self.fits is not None and spend.fits >= self.fits)


@dataclass(frozen=True)
class FitTask:
    """One fit of a search: the model, its parameters and the rounds it trains (a shared fit:
    its largest count; a continued rung: its extra rounds)."""

    model: str
    params: dict
    rounds: int


class Spend:
    """Rounds and fits that trials train, with shared fits and continued rungs counted once;
    :attr:`units` holds each fit, as :mod:`tuner.projection` schedules them."""

    def __init__(self, task: str, folds: int):
        self.task, self.folds = task, folds
        self.rounds = 0
        self.fits = 0
        self.by_model: dict[str, dict[str, int]] = {}  #: model -> {"rounds": ..., "fits": ...}
        self.units: dict[tuple, FitTask] = {}  #: share key (or the trial) -> its one fit
        self._default_rounds: dict[str, int] = {}  #: model -> its library's rounds when not set

    def add(self, trial: Trial) -> None:
        """Charge what ``trial`` trains beyond the fits already charged (a trial id charged once)."""
        from tuner.evaluate import share_key  # the engine's own rule; imported when spending is counted
        from tuner.models import get_adapter

        adapter = get_adapter(trial.model)
        if trial.resource == ROWS:  # a rung on a share of the rows: trained afresh at the model's rounds
            params = trial.estimator_params
            self._add_fit(("trial", trial.trial_id), trial.model, params, self._rounds(trial.model, params, adapter))
            return
        rounds = self._rounds(trial.model, trial.params, adapter, trial.resource)
        if trial.resource is not None:  # a rung: continued training adds only its extra rounds
            rounds -= trial.continue_from or 0
            key: tuple = ("trial", trial.trial_id)
            params = {**trial.params, trial.resource: rounds}
        else:
            key = share_key(trial) or ("trial", trial.trial_id)
            params = trial.params
        unit = self.units.get(key)
        if unit is None:
            self.units[key] = FitTask(trial.model, params, rounds)
            self._charge(trial.model, rounds, fits=1)
        elif rounds > unit.rounds:  # the group's one fit now trains to this larger count
            self.units[key] = FitTask(trial.model, params, rounds)
            self._charge(trial.model, rounds - unit.rounds, fits=0)

    def add_grid(self, model: str, space, resolution: int) -> None:
        """Charge every point of ``model``'s grid as :meth:`add` would, one fit group at a time
        instead of one point at a time: the points that differ only in their rounds are one
        group, so a grid with 14 round counts is counted 14 times faster (``tuner plan`` on a
        26,160-point grid at once)."""
        from tuner.models import get_adapter
        from tuner.record import canonical_params
        from tuner.space import Distribution

        adapter = get_adapter(model)
        name = adapter.rounds_param
        axis = space.params.get(name) if name is not None else None
        if axis is None:  # no rounds in the grid: every point is a fit of its own
            for params in space.grid(resolution):
                self._add_fit(("point", model, canonical_params(params)), model, params,
                              self._rounds(model, params, adapter))
            return
        counts = axis.grid_values(resolution) if isinstance(axis, Distribution) else list(axis)
        for point in space.without(name).grid(resolution):
            top = {**point, name: max(int(c) for c in counts)}
            if adapter.can_share_rounds(top):  # one fit at the largest count serves them all
                self._add_fit((model, canonical_params(point)), model, top, int(top[name]))
                continue
            for c in counts:
                params = {**point, name: c}
                self._add_fit(("point", model, canonical_params(params)), model, params, int(c))

    def _add_fit(self, key: tuple, model: str, params: dict, rounds: int) -> None:
        if key not in self.units:  # a point listed twice is one trial
            self.units[key] = FitTask(model, params, rounds)
            self._charge(model, rounds, fits=1)

    def _charge(self, model: str, rounds: int, fits: int) -> None:
        rounds, fits = rounds * self.folds, fits * self.folds
        self.rounds += rounds
        self.fits += fits
        mine = self.by_model.setdefault(model, {"rounds": 0, "fits": 0})
        mine["rounds"] += rounds
        mine["fits"] += fits

    def _rounds(self, model: str, params: dict, adapter, resource: str | None = None) -> int:
        """The rounds a fit of ``params`` trains: its budget parameter (``resource``, or the
        library's rounds), else the library's default."""
        name = resource or adapter.rounds_param
        if name is not None and name in params:
            return int(params[name])
        if adapter.rounds_param is None:
            return 0  # a model without boosting rounds: it costs a fit
        if model not in self._default_rounds:  # the library's default, the same for every trial
            self._default_rounds[model] = int(adapter.n_resources(adapter.make(params, self.task)) or 0)
        return self._default_rounds[model]

    def as_dict(self) -> dict:
        return {"rounds": self.rounds, "fits": self.fits, "models": self.by_model}


class BudgetGuard(Strategy):
    """``strategy`` with a :class:`Budget`: asks nothing more once it is spent."""

    def __init__(self, strategy: Strategy, budget: Budget, task: str, folds: int):
        # no super().__init__: everything but asking is the wrapped strategy's
        self.inner = strategy
        self.budget = budget
        self.spend = Spend(task, folds)
        self.adaptive = strategy.adaptive  # type: ignore[misc]
        self.budgeted = strategy.budgeted  # type: ignore[misc]
        self.models, self.search = strategy.models, strategy.search
        self._started: float | None = None

    def spent(self) -> bool:
        return self.budget.spent_by(self.spend) or self._out_of_time()

    def _out_of_time(self) -> bool:
        minutes = self.budget.minutes
        return minutes is not None and self._started is not None and time.monotonic() - self._started >= 60 * minutes

    def ask(self, n: int) -> list[Trial]:
        if self._started is None:  # the clock starts with the first trial asked: no time is spent yet
            self._started = time.monotonic()
        elif self._out_of_time():
            return []
        if self.budget.spent_by(self.spend):
            return []
        trials = self.inner.ask(n)
        for t in trials:
            self.spend.add(t)
        return trials

    def tell(self, records: list[TrialRecord]) -> None:
        self.inner.tell(records)

    def restore(self, finished: Mapping[str, TrialRecord]) -> list[TrialRecord]:
        adopted = self.inner.restore(finished)
        for record in adopted:  # spent by an earlier run of this search
            self.spend.add(Trial.create(record.model, record.params, "restored"))
        return adopted

    def set_parallelism(self, slots: int) -> None:
        self.inner.set_parallelism(slots)

    def counts(self) -> dict[str, int]:
        return self.inner.counts()

    def __getattr__(self, name: str):  # brackets(), iter_trials(), ... of the wrapped strategy
        return getattr(self.inner, name)
