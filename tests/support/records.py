"""Result rows and results locations made up for tests: one row factory, synthetic frames, stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tuner import results
from tuner.record import TrialRecord
from tuner.store import ResultStore, result_schema
from tuner.trial import Trial

T0 = pd.Timestamp("2026-01-01", tz="UTC")
FOLDS = 3  #: split<k>_test_score columns of every row (a store's schema keeps those it has)
HYPERBAND_COLUMNS = [("config_id", pa.string()), ("bracket", pa.int64()), ("rung", pa.int64()), ("promoted", pa.bool_())]
_INDEX = object()


def record(i: int, model: str = "m", params: dict | None = None, score=_INDEX, metric: str = "rmse", *,
           t0: pd.Timestamp | None = None, **extra) -> dict:
    """One result row as the engine writes it: trial ``t{i}``, ``ok``, or ``failed`` when ``score`` is None.

    ``params`` become the JSON ``params`` column and one ``param_<name>`` column each (default
    ``{"depth": i, "kind": "a"}``); ``score`` is the mean and every fold's test score (default
    ``float(i)``). With ``t0`` the trial started ``i`` seconds after it and took one second;
    without, it started and finished now, so that a row made later finishes later. ``extra`` adds
    columns or overrides any of these (``trial_id``, ``n_resources``, ``status``, ...).
    """
    params = {"depth": i, "kind": "a"} if params is None else params
    score = float(i) if score is _INDEX else score
    ok = score is not None
    if t0 is None:
        started = finished = datetime.now(UTC)
    else:
        started, finished = t0 + pd.Timedelta(seconds=i), t0 + pd.Timedelta(seconds=i + 1)
    return {
        "run_id": "run-1",
        "trial_id": f"t{i}",
        "model": model,
        "params": json.dumps(params, sort_keys=True),
        **{f"param_{k}": v for k, v in params.items()},
        "metric": metric,
        "mean_test_score": score,
        "std_test_score": 0.05 if ok else None,
        **{f"split{k}_test_score": score for k in range(FOLDS)},
        "n_resources": None,
        "status": "ok" if ok else "failed",
        "error": None if ok else "ValueError: bad parameter",
        "fit_time": 0.1 * i,
        "score_time": 0.01,
        "worker": f"w{i % 2}",
        "started_at": started,
        "finished_at": finished,
        **extra,
    }


def grid_frame(metric: str = "rmse") -> pd.DataFrame:
    """Two models; a log-spanning, an integer, a string and a boolean parameter; one failed trial."""
    rows, i = [], 0
    for lr in (0.001, 0.01, 0.1, 1.0):
        for depth in (2, 4):
            for booster in ("gbtree", "dart"):
                i += 1
                loss = 1.0 + abs(np.log10(lr) + 1.5) + 0.1 * depth + (0.05 if booster == "dart" else 0.0)
                score = loss if metric == "rmse" else 1.0 / loss
                rows.append(record(i, "xgboost", {"learning_rate": lr, "max_depth": depth, "booster": booster}, score,
                                   metric, t0=T0, trial_id=f"t{i:03d}"))
    for leaves in (7, 15, 31):
        i += 1
        loss = 1.2 + leaves / 100
        score = loss if metric == "rmse" else 1.0 / loss
        rows.append(record(i, "lightgbm", {"num_leaves": leaves, "extra_trees": leaves > 10}, score, metric,
                           t0=T0, trial_id=f"t{i:03d}"))
    rows.append(record(i + 1, "lightgbm", {"num_leaves": 1000, "extra_trees": True}, None, metric,
                       t0=T0, trial_id=f"t{i + 1:03d}"))
    return pd.DataFrame(rows)


def hyperband_frame() -> pd.DataFrame:
    """Hyperband-like rows: two brackets, budgets x3 per rung, the best third promoted; as tuner writes
    them, each rung is its own row (its own trial_id) and config_id groups a configuration's rungs."""
    rng = np.random.default_rng(0)
    rows, i = [], 0
    for bracket, (n, budget0) in enumerate([(9, 10), (3, 30)]):
        alive = []
        for j in range(n):
            params = {"max_depth": int(rng.integers(2, 8)), "learning_rate": float(10 ** rng.uniform(-2.5, -0.5))}
            alive.append((f"b{bracket}t{j}", ["xgboost", "lightgbm"][j % 2], params, rng.uniform(0.5, 1.0)))
        rung, budget = 0, budget0
        while alive:
            scored = sorted(((0.45 + q / np.log10(3 * budget), tid, m, p, q) for tid, m, p, q in alive), key=lambda r: r[0])
            keep = len(scored) // 3 if budget < 90 else 0
            for k, (score, tid, model, params, _) in enumerate(scored):
                i += 1
                row = record(i, model, params, score, t0=T0, n_resources=budget, bracket=bracket, rung=rung,
                             promoted=k < keep)
                rows.append({**row, "trial_id": f"{tid}-r{rung}", "config_id": tid})
            alive = [(tid, m, p, q) for _, tid, m, p, q in scored[:keep]]
            rung, budget = rung + 1, budget * 3
    return pd.DataFrame(rows)


def rung_ranking_frame() -> pd.DataFrame:
    """Three configurations where a low rung scores best: rung 0 of c0 beats every later rung."""
    rows = []
    for i, (config, model, rung, budget, score) in enumerate([
        ("c0", "xgboost", 0, 10, 0.50),  # the best trial, at the lowest rung
        ("c1", "xgboost", 0, 10, 0.60),
        ("c2", "lightgbm", 0, 10, 0.65),
        ("c0", "xgboost", 1, 30, 0.70),
        ("c1", "xgboost", 1, 30, 0.55),
        ("c1", "xgboost", 2, 90, 0.58),
    ], start=1):
        params = {"max_depth": 2 + int(config[1]), "n_estimators": budget}
        row = record(i, model, params, score, t0=T0, n_resources=budget, bracket=0, rung=rung)
        rows.append({**row, "trial_id": f"{config}-r{rung}", "config_id": config})
    return results.with_promotions(pd.DataFrame(rows))


def mixed_frame() -> pd.DataFrame:
    return pd.concat([grid_frame("rmse"), grid_frame("r2").assign(trial_id=lambda d: d["trial_id"] + "-r2")],
                     ignore_index=True)


def store_frame(df: pd.DataFrame, url: str) -> str:
    """Write ``df`` as a search's result store would (one part file)."""
    values: dict[str, list] = {}
    for p in df["params"]:
        for k, v in json.loads(p).items():
            values.setdefault(k, []).append(v)
    extra = [c for c in HYPERBAND_COLUMNS if c[0] in df.columns]
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    ResultStore(url).write(records, result_schema(values, folds=3, extra=extra))
    return url


def write_records(folder: Path, n: int = 4, metric: str = "rmse", failed: int = 0) -> Path:
    """A results location holding ``n`` trials scored with ``metric`` (``failed`` of them failed)."""
    records = []
    for i in range(n):
        t = Trial.create("xgboost", {"max_depth": i}, f"ctx-{metric}")
        if i < failed:
            records.append(TrialRecord.failed(t, metric, "ValueError: max_depth too deep\nmore detail").as_row())
        else:
            records.append(TrialRecord.ok(t, metric, [1.0 + i, 1.5 + i]).as_row())
    ResultStore(str(folder)).write(records, result_schema({"max_depth": list(range(n))}, 2))
    return folder
