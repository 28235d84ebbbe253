"""tuner.plots on synthetic results, grid-like and Hyperband-like, as DataFrames and as stored Parquet.

Figures are built without pyplot (nothing to close, no GUI backend); every test renders them to PNG
so that layout warnings surface as errors.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tests.support.records import grid_frame, hyperband_frame, mixed_frame, rung_ranking_frame, store_frame
from tuner import plots, results
from tuner.errors import ResultsError


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return buf.getvalue()


def visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]


# -- score against each parameter -------------------------------------------------------------


def test_score_vs_params_one_panel_per_varying_parameter():
    fig = plots.score_vs_params(grid_frame())
    axes = visible_axes(fig)
    by_param = {ax.get_xlabel(): ax for ax in axes}
    assert sorted(by_param) == ["booster", "extra_trees", "learning_rate", "max_depth", "num_leaves"]
    assert by_param["learning_rate"].get_xscale() == "log"  # 0.001 .. 1 spans three decades
    assert by_param["max_depth"].get_xscale() == "linear"
    assert [t.get_text() for t in by_param["booster"].get_xticklabels()] == ["dart", "gbtree"]
    assert fig.get_suptitle().startswith("rmse (lower is better)")
    assert axes[0].get_ylabel() == "rmse"
    assert png(fig)[:4] == b"\x89PNG"


def test_score_vs_params_colors_hyperband_rows_by_rung():
    df = hyperband_frame()
    fig = plots.score_vs_params(df)
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and "rung" in colorbars[0].get_ylabel()
    for ax in visible_axes(fig):  # every rung row is a trial: all drawn, not only the last rung
        model = "xgboost" if ax.get_title(loc="left") == "xgboost" else "lightgbm"
        assert len(ax.collections[0].get_offsets()) == (df["model"] == model).sum()
    png(fig)


def test_score_vs_params_stars_the_best_trial_of_each_model():
    df = hyperband_frame()
    fig = plots.score_vs_params(df)
    best = results.best_per_model(df).set_index("model")["mean_test_score"]
    for ax in visible_axes(fig):
        star = ax.collections[-1]
        assert star.get_offsets().shape == (1, 2)
        assert star.get_offsets()[0][1] == pytest.approx(best[ax.get_title(loc="left")])
    png(fig)


@pytest.mark.parametrize("metric, words", [("rmse", "lower is better"), ("r2", "higher is better")])
def test_every_title_names_the_metric_and_its_direction(metric, words):
    for name, fig in plots.all_figures(grid_frame(metric)).items():
        assert metric in fig.get_suptitle() and words in fig.get_suptitle(), name
        png(fig)


# -- parallel coordinates ---------------------------------------------------------------------


def test_parallel_coordinates_axes_and_lines():
    fig = plots.parallel_coordinates(grid_frame(), top=5)
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names[0] == "model" and names[-1] == "rmse"
    assert set(names[1:-1]) <= {"learning_rate", "max_depth", "booster", "num_leaves", "extra_trees"}
    trial_lines = [line for line in ax.lines if len(line.get_xdata()) == len(names)]
    assert len(trial_lines) == 5
    for line in trial_lines:  # normalised: every point in [0, 1] or on the 'n/a' row below
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all(((y >= 0) & (y <= 1)) | np.isclose(y, -0.12))
    # the score axis has the best (lowest rmse) at the top
    best_line = trial_lines[-1]  # drawn last
    assert best_line.get_ydata()[-1] == pytest.approx(1.0)
    assert "rmse (lower is better)" in fig.axes[1].get_ylabel()
    png(fig)


def test_parallel_coordinates_draws_the_best_trials_of_any_rung():
    df = rung_ranking_frame()
    fig = plots.parallel_coordinates(df, top=3)
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert "n_resources" in names  # the drawn trials have different budgets
    assert len([line for line in ax.lines if len(line.get_xdata()) == len(names)]) == 3
    assert fig.get_suptitle().startswith("Top 3 trials")
    png(fig)


# -- best over time ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["rmse", "r2"])
def test_best_over_time_is_a_running_best(metric):
    df = grid_frame(metric)
    fig = plots.best_over_time(df)
    by_time, by_count = fig.axes[:2]
    assert by_time.get_xlabel() == "finished at (UTC)" and by_count.get_xlabel() == "trials finished"
    overall = next(line for line in by_count.lines if line.get_label() == "all models")
    y = np.asarray(overall.get_ydata(), dtype=float)
    steps = np.diff(y[~np.isnan(y)])
    assert np.all(steps <= 0) if metric == "rmse" else np.all(steps >= 0)
    ok = df["mean_test_score"].dropna()
    assert y[-1] == pytest.approx(ok.min() if metric == "rmse" else ok.max())
    assert len(overall.get_xdata()) == len(df)  # failed trials count as trials finished
    png(fig)


def test_best_over_time_counts_every_rung_as_a_trial():
    df = hyperband_frame()
    fig = plots.best_over_time(df)
    by_count = fig.axes[1]
    assert by_count.get_xlabel() == "trials finished (each rung a trial)"
    overall = next(line for line in by_count.lines if line.get_label() == "all models")
    assert len(overall.get_xdata()) == len(df)
    assert overall.get_ydata()[-1] == pytest.approx(results.best_trials(df, 1)["mean_test_score"].iloc[0])
    assert sum(len(c.get_offsets()) for c in by_count.collections) == len(df)  # every rung row a dot
    png(fig)


# -- Hyperband / ASHA -------------------------------------------------------------------------


def test_rungs_one_panel_per_bracket_one_line_per_trial():
    df = hyperband_frame()
    fig = plots.rungs(df)
    axes = visible_axes(fig)
    assert [ax.get_title(loc="left") for ax in axes] == [
        "bracket 0 (9 configurations, 13 trials)",  # 9 + 3 + 1 rungs, each its own trial
        "bracket 1 (3 configurations, 4 trials)",
    ]
    for bracket, ax in enumerate(axes):
        rows = df[df["bracket"] == bracket]
        assert len(ax.lines) == rows["config_id"].nunique()  # one line per configuration
        for line in ax.lines:  # each line follows one configuration: budgets grow along it
            x = np.asarray(line.get_xdata(), dtype=float)
            assert np.all(np.diff(x) > 0)
        points = sum(len(c.get_offsets()) for c in ax.collections)
        assert points == len(rows)  # every rung of every trial, promoted or not
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in sorted(rows["n_resources"].unique())]
    assert axes[0].get_xscale() == "log"  # budgets 10 .. 90
    assert "n_resources" in axes[0].get_xlabel() and "rmse" in axes[0].get_ylabel()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"promoted", "stopped here", "xgboost", "lightgbm"} <= set(legend)
    png(fig)


def test_rungs_needs_hyperband_results():
    with pytest.raises(ValueError, match="rung"):
        plots.rungs(grid_frame())


def test_all_figures_detects_hyperband():
    assert list(plots.all_figures(grid_frame())) == ["score_vs_params", "parallel_coordinates", "best_over_time"]
    figs = plots.all_figures(hyperband_frame())
    assert "rungs" in figs
    for fig in figs.values():
        png(fig)


def test_top_trials_is_the_results_ranking_over_every_rung():
    df = rung_ranking_frame()
    top = plots.top_trials(df, 3)
    pd.testing.assert_frame_equal(top, results.best_trials(df, 3))
    # every successful trial competes, whatever its rung: no "top rung first"
    assert top["trial_id"].tolist() == ["c0-r0", "c1-r1", "c1-r2"]
    assert plots.top_trials(df, None)["trial_id"].tolist() == results.rank(df)["trial_id"].tolist()
    hb = hyperband_frame()
    pd.testing.assert_frame_equal(plots.top_trials(hb, 5), results.best_trials(hb, 5))


def test_top_trials_breaks_ties_by_trial_id():
    df = grid_frame().assign(mean_test_score=lambda d: d["mean_test_score"].where(d["status"] != "ok", 1.0))
    assert plots.top_trials(df, 3)["trial_id"].tolist() == ["t001", "t002", "t003"]


def test_trial_ids_are_never_rewritten():
    df = hyperband_frame()
    loaded = plots.load_results(df)
    assert loaded["trial_id"].tolist() == df["trial_id"].tolist()  # one id per rung row
    assert "row_id" not in loaded.columns and loaded["config_id"].tolist() == df["config_id"].tolist()
    grid = grid_frame()
    assert plots.load_results(grid) is grid  # a DataFrame is used as is
    no_promoted = df.drop(columns=["promoted"])
    with_promoted = plots.load_results(no_promoted)  # read with pandas: promotions derived, on a copy
    assert with_promoted["promoted"].tolist() == df["promoted"].tolist()
    assert "promoted" not in no_promoted.columns


# -- reading ----------------------------------------------------------------------------------


def test_reads_a_location_like_a_dataframe(tmp_path):
    df = grid_frame()
    url = store_frame(df, str(tmp_path / "res"))
    loaded = plots.load_results(url)
    assert len(loaded) == len(df)
    assert len(visible_axes(plots.score_vs_params(url))) == len(visible_axes(plots.score_vs_params(df)))


def test_reading_keeps_one_row_per_trial_and_rung(tmp_path):
    df = hyperband_frame()
    url = store_frame(df, str(tmp_path / "hb"))
    again = df.head(3).assign(mean_test_score=99.0, finished_at=df["finished_at"].head(3) + pd.Timedelta(hours=1))
    store_frame(again, url)  # the same trial (one rung) written again later: the first finished wins
    loaded = plots.load_results(url)
    assert len(loaded) == len(df)
    assert loaded["mean_test_score"].max() < 99.0
    assert sorted(loaded["trial_id"]) == sorted(df["trial_id"])  # each rung keeps its own trial id
    assert loaded["promoted"].sum() == df["promoted"].sum()
    assert results.is_budgeted(loaded) and not results.is_budgeted(grid_frame())
    assert plots.load_results(str(tmp_path / "nothing")).empty


def test_reading_foreign_parquet_is_a_results_error(tmp_path):
    folder = tmp_path / "foreign"
    folder.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_parquet(folder / "part-0.parquet")
    with pytest.raises(ResultsError, match="not tuner results"):
        plots.score_vs_params(str(folder))


# -- errors and options -----------------------------------------------------------------------


@pytest.mark.parametrize("func", [plots.score_vs_params, plots.parallel_coordinates, plots.best_over_time])
def test_nothing_to_plot(func):
    failed = grid_frame().assign(status="failed", mean_test_score=None)
    with pytest.raises(ValueError, match="no successful trial"):
        func(failed)
    with pytest.raises(ValueError, match="no successful trial"):
        func(pd.DataFrame())


ALL_PLOTS = [plots.score_vs_params, plots.parallel_coordinates, plots.best_over_time, plots.all_figures]


@pytest.mark.parametrize("func", ALL_PLOTS)
def test_mixed_metrics_need_a_choice(func):
    df = mixed_frame()
    with pytest.raises(ResultsError) as err:
        func(df)
    with pytest.raises(ResultsError) as expected:
        results.select_metric(df)
    assert str(err.value) == str(expected.value)  # the message of tuner.results
    assert "mix metrics r2, rmse" in str(err.value)
    with pytest.raises(ResultsError, match="no trial was scored with metric 'logloss'"):
        func(df, metric="logloss")


@pytest.mark.parametrize("metric, words", [("rmse", "lower is better"), ("r2", "higher is better")])
def test_a_chosen_metric_plots_its_rows_only(metric, words):
    df = mixed_frame()
    figs = plots.all_figures(df, metric=metric)
    assert list(figs) == ["score_vs_params", "parallel_coordinates", "best_over_time"]
    for fig in figs.values():
        assert metric in fig.get_suptitle() and words in fig.get_suptitle()
    overall = next(line for line in figs["best_over_time"].axes[1].lines if line.get_label() == "all models")
    assert len(overall.get_xdata()) == (df["metric"] == metric).sum()
    assert plots.top_trials(df, 3, metric)["metric"].eq(metric).all()
    assert plots.rungs(hyperband_frame(), metric="rmse").get_suptitle().endswith("against budget")


def test_draws_into_a_given_figure():
    fig = Figure()
    assert plots.best_over_time(grid_frame(), fig=fig) is fig
    assert tuple(fig.get_size_inches()) == (12.0, 4.4)
    png(fig)
