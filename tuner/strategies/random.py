"""Random search: ``n_trials`` configurations per model, drawn with ``search.seed``.

Lists are uniform choices and distributions are sampled (Bergstra and Bengio, JMLR 2012). With
``search.max_resource``, each configuration is trained once to that many rounds and scored at
every count of the ladder (``max_resource / eta^k`` down to ``min_resource``): a row per count,
the number of rounds tuned at no extra training.
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
        :data:`EXACT_COUNT` draws are made to count them; beyond, n_trials is the bound. With a
        rounds ladder every configuration is a row per round count."""
        rows = len(self.search.ladder()) if self.search.rounds_ladder else 1
        if self._n_trials > EXACT_COUNT:
            return {m.name: self._n_trials * rows for m in self.models}
        out = {}
        for m in self.models:
            rng = self._rng(m.name)
            out[m.name] = rows * len({canonical_params(m.space.sample(rng)) for _ in range(self._n_trials)})
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
                yield from rounds_ladder(self, m.name, m.space.sample(rng))


def rounds_ladder(strategy, model: str, params: dict) -> list[Trial]:
    """A configuration's trials: one, or with ``search.max_resource`` one per round count of the
    ladder (they differ only in rounds, so the engine trains them as one fit at the largest count
    and scores each count from it)."""
    if not strategy.search.rounds_ladder:
        return [strategy.make_trial(model, params)]
    rounds = strategy.resources[model]
    return [strategy.make_trial(model, {**params, rounds: n}) for n in strategy.search.ladder()]
