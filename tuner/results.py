"""Reading and ranking results: the one ranking that the CLI, the report, the plots and the API use.

What the words mean, for every strategy:

* a **trial** is one row of the results (one ``trial_id``): one configuration of one model,
  cross-validated at one budget. In successive halving, Hyperband and ASHA each rung is its own
  trial -- a complete model with that many boosting rounds, scored on the same folds -- and
  ``config_id`` groups the rungs of one configuration (a **configuration**).
* **the best** is the successful trial with the best ``mean_test_score`` in the metric's
  direction; ties go to the smaller ``trial_id``. Every successful trial competes, whatever its
  rung: each is a complete model scored by cross-validation.
* **counts**: trials (rows), of which ok and failed, configurations, per model the same.

>>> df = read_results("results/california-gbdt")          # doctest: +SKIP
>>> best_trials(df, top=5)                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from tuner.errors import ResultsError
from tuner.metrics import greater_is_better
from tuner.record import REQUIRED_COLUMNS, TrialStatus, first_line
from tuner.store import ResultStore


def read_results(url: str, storage_options: dict | None = None) -> pd.DataFrame:
    """Every trial at ``url`` (a search's folder or bucket prefix), one row per trial id.

    For successive halving, Hyperband and ASHA (rows with a ``rung``) a boolean column
    ``promoted`` is added: whether the configuration went on to the next rung of its bracket.
    It is derived here, because part files are never rewritten. Raises
    :class:`~tuner.errors.ResultsError` when the files there are not tuner results.
    """
    df = ResultStore(url, storage_options).read()
    check_columns(df, url)
    return with_promotions(df)


def read_search(url: str, storage_options: dict | None = None) -> pd.DataFrame:
    """The results of one search at ``url``, for showing them (``tuner results``, reports).

    Raises :class:`~tuner.errors.ResultsError` naming the searches when ``url`` is a results root
    holding several, and when there are no results there at all.
    """
    searches = ResultStore(url, storage_options).searches()
    if searches:  # a results root, not a search: name the searches in it
        raise ResultsError(f"{url} holds the results of several searches; pick one: "
                           + ", ".join(f"{str(url).rstrip('/')}/{name}" for name in searches))
    df = read_results(url, storage_options)
    if df.empty:
        raise ResultsError(f"no results at {url}: no part files there (run a search first, or check the path)")
    return df


def check_columns(df: pd.DataFrame, where: str = "the results") -> None:
    """Raise :class:`ResultsError` when rows lack the columns every tuner result has."""
    if df.empty:
        return
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ResultsError(
            f"{where} holds Parquet files that are not tuner results (no column {', '.join(map(repr, missing))}); "
            "point at a search's results location such as results/<name>"
        )


def is_budgeted(df: pd.DataFrame) -> bool:
    """Whether the rows come from successive halving, Hyperband or ASHA (rungs)."""
    return "rung" in df.columns and bool(df["rung"].notna().any())


def with_promotions(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``promoted`` to rung rows: the same configuration has a row at the next rung."""
    if df.empty or not is_budgeted(df):
        return df
    df = df.copy()
    config = configurations(df)
    reached = set(zip(config, df["rung"], strict=True))
    df["promoted"] = [(c, r + 1) in reached if pd.notna(r) else False for c, r in zip(config, df["rung"], strict=True)]
    return df


def configurations(df: pd.DataFrame) -> pd.Series:
    """Each row's configuration: ``config_id`` where there are rungs, else the trial itself."""
    if "config_id" in df.columns:
        return df["config_id"].fillna(df["trial_id"])
    return df["trial_id"]


def metrics(df: pd.DataFrame) -> list[str]:
    """The metrics the rows were scored with, sorted."""
    if df.empty or "metric" not in df.columns:
        return []
    return sorted(str(m) for m in df["metric"].dropna().unique())


def select_metric(df: pd.DataFrame, metric: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """The rows of one metric and its name.

    Without ``metric`` the rows must have a single metric; results that mix metrics (written with
    ``--allow-mixed``) raise :class:`ResultsError` listing them, so that one is chosen.
    """
    found = metrics(df)
    if metric is None:
        if len(found) > 1:
            raise ResultsError(f"the results mix metrics {', '.join(found)}; choose one with --metric "
                               f"(Python: metric=...), e.g. --metric {found[0]}")
        return df, (found[0] if found else None)
    if metric not in found:
        raise ResultsError(f"no trial was scored with metric {metric!r}; the results have: {', '.join(found) or 'none'}")
    return df[df["metric"] == metric], metric


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Successful trials (status ok, with a score)."""
    if df.empty or "status" not in df.columns or "mean_test_score" not in df.columns:
        return df.iloc[0:0]
    return df[(df["status"] == TrialStatus.OK.value) & df["mean_test_score"].notna()]


def rank(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Successful trials, best first, in the metric's direction (ties: smaller trial_id first)."""
    rows, metric = select_metric(df, metric)
    ok = ok_rows(rows)
    if ok.empty or metric is None:
        return ok.reset_index(drop=True)
    ascending = not greater_is_better(metric)
    return ok.sort_values(["mean_test_score", "trial_id"], ascending=[ascending, True], kind="stable").reset_index(
        drop=True
    )


def best_trials(df: pd.DataFrame, top: int | None = 10, metric: str | None = None) -> pd.DataFrame:
    """The ``top`` best trials (all of them when ``top`` is None)."""
    ranked = rank(df, metric)
    return ranked if top is None else ranked.head(top)


def best_per_model(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """The best trial of each model that has a successful trial, best model first."""
    return rank(df, metric).drop_duplicates("model", keep="first").reset_index(drop=True)


@dataclass(frozen=True)
class Counts:
    """How many trials (rows) and configurations, ok and failed, in total and per model."""

    trials: int
    ok: int
    failed: int
    configurations: int
    models: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def counts(df: pd.DataFrame) -> Counts:
    if df.empty:
        return Counts(0, 0, 0, 0, {})
    failed = df["status"] == TrialStatus.FAILED.value
    config = configurations(df)
    models = {}
    for model, rows in df.groupby("model", sort=True):
        f = int((rows["status"] == TrialStatus.FAILED.value).sum())
        models[str(model)] = {"trials": len(rows), "ok": len(rows) - f, "failed": f,
                              "configurations": int(config[rows.index].nunique())}
    return Counts(len(df), int((~failed).sum()), int(failed.sum()), int(config.nunique()), models)


def failures(df: pd.DataFrame, top: int | None = 10) -> pd.DataFrame:
    """Failed trials grouped by model and the first line of their error, most frequent first.

    Columns: ``model``, ``error`` (first line), ``trials`` (count), ``example`` (a trial id).
    """
    columns = ["model", "error", "trials", "example"]
    if df.empty or "status" not in df.columns:
        return pd.DataFrame(columns=columns)
    failed = df[df["status"] == TrialStatus.FAILED.value]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    lines = failed["error"].map(first_line).replace("", "(no message)")
    grouped = (
        failed.assign(error=lines)
        .groupby(["model", "error"], sort=False)
        .agg(trials=("trial_id", "size"), example=("trial_id", "min"))
        .reset_index()
        .sort_values(["trials", "model", "error"], ascending=[False, True, True], kind="stable")
        .reset_index(drop=True)
    )
    return grouped if top is None else grouped.head(top)


SUMMARY_COLUMNS = ["trial_id", "config_id", "model", "params", "metric", "mean_test_score", "std_test_score",
                   "n_resources", "rung", "fit_time"]


def _rows(frame: pd.DataFrame) -> list[dict]:
    out = []
    for rec in frame[[c for c in SUMMARY_COLUMNS if c in frame]].to_dict("records"):
        rec["params"] = json.loads(rec["params"])
        out.append({k: (None if not isinstance(v, (dict, list)) and pd.isna(v) else v) for k, v in rec.items()})
    return out


def summary(df: pd.DataFrame, top: int = 10, metric: str | None = None) -> dict:
    """Machine-readable summary: metric, counts, the best trials, the best per model, failures."""
    rows, metric = select_metric(df, metric)
    c = counts(rows)
    return {
        "metric": metric,
        "greater_is_better": None if metric is None else greater_is_better(metric),
        **{k: v for k, v in c.as_dict().items() if k != "models"},
        "models": c.models,
        "best": _rows(best_trials(rows, top, metric)),
        "best_per_model": _rows(best_per_model(rows, metric)),
        "failures": failures(rows, None).to_dict("records"),
    }


def fidelity(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """How well short runs predict long ones, per model: for each round count, the Spearman rank
    correlation between configurations' scores at that count and at the model's largest count.

    A configuration is its ``config_id`` (rungs of successive halving, Hyperband, ASHA) or its
    parameters without the number of rounds (a rounds ladder of ``random``/``tpe``, or a grid over
    rounds). Near +1: short runs rank configurations as long runs do, so a budgeted strategy's
    early stopping is safe; near 0: they say nothing, and a rounds ladder is the better choice.

    Columns: ``model``, ``rounds`` (the budget: boosting rounds, or the percent of the rows where
    the rungs were trained on a share of them, ``unit`` "rows"), ``configurations`` (scored at both
    counts), ``spearman``, ``unit``.
    """
    rows, metric = select_metric(df, metric)
    ok = ok_rows(rows)
    columns = ["model", "rounds", "configurations", "spearman", "unit"]
    if ok.empty or "n_resources" not in ok.columns or ok["n_resources"].isna().all():
        return pd.DataFrame(columns=columns)
    ok = ok[ok["n_resources"].notna()].copy()
    ok["configuration"] = _configuration_without_rounds(ok)
    out = []
    for model, group in ok.groupby("model", sort=True):
        table = group.pivot_table(index="configuration", columns="n_resources", values="mean_test_score", aggfunc="first")
        if table.shape[1] < 2:
            continue
        top = table.columns.max()
        unit = "rows" if "param_rows" in group.columns and group["param_rows"].notna().all() else "rounds"
        for rounds in table.columns:
            if rounds == top:
                continue
            both = table[[rounds, top]].dropna()
            rho = both[rounds].rank().corr(both[top].rank()) if len(both) >= 3 else float("nan")
            out.append({"model": model, "rounds": int(rounds), "configurations": len(both), "spearman": float(rho),
                        "unit": unit})
    return pd.DataFrame(out, columns=columns)


def _configuration_without_rounds(df: pd.DataFrame) -> pd.Series:
    """Rung rows: their config_id; other rows: model and parameters without the rounds parameter."""
    from tuner.models import get_adapter

    def key(row) -> str:
        if "config_id" in row and isinstance(row["config_id"], str):
            return row["config_id"]
        params = json.loads(row["params"])
        try:
            rounds = get_adapter(str(row["model"])).rounds_param
        except Exception:  # a model this process cannot import: its parameters as they are
            rounds = None
        return f"{row['model']}|" + json.dumps({k: v for k, v in params.items() if k != rounds}, sort_keys=True)

    return df.apply(key, axis=1)
