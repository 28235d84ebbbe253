"""The strategy contract: which trials to run. How they run is the engine's business.

As in scikit-learn's ``BaseSearchCV._run_search(evaluate_candidates)``, a strategy receives a
callback ``evaluate(trials) -> records`` and decides what to evaluate next from what came back.
"""

from __future__ import annotations

from collections.abc import Callable

from tuner.trial import Trial

Evaluate = Callable[[list[Trial]], list[dict]]


class Strategy:
    """Base class. Subclasses implement :meth:`trials` (non-adaptive) or override :meth:`run`."""

    def __init__(self, models, search, make_trial: Callable[[str, dict], Trial]):
        self.models = models
        self.search = search
        self.make_trial = make_trial

    def trials(self) -> list[Trial]:
        """Every trial this strategy will run, in order (non-adaptive strategies)."""
        raise NotImplementedError

    def run(self, evaluate: Evaluate) -> None:
        evaluate(self.trials())

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
