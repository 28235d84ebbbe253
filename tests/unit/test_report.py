"""``tuner report``: a self-contained HTML page, on Hyperband-like and grid-like rows made up for the test.

The report of real searches on a cluster is tests/integration/test_report.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.support.pages import check_images, section, table_column
from tests.support.records import grid_frame, hyperband_frame, mixed_frame, rung_ranking_frame, store_frame
from tuner import results
from tuner.cli import main
from tuner.errors import ResultsError
from tuner.report import render_report, report_tables, write_report


def test_report_on_hyperband_results(tmp_path):
    df = hyperband_frame()
    url = store_frame(df, str(tmp_path / "hb"))
    path = write_report(url, str(tmp_path / "hb.html"))
    assert path == str(tmp_path / "hb.html")
    page = Path(path).read_text()
    n, configs = len(df), df["config_id"].nunique()
    assert f"<td>{n} trials ({n} ok, 0 failed), {configs} configurations</td>" in page  # 17 trials, 12 configs
    assert "<td>rungs</td>" in page and "each rung of a configuration is its own trial" in page
    top = section(page, "Top ")
    for column in ("trial_id", "config_id", "rung", "n_resources"):
        assert f"<th>{column}</th>" in top
    assert "every rung of a configuration is its own trial" in top.lower()
    # trial ids are the rows' own (one per rung), not configuration ids
    best = results.best_trials(results.read_results(url), 10)
    assert table_column(top, "trial_id") == best["trial_id"].tolist()
    assert table_column(top, "config_id") == best["config_id"].tolist()
    assert table_column(top, "rung") == [str(r) for r in best["rung"]]
    assert all("-r" in t for t in table_column(top, "trial_id"))
    assert 'id="rungs"' in page
    check_images(page, 4)


def test_report_tables_are_the_results_api():
    df = pd.concat([hyperband_frame(), rung_ranking_frame().assign(bracket=5)], ignore_index=True)
    df.loc[df["trial_id"] == "c2-r0", ["status", "mean_test_score", "error"]] = ["failed", None, "ValueError: x\ny"]
    tables = report_tables(df, top=4)
    pd.testing.assert_frame_equal(tables["top"], results.best_trials(df, 4))
    pd.testing.assert_frame_equal(tables["best_per_model"], results.best_per_model(df))
    pd.testing.assert_frame_equal(tables["failures"], results.failures(df, None))
    assert tables["counts"] == results.counts(df)
    assert tables["metric"] == "rmse" and tables["budgeted"]
    assert tables["failures"][["model", "error", "trials"]].values.tolist() == [["lightgbm", "ValueError: x", 1]]
    summary = dict(tables["summary"])
    c = results.counts(df)
    assert summary["trials"] == f"{c.trials} trials ({c.ok} ok, {c.failed} failed), {c.configurations} configurations"
    assert summary["best"].startswith(f"rmse = {tables['top']['mean_test_score'].iloc[0]:.6g}")
    assert tables["top"]["trial_id"].iloc[0] in summary["best"]


def test_report_ranks_every_rung():
    df = rung_ranking_frame()
    page = render_report(df)
    top = section(page, "Top ")
    assert table_column(top, "trial_id") == ["c0-r0", "c1-r1", "c1-r2", "c1-r0", "c2-r0", "c0-r1"]
    assert "trial c0-r0, configuration c0, rung 0, n_resources 10" in page  # the best: rung 0 of c0


def test_report_of_mixed_metrics_needs_a_choice():
    df = mixed_frame()
    with pytest.raises(ResultsError, match="mix metrics r2, rmse"):
        render_report(df)
    tables = report_tables(df, metric="r2")
    pd.testing.assert_frame_equal(tables["top"], results.best_trials(df, 10, "r2"))
    assert tables["counts"] == results.counts(df[df["metric"] == "r2"])
    page = render_report(df, metric="r2")
    assert "r2 (higher is better)" in page and f"<td>{tables['counts'].trials} trials (" in page
    check_images(page, 3)
    with pytest.raises(ResultsError, match="no trial was scored with metric 'mae'"):
        render_report(df, metric="mae")


def test_report_of_an_all_failed_search():
    df = grid_frame().assign(status="failed", mean_test_score=None, error="ValueError: bad parameter\nmore")
    page = render_report(df)
    assert "<h2>Plots</h2>" not in page and "<img" not in page
    assert "<h2>Best trial per model</h2>" not in page and "No trial succeeded" in page
    failed = section(page, f"Failed trials ({len(df)})")
    expected = results.failures(df, None)
    assert len(expected) == 2  # one group per model
    for _, row in expected.iterrows():
        assert f"<td>{row['model']}</td><td><code>ValueError: bad parameter</code></td>" in failed
        assert f'<td class="num">{row["trials"]}</td>' in failed
    assert "more" not in failed  # the first line only


def test_report_escapes_text():
    df = grid_frame()
    df.loc[df["status"] == "failed", "error"] = "ValueError: <script>alert(1)</script>"
    page = render_report(df, title="a<b")
    assert "<script>" not in page and "&lt;script&gt;" in page and "tuner report: a&lt;b" in page


def test_report_of_nothing_is_an_input_error(tmp_path, capsys):
    missing = str(tmp_path / "missing")
    assert main(["report", missing, "--output", str(tmp_path / "r.html")]) == 2
    assert f"no results at {missing}: no part files there" in capsys.readouterr().err
    with pytest.raises(ResultsError, match=f"no results at {re.escape(missing)}: no part files there"):
        write_report(missing, str(tmp_path / "r.html"))
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(ResultsError, match="no trials to report"):
        render_report(pd.DataFrame())


def test_report_of_a_results_root_names_its_searches(tmp_path):
    store_frame(grid_frame(), str(tmp_path / "root" / "one"))
    with pytest.raises(ResultsError, match="several searches; pick one: .*root/one"):
        write_report(str(tmp_path / "root"), str(tmp_path / "r.html"))
