"""Successive halving, Hyperband and ASHA, with boosting rounds as the budget.

* Successive halving (Jamieson and Talwalkar, AISTATS 2016): ``n_trials`` configurations per model at the
  smallest budget, the best ``1/eta`` of each rung continue with ``eta`` times the budget.
* Hyperband (Li et al., JMLR 2018, Algorithm 1): several successive-halving brackets that trade
  the number of configurations against the budget each starts with. tuner runs all brackets at
  once, so that the workers stay busy while a bracket waits for a rung to finish.
* ASHA (Li et al., MLSys 2020, Algorithm 2): asynchronous successive halving; a configuration is
  promoted as soon as it is in the top ``1/eta`` of the configurations its rung has seen so far,
  so no worker waits for a rung to finish.

Budgets are counted in the model's rounds (``n_estimators``, ``iterations``, ``max_iter``);
:func:`hyperband_schedule` works in units of ``min_resource`` as the paper does and converts to
rounds. A promoted configuration continues training from its checkpoint of the previous rung
(see :mod:`tuner.evaluate`), so survivors never start again from scratch.
"""

from __future__ import annotations

import zlib
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tuner.record import TrialRecord
from tuner.strategies.base import Strategy
from tuner.trial import Trial


@dataclass(frozen=True)
class Rung:
    n_configs: int
    n_resources: int


@dataclass(frozen=True)
class Bracket:
    bracket: int  #: s in the paper: s_max for the most aggressive bracket, 0 for plain random search
    rungs: tuple[Rung, ...]


def s_max(min_resource: int, max_resource: int, eta: int) -> int:
    """floor(log_eta(max_resource / min_resource)), in exact integer arithmetic."""
    s = 0
    while min_resource * eta ** (s + 1) <= max_resource:
        s += 1
    return s


def rung_resources(min_resource: int, max_resource: int, eta: int) -> list[int]:
    """Rounds at each rung of the most aggressive bracket: max_resource * eta^-(s_max - i)."""
    top = s_max(min_resource, max_resource, eta)
    return [round(max_resource / eta ** (top - i)) for i in range(top + 1)]


def hyperband_schedule(min_resource: int, max_resource: int, eta: int) -> list[Bracket]:
    """The brackets of Hyperband, Algorithm 1 of Li et al. (JMLR 2018).

    With R = max_resource / min_resource, s_max = floor(log_eta R) and B = (s_max + 1) R, bracket s
    (from s_max down to 0) starts n = ceil(B / R * eta^s / (s + 1)) configurations with
    r = R eta^-s units each; rung i keeps floor(n eta^-i) of them with r eta^i units. Units are
    converted to rounds (multiples of ``min_resource``).

    >>> [(b.bracket, [(r.n_configs, r.n_resources) for r in b.rungs]) for b in hyperband_schedule(1, 9, 3)]
    [(2, [(9, 1), (3, 3), (1, 9)]), (1, [(5, 3), (1, 9)]), (0, [(3, 9)])]
    """
    top = s_max(min_resource, max_resource, eta)
    brackets = []
    for s in range(top, -1, -1):
        n = -(-((top + 1) * eta**s) // (s + 1))  # ceil((s_max + 1) eta^s / (s + 1)), in integers
        rungs = tuple(Rung(n // eta**i, round(max_resource / eta ** (s - i))) for i in range(s + 1))
        brackets.append(Bracket(s, rungs))
    return brackets


def successive_halving_schedule(n_trials: int, min_resource: int, max_resource: int, eta: int) -> Bracket:
    """One bracket: ``n_trials`` configurations, floor(n eta^-i) survive to rung i."""
    resources = rung_resources(min_resource, max_resource, eta)
    rungs = [Rung(n_trials // eta**i, r) for i, r in enumerate(resources)]
    return Bracket(len(resources) - 1, tuple(r for r in rungs if r.n_configs >= 1))


def top_k(scores: dict[str, float | None], k: int, greater_is_better: bool) -> list[str]:
    """The ``k`` best configurations of a rung; failed ones (None) are never promoted.

    Ties are broken by configuration id, so a re-run makes the same choices.
    """
    ok = [(s, c) for c, s in scores.items() if s is not None and np.isfinite(s)]
    ok.sort(key=lambda sc: (-sc[0] if greater_is_better else sc[0], sc[1]))
    return [c for _, c in ok[:k]]


def asha_promotion(
    rungs: list[dict[str, float | None]], promoted: list[set[str]], eta: int, greater_is_better: bool
) -> tuple[int, str] | None:
    """ASHA's promotion rule (Li et al. 2020, Algorithm 2, ``get_job``).

    Looking from the second-highest rung down, return ``(k, config)`` for the first configuration
    that is in the top floor(|rung k| / eta) of rung k and has not been promoted from it yet;
    None when nothing is promotable (then a new configuration starts at the bottom rung).
    """
    for k in range(len(rungs) - 2, -1, -1):
        for config in top_k(rungs[k], len(rungs[k]) // eta, greater_is_better):
            if config not in promoted[k]:
                return k, config
    return None


# -- strategies ------------------------------------------------------------------------------


class BudgetedStrategy(Strategy):
    """Shared by the three: configuration sampling and rung trials."""

    adaptive = True
    budgeted = True

    def __init__(self, models, search, make_trial, greater_is_better=False, resources: dict[str, str] | None = None):
        super().__init__(models, search, make_trial, greater_is_better, resources)
        self.eta = search.eta
        #: configurations to start (successive halving, ASHA): n_trials per model, as in random search
        self.n_configs = (search.n_trials or 0) * len(self.models)
        self.configs: dict[str, tuple[str, dict]] = {}  # config_id -> (model, params without budget)

    def _sample(self, index: int, bracket: int) -> tuple[str, dict]:
        """Configuration ``index`` of ``bracket``: a model in turn, parameters from its space."""
        model = self.models[index % len(self.models)]
        rng = np.random.default_rng([self.search.seed, bracket, index, zlib.crc32(model.name.encode())])
        return model.name, model.space.sample(rng)

    def _trial(self, model: str, params: dict, bracket: int, rung: int, resources: list[int]) -> Trial:
        resource = self.resources[model]
        trial = self.make_trial(
            model,
            {**params, resource: resources[rung]},
            bracket=bracket,
            rung=rung,
            resource=resource,
            continue_from=resources[rung - 1] if rung > 0 else None,
        )
        assert trial.config_id is not None  # rung trials always have one
        self.configs[trial.config_id] = (model, params)
        return trial

    @abstractmethod
    def brackets(self) -> list[Bracket]:
        """The schedule: brackets of rungs (configurations and rounds each)."""

    def planned_trials(self) -> Iterator[Trial]:
        """Every rung trial of the schedule, each bracket's configurations drawn as the strategy
        draws them (the best of a rung being unknown before results, rung i takes the first of
        them): the work as far as it is known before any result, for plans and projections."""
        for b in self.brackets():
            resources = [r.n_resources for r in b.rungs]
            configs = self.first_rung(b)
            for i, rung in enumerate(b.rungs):
                for model, params in configs[:rung.n_configs]:
                    yield self._trial(model, params, b.bracket, i, resources)

    def first_rung(self, b: Bracket) -> list[tuple[str, dict]]:
        """The bracket's first-rung configurations: drawn in turn, never the same one twice (a
        small discrete space may give fewer)."""
        configs: list[tuple[str, dict]] = []
        seen = set()
        index = 0
        while len(configs) < b.rungs[0].n_configs and index < 100 * b.rungs[0].n_configs:
            model, params = self._sample(index, b.bracket)
            index += 1
            key = (model, repr(sorted(params.items())))
            if key not in seen:
                seen.add(key)
                configs.append((model, params))
        return configs

    @staticmethod
    def _score(record: TrialRecord) -> float | None:
        return record.mean_test_score if record.is_ok else None


class SyncBracket:
    """One successive-halving bracket, rung by rung."""

    def __init__(self, owner: BudgetedStrategy, bracket: Bracket, configs: list[tuple[str, dict]]):
        self.owner, self.bracket = owner, bracket
        self.resources = [r.n_resources for r in bracket.rungs]
        self.rung = 0
        self.pending = [owner._trial(m, p, bracket.bracket, 0, self.resources) for m, p in configs]
        self.expected = {t.trial_id for t in self.pending}
        self.scores: dict[str, float | None] = {}

    def ask(self, n: int) -> list[Trial]:
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def tell(self, record: TrialRecord, trial_config: str) -> None:
        if record.trial_id not in self.expected:
            return
        self.scores[trial_config] = BudgetedStrategy._score(record)
        if len(self.scores) < len(self.expected) or self.rung + 1 >= len(self.bracket.rungs):
            return
        keep = self.bracket.rungs[self.rung + 1].n_configs
        survivors = top_k(self.scores, keep, self.owner.greater_is_better)
        self.rung += 1
        self.pending = [
            self.owner._trial(*self.owner.configs[c], self.bracket.bracket, self.rung, self.resources)
            for c in survivors
        ]
        self.expected = {t.trial_id for t in self.pending}
        self.scores = {}


class _SyncStrategy(BudgetedStrategy):
    """Brackets run concurrently; within a bracket, rung by rung."""

    def _start(self) -> None:
        self._brackets = [SyncBracket(self, b, self.first_rung(b)) for b in self.brackets()]
        self._config_of: dict[str, str] = {}

    def ask(self, n: int) -> list[Trial]:
        if not hasattr(self, "_brackets"):
            self._start()
        out: list[Trial] = []
        for b in self._brackets:
            for t in b.ask(n - len(out)):
                assert t.config_id is not None  # rung trials always have one
                self._config_of[t.trial_id] = t.config_id
                out.append(t)
            if len(out) >= n:
                break
        return out

    def tell(self, records: list[TrialRecord]) -> None:
        for r in records:
            config = self._config_of.get(r.trial_id)
            if config is None:
                continue
            for b in self._brackets:
                b.tell(r, config)

    def counts(self) -> dict[str, int]:
        out = {m.name: 0 for m in self.models}
        for b in self.brackets():
            for index in range(b.rungs[0].n_configs):  # models take turns (see _sample)
                out[self.models[index % len(self.models)].name] += 1
        return out

    def total(self) -> int:
        """Rung evaluations at most (every rung of every bracket)."""
        return sum(r.n_configs for b in self.brackets() for r in b.rungs)


class SuccessiveHalvingStrategy(_SyncStrategy):
    def brackets(self) -> list[Bracket]:
        s = self.search
        return [successive_halving_schedule(self.n_configs, s.min_resource, s.max_resource, s.eta)]


class HyperbandStrategy(_SyncStrategy):
    def brackets(self) -> list[Bracket]:
        s = self.search
        return hyperband_schedule(s.min_resource, s.max_resource, s.eta)


class ASHAStrategy(BudgetedStrategy):
    """Asynchronous successive halving: promote as soon as a configuration is in the top 1/eta."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        s = self.search
        self.resources_per_rung = rung_resources(s.min_resource, s.max_resource, s.eta)
        k = len(self.resources_per_rung)
        self.rungs: list[dict[str, float | None]] = [{} for _ in range(k)]
        self.promoted: list[set[str]] = [set() for _ in range(k)]
        self.drawn = 0
        self._seen: set = set()
        self._trial_rung: dict[str, tuple[str, int]] = {}

    def brackets(self) -> list[Bracket]:
        s = self.search
        return [successive_halving_schedule(self.n_configs, s.min_resource, s.max_resource, s.eta)]

    def _get_job(self) -> Trial | None:
        found = asha_promotion(self.rungs, self.promoted, self.eta, self.greater_is_better)
        if found is not None:
            k, config = found
            self.promoted[k].add(config)
            return self._trial(*self.configs[config], 0, k + 1, self.resources_per_rung)
        while self.drawn < self.n_configs:
            model, params = self._sample(self.drawn, 0)
            self.drawn += 1
            key = (model, repr(sorted(params.items())))
            if key in self._seen:
                continue
            self._seen.add(key)
            return self._trial(model, params, 0, 0, self.resources_per_rung)
        return None

    def ask(self, n: int) -> list[Trial]:
        out: list[Trial] = []
        while len(out) < n:
            job = self._get_job()
            if job is None:
                break
            assert job.config_id is not None and job.rung is not None  # rung trials always have both
            self._trial_rung[job.trial_id] = (job.config_id, job.rung)
            out.append(job)
        return out

    def tell(self, records: list[TrialRecord]) -> None:
        for r in records:
            found = self._trial_rung.get(r.trial_id)
            if found is not None:
                config, rung = found
                self.rungs[rung][config] = self._score(r)

    def counts(self) -> dict[str, int]:
        n = self.n_configs
        return {m.name: len(range(i, n, len(self.models))) for i, m in enumerate(self.models)}

    def total(self) -> int:
        return sum(r.n_configs for r in self.brackets()[0].rungs)
