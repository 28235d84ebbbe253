"""Plots of what a search found, from a results location or a DataFrame of results.

Every function takes the results (a path or URL such as ``results/california-gbdt`` or
``s3://bucket/prefix/name``, or a DataFrame read with :func:`tuner.results.read_results` or
pandas) and returns a :class:`matplotlib.figure.Figure`:

* :func:`score_vs_params` — the score against each parameter, one row of panels per model;
* :func:`parallel_coordinates` — the best trials across all their parameters at once;
* :func:`best_over_time` — the best score so far against time and against trials finished;
* :func:`rungs` — successive halving / Hyperband / ASHA only: each configuration's score rung by
  rung as its budget grows.

Figures are built without pyplot (no global state, no GUI backend, safe in servers and worker
threads). In Jupyter they display when they are the last expression of a cell; elsewhere save
them with ``fig.savefig("plot.png")``, or pass ``fig=plt.figure()`` to draw into a pyplot figure.

The words and the ranking are those of :mod:`tuner.results`: a **trial** is one row (one
``trial_id``). In successive halving, Hyperband and ASHA (rows with a ``rung``) each rung of a
configuration is its own trial, a complete model with that rung's budget (``n_resources``
boosting rounds), and ``config_id`` groups the rungs of one configuration. Every successful trial
is drawn and ranked, whatever its rung; the best is the best ``mean_test_score`` in the metric's
direction (ties: the smaller ``trial_id``). Results that mix metrics need ``metric=...``.

Example
-------
>>> from tuner import plots
>>> fig = plots.score_vs_params("results/california-gbdt")    # doctest: +SKIP
>>> fig.savefig("score_vs_params.png")                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tuner import results as res
from tuner.metrics import greater_is_better

Results: TypeAlias = str | os.PathLike | pd.DataFrame

#: a numeric parameter is drawn on a log axis when all its values are positive and
#: the largest is at least this many times the smallest
LOG_SPAN = 20.0
_MISSING_Y = -0.12  # where a parallel-coordinates line crosses an axis it has no value for


# -- reading and selecting rows ---------------------------------------------------------------


def load_results(results: Results, storage_options: dict | None = None) -> pd.DataFrame:
    """The results as a DataFrame, one row per trial: a DataFrame is used as is, a location is read.

    A location is read with :func:`tuner.results.read_results` (one row per ``trial_id``, the
    first finished wins; for rung results a ``promoted`` column). A DataFrame is returned
    unchanged, except that rung results without ``promoted`` (read with pandas) get it, on a
    copy. ``trial_id`` is never rewritten: in rung results each rung row keeps its own trial id
    and ``config_id`` names its configuration (see :func:`tuner.results.configurations`).

    Parameters
    ----------
    results : str, os.PathLike or DataFrame
        A search's results location (folder, ``s3://...``, ``gs://...``, ``memory://...``) or
        a DataFrame of results.
    storage_options : dict, optional
        Passed to fsspec for remote locations (credentials, endpoint).

    Returns
    -------
    DataFrame
        One row per trial (each rung its own trial), in finishing order.

    Raises
    ------
    tuner.errors.ResultsError
        When the location holds Parquet files that are not tuner results.

    Examples
    --------
    >>> df = load_results("results/california-gbdt")           # doctest: +SKIP
    >>> df.groupby("model")["mean_test_score"].min()          # doctest: +SKIP
    """
    if isinstance(results, pd.DataFrame):
        if "promoted" not in results.columns and res.is_budgeted(results):
            return res.with_promotions(results)
        return results
    return res.read_results(os.fspath(results), storage_options)


def _select(results: Results, metric: str | None, storage_options: dict | None) -> tuple[pd.DataFrame, str | None]:
    """The rows of one metric (see :func:`tuner.results.select_metric`) and its name."""
    return res.select_metric(load_results(results, storage_options), metric)


def direction(metric: str) -> str:
    """``'lower is better'`` or ``'higher is better'`` for a metric name.

    Examples
    --------
    >>> direction("rmse")
    'lower is better'
    """
    return "higher is better" if greater_is_better(metric) else "lower is better"


def top_trials(df: pd.DataFrame, n: int | None = 10, metric: str | None = None) -> pd.DataFrame:
    """The ``n`` best successful trials, best first (all of them when ``n`` is None).

    The ranking of :func:`tuner.results.best_trials`: every successful trial (every rung row)
    competes on ``mean_test_score`` in the metric's direction, ties to the smaller ``trial_id``.

    Examples
    --------
    >>> df = pd.DataFrame({"trial_id": ["a", "b"], "model": "m", "metric": "rmse",
    ...                    "status": "ok", "mean_test_score": [2.0, 1.0]})
    >>> top_trials(df)["trial_id"].tolist()
    ['b', 'a']
    """
    return res.best_trials(df, n, metric)


# -- small helpers ----------------------------------------------------------------------------


def short_name(model: str) -> str:
    """``sklearn.ensemble.HistGradientBoostingRegressor`` -> ``HistGradientBoostingRegressor``."""
    return str(model).rsplit(".", 1)[-1]


def _model_colors(models: Sequence[str]) -> dict[str, Any]:
    # tab10 is a ListedColormap; the registry is typed as returning the base Colormap
    palette: Sequence[Any] = colormaps["tab10"].colors  # type: ignore[attr-defined]
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(set(models)))}


def _params(df: pd.DataFrame) -> list[dict]:
    return [json.loads(p) if isinstance(p, str) and p else {} for p in df["params"]]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(_is_number(v) for v in present)


def _log_scale(values: Sequence[float]) -> bool:
    """Values span at least :data:`LOG_SPAN` (a decade and more) and are all positive."""
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) >= LOG_SPAN


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _label(v: Any, width: int = 18) -> str:
    if _is_number(v):
        return f"{v:.3g}"
    text = str(v)
    return text if len(text) <= width else text[: width - 1] + "…"


def _varying(dicts: list[dict]) -> list[str]:
    """Parameter names, in order of appearance, with more than one distinct value."""
    names: list[str] = []
    for d in dicts:
        names.extend(k for k in d if k not in names)
    return [n for n in names if len({_key(d[n]) for d in dicts if n in d}) > 1]


def _better(metric: str) -> Callable[[pd.Series], float]:
    return (lambda s: s.max()) if greater_is_better(metric) else (lambda s: s.min())


def _running_best(scores: pd.Series, metric: str) -> pd.Series:
    run = scores.cummax() if greater_is_better(metric) else scores.cummin()
    return run.ffill()


def _require(rows: pd.DataFrame, what: str) -> None:
    if rows.empty:
        raise ValueError(f"no successful trial to plot ({what}): the results are empty or every trial failed")


def _scored(
    results: Results, metric: str | None, storage_options: dict | None, what: str
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The rows of one metric, their successful trials (at least one) and the metric's name."""
    rows, metric = _select(results, metric, storage_options)
    ok = res.ok_rows(rows)
    _require(ok, what)
    if metric is None:
        raise ValueError(f"no metric to plot ({what}): column 'metric' of the results is empty")
    return rows, ok, metric


def _new_figure(fig: Figure | None, size: tuple[float, float]) -> Figure:
    if fig is None:
        return Figure(figsize=size, layout="constrained")
    fig.set_size_inches(*size)
    fig.set_layout_engine("constrained")
    return fig


def _models_by_best(ok: pd.DataFrame, metric: str) -> list[str]:
    """Models with a successful trial, the model of the best trial first."""
    return [str(m) for m in res.best_per_model(ok, metric)["model"]]


# -- score against each parameter -------------------------------------------------------------


def score_vs_params(
    results: Results,
    *,
    max_cols: int = 4,
    metric: str | None = None,
    storage_options: dict | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The score of every trial against each of its parameters, one row of panels per model.

    Only parameters that take more than one value are drawn. Numeric parameters whose values
    span a decade or more (see :data:`LOG_SPAN`) get a log x-axis; others (strings, booleans,
    ``None``) are drawn as categories. A line joins the best score at each value, a star marks
    the model's best trial (:func:`tuner.results.best_per_model`). Every panel shares the y-axis.
    For successive halving / Hyperband / ASHA every rung row is a trial and is drawn, colored by
    its rung.

    Parameters
    ----------
    results : str, os.PathLike or DataFrame
        A results location or a DataFrame of results.
    max_cols : int, default 4
        Panels per row; a model with more parameters continues on the next row.
    metric : str, optional
        The metric to plot, where the results mix metrics (otherwise their one metric).
    storage_options : dict, optional
        fsspec options for remote locations.
    fig : Figure, optional
        Draw into this figure (for example ``plt.figure()``) instead of a new one.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = score_vs_params("results/california-gbdt")       # doctest: +SKIP
    >>> fig.savefig("score_vs_params.png")                     # doctest: +SKIP
    """
    _, rows, metric = _scored(results, metric, storage_options, "score against parameters")
    hb = res.is_budgeted(rows)
    best_ids = set(res.best_per_model(rows, metric)["trial_id"])
    colors = _model_colors(rows["model"].unique())
    better = _better(metric)
    models = _models_by_best(rows, metric)
    per_model = {}
    for model in models:
        sub = rows[rows["model"] == model]
        params = _params(sub)
        per_model[model] = (sub, params, _varying(params))
    ncols = max(1, min(max_cols, max(len(v[2]) for v in per_model.values()) or 1))
    row_counts = [max(1, math.ceil(len(v[2]) / ncols)) for v in per_model.values()]
    nrows = sum(row_counts)
    fig = _new_figure(fig, (3.2 * ncols + (1.0 if hb else 0.0), 2.6 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    norm = cmap = None
    if hb:
        levels = np.arange(int(rows["rung"].min()), int(rows["rung"].max()) + 2) - 0.5
        cmap = colormaps["viridis"].resampled(len(levels) - 1)
        norm = BoundaryNorm(levels, cmap.N)
    scores = rows["mean_test_score"].to_numpy(dtype=float)
    pad = 0.05 * (np.nanmax(scores) - np.nanmin(scores) or abs(np.nanmax(scores)) or 1.0)
    row = 0
    for model, count in zip(models, row_counts, strict=True):
        sub, params, names = per_model[model]
        y = sub["mean_test_score"].to_numpy(dtype=float)
        best_i = int(np.flatnonzero(sub["trial_id"].isin(best_ids).to_numpy())[0])  # the model's best trial
        for k in range(count * ncols):
            ax = axes[row + k // ncols][k % ncols]
            if k >= max(1, len(names)):
                ax.set_axis_off()
                continue
            if k % ncols == 0:
                ax.set_ylabel(metric)
            if not names:
                ax.scatter(np.zeros(len(y)), y, s=18, color=colors[model])
                ax.set_xticks([])
                ax.set_title(f"{short_name(model)}: no parameter varies", loc="left", fontsize=9)
                continue
            name = names[k]
            values = [p.get(name) for p in params]
            present = np.array([v is not None for v in values]) if _numeric(values) else np.ones(len(values), bool)
            if _numeric(values):
                x = np.array([float(v) if v is not None else np.nan for v in values])
                if _log_scale(list(x[present])):
                    ax.set_xscale("log")
            else:
                cats = sorted({_label(v) for v in values})
                pos = {c: i for i, c in enumerate(cats)}
                x = np.array([pos[_label(v)] for v in values], dtype=float)
                ax.set_xticks(range(len(cats)), labels=cats, rotation=30 if len(cats) > 3 else 0, fontsize=8)
                ax.set_xlim(-0.5, len(cats) - 0.5)
            kw: dict[str, Any] = {"s": 18, "alpha": 0.75, "linewidths": 0}
            if hb:
                kw.update(c=sub["rung"].to_numpy(dtype=float), cmap=cmap, norm=norm)
            else:
                kw.update(color=colors[model])
            ax.scatter(x[present], y[present], **{k2: (v[present] if k2 == "c" else v) for k2, v in kw.items()})
            frame = pd.DataFrame({"x": x[present], "y": y[present]})
            if frame["x"].nunique() <= min(25, len(frame) / 2):  # repeated values (a grid): join the best
                line = frame.groupby("x")["y"].agg(better).sort_index()
                ax.plot(line.index, line.to_numpy(), color="0.25", lw=1.0, zorder=1)
            if present[best_i]:
                ax.scatter([x[best_i]], [y[best_i]], marker="*", s=140, color="gold", edgecolors="black", zorder=5)
            ax.set_xlabel(name)
            ax.set_title(short_name(model), loc="left", fontsize=9, color=colors[model])
            ax.grid(alpha=0.3)
        row += count
    axes[0][0].set_ylim(np.nanmin(scores) - pad, np.nanmax(scores) + pad)
    if hb:
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="rung (each rung a trial)", shrink=0.8)
        bar.set_ticks(np.arange(int(rows["rung"].min()), int(rows["rung"].max()) + 1))  # type: ignore[arg-type]  # takes any array-like
    fig.suptitle(f"{metric} ({direction(metric)}) against each parameter — star: best trial, line: best per value")
    return fig


# -- parallel coordinates ---------------------------------------------------------------------


def _axis(values: list[Any]) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Positions in [0, 1] (missing values at :data:`_MISSING_Y`) and the tick labels of one axis."""
    missing = np.array([v is None for v in values])
    ticks: list[tuple[float, str]] = []
    if _numeric(values):
        raw = np.array([np.nan if v is None else float(v) for v in values])
        vals = raw[~missing]
        log = _log_scale(list(vals))
        t = np.log10(raw) if log else raw
        lo, hi = np.nanmin(t), np.nanmax(t)
        pos = (t - lo) / (hi - lo) if hi > lo else np.full(len(t), 0.5)
        distinct = np.unique(vals)
        shown = distinct if len(distinct) <= 6 else np.array([distinct[0], distinct[len(distinct) // 2], distinct[-1]])
        for v in shown:
            tv = math.log10(v) if log else v
            ticks.append(((tv - lo) / (hi - lo) if hi > lo else 0.5, f"{v:.3g}"))
    else:
        labels = [_label(v) for v in values]
        cats = sorted({lab for lab, m in zip(labels, missing, strict=True) if not m})
        where = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
        pos = np.array([np.nan if m else where[lab] for lab, m in zip(labels, missing, strict=True)])
        ticks = [(p, c) for c, p in where.items()]
    pos = np.where(missing, _MISSING_Y, pos)
    if missing.any():
        ticks.append((_MISSING_Y, "n/a"))
    return pos, ticks


def parallel_coordinates(
    results: Results,
    *,
    top: int = 20,
    max_params: int = 12,
    metric: str | None = None,
    storage_options: dict | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The ``top`` best trials as lines across their parameters and their score.

    Each vertical axis is one parameter, scaled to its range among the drawn trials (log-scaled
    where the values span a decade or more, categories evenly spaced); the last axis is the
    score with the best at the top. A trial without a parameter (another model's) crosses that
    axis at ``n/a``. Lines are colored by score, the best drawn last (on top). The trials are
    those of :func:`top_trials`: for successive halving / Hyperband / ASHA any rung can be among
    them (each rung is a trial), and an ``n_resources`` axis shows each one's budget.

    Parameters
    ----------
    results : str, os.PathLike or DataFrame
        A results location or a DataFrame of results.
    top : int, default 20
        How many of the best trials to draw (see :func:`top_trials` for the order).
    max_params : int, default 12
        At most this many parameter axes (the first ones found among the drawn trials).
    metric : str, optional
        The metric to rank by, where the results mix metrics (otherwise their one metric).
    storage_options : dict, optional
        fsspec options for remote locations.
    fig : Figure, optional
        Draw into this figure instead of a new one.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = parallel_coordinates("results/california-gbdt", top=10)   # doctest: +SKIP
    """
    rows, _, metric = _scored(results, metric, storage_options, "parallel coordinates")
    best = top_trials(rows, top, metric)
    params = _params(best)
    axes: list[tuple[str, list[Any]]] = []
    if best["model"].nunique() > 1:
        axes.append(("model", [short_name(m) for m in best["model"]]))
    if res.is_budgeted(best) and "n_resources" in best.columns and best["n_resources"].nunique() > 1:
        axes.append(("n_resources", [None if pd.isna(v) else int(v) for v in best["n_resources"]]))
    for name in _varying(params)[:max_params]:
        axes.append((name, [p.get(name) for p in params]))
    score = best["mean_test_score"].to_numpy(dtype=float)
    lo, hi = float(score.min()), float(score.max())
    higher = greater_is_better(metric)
    worst, top_score = (lo, hi) if higher else (hi, lo)
    score_pos = (score - worst) / (top_score - worst) if hi > lo else np.full(len(score), 0.5)

    positions = []
    ticks = []
    for _, values in axes:
        pos, tk = _axis(values)
        positions.append(pos)
        ticks.append(tk)
    positions.append(score_pos)
    ticks.append([(1.0 if hi > lo else 0.5, f"{top_score:.4g} (best)")] + ([(0.0, f"{worst:.4g}")] if hi > lo else []))
    names = [n for n, _ in axes] + [metric]
    k = len(names)

    fig = _new_figure(fig, (max(7.0, 1.25 * k + 2.5), 5.0))
    ax = fig.subplots()
    cmap = colormaps["viridis_r" if higher else "viridis"]  # the best dark, drawn last
    norm = Normalize(lo, hi if hi > lo else lo + 1)
    ys = np.vstack(positions).T  # one row per trial
    xs = np.arange(k)
    for i in reversed(range(len(best))):  # the best last: on top
        ax.plot(xs, ys[i], color=cmap(norm(score[i])), lw=2.2 if i == 0 else 1.4, alpha=0.9, zorder=2 + len(best) - i)
    for j, tk in enumerate(ticks):
        ax.axvline(j, color="0.55", lw=1, zorder=1)
        for p, text in tk:
            ax.text(j + 0.04, p, text, fontsize=7.5, va="center", ha="left", zorder=100,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    ax.set_xticks(xs, labels=names, rotation=20, ha="right")
    ax.set_xlim(-0.3, k - 0.4)
    ax.set_ylim(_MISSING_Y - 0.08, 1.08)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"{metric} ({direction(metric)})", shrink=0.85)
    if not higher:
        bar.ax.invert_yaxis()  # the best at the top, as on the score axis
    fig.suptitle(f"Top {len(best)} trials by {metric} ({direction(metric)}): one line per trial, best on top")
    return fig


# -- best score over time ---------------------------------------------------------------------


def best_over_time(
    results: Results,
    *,
    metric: str | None = None,
    storage_options: dict | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The best score so far, per model and overall, against time and against trials finished.

    Left: against ``finished_at`` (UTC). Right: against the number of trials finished, failed
    ones included (each one cost a slot on the cluster); for successive halving / Hyperband /
    ASHA every rung is a trial. Dots are single trials, every successful one drawn; the y-axis is cut at the 90th percentile of the scores (in the worse direction) so that the
    running best stays readable when a few trials are far off.

    Parameters
    ----------
    results : str, os.PathLike or DataFrame
        A results location or a DataFrame of results.
    metric : str, optional
        The metric to plot, where the results mix metrics (otherwise their one metric).
    storage_options : dict, optional
        fsspec options for remote locations.
    fig : Figure, optional
        Draw into this figure instead of a new one.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = best_over_time("results/california-gbdt")        # doctest: +SKIP
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    df, ok, metric = _scored(results, metric, storage_options, "best over time")
    if "finished_at" not in df.columns or not df["finished_at"].notna().any():
        raise ValueError("best_over_time() needs the column 'finished_at' (when each trial finished)")
    done = df[df["finished_at"].notna()].sort_values("finished_at", kind="stable").reset_index(drop=True)
    when = pd.to_datetime(done["finished_at"], utc=True).dt.tz_localize(None).to_numpy()
    count = np.arange(1, len(done) + 1)
    good = pd.Series(done.index.isin(res.ok_rows(done).index), index=done.index)
    score = done["mean_test_score"].where(good)
    colors = _model_colors(done["model"].unique())

    fig = _new_figure(fig, (12.0, 4.4))
    ax_t, ax_n = fig.subplots(1, 2, sharey=True)
    for ax, x in ((ax_t, when), (ax_n, count)):
        overall = _running_best(score, metric)
        ax.step(x, overall, where="post", color="0.15", lw=4.0, alpha=0.3, label="all models", zorder=1)
        for model in _models_by_best(ok, metric):
            mask = (done["model"] == model).to_numpy()
            ax.scatter(x[mask], score[mask], s=12, alpha=0.35, color=colors[model], linewidths=0, zorder=2)
            ax.step(x[mask], _running_best(score[mask], metric), where="post", color=colors[model], lw=1.6,
                    label=short_name(model), zorder=3)
        ax.annotate(f"{overall.iloc[-1]:.4g}", (x[-1], overall.iloc[-1]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
        ax.grid(alpha=0.3)
    locator = AutoDateLocator()
    ax_t.xaxis.set_major_locator(locator)
    ax_t.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax_t.set_xlabel("finished at (UTC)")
    hb = res.is_budgeted(done)
    ax_n.set_xlabel("trials finished (each rung a trial)" if hb else "trials finished")
    ax_n.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_t.set_ylabel(f"{metric} ({direction(metric)})")
    s = ok["mean_test_score"].to_numpy(dtype=float)
    best, cut = (s.max(), np.quantile(s, 0.1)) if greater_is_better(metric) else (s.min(), np.quantile(s, 0.9))
    lo, hi = min(best, cut), max(best, cut)
    pad = 0.08 * (hi - lo or abs(hi) or 1.0)
    ax_t.set_ylim(lo - pad, hi + pad)
    ax_n.legend(fontsize=8, loc="best")
    fig.suptitle(f"Best {metric} so far ({direction(metric)})")
    return fig


# -- Hyperband / ASHA rungs -------------------------------------------------------------------


def rungs(
    results: Results,
    *,
    max_cols: int = 4,
    metric: str | None = None,
    storage_options: dict | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Successive halving / Hyperband / ASHA rung by rung: each configuration's score against its
    budget, one panel per bracket.

    Every point is a trial (one rung of one configuration); a line joins the rungs of one
    configuration (rows grouped by :func:`tuner.results.configurations`, i.e. ``config_id``),
    colored by model. A filled marker is a rung from which the configuration was promoted, a
    hollow one a rung where it stopped. ``n_resources`` (the
    rung's boosting rounds) is on a log axis when the largest is at least 4 times the smallest:
    budgets grow geometrically from rung to rung.

    Parameters
    ----------
    results : str, os.PathLike or DataFrame
        Results of a successive halving, Hyperband or ASHA search (columns ``rung``,
        ``n_resources``, ``config_id`` and, where present, ``bracket`` and ``promoted``).
    max_cols : int, default 4
        Panels per row.
    metric : str, optional
        The metric to plot, where the results mix metrics (otherwise their one metric).
    storage_options : dict, optional
        fsspec options for remote locations.
    fig : Figure, optional
        Draw into this figure instead of a new one.

    Returns
    -------
    Figure

    Raises
    ------
    ValueError
        When the results have no ``rung`` column (a grid or random search).

    Examples
    --------
    >>> fig = rungs("results/california-hyperband")            # doctest: +SKIP
    """
    df = load_results(results, storage_options)
    if not res.is_budgeted(df):
        raise ValueError(
            "rungs() needs successive halving / Hyperband / ASHA results (a 'rung' column with values); "
            f"these results have columns {sorted(df.columns)[:12]}..."
        )
    _, ok, metric = _scored(df, metric, None, "rungs")
    ok = ok.assign(configuration=res.configurations(ok))  # a copy; trial_id stays the row's own
    colors = _model_colors(ok["model"].unique())
    has_bracket = "bracket" in ok.columns and ok["bracket"].notna().any()
    brackets = sorted(ok["bracket"].dropna().unique()) if has_bracket else [None]
    ncols = min(max_cols, len(brackets))
    nrows = math.ceil(len(brackets) / ncols)
    fig = _new_figure(fig, (4.0 * ncols + 1.5, 3.4 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    resources = ok["n_resources"].dropna().to_numpy(dtype=float)
    # budgets grow geometrically from rung to rung (x eta): even 3 rungs read best on a log axis
    log = bool(len(resources)) and resources.min() > 0 and resources.max() / resources.min() >= 4
    for i, bracket in enumerate(brackets):
        ax = axes[i // ncols][i % ncols]
        sub = ok if bracket is None else ok[ok["bracket"] == bracket]
        for (_, model), config in sub.sort_values("rung", kind="stable").groupby(["configuration", "model"],
                                                                                   sort=False):
            x = config["n_resources"].to_numpy(dtype=float)
            y = config["mean_test_score"].to_numpy(dtype=float)
            c = colors[model]
            ax.plot(x, y, color=c, lw=0.9, alpha=0.55, zorder=2)
            promoted = (
                config["promoted"].fillna(False).to_numpy(dtype=bool)
                if "promoted" in config.columns
                else np.zeros(len(config), bool)
            )
            ax.scatter(x[promoted], y[promoted], s=34, color=c, edgecolors="black", linewidths=0.6, zorder=4)
            ax.scatter(x[~promoted], y[~promoted], s=22, facecolors="white", edgecolors=c, linewidths=1.0, zorder=3)
        if log:
            ax.set_xscale("log")
        ticks = np.unique(sub["n_resources"].dropna().to_numpy(dtype=float))
        if 0 < len(ticks) <= 8:
            ax.set_xticks(ticks, labels=[f"{t:.4g}" for t in ticks])
            ax.minorticks_off()
        n_configs, n_trials = sub["configuration"].nunique(), len(sub)
        ax.set_title(("all brackets" if bracket is None else f"bracket {int(bracket)}")
                     + f" ({n_configs} configurations, {n_trials} trials)", loc="left", fontsize=9)
        ax.set_xlabel("n_resources (budget of the rung)")
        if i % ncols == 0:
            ax.set_ylabel(f"{metric} ({direction(metric)})")
        ax.grid(alpha=0.3)
    for j in range(len(brackets), nrows * ncols):
        axes[j // ncols][j % ncols].set_axis_off()
    handles = [Line2D([], [], color=c, lw=1.5, label=short_name(m)) for m, c in colors.items()]
    handles += [
        Line2D([], [], ls="", marker="o", color="0.4", markeredgecolor="black", label="promoted"),
        Line2D([], [], ls="", marker="o", markerfacecolor="white", markeredgecolor="0.4", label="stopped here"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"Successive halving, rung by rung: {metric} ({direction(metric)}) against budget")
    return fig


def all_figures(
    results: Results, *, metric: str | None = None, storage_options: dict | None = None
) -> dict[str, Figure]:
    """Every plot that applies to the results, by name (``rungs`` only for successive halving /
    Hyperband / ASHA results).

    ``metric`` chooses the metric where the results mix metrics; without it such results raise
    :class:`tuner.errors.ResultsError` (see :func:`tuner.results.select_metric`).

    Examples
    --------
    >>> figs = all_figures("results/california-gbdt")          # doctest: +SKIP
    >>> for name, fig in figs.items():                        # doctest: +SKIP
    ...     fig.savefig(f"{name}.png")
    """
    df, metric = res.select_metric(load_results(results, storage_options), metric)
    figs = {
        "score_vs_params": score_vs_params(df, metric=metric),
        "parallel_coordinates": parallel_coordinates(df, metric=metric),
        "best_over_time": best_over_time(df, metric=metric),
    }
    if res.is_budgeted(df):
        figs["rungs"] = rungs(df, metric=metric)
    return figs
