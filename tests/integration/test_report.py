"""``tuner report`` on real searches: a grid search on the cluster (one page, the CLI, a headless
browser) and a real Hyperband run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.configs import budget_config, small_config
from tests.support.pages import check_images, section, table_column
from tuner import results
from tuner.cli import main
from tuner.report import render_report, report_tables, write_report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def grid_results(tmp_path_factory, cluster) -> str:
    """A real grid search on diabetes: three models, one of them with points LightGBM rejects."""
    from distributed import Client

    from tuner.search import Search

    cfg = small_config(tmp_path_factory.mktemp("report"))
    cfg["models"]["lightgbm"] = {"num_leaves": [4, 8], "n_estimators": [10], "bagging_fraction": [0.8, 1.2],
                                 "bagging_freq": 1, "verbose": -1}
    search = Search(cfg)
    with Client(cluster) as client:
        result = search.run(client, progress=False, refit=False)
    assert (result.results_["status"] == "failed").sum() == 2  # bagging_fraction 1.2
    return search.config.results_url


def test_cli_report_on_a_grid_search(grid_results, tmp_path, capsys):
    out = tmp_path / "site" / "report.html"
    assert main(["report", grid_results, "--output", str(out)]) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    page = out.read_text()
    for heading in ("Summary", "Best trial per model", "Top 8 trials", "Failed trials (2)", "Plots"):  # 8 succeeded
        assert f"<h2>{heading}</h2>" in page
    for model in ("xgboost", "lightgbm", "sklearn.ensemble.HistGradientBoostingRegressor"):
        assert f"<td>{model}</td>" in page
    assert "rmse (lower is better)" in page
    assert "<td>10 trials (8 ok, 2 failed)</td>" in page  # a grid: no configurations line
    assert "<th>config_id</th>" not in page
    assert re.search(r'(?:src|href)="(?!data:)', page) is None  # nothing to fetch: opens from disk
    check_images(page, 3)
    assert 'id="rungs"' not in page


def test_report_agrees_with_tuner_results_json(grid_results, capsys):
    assert main(["results", grid_results, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    tables = report_tables(results.read_results(grid_results))
    assert tables["top"]["trial_id"].tolist() == [r["trial_id"] for r in summary["best"]]
    assert tables["best_per_model"]["trial_id"].tolist() == [r["trial_id"] for r in summary["best_per_model"]]
    c = tables["counts"]
    assert (c.trials, c.ok, c.failed, c.configurations, c.models) == (
        summary["trials"], summary["ok"], summary["failed"], summary["configurations"], summary["models"])
    assert tables["failures"][["model", "error", "trials"]].to_dict("records") == [
        {k: f[k] for k in ("model", "error", "trials")} for f in summary["failures"]]
    page = render_report(grid_results)
    assert table_column(section(page, "Top "), "trial_id") == tables["top"]["trial_id"].tolist()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package 'chromium')")
def test_report_renders_in_a_headless_browser(grid_results, tmp_path):
    html = Path(write_report(grid_results, str(tmp_path / "report.html")))
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,3000",
        html.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 3000)
    rgb = np.asarray(img, dtype=np.int16)
    assert (rgb.min(axis=2) < 235).mean() > 0.03  # text, tables and plots: not a blank page
    colored = (rgb.max(axis=2) - rgb.min(axis=2)) > 60  # plot colors; tables and text are grey
    assert colored.mean() > 0.003
    assert colored[1000:].any(axis=1).sum() > 300  # the plots below the tables were drawn


def test_report_on_a_real_hyperband_run(cluster, tmp_path):
    from distributed import Client

    from tuner.search import Search

    search = Search(budget_config(tmp_path, "hyperband"))
    with Client(cluster) as client:
        result = search.run(client, progress=False, refit=False)
    assert result.results_["promoted"].any()
    url = search.config.results_url
    page = Path(write_report(url, str(tmp_path / "hb.html"))).read_text()
    assert 'id="rungs"' in page and "<th>rung</th>" in page and "<th>config_id</th>" in page
    tables = report_tables(results.read_results(url))
    assert table_column(section(page, "Top "), "trial_id") == tables["top"]["trial_id"].tolist()
    check_images(page, 4)
