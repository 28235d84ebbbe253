"""``tuner report``: a self-contained HTML page, on real grid-search results and on Hyperband-like rows."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import small_config
from tests.test_plots import grid_frame, hyperband_frame, mixed_frame, rung_ranking_frame, store_frame
from tuner import results
from tuner.cli import main
from tuner.errors import ResultsError
from tuner.report import render_report, report_tables, write_report

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)" height="(\d+)"')
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


def embedded_images(page: str) -> list[tuple[Image.Image, int, int]]:
    return [(Image.open(io.BytesIO(base64.b64decode(data))), int(w), int(h)) for data, w, h in IMG.findall(page)]


def non_white(img: Image.Image) -> float:
    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    return float((rgb.min(axis=2) < 235).mean())


def check_images(page: str, expected: int) -> None:
    images = embedded_images(page)
    assert len(images) == expected
    for img, width, height in images:
        assert img.format == "PNG"
        assert img.size == (width, height)  # the size the page reserves is the image's own
        assert width >= 600 and height >= 300
        assert non_white(img) > 0.02  # axes, points and lines, not a blank canvas


def section(page: str, heading: str) -> str:
    """The HTML from an <h2> heading to the next one."""
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:] if end < 0 else page[start:end]


def table_column(html: str, header: str) -> list[str]:
    """The cells (as text) of the column named ``header`` of the first table in ``html``."""
    head, body = html.split("</thead>", 1)
    index = re.findall(r"<th>(.*?)</th>", head).index(header)
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("</tbody>", 1)[0])
    return [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", row)[index]) for row in rows]


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

    from tests.test_hyperband import budget_config
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
