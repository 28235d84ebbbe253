"""``search.engine: dask-ml``: grid and random search through dask-ml's ``GridSearchCV``.

dask-ml builds one task graph for the whole search and caches shared steps of scikit-learn
pipelines. The candidates are exactly the trials tuner's strategy proposes (for random search the
points tuner drew, given to dask-ml as one-point grids), so trial ids, resume and the Parquet layout
are the same as with tuner's own engine. Results are written when the search finishes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from distributed import Client

from tuner.data import load
from tuner.evaluate import Problem, _now
from tuner.metrics import get_metric, scorer_for
from tuner.models import get_adapter
from tuner.store import ResultStore
from tuner.trial import Trial, canonical_params


def run_dask_ml(client: Client, problem: Problem, trials: list[Trial], store: ResultStore, schema: pa.Schema, run_id: str) -> int:
    """Run ``trials`` with dask-ml on ``client``; returns how many were dispatched."""
    if not trials:
        return 0
    from dask_ml.model_selection import GridSearchCV

    X, y = load(problem.data, problem.task)
    metric = get_metric(problem.metric)
    scorer = scorer_for(metric, len(np.unique(y)) if problem.task == "classification" else None)
    by_model: dict[str, list[Trial]] = {}
    for t in trials:
        by_model.setdefault(t.model, []).append(t)
    for model, group in by_model.items():
        adapter = get_adapter(model)
        estimator = adapter.make({}, problem.task, problem.n_threads, problem.seed)
        grid = [{k: [v] for k, v in t.params.items()} for t in group]
        started = _now()
        search = GridSearchCV(
            estimator, grid, scoring=scorer, cv=problem.splitter(), refit=False, error_score=np.nan, scheduler=client
        )
        search.fit(X, y)
        cv = search.cv_results_
        finished = _now()
        records = []
        for i, t in enumerate(group):
            splits = [metric.sign * float(cv[f"split{j}_test_score"][i]) for j in range(problem.cv.folds)]
            ok = bool(np.all(np.isfinite(splits)))
            est = adapter.make(t.params, problem.task, problem.n_threads, problem.seed)
            record = {
                "run_id": run_id,
                "trial_id": t.trial_id,
                "model": model,
                "params": canonical_params(t.params),
                **{f"param_{k}": v for k, v in t.params.items()},
                "metric": problem.metric,
                "status": "ok" if ok else "failed",
                "error": None if ok else "dask-ml reported a non-finite score (the fit raised or diverged)",
                "n_resources": adapter.n_resources(est),
                "fit_time": float(cv["mean_fit_time"][i]) * problem.cv.folds,
                "score_time": float(cv["mean_score_time"][i]) * problem.cv.folds,
                "worker": "dask-ml",
                "started_at": started,
                "finished_at": finished,
            }
            if ok:
                record["mean_test_score"] = float(np.mean(splits))
                record["std_test_score"] = float(np.std(splits))
                record.update({f"split{j}_test_score": s for j, s in enumerate(splits)})
            records.append(record)
        store.write(records, schema)
    return len(trials)
