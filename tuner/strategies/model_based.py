"""Model-based search: Optuna's samplers proposing configurations, tuner's engine running them.

``strategy: tpe`` runs ``n_trials`` configurations per model, proposed by Optuna's
:class:`optuna.samplers.TPESampler` (multivariate, Bergstra et al. 2011; Falkner et al. 2018)
through Optuna's ask-and-tell interface, one in-memory study per model. Results stay in tuner's
Parquet store; Optuna's storages are not used.

- **Every worker slot busy.** Up to one proposal per worker slot is out at a time; proposals made
  while others run use the constant-liar heuristic (``constant_liar=True``: a running trial counts
  as the worst value so far, so parallel proposals spread out instead of piling up).
- **Results told as they land**, so each proposal uses everything finished so far.
- **Resume.** Trials of the results location told to the studies before anything is asked: a
  finished configuration counts towards ``n_trials`` and informs the sampler; nothing finished
  is dispatched again.
- **Rounds for free.** With ``search.max_resource``, each configuration is trained once to that
  many rounds and scored at every count of the ladder (a row per count); the sampler is told the
  configuration's best count, so the number of rounds is tuned at no extra training.
- **Reproducibility.** With one worker slot, a seed gives the same proposals every time. With
  more, which results a proposal sees depends on the order they land, as with any asynchronous
  parallel model-based search: scores of a given configuration are reproducible, the sequence
  of configurations is not.

``strategy: cmaes`` is the same with Optuna's :class:`optuna.samplers.CmaEsSampler` (CMA-ES with
margin, for integer parameters; Hansen 2016, Hamano et al. 2022): for spaces of numeric
parameters, where it adapts a full covariance. Parameters given as lists of choices are drawn at
random by it (CMA-ES has no categorical model), and configurations restored from earlier runs
count towards ``n_trials`` without informing its distribution (it starts a fresh generation).
Optuna's Gaussian-process sampler is not offered: it needs PyTorch, too heavy for worker images.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tuner.record import TrialStatus, canonical_params
from tuner.space import Distribution
from tuner.strategies.base import Strategy
from tuner.strategies.hyperband import Bracket, BudgetedStrategy, HyperbandStrategy, SyncBracket
from tuner.strategies.random import rounds_ladder
from tuner.trial import Trial

if TYPE_CHECKING:
    from tuner.record import TrialRecord



def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distributions(space) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tuner :class:`~tuner.space.ParamSpace` as (Optuna distributions, fixed values)."""
    optuna = _optuna()
    d = optuna.distributions
    out: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for name, value in space.params.items():
        if isinstance(value, Distribution):
            if value.kind == "uniform":
                out[name] = d.FloatDistribution(*value.args)
            elif value.kind == "loguniform":
                out[name] = d.FloatDistribution(*value.args, log=True)
            elif value.kind == "randint":
                out[name] = d.IntDistribution(value.args[0], value.args[1] - 1)
            else:
                out[name] = d.CategoricalDistribution(list(value.args))
        elif len(value) == 1:
            fixed[name] = value[0]
        else:  # a list: its values are the choices
            out[name] = d.CategoricalDistribution(list(value))
    return out, fixed


def new_study(seed: int, name: str, greater_is_better: bool, sampler: str = "tpe", **sampler_options):
    """An in-memory Optuna study, seeded by ``seed`` and ``name`` (one study per model, or per
    model and budget), in the metric's direction, with a multivariate TPE sampler (``sampler``
    ``"tpe"``) or CMA-ES with margin (``"cmaes"``)."""
    optuna = _optuna()
    seed = (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**32
    with warnings.catch_warnings():  # multivariate, constant_liar and with_margin are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if sampler == "cmaes":
            made = optuna.samplers.CmaEsSampler(seed=seed, with_margin=True, warn_independent_sampling=False,
                                                **sampler_options)
        else:
            made = optuna.samplers.TPESampler(seed=seed, multivariate=True, **sampler_options)
    return optuna.create_study(direction="maximize" if greater_is_better else "minimize", sampler=made)


class _Proposal:
    """One configuration out for evaluation: its Optuna trial and the rows still to come."""

    def __init__(self, model: str, trial: Any, waiting: set[str]):
        self.model, self.trial, self.waiting = model, trial, waiting
        self.records: list[TrialRecord] = []


class TPEStrategy(Strategy):
    """Optuna's TPE sampler over each model's space, ``n_trials`` configurations per model."""

    adaptive = True
    sampler_name = "tpe"
    #: constant liar: a running trial counts as the worst value so far (parallel proposals spread out)
    sampler_options: dict[str, Any] = {"constant_liar": True}

    def __init__(self, models, search, make_trial, greater_is_better=False, resources=None):
        super().__init__(models, search, make_trial, greater_is_better, resources)
        self.slots = 1
        self._studies: dict[str, Any] = {}
        self._spaces: dict[str, tuple[dict, dict]] = {}
        self._pending: dict[str, _Proposal] = {}  #: trial_id -> its configuration, until told
        self._done: dict[str, int] = {m.name: 0 for m in self.models}  #: configurations finished or running
        self._seen: set[str] = set()  #: trial ids proposed or restored

    # -- the contract -------------------------------------------------------------------------
    def set_parallelism(self, slots: int) -> None:
        self.slots = max(1, slots)

    def counts(self) -> dict[str, int]:
        """Rows per model: n_trials configurations, each a row per count of the rounds ladder."""
        rows = len(self.search.ladder()) if self.search.rounds_ladder else 1
        return {name: n * rows for name, n in self._limit().items()}

    def _limit(self) -> dict[str, int]:
        n = self.search.n_trials
        assert n is not None, "tpe: the configuration sets search.n_trials"
        return {m.name: n for m in self.models}

    def _config_key(self, model: str, params: dict) -> str:
        """A configuration: its parameters but the rounds the ladder sets."""
        rounds = self.resources.get(model) if self.search.rounds_ladder else None
        return model + "|" + canonical_params({k: v for k, v in params.items() if k != rounds})

    def restore(self, finished: Mapping[str, TrialRecord]) -> list[TrialRecord]:
        """Tell the studies the configurations an earlier run finished (every row of its rounds
        ladder there); return the rows adopted."""
        rows = len(self.search.ladder()) if self.search.rounds_ladder else 1
        groups: dict[str, list[TrialRecord]] = {}
        for record in finished.values():
            if record.model in self._done and record.trial_id not in self._seen:
                groups.setdefault(self._config_key(record.model, record.params), []).append(record)
        adopted: list[TrialRecord] = []
        limit = self._limit()
        optuna = _optuna()
        for records in groups.values():
            model = records[0].model
            if len(records) < rows or self._done[model] >= limit[model]:
                continue
            self._study(model)
            dists, fixed = self._spaces[model]
            params = {k: v for k, v in records[0].params.items() if k in dists}
            if set(params) != set(dists) or any(records[0].params.get(k) != v for k, v in fixed.items()):
                continue  # another space's trial: it informs nothing here
            value = self._best(records)
            try:
                trial = optuna.trial.create_trial(
                    params=params, distributions=dists, value=value,
                    state=optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL,
                )
            except ValueError:  # a value outside today's distributions
                continue
            self._studies[model].add_trial(trial)
            self._seen.update(r.trial_id for r in records)
            self._done[model] += 1
            adopted.extend(records)
        return adopted

    def ask(self, n: int) -> list[Trial]:
        out: list[Trial] = []
        limit = self._limit()
        while len({id(p) for p in self._pending.values()}) < self.slots and len(out) < n:
            open_models = [m.name for m in self.models if self._done[m.name] < limit[m.name]]
            if not open_models:
                break
            model = min(open_models, key=lambda name: self._done[name])  # models take turns
            study = self._study(model)
            dists, fixed = self._spaces[model]
            for _ in range(100):  # a discrete space may propose a configuration twice
                otrial = study.ask(dists)
                trials = rounds_ladder(self, model, {**fixed, **otrial.params})
                if not any(t.trial_id in self._seen for t in trials):
                    break
                study.tell(otrial, state=_optuna().trial.TrialState.PRUNED)  # a repeat: not run again
            else:
                self._done[model] = limit[model]  # the space is exhausted
                continue
            proposal = _Proposal(model, otrial, {t.trial_id for t in trials})
            for t in trials:
                self._seen.add(t.trial_id)
                self._pending[t.trial_id] = proposal
            self._done[model] += 1
            out.extend(trials)
        return out

    def tell(self, records: list[TrialRecord]) -> None:
        optuna = _optuna()
        for record in records:
            proposal = self._pending.pop(record.trial_id, None)
            if proposal is None:
                continue
            proposal.records.append(record)
            proposal.waiting.discard(record.trial_id)
            if proposal.waiting:
                continue  # other counts of the same fit are still to come
            value = self._best(proposal.records)
            if value is not None:
                self._studies[proposal.model].tell(proposal.trial, value)
            else:
                self._studies[proposal.model].tell(proposal.trial, state=optuna.trial.TrialState.FAIL)

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _ok(record: TrialRecord) -> bool:
        score = record.mean_test_score
        return record.status == TrialStatus.OK and score is not None and math.isfinite(score)

    def _best(self, records: list[TrialRecord]) -> float | None:
        """The configuration's best score over its round counts (None: none succeeded)."""
        values = [float(r.mean_test_score) for r in records if self._ok(r) and r.mean_test_score is not None]
        if not values:
            return None
        return max(values) if self.greater_is_better else min(values)

    def _study(self, model: str):
        if model not in self._studies:
            space = next(m.space for m in self.models if m.name == model)
            self._spaces[model] = distributions(space)
            self._studies[model] = new_study(self.search.seed, model, self.greater_is_better, self.sampler_name,
                                             **self.sampler_options)
        return self._studies[model]


class CmaEsStrategy(TPEStrategy):
    """Optuna's CMA-ES (with margin) over each model's numeric parameters, ``n_trials``
    configurations per model; everything else as :class:`TPEStrategy`."""

    sampler_name = "cmaes"
    sampler_options: dict[str, Any] = {}


# -- BOHB -------------------------------------------------------------------------------------


class BOHBStrategy(HyperbandStrategy):
    """BOHB (Falkner et al., ICML 2018): Hyperband's brackets, with each bracket's new
    configurations proposed by TPE fitted on the results of the largest budget (rounds) that has
    enough of them (the number of parameters + 2), and one in three drawn at random, as BOHB does.

    Proposals are made one at a time as worker slots free up (not a bracket at once), so that
    later ones learn from earlier results; the brackets' rungs and promotions are Hyperband's.
    As with ``tpe``, a seed reproduces the proposals with one worker slot only.
    """

    RANDOM_FRACTION = 1 / 3

    def _start(self) -> None:
        self._brackets = [_LazyBracket(self, b) for b in self.brackets()]
        self._config_of: dict[str, str] = {}
        self._levels: dict[str, dict[int, Any]] = {}  #: model -> rounds -> a study of results there
        self._spaces = {m.name: distributions(m.space) for m in self.models}  #: (distributions, fixed)
        self._rng = np.random.default_rng([self.search.seed, 0xB0B])
        self._proposed: set[str] = set()
        self._out: set[str] = set()  #: first-rung trials proposed and not yet told
        self._index = 0
        if not hasattr(self, "slots"):
            self.slots = 1

    def set_parallelism(self, slots: int) -> None:
        self.slots = max(1, slots)

    def room(self) -> int:
        """New configurations that may be proposed now: about one per free worker slot."""
        return max(0, self.slots - len(self._out))

    def propose(self, bracket: int) -> tuple[str, dict] | None:
        """A new configuration: TPE on the largest budget with enough results, else at random."""
        for _ in range(100):
            model = self.models[self._index % len(self.models)]
            self._index += 1
            params = self._model_based(model) if self._rng.random() >= self.RANDOM_FRACTION else None
            if params is None:
                params = model.space.sample(self._rng)
            key = model.name + "|" + canonical_params(params)
            if key not in self._proposed:
                self._proposed.add(key)
                return model.name, params
        return None  # a small discrete space, exhausted

    def _model_based(self, model) -> dict | None:
        levels = self._levels.get(model.name, {})
        dists, fixed = self._spaces[model.name]
        enough = [r for r, study in levels.items()
                  if sum(t.state.name == "COMPLETE" for t in study.trials) >= len(dists) + 2]
        if not enough or not dists:
            return None
        study = levels[max(enough)]
        optuna = _optuna()
        trial = study.ask(dists)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # a proposal, not a result: TPE skips it
        return {**fixed, **trial.params}

    def ask(self, n: int) -> list[Trial]:
        if not hasattr(self, "_brackets"):
            self._start()
        out = super().ask(n)
        for t in out:
            if t.rung == 0:
                self._out.add(t.trial_id)
        return out

    def tell(self, records: list[TrialRecord]) -> None:
        super().tell(records)
        for r in records:
            self._out.discard(r.trial_id)
            config = self._config_of.get(r.trial_id)
            if config is None or not r.is_ok or r.mean_test_score is None:
                continue
            model, params = self.configs[config]
            dists, _ = self._spaces[model]
            study = self._level(model, int(r.params[self.resources[model]]))
            optuna = _optuna()
            try:
                study.add_trial(optuna.trial.create_trial(
                    params={k: params[k] for k in dists}, distributions=dists, value=float(r.mean_test_score)))
            except (KeyError, ValueError):  # outside the space (a restored trial of another space)
                continue

    def _level(self, model: str, rounds: int):
        levels = self._levels.setdefault(model, {})
        if rounds not in levels:
            levels[rounds] = new_study(self.search.seed, f"{model}|{rounds}", self.greater_is_better,
                                       n_startup_trials=0)
        return levels[rounds]


class _LazyBracket(SyncBracket):
    """A Hyperband bracket whose first-rung configurations are proposed when asked for."""

    def __init__(self, owner: BOHBStrategy, bracket: Bracket):
        super().__init__(owner, bracket, [])
        self.bohb = owner
        self.to_propose = bracket.rungs[0].n_configs
        self.expected = set()

    def ask(self, n: int) -> list[Trial]:
        while self.rung == 0 and self.to_propose > 0 and len(self.pending) < n and self.bohb.room() > 0:
            proposal = self.bohb.propose(self.bracket.bracket)
            self.to_propose -= 1
            if proposal is None:
                continue
            trial = self.owner._trial(*proposal, self.bracket.bracket, 0, self.resources)
            self.pending.append(trial)
            self.expected.add(trial.trial_id)
            self.bohb._out.add(trial.trial_id)  # out from now on: counts against the free slots
        return super().ask(n)

    def tell(self, record: TrialRecord, trial_config: str) -> None:
        if self.rung == 0 and self.to_propose > 0:  # the rung is not complete before all are proposed
            if record.trial_id in self.expected:
                self.scores[trial_config] = BudgetedStrategy._score(record)
            return
        super().tell(record, trial_config)
