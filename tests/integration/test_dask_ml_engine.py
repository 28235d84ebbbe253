"""search.engine: dask-ml writes the same rows, with the same scores, as tuner's engine."""

from __future__ import annotations

import numpy as np

from tests.support.configs import small_config
from tuner import Search


def test_dask_ml_engine_matches_tuner_engine(client, tmp_path):
    models = {"sklearn.ensemble.HistGradientBoostingRegressor": {"max_leaf_nodes": [7, 15], "max_iter": [10, 20]}}
    ours = Search(small_config(tmp_path / "a", models=models)).run(client, progress=False, refit=False)
    cfg = small_config(tmp_path / "b", models=models, search={"strategy": "grid", "engine": "dask-ml"})
    theirs = Search(cfg).run(client, progress=False, refit=True)
    assert theirs.dispatched == 4 and len(theirs.results_) == 4
    merged = ours.results_.merge(theirs.results_, on="trial_id", suffixes=("_t", "_d"))
    assert len(merged) == 4  # same trial ids
    np.testing.assert_allclose(merged["mean_test_score_t"], merged["mean_test_score_d"], rtol=0, atol=1e-9)
    assert set(theirs.results_.columns) == set(ours.results_.columns)
    assert theirs.best_estimator_ is not None
    again = Search(cfg).run(client, progress=False, refit=False)
    assert again.dispatched == 0  # resume works the same way
