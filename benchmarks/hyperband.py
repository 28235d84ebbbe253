"""Hyperband and ASHA against the full grid over the same space (California housing, XGBoost).

For each strategy: the best cross-validated RMSE it finds, the boosting rounds it trains in total
(over all folds; a promoted configuration only trains the rounds it adds, since it continues from
its checkpoint), and the wall time, all measured side by side in one run.

    python -m benchmarks.hyperband [--sample 8000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from benchmarks.common import ensure_data, median, write

SPACE = {
    "max_depth": [3, 5, 7],
    "learning_rate": [0.03, 0.1, 0.3],
    "min_child_weight": [1, 10],
    "colsample_bytree": [0.6, 1.0],
    "reg_lambda": [1.0, 10.0],
    "gamma": [0.0, 1.0],
}
MIN_R, MAX_R, ETA = 10, 270, 3


def rounds_spent(df, folds: int) -> int:
    """Rounds trained: a continued rung adds only its difference to the previous rung."""
    total = 0
    prev = {}
    if "rung" in df:
        for _, r in df.sort_values("rung").iterrows():
            if r.get("continued") is True and (r["config_id"], r["rung"] - 1) in prev:
                total += int(r["n_resources"] - prev[(r["config_id"], r["rung"] - 1)])
            else:
                total += int(r["n_resources"])
            prev[(r["config_id"], r["rung"])] = r["n_resources"]
    else:
        total = int(df["n_resources"].sum())
    return total * folds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=8000)
    ap.add_argument("--repeats", type=int, default=1, help="seeds for hyperband/asha (the grid runs once)")
    args = ap.parse_args()
    ensure_data()
    from distributed import Client, LocalCluster

    from tuner import Search

    cores = os.cpu_count() or 1
    base = {"data": {"dataset": "california_housing", "sample": args.sample, "seed": 0},
            "cv": {"folds": 3, "shuffle": True, "seed": 0}, "metric": "rmse"}
    searches = {
        "grid": [{"search": {"strategy": "grid"}, "models": {"xgboost": {**SPACE, "n_estimators": [MAX_R]}}}],
        "hyperband": [{"search": {"strategy": "hyperband", "min_resource": MIN_R, "max_resource": MAX_R, "eta": ETA,
                                  "seed": s}, "models": {"xgboost": SPACE}} for s in range(args.repeats)],
        "asha": [{"search": {"strategy": "asha", "min_resource": MIN_R, "max_resource": MAX_R, "eta": ETA,
                             "n_trials": 60, "seed": s}, "models": {"xgboost": SPACE}} for s in range(args.repeats)],
    }
    rows = {}
    with LocalCluster(n_workers=cores, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        for name, variants in searches.items():
            runs = []
            for i, extra in enumerate(variants):
                results = tempfile.mkdtemp()
                cfg = {**base, **extra, "name": f"{name}-{i}", "results": results}
                t0 = time.perf_counter()
                result = Search(cfg).run(client, progress=False, refit=False)
                wall = time.perf_counter() - t0
                runs.append({"best_rmse": result.best_score_, "best_params": result.best_params_, "wall_s": wall,
                             "rounds": rounds_spent(result.results_, 3), "rows": len(result.results_)})
                shutil.rmtree(results)
                print(name, runs[-1], flush=True)
            rows[name] = {"runs": runs, "best_rmse": median([r["best_rmse"] for r in runs]),
                          "rounds": median([r["rounds"] for r in runs]), "wall_s": median([r["wall_s"] for r in runs])}
    g = rows["grid"]
    md = [f"XGBoost on California housing ({args.sample} rows, 3-fold CV), {cores} workers; space of "
          "a grid with "
          f"{__import__('math').prod(len(v) for v in SPACE.values())} configurations at {MAX_R} rounds; "
          f"hyperband/asha: min_resource {MIN_R}, max_resource {MAX_R}, eta {ETA}; medians over {args.repeats} seed(s).",
          "", "| strategy | best RMSE | vs grid best | rounds trained | share of grid's rounds | wall (s) | share of grid's wall |",
          "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        md.append(f"| {name} | {r['best_rmse']:.4f} | {100 * (r['best_rmse'] / g['best_rmse'] - 1):+.2f}% | {r['rounds']:,.0f} | "
                  f"{r['rounds'] / g['rounds']:.2f} | {r['wall_s']:.1f} | {r['wall_s'] / g['wall_s']:.2f} |")
    write("hyperband", {"space": SPACE, "min_resource": MIN_R, "max_resource": MAX_R, "eta": ETA, "results": rows},
          "\n".join(md))


if __name__ == "__main__":
    main()
