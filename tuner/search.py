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

import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd
from distributed import Client

from tuner.cluster import connect, dashboard_link
from tuner.config import Config, load_config
from tuner.engine import Engine
from tuner.evaluate import Problem
from tuner.models import get_adapter
from tuner.progress import SearchProgress
from tuner.results import best_per_model, rank
from tuner.store import ResultStore, result_schema
from tuner.strategies import STRATEGIES, Strategy
from tuner.trial import Trial, context_key

logger = logging.getLogger(__name__)


def _refit(problem: Problem, model: str, params: dict) -> Any:
    """Fit the best configuration on all the data (runs on a worker)."""
    from threadpoolctl import threadpool_limits

    from tuner.data import load_cached

    X, y = load_cached(problem.data, problem.task)
    with threadpool_limits(limits=problem.n_threads):
        return get_adapter(model).make(params, problem.task, problem.n_threads, problem.seed).fit(X, y)


@dataclass
class SearchResult:
    """What a search found.

    Attributes
    ----------
    results_ : DataFrame
        One row per trial of this search (including trials finished by earlier runs).
    best_params_, best_score_, best_model_name_, best_trial_id_ :
        The best successful trial, ranked in the metric's direction.
    best_estimator_ :
        That configuration refit on all the data (None when ``refit=False``).
    """

    config: Config
    run_id: str
    results_: pd.DataFrame
    dispatched: int
    best_estimator_: Any = None

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
        self.problem = Problem(data=c.data, task=c.task, cv=c.cv, metric=c.metric, seed=c.seed)
        self._context = context_key(c.data.fingerprint(c.task), c.task, c.cv, c.metric, c.seed)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Search:
        return cls(str(path))

    def make_trial(self, model: str, params: dict) -> Trial:
        return Trial.create(model, params, self._context)

    def strategy(self) -> Strategy:
        cls = STRATEGIES[self.config.search.strategy]
        return cls(self.config.models, self.config.search, self.make_trial)

    def schema(self):
        values: dict[str, list] = {}
        for m in self.config.models:
            for name in m.space.params:
                values.setdefault(name, []).extend(m.space.possible_values(name))
        return result_schema(values, self.config.cv.folds)

    def store(self, storage_options: dict | None = None) -> ResultStore:
        return ResultStore(self.config.results_url, storage_options)

    def plan(self, with_store: bool = True) -> dict:
        """What would run: trials and fits per model, and how many are already finished."""
        c = self.config
        trials = self.strategy().trials()
        finished = self.store().finished_ids() if with_store else set()
        models: dict[str, dict] = {}
        for t in trials:
            m = models.setdefault(t.model, {"trials": 0, "fits": 0, "finished": 0})
            m["trials"] += 1
            m["fits"] += c.cv.folds
            m["finished"] += t.trial_id in finished
        total = len(trials)
        done = sum(m["finished"] for m in models.values())
        return {
            "name": c.name,
            "strategy": c.search.strategy,
            "engine": c.search.engine,
            "results": c.results_url,
            "folds": c.cv.folds,
            "models": models,
            "total_trials": total,
            "total_fits": total * c.cv.folds,
            "finished_trials": done,
            "to_run": total - done,
        }

    # -- running -----------------------------------------------------------------------------
    def run(
        self,
        client: Client | None = None,
        *,
        progress: bool = True,
        refit: bool = True,
        retry_failed: bool = False,
    ) -> SearchResult:
        """Run the search (resuming from the results location) and return what it found.

        Without ``client``, a cluster is made from the ``cluster`` section and closed at the end.
        """
        if client is None:
            with connect(self.config.cluster) as own:
                return self.run(own, progress=progress, refit=refit, retry_failed=retry_failed)
        c = self.config
        run_id = f"{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        store = self.store()
        link = dashboard_link(client)
        if progress:
            logger.info("dashboard: %s", link)
            print(f"tuner: search '{c.name}' -> {c.results_url}", flush=True)
            if link:
                print(f"tuner: Dask dashboard at {link}", flush=True)
        previous = store.read()
        if retry_failed and not previous.empty:
            previous = previous[previous["status"] == "ok"]
        done = set(previous["trial_id"]) if not previous.empty else set()
        strategy = self.strategy()
        all_ids: list[str] = []
        dispatched = 0

        if c.search.engine == "dask-ml":
            from tuner.dask_ml_engine import run_dask_ml

            trials = strategy.trials()
            all_ids = [t.trial_id for t in trials]
            todo = [t for t in trials if t.trial_id not in done]
            dispatched = run_dask_ml(client, self.problem, todo, store, self.schema(), run_id)
        else:
            engine = Engine(
                client,
                self.problem,
                store,
                self.schema(),
                run_id,
                window=c.search.window,
                max_attempts=c.search.max_attempts,
            )
            planned = len(strategy.trials())
            with SearchProgress(planned, c.metric, enabled=progress) as bar:
                engine.on_record = bar.update
                old = previous.set_index("trial_id", drop=False) if not previous.empty else None

                def evaluate(trials: list[Trial]) -> list[dict]:
                    all_ids.extend(t.trial_id for t in trials)
                    todo = [t for t in trials if t.trial_id not in done]
                    reused = [old.loc[t.trial_id].to_dict() for t in trials if t.trial_id in done]
                    for r in reused:
                        bar.update(r)
                    return reused + engine.evaluate(todo)

                strategy.run(evaluate)
            dispatched = engine.stats.submitted_trials
        results = store.read()
        results = results[results["trial_id"].isin(set(all_ids))].reset_index(drop=True) if len(results) else results
        result = SearchResult(config=c, run_id=run_id, results_=results, dispatched=dispatched)
        if refit and not rank(results).empty:
            best = rank(results).iloc[0]
            import json

            future = client.submit(_refit, self.problem, str(best["model"]), json.loads(best["params"]), pure=False)
            result.best_estimator_ = future.result()
        return result


def run(config: str | os.PathLike | dict | Config, client: Client | None = None, **kwargs) -> SearchResult:
    """Shorthand for ``Search(config).run(client, **kwargs)``."""
    return Search(config).run(client, **kwargs)
