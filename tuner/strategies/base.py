"""The strategy contract: which trials to run. How they run is the engine's business.

A strategy is asked for work and told results (ask/tell), so that adaptive strategies (successive
halving, Hyperband, ASHA) can decide what comes next from what came back while the engine keeps
every worker busy:

* :meth:`Strategy.ask` returns up to ``n`` trials to start now (fewer, or none, when the strategy
  must wait for results first);
* :meth:`Strategy.tell` receives finished records (each has ``trial_id``, ``status`` and
  ``mean_test_score``);
* the search is over when nothing is in flight and :meth:`ask` returns nothing.

Non-adaptive strategies only implement :meth:`trials`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from tuner.trial import Trial


class Strategy:
    """Base class. Subclasses implement :meth:`trials` (non-adaptive) or :meth:`ask`/:meth:`tell`."""

    #: whether what is asked next depends on results (then the engine runs trials in asked order)
    adaptive = False

    def __init__(self, models, search, make_trial: Callable[..., Trial], greater_is_better: bool = False):
        self.models = models
        self.search = search
        self.make_trial = make_trial
        self.greater_is_better = greater_is_better
        self._queue: Iterator[Trial] | None = None

    def iter_trials(self) -> Iterator[Trial]:
        """Every trial this strategy will run, in order, generated lazily (non-adaptive
        strategies): a 100,000-point grid is never held in memory at once."""
        raise NotImplementedError

    def trials(self) -> list[Trial]:
        return list(self.iter_trials())

    def ask(self, n: int) -> list[Trial]:
        if self._queue is None:
            self._queue = self.iter_trials()
        out = []
        for t in self._queue:
            out.append(t)
            if len(out) >= n:
                break
        return out

    def tell(self, records: list[dict]) -> None:
        """Non-adaptive strategies ignore results."""

    def total(self) -> int:
        """Trials this strategy will run at most (for progress)."""
        return sum(1 for _ in self.iter_trials())


def unique(trials) -> Iterator[Trial]:
    """Drop repeated configurations (a random search can draw the same point twice)."""
    seen: set[str] = set()
    for t in trials:
        if t.trial_id not in seen:
            seen.add(t.trial_id)
            yield t
