"""The Python API: build a search from YAML or a dict, run it on any ``distributed.Client``.

Example
-------
>>> from distributed import Client, LocalCluster                        # doctest: +SKIP
>>> search = Search({
...     "name": "demo",
...     "data": {"dataset": "california_housing"},
...     "models": {"xgboost": {"max_depth": [3, 5], "n_estimators": [100, 200]}},
... })
>>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
...     result = search.run(client)
>>> result.best_params_, result.best_score_
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import pandas as pd
from distributed import Client

from tuner import checkpoints
from tuner.budget import BudgetGuard, Spend
from tuner.cluster import connect, dashboard_link
from tuner.config import MODEL_BASED, Config, load_config
from tuner.engine import get_engine
from tuner.errors import ConfigError, ResultsError
from tuner.evaluate import Problem
from tuner.lease import Lease, check_identity
from tuner.metrics import greater_is_better
from tuner.plan import ModelPlan, Plan
from tuner.preemption import GracefulShutdown
from tuner.progress import SearchProgress
from tuner.projection import DEFAULT_WORKERS, MAX_TASKS, Projection, TimeModel, calibrate, durations, fit_tasks, project
from tuner.record import RUNG_COLUMNS, TrialRecord, TrialStatus
from tuner.results import best_per_model, check_columns, rank, with_promotions
from tuner.store import ResultStore, result_schema
from tuner.strategies import STRATEGIES, BudgetedStrategy, GridStrategy, PlannedStrategy, Strategy
from tuner.trial import ROWS, Trial, context_key
from tuner.tuned_model import TunedModel, fit_best
from tuner.user_code import ship
from tuner.versions import check_versions

logger = logging.getLogger(__name__)
#: plans count the rounds of grids and random searches up to this many trials
SPEND_LIMIT = 200_000


@dataclass
class SearchResult:
    """What a search found.

    Attributes
    ----------
    results_ : DataFrame
        One row per trial of this search (including trials finished by earlier runs).
    best_params_, best_score_, best_model_name_, best_trial_id_ :
        The best successful trial, ranked in the metric's direction.
    best_estimator_ : TunedModel
        That configuration refit on all the data (None when ``refit=False``): ``predict`` takes
        rows as they are in the data file and returns values or the data's own labels.
    """

    config: Config
    run_id: str
    results_: pd.DataFrame
    dispatched: int
    best_estimator_: TunedModel | None = None

    def _best(self) -> pd.Series:
        ranked = rank(self.results_)
        if ranked.empty:
            raise ValueError("no trial of this search succeeded; see results_['error']")
        return ranked.iloc[0]

    @property
    def best_params_(self) -> dict:
        import json

        return json.loads(self._best()["params"])

    @property
    def best_score_(self) -> float:
        return float(self._best()["mean_test_score"])

    @property
    def best_model_name_(self) -> str:
        return str(self._best()["model"])

    @property
    def best_trial_id_(self) -> str:
        return str(self._best()["trial_id"])

    def best_per_model(self) -> pd.DataFrame:
        return best_per_model(self.results_)


class Search:
    """A validated search: configuration, strategy, and the trials it proposes."""

    def __init__(self, config: str | os.PathLike | dict | Config):
        self.config = load_config(config)
        c = self.config
        self.problem = Problem(data=c.data, task=c.task, cv=c.cv, metric=c.metric, seed=c.seed,
                               columns=c.columns, target=c.target)
        self._context = context_key(c.data.fingerprint(c.task), c.task, c.cv, c.metric, c.seed)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Search:
        return cls(str(path))

    #: (config_id, rounds) of rungs restored without their checkpoint (:meth:`_find_gone_checkpoints`)
    _gone_checkpoints: frozenset[tuple[str | None, int]] = frozenset()

    def make_trial(self, model: str, params: dict, **rung_fields) -> Trial:
        resource = rung_fields.get("resource")
        if resource is not None and resource != ROWS:  # rungs on a share of the rows start afresh
            rung_fields["checkpoints"] = self.checkpoints_url
            rung_fields["final"] = params.get(resource, 0) >= self.config.search.max_resource
        trial = Trial.create(model, params, self._context, **rung_fields)
        if trial.continue_from is not None and (trial.config_id, trial.continue_from) in self._gone_checkpoints:
            return replace(trial, continue_from=None)  # its checkpoint will not come: from scratch, at once
        return trial

    def _find_gone_checkpoints(self, finished: dict[str, TrialRecord]) -> frozenset[tuple[str | None, int]]:
        """Rungs finished before this run whose checkpoint is not there: removed when an earlier search
        on these results ended (and this one goes further), or never written. Nothing will write
        them now, so the rungs that continue them train from scratch at once instead of each waiting
        :data:`tuner.checkpoints.WAIT_SECONDS` for it. One listing of the checkpoints folder."""
        rungs = {(r.config_id, r.n_resources) for r in finished.values()
                 if r.config_id is not None and r.n_resources is not None and r.is_ok}
        if not rungs:
            return frozenset()
        present = checkpoints.present(self.checkpoints_url)
        return frozenset((c, n) for c, n in rungs if checkpoints.checkpoint_name(str(c), n) not in present)

    @property
    def checkpoints_url(self) -> str:
        """Models between rungs live next to the results, where a lost worker cannot take them."""
        return self.config.results_url.rstrip("/") + "/_checkpoints"

    def resources(self) -> dict[str, str]:
        """Budgeted strategies: each model's budget parameter."""
        s = self.config.search
        out: dict[str, str] = {}
        for m in self.config.models:
            resource = s.resource or m.adapter.rounds_param
            assert resource is not None  # the configuration checks budgeted models have one
            out[m.name] = resource
        return out

    def strategy(self) -> Strategy:
        """The configured strategy, with ``search.budget`` (:class:`tuner.budget.BudgetGuard`)."""
        c = self.config
        strategy = self._strategy()
        if c.search.budget is not None:
            return BudgetGuard(strategy, c.search.budget, c.task, c.cv.folds)
        return strategy

    def _strategy(self) -> Strategy:
        c = self.config
        cls = STRATEGIES[c.search.strategy]
        resources = self.resources() if c.search.sets_rounds else None
        return cls(c.models, c.search, self.make_trial, greater_is_better(c.metric), resources)

    def schema(self):
        values: dict[str, list] = {}
        for m in self.config.models:
            for name in m.space.params:
                values.setdefault(name, []).extend(m.space.possible_values(name))
        extra = []
        if self.config.search.sets_rounds:
            for resource in self.resources().values():
                values.setdefault(resource, []).append(self.config.search.max_resource)
        if self.config.search.budgeted:
            extra = RUNG_COLUMNS
        return result_schema(values, self.config.cv.folds, extra)

    def store(self, storage_options: dict | None = None) -> ResultStore:
        return ResultStore(self.config.results_url, storage_options)

    def plan(self, with_store: bool = True) -> Plan:
        """What would run: trials and fits per model, and how many are already finished.

        Grids are counted, not enumerated, so a plan of a million points answers at once; trial
        ids are only computed to count finished trials where the results location has some.
        For successive_halving, hyperband and asha: the brackets, each rung's number of
        configurations and budget (in rounds), and the rounds to train per fold, from scratch
        and with continued training (a promoted configuration trains only the difference).
        """
        c = self.config
        strategy = self._strategy()
        counts = strategy.counts()
        finished: dict[str, int] = dict.fromkeys(counts, 0)
        store = self.store().read(columns=["trial_id", "model"]) if with_store else None
        if store is not None and len(store):
            if strategy.adaptive:  # trials depend on results: whatever of ours is there
                for model, n in store["model"].value_counts().items():
                    if model in finished:
                        finished[model] = int(n) if strategy.budgeted else min(int(n), counts[model])
            else:
                assert isinstance(strategy, PlannedStrategy)  # grid, random: trials known in advance
                done = set(store["trial_id"])
                for t in strategy.iter_trials():
                    finished[t.model] += t.trial_id in done
        brackets = None
        if strategy.budgeted:
            assert isinstance(strategy, BudgetedStrategy)  # successive_halving, hyperband, asha
            brackets = strategy.brackets()
        total = strategy.total()
        models = {
            m: ModelPlan(trials=n, fits=n * c.cv.folds, finished=finished[m]) for m, n in counts.items()
        }
        return Plan(
            name=c.name, strategy=c.search.strategy, engine=c.search.engine, results=c.results_url,
            folds=c.cv.folds, models=models, total_trials=total, total_fits=total * c.cv.folds,
            finished_trials=sum(finished.values()), brackets=brackets,
            data=self.data_summary(), data_lines=c.data_lines(),
            spend=self.spend(strategy), budget=c.search.budget.as_dict() if c.search.budget else None,
            rows_budget=c.search.resource == ROWS,
        )

    def spend(self, strategy: Strategy | None = None) -> dict | None:
        """Rounds and fits the search trains (shared fits once, continued rungs their extra rounds,
        :class:`tuner.budget.Spend`), before any budget; None where it depends on results
        (ASHA, or tpe and cmaes without a rounds ladder) or the grid is larger than :data:`SPEND_LIMIT`."""
        c = self.config
        if c.search.strategy == "asha" or (c.search.strategy in MODEL_BASED and not c.search.rounds_ladder):
            return None
        strategy = strategy or self._strategy()
        spend = Spend(c.task, c.cv.folds)
        if isinstance(strategy, GridStrategy):  # counted a fit group at a time (Spend.add_grid)
            groups = sum(m.space.without(m.adapter.rounds_param).grid_size(c.search.grid_resolution) for m in c.models)
            if groups > SPEND_LIMIT:
                return None
            for m in c.models:
                spend.add_grid(m.name, m.space, c.search.grid_resolution)
        else:
            if isinstance(strategy, PlannedStrategy) and strategy.total() > SPEND_LIMIT:
                return None
            for t in self._trials(strategy):
                spend.add(t)
        return spend.as_dict()

    def data_summary(self) -> dict:
        """Rows, columns used and left out, task and classes: what the search will use."""
        c = self.config
        out: dict = {"source": c.data.path or c.data.dataset, "rows": c.rows, "task": c.task, "metric": c.metric}
        if c.columns is not None:
            out.update(c.columns.as_dict())
        if c.target is not None:
            out["task_reason"] = c.target.reason
            if c.target.classes is not None:
                out["classes"] = {str(k): n for k, n in zip(c.target.classes, c.target.counts, strict=True)}
        return out

    def projection(self, workers: Sequence[int] = DEFAULT_WORKERS,
                   time_models: dict[str, TimeModel] | None = None) -> tuple[list[Projection], dict[str, TimeModel]]:
        """Projected wall time on each number of worker slots (:mod:`tuner.projection`), from
        ``time_models`` or, without them, from fits timed on this machine (:func:`calibrate`)."""
        c = self.config
        units = fit_tasks(self._work(), task=c.task)
        if len(units) * c.cv.folds > MAX_TASKS:
            raise ConfigError("search", f"{len(units) * c.cv.folds:,} fit tasks",
                              f"at most {MAX_TASKS:,} to project task by task")
        models = time_models or calibrate(self.problem, c.models, units, seed=c.search.seed)
        seconds = [c.cv.folds * s for s in durations(units, models)]
        return [project(seconds, n, folds=c.cv.folds) for n in workers], models

    def _work(self) -> list[Trial]:
        """The trials the search will run, as far as they are known before it starts (see
        :mod:`tuner.projection`), cut where ``search.budget`` would stop asking."""
        c = self.config
        out, spend, budget = [], Spend(c.task, c.cv.folds), c.search.budget
        for t in self._trials(self._strategy()):
            if budget is not None and budget.spent_by(spend):
                break
            spend.add(t)
            out.append(t)
        return out

    def _trials(self, strategy: Strategy) -> Iterable[Trial]:
        """A strategy's trials as far as they are known before any result: grid and random
        exactly; budgeted ones every rung of the schedule with random configurations; tpe its
        configurations as random draws of the same space."""
        c = self.config
        if isinstance(strategy, PlannedStrategy):
            return strategy.iter_trials()
        if isinstance(strategy, BudgetedStrategy):
            return strategy.planned_trials()
        return STRATEGIES["random"](c.models, c.search, self.make_trial, greater_is_better(c.metric),
                                    self.resources() if c.search.sets_rounds else None).trials()

    # -- running -----------------------------------------------------------------------------
    def run(
        self,
        client: Client | None = None,
        *,
        progress: bool = True,
        refit: bool = True,
        retry_failed: bool = False,
        take_over: bool = False,
        allow_mixed: bool = False,
    ) -> SearchResult:
        """Run the search (resuming from the results location) and return what it found.

        Without ``client``, a cluster is made from the ``cluster`` section and closed at the end.
        Before anything is dispatched (or a cluster started) the results location is checked: its
        files must be readable part files, it must belong to this search (``allow_mixed``
        overrides), and no other live driver may be writing there (``take_over`` overrides).
        """
        c = self.config
        run_id = f"{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        store = self.store()
        store.check_writable()  # a file, or a read-only folder: said now, before anything runs
        previous = store.read()  # raises ResultsError on damaged or foreign files
        check_columns(previous, c.results_url)
        lease = Lease(c.results_url, run_id)
        try:
            check_identity(c.results_url, c.name, self._context, allow_mixed)
            lease.acquire(take_over=take_over)
        except OSError as exc:  # e.g. permissions on a bucket or a volume
            raise ResultsError(f"cannot write to results location {c.results_url} ({exc}); pass a writable "
                               "location with --results") from None
        try:
            if client is None:
                with connect(c.cluster) as own:
                    return self._run(own, run_id, store, previous, lease, progress, refit, retry_failed)
            return self._run(client, run_id, store, previous, lease, progress, refit, retry_failed)
        finally:
            lease.release()

    def _run(self, client, run_id, store, previous, lease, progress, refit, retry_failed) -> SearchResult:
        c = self.config
        _resilient(lambda: check_versions(client, models=[m.name for m in c.models]), "version check")
        # on the scheduler too, so that workers joining later get it
        _resilient(lambda: client.register_plugin(GracefulShutdown()), "graceful-shutdown plugin")
        self._ship_code(client)
        link = dashboard_link(client)
        if progress:
            print(f"tuner: search '{c.name}' -> {c.results_url}", flush=True)
            if link:
                print(f"tuner: Dask dashboard at {link}", flush=True)
        if retry_failed and not previous.empty:
            previous = previous[previous["status"] == TrialStatus.OK.value]
        strategy = self.strategy()
        finished = {r["trial_id"]: TrialRecord.from_row(r) for r in previous.to_dict("records")} if len(previous) else {}
        if c.search.budgeted and c.search.resource != ROWS:
            self._gone_checkpoints = self._find_gone_checkpoints(finished)
        engine = get_engine(c.search.engine)(
            client, self.problem, store, self.schema(), run_id,
            window=c.search.window, max_attempts=c.search.max_attempts, before_write=lease.check,
        )
        with SearchProgress(strategy.total(), c.metric, enabled=progress) as bar:
            engine.on_record = bar.update
            engine.on_reused = bar.reused
            engine.run(strategy, finished)
            bar.finish(engine.stats.finished + bar.reused_count)
        dispatched = engine.stats.submitted_trials
        ids = engine.stats.trial_ids
        if c.search.budgeted:
            # the workers write checkpoints in the background: let them finish, then remove them all
            _resilient(lambda: client.run(checkpoints.wait_written), "waiting for checkpoint writes")
            self._remove_checkpoints()
        results = with_promotions(store.read())
        results = results[results["trial_id"].isin(ids)].reset_index(drop=True) if len(results) else results
        result = SearchResult(config=c, run_id=run_id, results_=results, dispatched=dispatched)
        if refit and not rank(results).empty:
            best = rank(results).iloc[0]
            result.best_estimator_ = self._fit(client, str(best["model"]), json.loads(best["params"]))
        return result


    def export(self, client: Client | None = None, trial_id: str | None = None) -> TunedModel:
        """The best trial of the results (or ``trial_id``) refit on all the data, on the cluster.

        Raises
        ------
        tuner.errors.ResultsError
            When the results location holds no successful trial (or not ``trial_id``).
        """
        c = self.config
        results = self.store().read()
        ranked = rank(results, c.metric) if len(results) else results
        if ranked.empty:
            raise ResultsError(f"no successful trial at {c.results_url}: run the search first (tuner run)")
        if trial_id is not None:
            ranked = ranked[ranked["trial_id"] == trial_id]
            if ranked.empty:
                raise ResultsError(f"no successful trial {trial_id!r} at {c.results_url} (tuner results lists them)")
        best = ranked.iloc[0]
        model, params = str(best["model"]), json.loads(best["params"])
        if client is None:
            with connect(c.cluster) as own:
                self._ship_code(own)
                return self._fit(own, model, params)
        self._ship_code(client)
        return self._fit(client, model, params)

    def _ship_code(self, client: Client) -> None:
        if self.config.code:  # your modules, to every worker present and future
            _resilient(lambda: ship(client, self.config.code), "shipping your code")

    def _fit(self, client: Client, model: str, params: dict) -> TunedModel:
        if self.config.search.resource == ROWS:  # the share of rows was its rung's budget: refit on all
            params = {k: v for k, v in params.items() if k != ROWS}
        return client.submit(fit_best, self.problem, model, params, pure=False).result()

    def _remove_checkpoints(self) -> None:
        """The search is over: no rung will continue from a checkpoint any more."""
        checkpoints.remove_all(self.checkpoints_url)


def _resilient(call, what: str, attempts: int = 3) -> None:
    """A broadcast to the workers fails when one of them dies meanwhile (a spot node going away):
    try again; should it keep failing, go on without it rather than lose the search."""
    from distributed.comm.core import CommClosedError

    for attempt in range(attempts):
        try:
            call()
            return
        except (CommClosedError, OSError) as exc:
            if attempt == attempts - 1:
                logger.warning("%s skipped: a worker went away during it (%s)", what, exc)
            time.sleep(0.5)


def run(config: str | os.PathLike | dict | Config, client: Client | None = None, **kwargs) -> SearchResult:
    """Shorthand for ``Search(config).run(client, **kwargs)``."""
    return Search(config).run(client, **kwargs)
