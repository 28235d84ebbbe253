"""A self-contained HTML report of a results location: ``tuner report RESULTS --output report.html``.

The report is one HTML file with everything inline (styles, tables, and the plots of
:mod:`tuner.plots` as base64 PNG images): it opens from disk, from an e-mail attachment or from a
CI artifact, with no server and no network.

Every number and table comes from :mod:`tuner.results`, the ranking that ``tuner results`` uses
(see :func:`report_tables`): a trial is one row (one ``trial_id``; in successive halving,
Hyperband and ASHA each rung of a configuration is its own trial and ``config_id`` groups them),
and every successful trial competes for the best, whatever its rung.

Example
-------
>>> from tuner.report import write_report
>>> write_report("results/california-gbdt", "report.html")  # doctest: +SKIP
'/home/me/project/report.html'
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from tuner import plots
from tuner.errors import ResultsError
from tuner.results import (
    Counts,
    best_per_model,
    best_trials,
    counts,
    failures,
    is_budgeted,
    read_search,
    select_metric,
)

#: resolution of the embedded plots: an image is ``figure size in inches x DPI`` pixels
DPI = 100

_CAPTIONS = {
    "score_vs_params": "Score against each parameter, per model",
    "parallel_coordinates": "The best trials across all their parameters",
    "best_over_time": "Best score so far, against time and against trials finished",
    "rungs": "Successive halving / Hyperband / ASHA: each configuration rung by rung (every rung a trial)",
}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; word-break: break-all; }
figure { margin: 1em 0 2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
"""


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """A figure as PNG bytes of exactly ``fig.get_size_inches() * dpi`` pixels.

    Examples
    --------
    >>> fig = Figure(figsize=(4, 3))
    >>> png = figure_png(fig, dpi=50)
    >>> png[:4] == b"\\x89PNG"
    True
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, fmt: str = ".6g") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return format(float(value), fmt)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = ()) -> str:
    """An HTML table; cells are already escaped HTML, ``numeric`` column indexes align right."""
    numeric = set(numeric)
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _params(text: object) -> str:
    try:
        return f"<code>{_esc(json.dumps(json.loads(str(text)), sort_keys=True))}</code>"
    except ValueError:
        return f"<code>{_esc(text)}</code>"


def _when(ts: object) -> str:
    if ts is None or pd.isna(ts):
        return ""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _trials_text(c: Counts, budgeted: bool) -> str:
    text = f"{_plural(c.trials, 'trial')} ({c.ok:,} ok, {c.failed:,} failed)"
    return text + (f", {_plural(c.configurations, 'configuration')}" if budgeted else "")


def summary_rows(df: pd.DataFrame, metric: str | None = None) -> list[tuple[str, str]]:
    """The summary of a results DataFrame as (label, value) pairs, values as plain text.

    Counts are :func:`tuner.results.counts` of the rows of the metric (chosen with ``metric``
    where the results mix metrics), the best trial is :func:`tuner.results.best_trials`' first.

    Examples
    --------
    >>> df = pd.DataFrame({"trial_id": ["a", "b"], "model": "m", "metric": "rmse",
    ...                    "status": ["ok", "failed"], "mean_test_score": [1.0, None]})
    >>> dict(summary_rows(df))["trials"]
    '2 trials (1 ok, 1 failed)'
    """
    df, metric = select_metric(df, metric)
    c = counts(df)
    budgeted = is_budgeted(df)
    rows = [
        ("metric", f"{metric} ({plots.direction(metric)})" if metric is not None else "none (no trial has a metric)"),
        ("trials", _trials_text(c, budgeted)),
    ]
    if budgeted:
        rungs = df["rung"].dropna()
        budgets = df["n_resources"].dropna() if "n_resources" in df else pd.Series(dtype=float)
        text = _plural(rungs.nunique(), "rung")
        if "bracket" in df and df["bracket"].notna().any():
            text += f" in {_plural(df['bracket'].nunique(), 'bracket')}"
        if len(budgets):
            text += f", n_resources {budgets.min():,.0f} to {budgets.max():,.0f}"
        rows.append(("rungs", text + "; each rung of a configuration is its own trial"))
    models = [f"{m}: {_trials_text(Counts(v['trials'], v['ok'], v['failed'], v['configurations']), budgeted)}"
              for m, v in c.models.items()]
    rows.append((f"models ({len(models)})", "; ".join(models)))
    if "run_id" in df:
        rows.append(("runs", str(df["run_id"].nunique())))
    if "worker" in df:
        rows.append(("workers", str(df["worker"].nunique())))
    if "started_at" in df and "finished_at" in df and df["finished_at"].notna().any():
        start, end = df["started_at"].min(), df["finished_at"].max()
        rows.append(("first started", _when(start)))
        rows.append(("last finished", _when(end)))
        rows.append(("wall clock", f"{(end - start).total_seconds():.1f} s"))
    if "fit_time" in df:
        compute = df["fit_time"].fillna(0).sum() + (df["score_time"].fillna(0).sum() if "score_time" in df else 0)
        rows.append(("compute", f"{compute:.1f} s of fitting and scoring, all folds"))
    best = best_trials(df, 1, metric)
    if not best.empty:
        b = best.iloc[0]
        where = f"trial {b['trial_id']}"
        if budgeted:
            where += f", configuration {b.get('config_id')}, rung {_num(b.get('rung'), '.0f')}, " \
                     f"n_resources {_num(b.get('n_resources'), '.0f')}"
        rows.append(("best", f"{metric} = {b['mean_test_score']:.6g} ({b['model']}, {where})"))
    return rows


def report_tables(df: pd.DataFrame, top: int = 10, metric: str | None = None) -> dict:
    """The data behind the report's tables, as :mod:`tuner.results` computes it.

    The frames are the results API's, unchanged (same rows, same order, same trial ids), so the
    report agrees with ``tuner results --json`` on the same rows.

    Parameters
    ----------
    df : DataFrame
        Results, as :func:`tuner.results.read_results` returns them.
    top : int, default 10
        Rows of the table of best trials.
    metric : str, optional
        The metric to rank by; required where the results mix metrics.

    Returns
    -------
    dict
        ``metric`` (its name, or None), ``budgeted`` (rung results), ``counts``
        (:func:`tuner.results.counts`), ``summary`` ((label, value) pairs of
        :func:`summary_rows`), ``best_per_model`` (:func:`tuner.results.best_per_model`), ``top``
        (:func:`tuner.results.best_trials` with ``top``) and ``failures``
        (:func:`tuner.results.failures`, every group).

    Raises
    ------
    tuner.errors.ResultsError
        When the results mix metrics and none is chosen, or the chosen one is absent.

    Examples
    --------
    >>> df = pd.DataFrame({"trial_id": ["a", "b", "c"], "model": "m", "metric": "rmse", "params": "{}",
    ...                    "status": ["ok", "ok", "failed"], "mean_test_score": [2.0, 1.0, None],
    ...                    "error": [None, None, "ValueError: bad"]})
    >>> t = report_tables(df)
    >>> t["top"]["trial_id"].tolist(), t["counts"].failed, t["failures"]["error"].tolist()
    (['b', 'a'], 1, ['ValueError: bad'])
    """
    rows, metric = select_metric(df, metric)
    return {
        "metric": metric,
        "budgeted": is_budgeted(rows),
        "counts": counts(rows),
        "summary": summary_rows(rows, metric),
        "best_per_model": best_per_model(rows, metric),
        "top": best_trials(rows, top, metric),
        "failures": failures(rows, None),
    }


#: failure groups shown in the report (``tuner results --json`` lists them all)
MAX_FAILURE_ROWS = 10


def _id_columns(frame: pd.DataFrame, budgeted: bool) -> list[tuple[str, str, bool]]:
    """(header, column, numeric) of the identity columns: trial_id, and for rung results the
    configuration, rung and budget of each trial."""
    cols = [("trial_id", "trial_id", False)]
    if budgeted:
        cols += [("config_id", "config_id", False), ("rung", "rung", True), ("n_resources", "n_resources", True)]
    elif "n_resources" in frame and frame["n_resources"].notna().any():
        cols.append(("n_resources", "n_resources", True))
    return cols


def _cell(column: str, value: object) -> str:
    if column in ("trial_id", "config_id"):
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else f"<code>{_esc(value)}</code>"
    return _num(value, ".0f")


#: an extra column of a table of trials: header, HTML of (1-based position, row), numeric
_Column = tuple[str, Callable[[int, pd.Series], str], bool]


def _trials_table(frame: pd.DataFrame, metric: str, budgeted: bool, lead: Sequence[_Column] = (),
                  extra: Sequence[_Column] = ()) -> str:
    """Rows of trials: ``lead`` columns, model, score, std, ``extra`` columns, params, identity.

    ``lead`` and ``extra`` are (header, function of (position, row) -> HTML, numeric) triples;
    the rows are drawn in the frame's order.
    """
    ids = _id_columns(frame, budgeted)
    header = [h for h, _, _ in lead] + ["model", metric, "± std"] + [h for h, _, _ in extra] + ["params"]
    header += [h for h, _, _ in ids]
    numeric = [i for i, (_, _, n) in enumerate(lead) if n]
    numeric += [len(lead) + 1, len(lead) + 2]
    numeric += [len(lead) + 3 + i for i, (_, _, n) in enumerate(extra) if n]
    base = len(lead) + 4 + len(extra)
    numeric += [base + i for i, (_, _, n) in enumerate(ids) if n]
    rows = []
    for pos, (_, r) in enumerate(frame.iterrows(), start=1):
        rows.append([
            *[f(pos, r) for _, f, _ in lead],
            _esc(r["model"]),
            _num(r["mean_test_score"]),
            _num(r.get("std_test_score"), ".3g"),
            *[f(pos, r) for _, f, _ in extra],
            _params(r["params"]),
            *[_cell(col, r.get(col)) for _, col, _ in ids],
        ])
    return _table(header, rows, numeric=numeric)


def render_report(
    results: plots.Results,
    *,
    title: str | None = None,
    source: str | None = None,
    top: int = 10,
    metric: str | None = None,
    storage_options: dict | None = None,
    dpi: int = DPI,
) -> str:
    """The report as an HTML string: summary, best trial per model, top trials, failures, plots.

    The tables are :func:`report_tables` of the results, rendered; an all-failed search gets the
    summary and the failures, without plots.

    Parameters
    ----------
    results : str, os.PathLike or DataFrame
        A results location or a DataFrame of results.
    title : str, optional
        Heading of the report; default: the last part of the location.
    source : str, optional
        Where the results came from, shown under the title; default: the location given.
    top : int, default 10
        Rows of the table of best trials.
    metric : str, optional
        The metric to rank and plot by; required where the results mix metrics.
    storage_options : dict, optional
        fsspec options for remote locations.
    dpi : int, default :data:`DPI`
        Resolution of the embedded plots.

    Returns
    -------
    str
        A complete HTML document.

    Raises
    ------
    tuner.errors.ResultsError
        When there are no trials, or the results mix metrics and none is chosen.

    Examples
    --------
    >>> page = render_report("results/california-gbdt")        # doctest: +SKIP
    >>> page.startswith("<!DOCTYPE html>")                     # doctest: +SKIP
    True
    """
    if source is None and not isinstance(results, pd.DataFrame):
        source = os.fspath(results)
    df = plots.load_results(results, storage_options)
    if df.empty:
        raise ResultsError(f"no results in {source or 'the DataFrame'}: no trials to report")
    if title is None:
        title = os.path.basename(source.rstrip("/")) if source else "search results"
    tables = report_tables(df, top, metric)
    metric, budgeted, c = tables["metric"], tables["budgeted"], tables["counts"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>tuner report: {_esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>tuner report: {_esc(title)}</h1>",
        f'<p class="meta">{_esc(source or "DataFrame")} · generated {_when(pd.Timestamp.now(tz="UTC"))}</p>',
        "<h2>Summary</h2>",
        _table(["", ""], ([_esc(k), _esc(v)] for k, v in tables["summary"])),
    ]
    if c.ok and metric is not None:
        def ok_failed(_: int, r: pd.Series) -> str:
            m = c.models.get(str(r["model"]), {})
            return f"{m.get('ok', 0):,} / {m.get('failed', 0):,}"

        parts += [
            "<h2>Best trial per model</h2>",
            _trials_table(tables["best_per_model"], metric, budgeted, [],
                          [("trials ok / failed", ok_failed, True)]),
        ]
        note = f"Ranked by {metric} ({plots.direction(metric)}); ties go to the smaller trial_id."
        if budgeted:
            note += (" Every rung of a configuration is its own trial (a complete model with that budget) and "
                     "competes, whatever its rung; config_id groups the rungs of one configuration.")
        best = tables["top"]
        parts += [
            f"<h2>Top {len(best)} trials</h2>",
            f"<p>{_esc(note)}</p>",
            _trials_table(best, metric, budgeted, [("#", lambda i, _: str(i), True)],
                          [("fit time (s)", lambda _, r: _num(r.get("fit_time"), ".3g"), True)]),
        ]
    else:
        parts.append("<p>No trial succeeded: nothing to rank or plot.</p>")
    failed = tables["failures"]
    if c.failed:
        shown = failed.head(MAX_FAILURE_ROWS)
        parts += [
            f"<h2>Failed trials ({c.failed:,})</h2>",
            _table(["model", "error (first line)", "trials"],
                   ([_esc(r["model"]), f"<code>{_esc(r['error'])}</code>", f"{int(r['trials']):,}"]
                    for _, r in shown.iterrows()), numeric=(2,)),
        ]
        if len(failed) > len(shown):
            parts.append(f"<p>... and {len(failed) - len(shown):,} other errors "
                         "(<code>tuner results --json</code> lists them all).</p>")
    if c.ok and metric is not None:
        parts.append("<h2>Plots</h2>")
        for name, fig in plots.all_figures(df, metric=metric).items():
            png = figure_png(fig, dpi)
            w, h = (int(round(v * dpi)) for v in fig.get_size_inches())
            data = base64.b64encode(png).decode("ascii")
            caption = _CAPTIONS.get(name, name)
            parts.append(
                f'<figure id="{name}"><img src="data:image/png;base64,{data}" width="{w}" height="{h}" '
                f'alt="{_esc(caption)}"><figcaption>{_esc(caption)}</figcaption></figure>'
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    url: str,
    output: str = "report.html",
    *,
    metric: str | None = None,
    storage_options: dict | None = None,
) -> str:
    """Write the HTML report of the results at ``url`` to ``output`` and return the path written.

    Parameters
    ----------
    url : str
        A search's results location: ``results/<name>``, ``s3://bucket/prefix/<name>``, ...
    output : str, default "report.html"
        The HTML file to write (a local path or an fsspec URL); missing folders are created.
    metric : str, optional
        The metric to rank and plot by; required where the results mix metrics.
    storage_options : dict, optional
        fsspec options for reading remote results.

    Returns
    -------
    str
        The path written (absolute for local files).

    Raises
    ------
    tuner.errors.ResultsError
        When there are no trials at ``url`` (nothing is written), the location holds several
        searches or files that are not tuner results, or the results mix metrics and none is chosen.

    Examples
    --------
    >>> write_report("results/california-gbdt", "california.html")   # doctest: +SKIP
    '/home/me/project/california.html'
    """
    df = read_search(str(url), storage_options)
    page = render_report(df, title=os.path.basename(str(url).rstrip("/")) or str(url), source=str(url),
                         metric=metric)
    if "://" in output:
        import fsspec

        with fsspec.open(output, "w", encoding="utf-8") as fh:
            fh.write(page)
        return output
    path = os.path.abspath(output)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path
