"""``strategy: tpe`` (and ``cmaes``) on a real cluster: every trial recorded, and a resumed search dispatches
nothing that finished (the sampler is told the results first)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.configs import small_config
from tuner import Search

SPACE = {"xgboost": {"max_depth": {"randint": [2, 8]}, "learning_rate": {"loguniform": [0.01, 0.5]},
                     "n_estimators": [20]}}


@pytest.mark.parametrize("kind", ["tpe", "cmaes"])
def test_tpe_runs_and_resumes_without_redoing_anything(client, tmp_path, kind):
    cfg = small_config(tmp_path, search={"strategy": kind, "n_trials": 12, "seed": 0}, models=SPACE)
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


def test_a_rounds_ladder_is_scored_from_one_fit_per_configuration(client, tmp_path):
    cfg = small_config(tmp_path, search={"strategy": "tpe", "n_trials": 5, "seed": 0, "max_resource": 27,
                                         "min_resource": 3}, models={"xgboost": {"max_depth": {"randint": [2, 6]},
                                                             "learning_rate": {"uniform": [0.1, 0.5]}}})
    result = Search(cfg).run(client, progress=False, refit=False)
    rows = result.results_
    assert len(rows) == 5 * 3 and (rows["status"] == "ok").all()
    assert sorted(rows["param_n_estimators"].unique()) == [3, 9, 27]
    # the three counts of a configuration come from one fit: one task, one start, fit time shared
    by_config = rows.groupby(rows["params"].str.replace(r'"n_estimators": \d+', "", regex=True))
    assert by_config.size().eq(3).all() and by_config["started_at"].nunique().eq(1).all()
