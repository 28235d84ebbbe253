"""A self-contained HTML report of a results location: ``tuner report RESULTS --output report.html``.

The report is one HTML file with everything inline (styles, tables, and the plots of
:mod:`tuner.plots` as base64 PNG images): it opens from disk, from an e-mail attachment or from a
CI artifact, with no server and no network.

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
from collections.abc import Iterable, Sequence

import pandas as pd
from matplotlib.figure import Figure

from tuner import plots
from tuner.errors import ConfigError

#: resolution of the embedded plots: an image is ``figure size in inches x DPI`` pixels
DPI = 100

_CAPTIONS = {
    "score_vs_params": "Score against each parameter, per model",
    "parallel_coordinates": "The best trials across all their parameters",
    "best_over_time": "Best score so far, against time and against trials finished",
    "rungs": "Hyperband / ASHA: each trial rung by rung",
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


def _num(value: object, fmt: str = ".6g") -> str:
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


def summary_rows(df: pd.DataFrame) -> list[tuple[str, str]]:
    """The summary of a results DataFrame as (label, value) pairs, values as plain text.

    Examples
    --------
    >>> df = pd.DataFrame({"trial_id": ["a", "b"], "model": "m", "metric": "rmse",
    ...                    "status": ["ok", "failed"], "mean_test_score": [1.0, None]})
    >>> dict(summary_rows(df))["trials"]
    '2 (1 succeeded, 1 failed)'
    """
    ok = plots.ok_rows(df)
    metric = plots.metric_of(ok) if not ok.empty else (str(df["metric"].dropna().iloc[0]) if "metric" in df else "?")
    hb = plots.is_hyperband(df)
    trials = df["trial_id"].nunique() if "trial_id" in df else len(df)
    final = plots.final_rows(df)
    failed = int((final["status"] == "failed").sum()) if "status" in final else 0
    rows = [
        ("metric", f"{metric} ({plots.direction(metric)})" if metric != "?" else "?"),
        ("trials", f"{trials} ({trials - failed} succeeded, {failed} failed)"),
    ]
    if hb:
        rows.append(("evaluations", f"{len(df)} rows (one per trial and rung); rungs {int(df['rung'].max()) + 1}"
                     + (f", brackets {df['bracket'].nunique()}" if "bracket" in df else "")))
    models = sorted(df["model"].dropna().unique()) if "model" in df else []
    rows.append(("models", f"{len(models)}: " + ", ".join(map(str, models))))
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
    best = plots.top_trials(df, 1)
    if not best.empty:
        b = best.iloc[0]
        rows.append(("best", f"{metric} = {b['mean_test_score']:.6g} ({b['model']}, trial {b['trial_id']})"))
    return rows


def render_report(
    results: plots.Results,
    *,
    title: str | None = None,
    source: str | None = None,
    top: int = 10,
    storage_options: dict | None = None,
    dpi: int = DPI,
) -> str:
    """The report as an HTML string: summary, best trial per model, top trials, failures, plots.

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
    storage_options : dict, optional
        fsspec options for remote locations.
    dpi : int, default :data:`DPI`
        Resolution of the embedded plots.

    Returns
    -------
    str
        A complete HTML document.

    Examples
    --------
    >>> page = render_report("results/california-gbdt")        # doctest: +SKIP
    >>> page.startswith("<!DOCTYPE html>")                     # doctest: +SKIP
    True
    """
    df = plots.load_results(results, storage_options)
    if df.empty:
        raise ValueError("no trials in the results: nothing to report")
    if source is None and not isinstance(results, pd.DataFrame):
        source = os.fspath(results)
    if title is None:
        title = os.path.basename(source.rstrip("/")) if source else "search results"
    hb = plots.is_hyperband(df)
    ok = plots.ok_rows(df)
    metric = plots.metric_of(ok) if not ok.empty else None
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>tuner report: {_esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>tuner report: {_esc(title)}</h1>",
        f'<p class="meta">{_esc(source or "DataFrame")} · generated {_when(pd.Timestamp.now(tz="UTC"))}</p>',
        "<h2>Summary</h2>",
        _table(["", ""], ([_esc(k), _esc(v)] for k, v in summary_rows(df))),
    ]
    if metric is not None:
        ranked = plots.top_trials(df, None)
        final = plots.final_rows(df)
        counts = final.groupby("model")["status"].value_counts().unstack(fill_value=0)
        best_rows = []
        for _, r in ranked.drop_duplicates("model", keep="first").iterrows():
            c = counts.loc[r["model"]] if r["model"] in counts.index else {}
            best_rows.append([
                _esc(r["model"]),
                f"{int(c.get('ok', 0))} / {int(c.get('failed', 0))}",
                _num(r["mean_test_score"]),
                _num(r.get("std_test_score"), ".3g"),
                _params(r["params"]),
                f"<code>{_esc(r['trial_id'])}</code>",
            ])
        parts += [
            "<h2>Best trial per model</h2>",
            _table(["model", "ok / failed", metric, "± std", "params", "trial_id"], best_rows, numeric=(1, 2, 3)),
        ]
        extra = ["rung", "n_resources"] if hb else ["n_resources"] if "n_resources" in ranked else []
        top_rows = []
        for i, (_, r) in enumerate(ranked.head(top).iterrows(), start=1):
            top_rows.append([
                str(i),
                _esc(r["model"]),
                _num(r["mean_test_score"]),
                _num(r.get("std_test_score"), ".3g"),
                *[_num(r[c], ".0f") for c in extra],
                _num(r.get("fit_time"), ".3g"),
                _params(r["params"]),
                f"<code>{_esc(r['trial_id'])}</code>",
            ])
        note = (" Hyperband / ASHA: each trial at its last rung; trials that reached a larger budget come first."
                if hb else "")
        parts += [
            f"<h2>Top {min(top, len(ranked))} trials</h2>",
            f"<p>Ranked by {_esc(metric)} ({plots.direction(metric)}).{_esc(note)}</p>",
            _table(["#", "model", metric, "± std", *extra, "fit time (s)", "params", "trial_id"], top_rows,
                   numeric=(0, *range(2, 5 + len(extra)))),
        ]
    failed = plots.final_rows(df)
    failed = failed[failed["status"] == "failed"] if "status" in failed else failed.iloc[0:0]
    if not failed.empty:
        first_line = failed["error"].fillna("").astype(str).str.split("\n").str[0].str.slice(0, 200)
        common = first_line.groupby([failed["model"], first_line]).size().sort_values(ascending=False).head(10)
        parts += [
            f"<h2>Failed trials ({len(failed)})</h2>",
            _table(["model", "error (first line)", "trials"],
                   ([_esc(m), f"<code>{_esc(e)}</code>", str(n)] for (m, e), n in common.items()), numeric=(2,)),
        ]
    if metric is not None:
        parts.append("<h2>Plots</h2>")
        for name, fig in plots.all_figures(df).items():
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


def write_report(url: str, output: str = "report.html", *, storage_options: dict | None = None) -> str:
    """Write the HTML report of the results at ``url`` to ``output`` and return the path written.

    Parameters
    ----------
    url : str
        A search's results location: ``results/<name>``, ``s3://bucket/prefix/<name>``, ...
    output : str, default "report.html"
        The HTML file to write (a local path or an fsspec URL); missing folders are created.
    storage_options : dict, optional
        fsspec options for reading remote results.

    Returns
    -------
    str
        The path written (absolute for local files).

    Raises
    ------
    ConfigError
        When there are no trials at ``url``.

    Examples
    --------
    >>> write_report("results/california-gbdt", "california.html")   # doctest: +SKIP
    '/home/me/project/california.html'
    """
    df = plots.load_results(url, storage_options)
    if df.empty:
        raise ConfigError("results", url, "a results location with at least one finished trial", "no part files there")
    page = render_report(df, title=os.path.basename(str(url).rstrip("/")) or str(url), source=str(url))
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
