"""Grid search: every point of every model's grid."""

from __future__ import annotations

from collections.abc import Iterator

from tuner.strategies.base import PlannedStrategy, unique
from tuner.trial import Trial


class GridStrategy(PlannedStrategy):
    def iter_trials(self) -> Iterator[Trial]:
        return unique(
            self.make_trial(m.name, params)
            for m in self.models
            # rounds vary fastest: the points that share one fit come together
            for params in m.space.grid(self.search.grid_resolution, last=m.adapter.rounds_param)
        )

    def counts(self) -> dict[str, int]:
        """Counted, not enumerated: a grid of a million points answers at once."""
        return {m.name: m.space.grid_size(self.search.grid_resolution) for m in self.models}
