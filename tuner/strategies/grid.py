"""Grid search: every point of every model's grid."""

from __future__ import annotations

from tuner.strategies.base import Strategy, unique
from tuner.trial import Trial


class GridStrategy(Strategy):
    def trials(self) -> list[Trial]:
        return unique(
            [
                self.make_trial(m.name, params)
                for m in self.models
                for params in m.space.grid(self.search.grid_resolution)
            ]
        )
