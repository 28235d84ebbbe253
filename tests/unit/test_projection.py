"""Cost before the run: the fit tasks a search submits, and the projection's arithmetic on a
timing model given by the test (no calibration, no timing)."""

from __future__ import annotations

import pytest

from tests.support.configs import small_config
from tuner.cli import main
from tuner.projection import FitTask, TimeModel, fit_tasks, project
from tuner.search import Search


def test_longest_first_on_slots_with_the_last_wave_tail():
    p = project([1.0] * 4, workers=2, task_overhead=0)
    assert (p.wall_seconds, p.busy_seconds, p.efficiency) == (2.0, 4.0, 1.0)
    p = project([3, 3, 2, 2, 2], workers=2, task_overhead=0)  # LPT: 3+2+2 | 3+2
    assert p.wall_seconds == 7 and p.tail_seconds == 1 and p.efficiency == pytest.approx(12 / 2 / 7)
    p = project([10, 1, 1, 1, 1], workers=4, task_overhead=0)  # one long fit: the tail is the run
    assert p.wall_seconds == 10 and p.tail_seconds == 10 - 14 / 4 and p.efficiency == pytest.approx(14 / 4 / 10)
    assert project([1.0] * 10, workers=1000, task_overhead=0.5).wall_seconds == 1.5  # overhead per task


def test_fit_tasks_share_rounds_and_split_folds(tmp_path):
    cfg = small_config(tmp_path, models={"xgboost": {"max_depth": [2, 3], "n_estimators": [10, 20, 40]}})
    search = Search(cfg)
    tasks = fit_tasks(search.strategy().trials(), folds=3)
    assert len(tasks) == 2 * 3  # two shared fits (one per depth), three folds each
    assert {t.rounds for t in tasks} == {40}


def test_projection_of_a_search_from_given_time_models(tmp_path):
    cfg = small_config(tmp_path, models={"xgboost": {"max_depth": [2, 3], "n_estimators": [10, 20, 40]}})
    fake = {"xgboost": TimeModel(overhead=1.0, per_unit=0.0)}  # every fold fit: one second
    projections, models = Search(cfg).projection([1, 2, 6, 100], fake)
    assert models is fake
    walls = [round(p.wall_seconds) for p in projections]
    assert walls == [6, 3, 1, 1] and projections[0].busy_seconds == 6.0
    assert projections[-1].efficiency < 0.1  # 100 slots for 6 tasks: mostly idle


def test_budgeted_and_budget_cut_work(tmp_path):
    cfg = small_config(tmp_path, search={"strategy": "hyperband", "min_resource": 3, "max_resource": 27},
                       models={"xgboost": {"learning_rate": {"uniform": [0.1, 0.3]}}})
    search = Search(cfg)
    work = search._work()
    assert len(work) == search.strategy().total()  # every rung of every bracket
    assert sum(t.rounds for t in fit_tasks(work, 3)) == search.plan().spend["rounds"]  # continued: extra rounds
    cfg = small_config(tmp_path, search={"strategy": "random", "n_trials": 100, "max_resource": 27, "min_resource": 3,
                                         "budget": {"rounds": 810}}, models={"xgboost": {"max_depth": {"randint": [2, 9]},
                                                                                         "learning_rate": {"uniform": [0.1, 0.3]}}})
    assert len(fit_tasks(Search(cfg)._work(), 3)) == 810 // 27 // 3 * 3  # the budget's worth of fits


def test_plan_calibrate_on_the_command_line(tmp_path, capsys):
    cfg = small_config(tmp_path, models={"xgboost": {"max_depth": [2], "n_estimators": [5]}})
    from tests.support.configs import config_file

    path = str(config_file(tmp_path, cfg))
    assert main(["plan", path, "--calibrate", "--workers", "1", "4", "--price-per-core-hour", "0.05", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert [p["workers"] for p in out["projection"]] == [1, 4] and "cost" in out["projection"][0]
    assert out["calibration"]["xgboost"]["overhead_s"] >= 0
    assert main(["plan", path, "--workers", "4"]) == 2  # a projection needs --calibrate
    assert "--calibrate" in capsys.readouterr().err
    assert FitTask("m", {}, 1).rounds == 1
