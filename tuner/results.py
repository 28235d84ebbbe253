"""Reading and ranking results: any results location, any number of runs.

>>> df = read_results("results/california-gbdt")          # doctest: +SKIP
>>> best_trials(df, top=5)                                  # doctest: +SKIP
"""

from __future__ import annotations

import json

import pandas as pd

from tuner.metrics import greater_is_better
from tuner.store import ResultStore


def read_results(url: str, storage_options: dict | None = None) -> pd.DataFrame:
    """Every trial at ``url`` (a search's folder or bucket prefix), one row per trial id.

    For successive halving, Hyperband and ASHA (rows with a ``rung``) a boolean column
    ``promoted`` is added: whether the configuration went on to the next rung of its bracket.
    It is derived here, because part files are never rewritten.
    """
    return with_promotions(ResultStore(url, storage_options).read())


def is_budgeted(df: pd.DataFrame) -> bool:
    return "rung" in df.columns and df["rung"].notna().any()


def with_promotions(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``promoted`` to rung rows: the same configuration has a row at the next rung."""
    if df.empty or not is_budgeted(df):
        return df
    df = df.copy()
    config = df["config_id"] if "config_id" in df.columns else df["trial_id"]
    reached = set(zip(config, df["rung"], strict=True))
    df["promoted"] = [(c, r + 1) in reached if pd.notna(r) else False for c, r in zip(config, df["rung"], strict=True)]
    return df


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or "status" not in df:
        return df.iloc[0:0]
    ok = df[(df["status"] == "ok") & df["mean_test_score"].notna()]
    if is_budgeted(ok):
        # Hyperband-style results: rank on the highest budget only (the final rungs), so that
        # scores after a few rounds never compete with fully trained ones.
        ok = ok[ok["n_resources"] == ok["n_resources"].max()]
    return ok


def rank(df: pd.DataFrame) -> pd.DataFrame:
    """Successful trials, best first, by each row's metric direction."""
    ok = _ok(df)
    if ok.empty:
        return ok
    metrics = ok["metric"].unique()
    if len(metrics) > 1:
        raise ValueError(f"results mix metrics {sorted(metrics)}; rank one metric at a time")
    ascending = not greater_is_better(metrics[0])
    return ok.sort_values(["mean_test_score", "trial_id"], ascending=[ascending, True]).reset_index(drop=True)


def best_trials(df: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    return rank(df).head(top)


def best_per_model(df: pd.DataFrame) -> pd.DataFrame:
    ranked = rank(df)
    return ranked.drop_duplicates("model", keep="first").reset_index(drop=True)


def summary(df: pd.DataFrame, top: int = 10) -> dict:
    """Machine-readable summary: counts, the best trials and the best per model."""
    cols = ["trial_id", "model", "params", "metric", "mean_test_score", "std_test_score", "n_resources", "fit_time"]

    def rows(frame: pd.DataFrame) -> list[dict]:
        out = []
        for rec in frame[[c for c in cols if c in frame]].to_dict("records"):
            rec["params"] = json.loads(rec["params"])
            out.append({k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in rec.items()})
        return out

    n_failed = int((df["status"] == "failed").sum()) if "status" in df else 0
    return {
        "trials": int(len(df)),
        "ok": int(len(df) - n_failed),
        "failed": n_failed,
        "best": rows(best_trials(df, top)),
        "best_per_model": rows(best_per_model(df)),
    }
