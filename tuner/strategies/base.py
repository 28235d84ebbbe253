"""The strategy contract: which trials to run. How they run is the engine's business.

A strategy is asked for work and told results (ask/tell), so that adaptive strategies (successive
halving, Hyperband, ASHA) can decide what comes next from what came back while the engine keeps
every worker busy:

* :meth:`Strategy.ask` returns up to ``n`` trials to start now (fewer, or none, when the strategy
  must wait for results first);
* :meth:`Strategy.tell` receives finished :class:`~tuner.record.TrialRecord` objects;
* the search is over when nothing is in flight and :meth:`Strategy.ask` returns nothing.

Strategies whose trials do not depend on results (grid, random) derive from
:class:`PlannedStrategy` and only say which trials they run, lazily, in order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from tuner.trial import Trial

if TYPE_CHECKING:
    from tuner.config import ModelConfig, SearchConfig
    from tuner.record import TrialRecord


class Strategy(ABC):
    """Base class of every strategy; all share this constructor.

    Parameters
    ----------
    models : sequence of ModelConfig
        The models and their parameter spaces.
    search : SearchConfig
        The validated ``search`` section (seed, n_trials, budget, ...).
    make_trial : callable
        ``make_trial(model, params, **rung_fields) -> Trial``: gives each trial its stable id.
    greater_is_better : bool
        The metric's direction (adaptive strategies keep the best).
    resources : dict, optional
        Budgeted strategies: model name -> the parameter that is its budget (boosting rounds).
    """

    #: whether what is asked next depends on results (then the engine runs trials in asked order)
    adaptive: ClassVar[bool] = False
    #: whether trials carry a budget (rungs of boosting rounds) that the strategy sets itself
    budgeted: ClassVar[bool] = False

    def __init__(
        self,
        models: Sequence[ModelConfig],
        search: SearchConfig,
        make_trial: Callable[..., Trial],
        greater_is_better: bool = False,
        resources: dict[str, str] | None = None,
    ):
        self.models = list(models)
        self.search = search
        self.make_trial = make_trial
        self.greater_is_better = greater_is_better
        self.resources = resources or {}

    @abstractmethod
    def ask(self, n: int) -> list[Trial]:
        """Up to ``n`` trials to start now."""

    @abstractmethod
    def tell(self, records: list[TrialRecord]) -> None:
        """Finished trials (of this run, or of an earlier run on resume)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Per model: trials this strategy will run at most (budgeted strategies: configurations
        started at the first rung)."""

    def set_parallelism(self, slots: int) -> None:
        """The worker slots the engine has now (model-based strategies keep about that many
        proposals out at once); ignored by default."""
        return None

    def restore(self, finished: Mapping[str, TrialRecord]) -> list[TrialRecord]:
        """Adopt trials an earlier run finished before anything is asked, for strategies whose
        proposals depend on results (the engine counts them as done). By default none: finished
        trials are told when they are asked again."""
        return []

    def total(self) -> int:
        """Trials this strategy will run at most (for progress and plans)."""
        return sum(self.counts().values())

    def trials(self) -> list[Trial]:
        """Every trial, asked to the end (non-adaptive strategies only)."""
        if self.adaptive:
            raise TypeError(f"{type(self).__name__} decides its trials from results; use ask/tell")
        out: list[Trial] = []
        while batch := self.ask(1000):
            out.extend(batch)
        return out


class PlannedStrategy(Strategy):
    """A strategy whose trials are known in advance: implement :meth:`iter_trials`."""

    _queue: Iterator[Trial] | None = None

    @abstractmethod
    def iter_trials(self) -> Iterator[Trial]:
        """Every trial this strategy will run, in order, generated lazily: a 100,000-point grid
        is never held in memory at once."""

    def ask(self, n: int) -> list[Trial]:
        if self._queue is None:
            self._queue = self.iter_trials()
        out = []
        for t in self._queue:
            out.append(t)
            if len(out) >= n:
                break
        return out

    def tell(self, records: list[TrialRecord]) -> None:
        """Results change nothing here."""

    def trials(self) -> list[Trial]:
        return list(self.iter_trials())

    def counts(self) -> dict[str, int]:
        out = {m.name: 0 for m in self.models}
        for t in self.iter_trials():
            out[t.model] += 1
        return out


def unique(trials: Iterable[Trial]) -> Iterator[Trial]:
    """Drop repeated configurations (a random search can draw the same point twice)."""
    seen: set[str] = set()
    for t in trials:
        if t.trial_id not in seen:
            seen.add(t.trial_id)
            yield t
