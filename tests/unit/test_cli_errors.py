"""Every way a user can get the ``tuner`` command wrong gets one clear line and a documented exit
code: never a traceback, and nothing written where nothing should be.

The table runs the command in process (fast); the cases that need a real terminal-like process
(a closed pipe, Ctrl-C) are in tests/integration/test_cli_errors.py.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.configs import GRID_5, STRATEGY_SECTIONS, config_file, config_path, small_config
from tests.support.records import write_records
from tests.support.tables import customer_table, write
from tuner.cli import main
from tuner.trial import Trial


@dataclass
class Case:
    """One row of the table: how to set it up, what to run, what must come out."""

    id: str
    args: Any  # callable(tmp_path) -> argv
    code: int
    message: str  # a regular expression the one error line (or stdout) must match
    untouched: str | None = "results"  # a path under tmp_path that must not exist afterwards
    stream: str = "err"
    marks: list = field(default_factory=list)


def _file(tmp_path: Path) -> str:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return str(path)


def _read_only(tmp_path: Path) -> str:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder)


def _mixed(tmp_path: Path) -> str:
    write_records(tmp_path / "mixed", metric="rmse")
    write_records(tmp_path / "mixed", metric="mae")
    return str(tmp_path / "mixed")


def _foreign(tmp_path: Path) -> str:
    folder = tmp_path / "foreign"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), folder / "part-0001.parquet")
    return str(folder)


def _customers(tmp_path: Path, n: int = 60, change=None, kind: str = "csv", **data) -> str:
    """A configuration over a small table of one's own (an ID, categories, a date, a text label)."""
    frame = customer_table(n)
    if change is not None:
        frame = change(frame)
    path = write(frame, tmp_path / "data", kind)
    return config_path(tmp_path, data={"path": str(path), "target": "segment", **data}, metric="accuracy",
                       models={"xgboost": {"max_depth": [2]}})


def _with(target: str, value):
    def change(frame):
        frame = frame.copy()
        frame[target] = frame[target].astype(object)
        frame.loc[[1, 4], target] = value
        return frame
    return change


def _module(tmp_path: Path, source: str, model: str, **cfg) -> str:
    (tmp_path / "mine.py").write_text(source)
    return config_path(tmp_path, models={model: {}}, **cfg)


def _exported(tmp_path: Path) -> list[str]:
    return ["export", config_path(tmp_path), "--output", str(tmp_path / "model.joblib")]


CASES = [
    Case("name-dotdot", lambda p: ["run", config_path(p, name="..")], 2, r"config key 'name': got '\.\.'; allowed: one folder"),
    Case("name-slash", lambda p: ["validate", config_path(p, name="a/b")], 2, r"config key 'name': got 'a/b'"),
    Case("name-hidden", lambda p: ["validate", config_path(p, name="_x")], 2, r"config key 'name': got '_x'"),
    Case("model-typo", lambda p: ["validate", config_path(p, models={"xgbost": {"max_depth": [2]}})], 2,
         r"config key 'models.xgbost'.*did you mean 'xgboost'\?"),
    Case("section-key-at-top", lambda p: ["validate", config_path(p, sample=100)], 2,
         r"config key 'sample'.*did you mean 'data\.sample'\?"),
    Case("results-is-a-file", lambda p: ["run", config_path(p), "--results", _file(p)], 2, r"is a file"),
    Case("results-under-a-file", lambda p: ["run", config_path(p), "--results", _file(p) + "/inside"], 2, r"is a file"),
    Case("read-only-results", lambda p: ["run", config_path(p), "--results", _read_only(p)], 2,
         r"cannot write to results location .*read-only", untouched="read-only/small",
         marks=[pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")]),
    Case("scheduler-not-answering", lambda p: ["run", config_path(p), "--cluster", "tcp://127.0.0.1:1"], 2,
         r"no Dask scheduler answered at tcp://127\.0\.0\.1:1 within 5 s", untouched="results/small/part-*"),
    Case("results-of-a-file", lambda p: ["results", _file(p)], 2, r"is a file"),
    Case("results-missing", lambda p: ["results", str(p / "nothing")], 2, r"no results at .*nothing"),
    Case("report-missing", lambda p: ["report", str(p / "nothing"), "--output", str(p / "r.html")], 2,
         r"no results at .*nothing", untouched="r.html"),
    Case("results-mixed-metrics", lambda p: ["results", _mixed(p)], 2, r"mix metrics mae, rmse; choose one with --metric"),
    Case("report-mixed-metrics", lambda p: ["report", _mixed(p), "--output", str(p / "r.html")], 2,
         r"mix metrics mae, rmse", untouched="r.html"),
    Case("results-unknown-metric", lambda p: ["results", _mixed(p), "--metric", "auc"], 2,
         r"no trial was scored with metric 'auc'; the results have: mae, rmse"),
    Case("results-foreign-parquet", lambda p: ["results", _foreign(p)], 2, r"not tuner results \(no column 'trial_id'"),
    Case("report-foreign-parquet", lambda p: ["report", _foreign(p), "--output", str(p / "r.html")], 2,
         r"not tuner results", untouched="r.html"),
    Case("top-negative", lambda p: ["results", str(write_records(p / "r")), "--top", "-2"], 2,
         r"argument --top: got -2; allowed: an integer >= 1"),
    Case("unknown-verb", lambda p: ["rnu"], 2, r"invalid choice: 'rnu'"),
    Case("rows-budget-above-all-rows", lambda p: ["run", config_path(
        p, search={"strategy": "hyperband", "resource": "rows", "max_resource": 150})], 2,
         r"config key 'search\.max_resource': got 150; allowed: an integer >= 1 and <= 100"),
    # your own data: the data section's keys, the columns and the target
    Case("data-drop-and-features", lambda p: ["run", _customers(p, drop=["plan"], features=["city"])], 2,
         r"config key 'data\.drop'.*either data\.drop or data\.features, not both"),
    Case("data-features-typo", lambda p: ["run", _customers(p, features=["citty"])], 2,
         r"config key 'data\.features': got 'citty'.*did you mean 'city'\?"),
    Case("data-drop-the-target", lambda p: ["validate", _customers(p, drop=["segment"])], 2,
         r"config key 'data\.drop'.*'segment' is the target"),
    Case("data-categorical-leaves-text", lambda p: ["run", _customers(p, categorical=["city"])], 2,
         r"config key 'data\.categorical'.*column 'plan' holds text"),
    Case("data-dates-bad-value", lambda p: ["validate", _customers(p, dates="yes")], 2,
         r"config key 'data\.dates': got 'yes'; allowed: auto, drop, or a list"),
    Case("data-dates-not-dates", lambda p: ["validate", _customers(p, dates=["plan"])], 2,
         r"config key 'data\.dates': got 'plan'.*no value of it parses as a date"),
    Case("data-every-column-dropped", lambda p: ["run", _customers(p, drop=["city", "plan", "signup", "spend", "region"])],
         2, r"config key 'data'.*every column was left out: .*customer_id: identifier"),
    Case("data-glob-matches-nothing", lambda p: ["run", config_path(p, data={"path": str(p / "parts-*.parquet"),
                                                                             "target": "y"})], 2,
         r"config key 'data\.path'.*no such file or folder, or no file matches"),
    Case("data-empty-folder", lambda p: ["run", config_path(p, data={"path": str(_empty(p)), "target": "y"})], 2,
         r"config key 'data\.path'.*no such file or folder, or no file matches"),
    Case("target-missing-values", lambda p: ["run", _customers(p, change=_with("segment", None))], 2,
         r"config key 'data\.target': got 'segment'.*2 rows have none: rows 2, 5"),
    Case("target-class-smaller-than-folds", lambda p: ["run", _customers(p, change=_with("segment", "vip"))], 2,
         r"class 'vip' has 2 rows; lower cv\.folds"),
    Case("target-single-class", lambda p: ["validate", _customers(p, change=lambda f: f.assign(segment="gold"))], 2,
         r"at least two classes for classification \(every row is 'gold'\)"),
    Case("task-regression-with-text-target", lambda p: ["run", config_path(p, task="regression", data={
        "path": str(write(customer_table(30), p / "data", "csv")), "target": "segment"})], 2,
         r"config key 'data\.target'.*a numeric column for task 'regression'"),
    # your own estimators
    Case("model-module-fails-to-import", lambda p: ["run", _module(p, "import no_such_package\n", "mine.make")], 2,
         r"config key 'models\.mine\.make'.*No module named 'no_such_package'"),
    Case("factory-returns-no-estimator", lambda p: ["validate", _module(p, "def make():\n    return 42\n", "mine.make")],
         2, r"config key 'models\.mine\.make'.*it returned a int"),
    Case("code-path-missing", lambda p: ["validate", config_path(p, code=["nothere.py"])], 2,
         r"config key 'code': got 'nothere\.py'.*no such module or package"),
    Case("fidelity-without-round-counts", lambda p: ["fidelity", str(write_records(p / "r"))], 2,
         r"no configuration at .* was scored at two round counts: run random or tpe with search\.max_resource"),
    # the best model as one object
    Case("export-without-results", _exported, 2, r"no successful trial at .*results/small: run the search first",
         untouched="model.joblib"),
    Case("export-into-a-missing-folder", lambda p: ["export", config_path(p), "--output", str(p / "no" / "m.joblib")],
         2, r"config key '--output'.*a file in an existing folder"),
]


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty-table"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    return folder


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_cli_error_table(case: Case, tmp_path, capsys):
    argv = case.args(tmp_path)
    started = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    text = err if case.stream == "err" else out
    assert code == case.code, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines  # one line naming the problem
    assert lines[0].startswith("tuner: error: ")
    import re

    assert re.search(case.message, lines[0]), lines[0]
    if case.untouched:
        assert not list(tmp_path.glob(case.untouched)), f"{case.untouched} was written"
    assert time.monotonic() - started < 60  # a scheduler that does not answer fails fast, not after 30 s


@pytest.mark.parametrize("strategy", list(STRATEGY_SECTIONS))
def test_plan_text_and_json_for_every_strategy(strategy, tmp_path, capsys):
    cfg = config_path(tmp_path, search=STRATEGY_SECTIONS[strategy], models=GRID_5)
    assert main(["plan", cfg]) == 0
    text = capsys.readouterr().out
    assert f"search 'small': strategy {strategy}" in text and "xgboost" in text and "total:" in text
    assert main(["plan", cfg, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["name"] == "small" and plan["strategy"] == strategy
    assert set(plan["models"]) == {"xgboost"} and plan["models"]["xgboost"]["finished"] == 0
    assert plan["finished_trials"] == 0 and plan["to_run"] == plan["total_trials"] > 0
    if strategy in ("successive_halving", "hyperband", "asha", "bohb"):
        assert plan["brackets"] and plan["continued_resources"] <= plan["total_resources"]
    assert main(["validate", cfg]) == 0
    assert capsys.readouterr().out.startswith("ok: 'small' is valid")
    assert not (tmp_path / "results").exists()


def test_counts_read_as_english(tmp_path, capsys):
    one = config_path(tmp_path, models={"xgboost": {"max_depth": [2]}})
    assert main(["validate", one]) == 0
    assert "1 trial, 3 fits" in capsys.readouterr().out
    # random search of a space with two points: two trials, not n_trials
    two = config_path(tmp_path, search={"strategy": "random", "n_trials": 10}, models={"xgboost": {"max_depth": [2, 3]}})
    assert main(["plan", two, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_trials"] == 2


def test_configs_without_a_name_do_not_share_a_folder(tmp_path, capsys):
    for stem in ("first", "second"):
        cfg = small_config(tmp_path)
        del cfg["name"]
        assert main(["plan", str(config_file(tmp_path, cfg, f"{stem}.yaml")), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["results"].endswith(f"/{stem}")


def test_a_million_point_grid_is_counted_not_enumerated(tmp_path, capsys):
    grid = {"xgboost": {"max_depth": list(range(1, 101)), "min_child_weight": list(range(1, 101)),
                        "n_estimators": list(range(1, 101))}}
    cfg = config_path(tmp_path, models=grid)
    with mock.patch.object(Trial, "create", side_effect=AssertionError("a trial was built")):
        assert main(["validate", cfg]) == 0
        assert "1,000,000 trials" in capsys.readouterr().out
        assert main(["plan", cfg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_trials"] == 10**6


def test_results_metric_choice(tmp_path, capsys):
    folder = _mixed(tmp_path)
    assert main(["results", folder, "--metric", "mae", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metric"] == "mae" and summary["trials"] == 4


def test_failures_are_shown_and_nothing_succeeded_exits_1(tmp_path, capsys):
    folder = write_records(tmp_path / "r", n=3, failed=3)
    assert main(["results", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "3 x xgboost: ValueError: max_depth too deep" in out
    assert "no trial succeeded" in err
    assert main(["results", str(folder), "--json"]) == 0
    failures = json.loads(capsys.readouterr().out)["failures"]
    assert failures == [{"model": "xgboost", "error": "ValueError: max_depth too deep", "trials": 3,
                         "example": min(pd.read_parquet(folder)["trial_id"])}]
