"""Random search: ``n_trials`` configurations per model, drawn with ``search.seed``.

Lists are uniform choices and distributions are sampled (Bergstra and Bengio, JMLR 2012).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from tuner.record import canonical_params
from tuner.strategies.base import PlannedStrategy, unique
from tuner.trial import Trial

EXACT_COUNT = 100_000


class RandomStrategy(PlannedStrategy):
    def iter_trials(self) -> Iterator[Trial]:
        return unique(self._draws())

    def counts(self) -> dict[str, int]:
        """Distinct configurations per model: repeated draws of a small space run once. Up to
        :data:`EXACT_COUNT` draws are made to count them; beyond, n_trials is the bound."""
        if self._n_trials > EXACT_COUNT:
            return {m.name: self._n_trials for m in self.models}
        out = {}
        for m in self.models:
            rng = self._rng(m.name)
            out[m.name] = len({canonical_params(m.space.sample(rng)) for _ in range(self._n_trials)})
        return out

    @property
    def _n_trials(self) -> int:
        n_trials = self.search.n_trials
        assert n_trials is not None, "random search: the configuration sets search.n_trials"
        return n_trials

    def _rng(self, model: str) -> np.random.Generator:
        # One generator per model, seeded by the model's name too: adding a model to the
        # configuration does not change the draws of the others (their trials resume).
        return np.random.default_rng([self.search.seed, zlib.crc32(model.encode())])

    def _draws(self) -> Iterator[Trial]:
        for m in self.models:
            rng = self._rng(m.name)
            for _ in range(self._n_trials):
                yield self.make_trial(m.name, m.space.sample(rng))
