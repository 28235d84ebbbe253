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

from collections.abc import Callable

from tuner.trial import Trial


class Strategy:
    """Base class. Subclasses implement :meth:`trials` (non-adaptive) or :meth:`ask`/:meth:`tell`."""

    def __init__(self, models, search, make_trial: Callable[..., Trial], greater_is_better: bool = False):
        self.models = models
        self.search = search
        self.make_trial = make_trial
        self.greater_is_better = greater_is_better
        self._queue: list[Trial] | None = None

    def trials(self) -> list[Trial]:
        """Every trial this strategy will run, in order (non-adaptive strategies)."""
        raise NotImplementedError

    def ask(self, n: int) -> list[Trial]:
        if self._queue is None:
            self._queue = list(reversed(self.trials()))
        return [self._queue.pop() for _ in range(min(n, len(self._queue)))]

    def tell(self, records: list[dict]) -> None:
        """Non-adaptive strategies ignore results."""

    def total(self) -> int:
        """Trials this strategy will run at most (for progress)."""
        return len(self.trials())

    def plan(self) -> dict:
        """What would run: trials per model."""
        per_model: dict[str, int] = {}
        for t in self.trials():
            per_model[t.model] = per_model.get(t.model, 0) + 1
        return per_model


def unique(trials: list[Trial]) -> list[Trial]:
    """Drop repeated configurations (a random search can draw the same point twice)."""
    seen: set[str] = set()
    out = []
    for t in trials:
        if t.trial_id not in seen:
            seen.add(t.trial_id)
            out.append(t)
    return out
