"""Model-based search (Optuna's TPE through ask/tell), driven without a cluster: proposals, the
cap on proposals in flight, resume from finished trials, reproducibility with one slot."""

from __future__ import annotations

import math

import pytest

from tuner.config import load_config
from tuner.record import TrialRecord
from tuner.strategies import STRATEGIES
from tuner.strategies.model_based import CmaEsStrategy, TPEStrategy, distributions
from tuner.trial import Trial

SPACE = {"max_depth": {"randint": [2, 10]}, "learning_rate": {"loguniform": [0.001, 1.0]},
         "subsample": {"uniform": [0.5, 1.0]}, "booster": ["gbtree", "dart"], "n_estimators": 50}


def strategy(n_trials: int = 30, seed: int = 0, models=None, kind: str = "tpe") -> TPEStrategy:
    cfg = load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": kind, "n_trials": n_trials, "seed": seed},
                       "models": models or {"xgboost": SPACE}})

    def make_trial(model, params, **_):
        return Trial.create(model, params, "ctx")

    return STRATEGIES[kind](cfg.models, cfg.search, make_trial, greater_is_better=False)


def loss(params: dict) -> float:
    """A smooth objective with its minimum at learning_rate 0.05, max_depth 6, subsample 0.8."""
    return ((math.log10(params["learning_rate"]) - math.log10(0.05)) ** 2 + 0.05 * (params["max_depth"] - 6) ** 2
            + (params["subsample"] - 0.8) ** 2 + (0.3 if params["booster"] == "dart" else 0.0))


def done(trial: Trial, value: float | None = None) -> TrialRecord:
    value = loss(trial.params) if value is None else value
    return TrialRecord.ok(trial, "rmse", [value, value, value])


def drive(s: TPEStrategy, slots: int = 1) -> list[Trial]:
    """Ask and tell as an engine does with ``slots`` slots: oldest proposal finishes first."""
    s.set_parallelism(slots)
    running: list[Trial] = []
    asked: list[Trial] = []
    while True:
        new = s.ask(100)
        assert len(running) + len(new) <= slots  # never more proposals out than slots
        running += new
        asked += new
        if not running:
            return asked
        s.tell([done(running.pop(0))])


def test_space_becomes_optuna_distributions():
    cfg = load_config({"data": {"dataset": "diabetes"}, "models": {"xgboost": SPACE}})
    dists, fixed = distributions(cfg.models[0].space)
    assert fixed == {"n_estimators": 50}
    assert dists["max_depth"].low == 2 and dists["max_depth"].high == 9  # randint excludes high
    assert dists["learning_rate"].log and dists["booster"].choices == ("gbtree", "dart")


def test_proposals_learn_from_results():
    asked = drive(strategy(n_trials=40, seed=3), slots=1)
    assert len(asked) == 40 and len({t.trial_id for t in asked}) == 40
    first, last = [loss(t.params) for t in asked[:10]], [loss(t.params) for t in asked[-10:]]
    assert sorted(last)[5] < sorted(first)[5] / 2  # the last proposals are far better: the model learnt


def test_one_slot_and_a_seed_reproduce_the_proposals():
    a = [t.trial_id for t in drive(strategy(seed=7), slots=1)]
    b = [t.trial_id for t in drive(strategy(seed=7), slots=1)]
    c = [t.trial_id for t in drive(strategy(seed=8), slots=1)]
    assert a == b and a != c


def test_parallel_proposals_stay_within_the_slots():
    asked = drive(strategy(n_trials=20), slots=4)
    assert len(asked) == 20


def test_resume_adopts_finished_trials_and_proposes_only_the_rest():
    first = strategy(n_trials=12, seed=1)
    asked = drive(first, slots=2)
    finished = {t.trial_id: done(t) for t in asked}

    again = strategy(n_trials=12, seed=1)
    adopted = again.restore(finished)
    assert len(adopted) == 12
    assert again.ask(10) == []  # everything finished: nothing is dispatched again

    more = strategy(n_trials=15, seed=1)
    assert len(more.restore(finished)) == 12
    more.set_parallelism(8)
    new = more.ask(10)
    assert len(new) == 3 and not {t.trial_id for t in new} & set(finished)


def test_failed_trials_inform_nothing_but_count():
    s = strategy(n_trials=5)
    s.set_parallelism(5)
    trials = s.ask(5)
    s.tell([TrialRecord.failed(t, "rmse", "ValueError: boom") for t in trials])
    assert s.ask(5) == []
    assert all(t.state.name == "FAIL" for t in s._studies["xgboost"].trials)


def test_models_take_turns():
    s = strategy(n_trials=3, models={"xgboost": SPACE, "lightgbm": {"num_leaves": {"randint": [4, 64]}}})
    s.set_parallelism(6)
    assert sorted(t.model for t in s.ask(6)) == ["lightgbm"] * 3 + ["xgboost"] * 3


NUMERIC = {k: v for k, v in SPACE.items() if k != "booster"} | {"booster": "gbtree"}


def test_cmaes_learns_reproduces_and_resumes():
    """CMA-ES (strategy: cmaes) through the same ask/tell: proposals improve, one slot and a seed
    give the same proposals, a resumed search proposes only what is missing."""
    s = strategy(n_trials=60, seed=3, models={"xgboost": NUMERIC}, kind="cmaes")
    assert isinstance(s, CmaEsStrategy)
    asked = drive(s, slots=1)
    assert len(asked) == 60 and len({t.trial_id for t in asked}) == 60
    first, last = [loss(t.params) for t in asked[:10]], [loss(t.params) for t in asked[-10:]]
    assert sorted(last)[5] < sorted(first)[5] / 2
    again = [t.trial_id for t in drive(strategy(n_trials=60, seed=3, models={"xgboost": NUMERIC}, kind="cmaes"))]
    assert again == [t.trial_id for t in asked]
    more = strategy(n_trials=64, seed=3, models={"xgboost": NUMERIC}, kind="cmaes")
    assert len(more.restore({t.trial_id: done(t) for t in asked})) == 60
    more.set_parallelism(8)
    new = more.ask(10)
    assert len(new) == 4 and not {t.trial_id for t in new} & {t.trial_id for t in asked}


def test_cmaes_draws_choices_from_lists_and_keeps_the_slots_busy():
    asked = drive(strategy(n_trials=20, kind="cmaes"), slots=4)
    assert len(asked) == 20 and {t.params["booster"] for t in asked} == {"gbtree", "dart"}


@pytest.mark.parametrize("kind", ["tpe", "cmaes"])
@pytest.mark.parametrize("bad", [{"engine": "dask-ml"}, {"n_trials": 0}])
def test_config_rules(bad, kind):
    from tuner.errors import ConfigError

    with pytest.raises(ConfigError):
        load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": kind, **bad},
                     "models": {"xgboost": {"max_depth": [2, 3]}}})


def ladder_strategy(kind: str = "tpe", n_trials: int = 6):
    from tuner.search import Search

    search = Search({"data": {"dataset": "diabetes"},
                     "search": {"strategy": kind, "n_trials": n_trials, "seed": 0, "max_resource": 90,
                                "min_resource": 10},
                     "models": {"xgboost": {"max_depth": {"randint": [2, 8]},
                                          "learning_rate": {"loguniform": [0.01, 0.3]}}}})
    return search.strategy()


def test_rounds_ladder_rows_share_a_configuration_and_the_sampler_learns_the_best_count():
    s = ladder_strategy()
    assert s.counts() == {"xgboost": 18}  # 6 configurations x rounds 10, 30, 90
    s.set_parallelism(1)
    rows = s.ask(10)
    assert sorted(t.params["n_estimators"] for t in rows) == [10, 30, 90]
    assert len({tuple(sorted((k, v) for k, v in t.params.items() if k != "n_estimators")) for t in rows}) == 1
    assert s.ask(10) == []  # one slot: the configuration is still out
    scores = {10: 5.0, 30: 3.0, 90: 4.0}
    s.tell([done(t, scores[t.params["n_estimators"]]) for t in rows[:2]])
    assert len(s._studies["xgboost"].trials) == 1 and s._studies["xgboost"].trials[0].value is None  # waiting
    s.tell([done(rows[2], scores[90])])
    assert s._studies["xgboost"].trials[0].value == 3.0  # the configuration's best count


def test_random_search_ladder_and_its_rules():
    s = ladder_strategy("random", n_trials=4)
    trials = s.trials()
    assert len(trials) == sum(s.counts().values()) == 12
    from tuner.errors import ConfigError

    for search in ({"strategy": "grid", "max_resource": 90},
                   {"strategy": "tpe", "max_resource": 90, "resource": "max_depth"}):
        with pytest.raises(ConfigError):
            load_config({"data": {"dataset": "diabetes"}, "search": search, "models": {"xgboost": {"max_depth": [2]}}})
    with pytest.raises(ConfigError, match="models.xgboost.n_estimators"):  # the ladder sets the rounds itself
        load_config({"data": {"dataset": "diabetes"}, "search": {"strategy": "tpe", "max_resource": 90},
                     "models": {"xgboost": {"n_estimators": [50]}}})


def bohb(seed: int = 0):
    from tuner.search import Search

    return Search({"data": {"dataset": "diabetes"},
                   "search": {"strategy": "bohb", "min_resource": 1, "max_resource": 27, "seed": seed},
                   "models": {"xgboost": {k: v for k, v in SPACE.items() if k != "n_estimators"}}}).strategy()


def drive_rungs(s, slots: int) -> list[Trial]:
    """An engine with ``slots`` slots over a rung objective: more rounds, lower loss."""
    s.set_parallelism(slots)
    running: list[Trial] = []
    asked: list[Trial] = []
    while True:
        running += (new := s.ask(100))
        asked += new
        if not running:
            return asked
        t = running.pop(0)
        s.tell([done(t, loss(t.params) + 1.0 / t.params["n_estimators"])])


def test_bohb_runs_every_bracket_and_rung_and_learns_from_the_largest_budget():
    s = bohb()
    asked = drive_rungs(s, slots=2)
    expected = {(b.bracket, i): r.n_configs for b in s.brackets() for i, r in enumerate(b.rungs)}
    got: dict = {}
    for t in asked:
        got[(t.bracket, t.rung)] = got.get((t.bracket, t.rung), 0) + 1
    assert got == expected  # Hyperband's schedule, rung by rung
    assert len(asked) == s.total()
    levels = s._levels["xgboost"]
    assert max(levels) == 27 and sum(t.state.name == "COMPLETE" for t in levels[27].trials) >= 6
    # once a budget has enough results, proposals come from TPE (not only from the random draws)
    assert s._model_based(next(m for m in s.models)) is not None


def test_bohb_keeps_new_proposals_to_the_free_slots():
    s = bohb()
    s.set_parallelism(3)
    first = s.ask(100)
    assert len(first) == 3 and all(t.rung == 0 for t in first)
