"""``search.engine: dask-ml``: grid and random search through dask-ml's ``GridSearchCV``.

dask-ml builds one task graph per batch of candidates and caches shared steps of scikit-learn
pipelines. The candidates are exactly the trials tuner's strategy proposes (for random search the
points tuner drew, given to dask-ml as one-point grids), so trial ids, resume, records and the
Parquet layout are the same as with tuner's own engine. Candidates go to dask-ml in batches of a
few per worker thread, so that results land (and progress moves) while the search runs.

dask-ml reports a failed fit only as a missing score; such a trial is evaluated once more by
tuner's own worker function, so that its record carries the library's real error message.
"""

from __future__ import annotations

import numpy as np

from tuner.engine import SearchEngine
from tuner.evaluate import evaluate_batch
from tuner.metrics import get_metric, scorer_for
from tuner.record import TrialRecord, now
from tuner.strategies.base import Strategy
from tuner.trial import Trial


class DaskMLEngine(SearchEngine):
    """Evaluate a non-adaptive strategy's trials with ``dask_ml.model_selection.GridSearchCV``."""

    #: candidates per dask-ml search, per worker thread
    PER_THREAD = 4

    def run(self, strategy: Strategy, finished: dict[str, TrialRecord] | None = None) -> None:
        if strategy.adaptive:
            raise ValueError("the dask-ml engine runs grid and random search only")
        trials = self.fresh(strategy, strategy.trials(), finished or {})
        if not trials:
            return
        from dask_ml.model_selection import GridSearchCV

        _, y, _ = self.problem.load()
        metric = get_metric(self.problem.metric)
        scorer = scorer_for(metric, len(np.unique(y)) if self.problem.task == "classification" else None)
        threads = max(1, sum(self.client.nthreads().values()))
        by_model: dict[str, list[Trial]] = {}
        for t in trials:
            by_model.setdefault(t.model, []).append(t)
        try:
            for model, group in by_model.items():
                adapter = self.problem.adapter(model)  # told the data's categorical columns
                inputs = self.problem.model_input(adapter)
                size = self.PER_THREAD * threads
                for start in range(0, len(group), size):
                    batch = group[start:start + size]
                    self.stats.submitted_tasks += 1
                    self.stats.submitted_trials += len(batch)
                    estimator = adapter.make({}, self.problem.task, self.problem.n_threads, self.problem.seed)
                    started = now()
                    prefix = adapter.param_prefix(estimator)  # a preparing Pipeline: model__<name>
                    search = GridSearchCV(
                        estimator, [{prefix + k: [v] for k, v in t.params.items()} for t in batch], scoring=scorer,
                        cv=self.problem.splitter(), refit=False, error_score=np.nan, scheduler=self.client,
                    )
                    search.fit(inputs, y)
                    records = self._records(batch, search.cv_results_, started)
                    strategy.tell(self.recorder.add(records))
                    self.flush()
        finally:
            self.flush()

    def _records(self, batch: list[Trial], cv: dict, started) -> list[TrialRecord]:
        folds = self.problem.cv.folds
        metric = get_metric(self.problem.metric)
        finished = now()
        records: list[TrialRecord] = []
        for i, t in enumerate(batch):
            scores = [metric.sign * float(cv[f"split{j}_test_score"][i]) for j in range(folds)]
            adapter = self.problem.adapter(t.model)
            common = dict(
                n_resources=adapter.n_resources(adapter.make(t.params, self.problem.task)),
                fit_time=float(cv["mean_fit_time"][i]) * folds,
                score_time=float(cv["mean_score_time"][i]) * folds,
                worker="dask-ml", started_at=started, finished_at=finished,
            )
            if np.all(np.isfinite(scores)):
                records.append(TrialRecord.ok(t, self.problem.metric, scores, **common))
                continue
            # dask-ml keeps only NaN: evaluate the trial once more to record the real error
            again = self.client.submit(evaluate_batch, self.problem, [t], pure=False).result()[0]
            error = again.error if not again.is_ok else (
                "dask-ml reported a non-finite score, but the trial succeeded when evaluated again"
            )
            records.append(TrialRecord.failed(t, self.problem.metric, error or "unknown error", **common))
        return records
