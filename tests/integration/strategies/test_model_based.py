"""``strategy: tpe`` on a real cluster: every trial recorded, and a resumed search dispatches
nothing that finished (the sampler is told the results first)."""

from __future__ import annotations

import pandas as pd

from tests.support.configs import small_config
from tuner import Search

SPACE = {"xgboost": {"max_depth": {"randint": [2, 8]}, "learning_rate": {"loguniform": [0.01, 0.5]},
                     "n_estimators": [20]}}


def test_tpe_runs_and_resumes_without_redoing_anything(client, tmp_path):
    cfg = small_config(tmp_path, search={"strategy": "tpe", "n_trials": 12, "seed": 0}, models=SPACE)
    first = Search(cfg).run(client, progress=False, refit=False)
    assert first.dispatched == 12 and (first.results_["status"] == "ok").all()
    assert first.results_["trial_id"].is_unique

    again = Search(cfg).run(client, progress=False, refit=False)
    assert again.dispatched == 0  # every configuration finished: nothing is dispatched again
    assert set(again.results_["trial_id"]) == set(first.results_["trial_id"])

    cfg["search"]["n_trials"] = 15
    more = Search(cfg).run(client, progress=False, refit=False)
    assert more.dispatched == 3
    rows = pd.read_parquet(tmp_path / "results" / "small")
    assert len(rows) == 15 and rows["trial_id"].is_unique
    assert Search(cfg).plan().finished_trials == 15
