"""``tuner report``: a self-contained HTML page, on real grid-search results and on Hyperband-like rows."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import small_config
from tests.test_plots import grid_frame, hyperband_frame, store_frame
from tuner.cli import main
from tuner.report import render_report, write_report

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
    assert re.search(r'(?:src|href)="(?!data:)', page) is None  # nothing to fetch: opens from disk
    check_images(page, 3)
    assert 'id="rungs"' not in page


def test_report_on_hyperband_results(tmp_path):
    url = store_frame(hyperband_frame(), str(tmp_path / "hb"))
    path = write_report(url, str(tmp_path / "hb.html"))
    assert path == str(tmp_path / "hb.html")
    page = Path(path).read_text()
    assert "<td>evaluations</td>" in page and "one per trial and rung" in page
    assert "<th>rung</th>" in page and "trials that reached a larger budget come first" in page
    assert 'id="rungs"' in page
    check_images(page, 4)


def test_report_escapes_text():
    df = grid_frame()
    df.loc[df["status"] == "failed", "error"] = "ValueError: <script>alert(1)</script>"
    page = render_report(df, title="a<b")
    assert "<script>" not in page and "&lt;script&gt;" in page and "tuner report: a&lt;b" in page


def test_report_of_nothing_is_an_input_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing"), "--output", str(tmp_path / "r.html")]) == 2
    assert "config key 'results'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


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
    page = Path(write_report(search.config.results_url, str(tmp_path / "hb.html"))).read_text()
    assert 'id="rungs"' in page and "<th>rung</th>" in page
    check_images(page, 4)
