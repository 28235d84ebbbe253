"""One meaning of "a trial", "the best" and "counts" everywhere: for each strategy, ``tuner results
--json``, the report's tables, ``tuner.plots``' top trials and ``SearchResult`` agree."""

from __future__ import annotations

import json

import pytest

from tests.support.configs import STRATEGY_SECTIONS, small_config
from tuner import Search, plots
from tuner.cli import main
from tuner.report import report_tables

MODELS = {
    "xgboost": {"max_depth": [2, 3, 4], "learning_rate": [0.1, 0.3]},
    "sklearn.ensemble.HistGradientBoostingRegressor": {"max_leaf_nodes": [7, 15], "learning_rate": [0.1, 0.3]},
}
STRATEGIES = {**STRATEGY_SECTIONS, "asha": {**STRATEGY_SECTIONS["asha"], "n_trials": 4}}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_view_agrees_on_best_ids_and_counts(strategy, client, tmp_path, capsys):
    models = dict(MODELS)
    if strategy in ("grid", "random", "tpe", "cmaes"):  # rounds are the budget of the others
        models = {m: {**space, ("n_estimators" if m == "xgboost" else "max_iter"): [5, 10]}
                  for m, space in MODELS.items()}
    cfg = small_config(tmp_path, search=STRATEGIES[strategy], models=models)
    result = Search(cfg).run(client, progress=False, refit=False)
    df = result.results_
    location = str(tmp_path / "results" / "small")

    assert main(["results", location, "--json", "--top", "3"]) == 0
    cli = json.loads(capsys.readouterr().out)
    tables = report_tables(df, top=3)
    top = plots.top_trials(df, 3)

    # counts: one trial per row, the same number everywhere
    assert cli["trials"] == len(df) == tables["counts"].trials == len(set(df["trial_id"]))
    assert cli["ok"] + cli["failed"] == cli["trials"]
    assert cli["configurations"] == tables["counts"].configurations
    if strategy in ("grid", "random", "tpe", "cmaes"):
        assert cli["configurations"] == cli["trials"]
    else:  # rungs are trials of their own; configurations group them
        assert cli["configurations"] < cli["trials"]
    # the best trial and the top 3, by trial id, in order
    ids = [b["trial_id"] for b in cli["best"]]
    assert len(ids) == min(3, cli["ok"])
    assert ids == list(top["trial_id"]) == list(tables["top"]["trial_id"])
    assert ids[0] == result.best_trial_id_
    assert cli["best"][0]["mean_test_score"] == result.best_score_
    assert cli["best"][0]["params"] == result.best_params_
    # the best per model
    per_model = {b["model"]: b["trial_id"] for b in cli["best_per_model"]}
    assert per_model == dict(zip(result.best_per_model()["model"], result.best_per_model()["trial_id"], strict=True))
    assert per_model == dict(zip(tables["best_per_model"]["model"], tables["best_per_model"]["trial_id"], strict=True))
    assert set(per_model) == set(models)
