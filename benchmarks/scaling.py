"""Scaling: the same search on 1, 2, ... N workers; speed-up and efficiency against ideal.

    python -m benchmarks.scaling [--workers 1 2 4 8 16] [--repeats 3] [--sample 5000] [--name scaling]

128 trials x 3 folds, so that even 16 workers get several tasks each; no round sharing (one round
count), so every trial is a fit of its own.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time

from benchmarks.common import ensure_data, median, write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=None, help="default: 1, 2, 4, ... up to the cores")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample", type=int, default=5000)
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="time the first search on a fresh cluster too (imports and data loading included)")
    ap.add_argument("--name", default="scaling", help="results file name under benchmarks/results/")
    args = ap.parse_args()
    ensure_data()
    from distributed import Client, LocalCluster

    from tuner import Search

    cores = os.cpu_count() or 1
    counts = args.workers or sorted({min(2**i, cores) for i in range(cores.bit_length() + 1)})
    models = {
        "xgboost": {"max_depth": [3, 4, 5, 6], "learning_rate": [0.05, 0.1, 0.2, 0.3], "min_child_weight": [1, 5],
                    "subsample": [0.8, 1.0], "n_estimators": [100]},
        "lightgbm": {"num_leaves": [15, 31, 63, 127], "learning_rate": [0.05, 0.1, 0.2, 0.3],
                     "min_child_samples": [10, 40], "colsample_bytree": [0.8, 1.0], "n_estimators": [100]},
    }
    times: dict[int, list[float]] = {n: [] for n in counts}
    for n in counts:
        with LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
            client.wait_for_workers(n)
            for r in range(-1 if args.warmup else 0, args.repeats):
                results = tempfile.mkdtemp()
                cfg = {"name": "scaling", "data": {"dataset": "california_housing", "sample": args.sample},
                       "cv": {"folds": 3, "shuffle": True}, "results": results,
                       "models": models if r >= 0 else {m: {k: v[:1] for k, v in g.items()} for m, g in models.items()}}
                t0 = time.perf_counter()
                Search(cfg).run(client, progress=False, refit=False)
                if r >= 0:  # r = -1: one trial per model, untimed: imports and data loaded on every worker
                    times[n].append(time.perf_counter() - t0)
                shutil.rmtree(results)
            print(n, times[n], flush=True)
    base = median(times[counts[0]]) * counts[0]
    rows = [{"workers": n, "median_wall_s": median(times[n]), "speedup": base / median(times[n]),
             "efficiency": base / median(times[n]) / n, "all_wall_s": times[n]} for n in counts]
    trials = sum(math.prod(len(v) for v in grid.values()) for grid in models.values())
    md = [f"{trials} trials x 3 folds (XGBoost and LightGBM, California housing {args.sample} rows), {args.repeats} repeats"
          f"{' after an untimed warm-up search per cluster' if args.warmup else ' without warm-up (the first on each cluster includes imports and data loading)'}, "
          f"machine with {cores} cores.", "",
          "| workers | median wall (s) | speed-up | efficiency |", "|---|---|---|---|"]
    md += [f"| {r['workers']} | {r['median_wall_s']:.1f} | {r['speedup']:.2f}x | {r['efficiency']:.0%} |" for r in rows]
    write(args.name, {"models": models, "warmup": args.warmup, "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
