"""Random search: ``n_trials`` configurations per model, drawn with ``search.seed``.

Lists are uniform choices and distributions are sampled (Bergstra and Bengio, JMLR 2012).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from tuner.strategies.base import Strategy, unique
from tuner.trial import Trial


class RandomStrategy(Strategy):
    def iter_trials(self) -> Iterator[Trial]:
        return unique(self._draws())

    def total(self) -> int:
        """At most n_trials per model (repeated draws of a small space are run once)."""
        return self.search.n_trials * len(self.models)

    def _draws(self) -> Iterator[Trial]:
        for m in self.models:
            # One generator per model, seeded by the model's name too: adding a model to the
            # configuration does not change the draws of the others (their trials resume).
            rng = np.random.default_rng([self.search.seed, zlib.crc32(m.name.encode())])
            for _ in range(self.search.n_trials):
                yield self.make_trial(m.name, m.space.sample(rng))
