"""Every way a user can get the ``tuner`` command wrong gets one clear line and a documented exit
code: never a traceback, and nothing written where nothing should be.

The table runs the command in process (fast); the cases that need a real terminal-like process
(a closed pipe, Ctrl-C) run it as a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import config_file, small_config
from tuner.cli import main
from tuner.record import TrialRecord
from tuner.store import ResultStore, result_schema
from tuner.trial import Trial

TUNER = [sys.executable, "-m", "tuner"]


def write_records(folder: Path, n: int = 4, metric: str = "rmse", failed: int = 0) -> Path:
    """A results location holding ``n`` trials scored with ``metric`` (``failed`` of them failed)."""
    records = []
    for i in range(n):
        t = Trial.create("xgboost", {"max_depth": i}, f"ctx-{metric}")
        if i < failed:
            records.append(TrialRecord.failed(t, metric, "ValueError: max_depth too deep\nmore detail").as_row())
        else:
            records.append(TrialRecord.ok(t, metric, [1.0 + i, 1.5 + i]).as_row())
    ResultStore(str(folder)).write(records, result_schema({"max_depth": list(range(n))}, 2))
    return folder


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


def _cfg(tmp_path: Path, **overrides) -> str:
    return str(config_file(tmp_path, small_config(tmp_path, **overrides)))


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


GRID_5 = {"xgboost": {"max_depth": [2, 3], "learning_rate": 0.3}}
BUDGET = {"min_resource": 5, "max_resource": 15, "eta": 3}
STRATEGY_SECTIONS = {
    "grid": {"strategy": "grid"},
    "random": {"strategy": "random", "n_trials": 3},
    "successive_halving": {"strategy": "successive_halving", "n_trials": 3, **BUDGET},
    "hyperband": {"strategy": "hyperband", **BUDGET},
    "asha": {"strategy": "asha", "n_trials": 3, **BUDGET},
}

CASES = [
    Case("name-dotdot", lambda p: ["run", _cfg(p, name="..")], 2, r"config key 'name': got '\.\.'; allowed: one folder"),
    Case("name-slash", lambda p: ["validate", _cfg(p, name="a/b")], 2, r"config key 'name': got 'a/b'"),
    Case("name-hidden", lambda p: ["validate", _cfg(p, name="_x")], 2, r"config key 'name': got '_x'"),
    Case("model-typo", lambda p: ["validate", _cfg(p, models={"xgbost": {"max_depth": [2]}})], 2,
         r"config key 'models.xgbost'.*did you mean 'xgboost'\?"),
    Case("section-key-at-top", lambda p: ["validate", _cfg(p, sample=100)], 2,
         r"config key 'sample'.*did you mean 'data\.sample'\?"),
    Case("results-is-a-file", lambda p: ["run", _cfg(p), "--results", _file(p)], 2, r"is a file"),
    Case("results-under-a-file", lambda p: ["run", _cfg(p), "--results", _file(p) + "/inside"], 2, r"is a file"),
    Case("read-only-results", lambda p: ["run", _cfg(p), "--results", _read_only(p)], 2,
         r"cannot write to results location .*read-only", untouched="read-only/small",
         marks=[pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")]),
    Case("scheduler-not-answering", lambda p: ["run", _cfg(p), "--cluster", "tcp://127.0.0.1:1"], 2,
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
]


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
    cfg = _cfg(tmp_path, search=STRATEGY_SECTIONS[strategy], models=GRID_5)
    assert main(["plan", cfg]) == 0
    text = capsys.readouterr().out
    assert f"search 'small': strategy {strategy}" in text and "xgboost" in text and "total:" in text
    assert main(["plan", cfg, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["name"] == "small" and plan["strategy"] == strategy
    assert set(plan["models"]) == {"xgboost"} and plan["models"]["xgboost"]["finished"] == 0
    assert plan["finished_trials"] == 0 and plan["to_run"] == plan["total_trials"] > 0
    if strategy in ("successive_halving", "hyperband", "asha"):
        assert plan["brackets"] and plan["continued_resources"] <= plan["total_resources"]
    assert main(["validate", cfg]) == 0
    assert capsys.readouterr().out.startswith("ok: 'small' is valid")
    assert not (tmp_path / "results").exists()


def test_counts_read_as_english(tmp_path, capsys):
    one = _cfg(tmp_path, models={"xgboost": {"max_depth": [2]}})
    assert main(["validate", one]) == 0
    assert "1 trial, 3 fits" in capsys.readouterr().out
    # random search of a space with two points: two trials, not n_trials
    two = _cfg(tmp_path, search={"strategy": "random", "n_trials": 10}, models={"xgboost": {"max_depth": [2, 3]}})
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
    cfg = _cfg(tmp_path, models=grid)
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


@pytest.mark.slow
def test_run_where_every_trial_fails(tmp_path):
    cfg = _cfg(tmp_path, models={"lightgbm": {"bagging_fraction": [1.2, 1.5], "n_estimators": [5]}})
    proc = subprocess.run([*TUNER, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "2 x lightgbm: lightgbm.basic.LightGBMError: Check failed: (bagging_fraction) <= (1.0)" in proc.stdout
    assert "no trial succeeded" in proc.stderr
    assert len(pd.read_parquet(tmp_path / "results" / "small")) == 2  # the failures are kept


def test_closed_pipe_is_silent(tmp_path):
    folder = write_records(tmp_path / "r", n=2000)
    proc = subprocess.Popen([*TUNER, "results", str(folder), "--json", "--top", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)  # `| head -c 100`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


@pytest.mark.slow
def test_ctrl_c_saves_what_finished_and_says_how_to_resume(tmp_path):
    models = {"xgboost": {"max_depth": list(range(2, 10)), "min_child_weight": list(range(1, 30)),
                          "n_estimators": [30], "learning_rate": 0.3}}
    cfg = _cfg(tmp_path, models=models)
    proc = subprocess.Popen([*TUNER, "run", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as a terminal's job
    results = tmp_path / "results" / "small"
    deadline = time.monotonic() + 120
    while not list(results.glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(results.glob("part-*.parquet")), "no trial finished"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in out + err
    saved = len(pd.read_parquet(results))
    assert f"interrupted: {saved} trials saved in {results}; run the same command to resume" in err
    assert 0 < saved < len(models["xgboost"]["max_depth"]) * len(models["xgboost"]["min_child_weight"])
