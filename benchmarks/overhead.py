"""Scheduling overhead: 10,000 trials of a few milliseconds each.

Compares tuner's wall time with the ideal: the sum of the trials' own fit and score times
divided by the worker slots. A ratio of 1.0 means no overhead at all.

    python -m benchmarks.overhead [--trials 10000] [--repeats 3] [--name overhead]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from benchmarks.common import median, write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--name", default="overhead", help="results file name under benchmarks/results/")
    args = ap.parse_args()

    from distributed import Client, LocalCluster

    from tuner import Search

    cores = os.cpu_count() or 1
    runs = []
    with LocalCluster(n_workers=cores, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        for r in range(args.repeats):
            results = tempfile.mkdtemp()
            cfg = {
                "name": "overhead",
                "data": {"dataset": "synthetic", "n_samples": 200, "n_features": 5, "seed": 0},
                "cv": {"folds": 2},
                "search": {"strategy": "random", "n_trials": args.trials, "seed": r},
                "models": {"sklearn.linear_model.Ridge": {"alpha": {"loguniform": [1e-4, 1e2]}}},
                "results": results,
            }
            t0 = time.perf_counter()
            result = Search(cfg).run(client, progress=False, refit=False)
            wall = time.perf_counter() - t0
            df = result.results_
            trial_seconds = float((df["fit_time"] + df["score_time"]).sum())
            ideal = trial_seconds / cores
            runs.append({"trials": len(df), "wall_s": wall, "sum_trial_s": trial_seconds, "ideal_s": ideal,
                         "ratio": wall / ideal, "ms_per_trial": 1000 * trial_seconds / len(df),
                         "part_files": len(os.listdir(os.path.join(results, "overhead")))})
            print(runs[-1], flush=True)
            shutil.rmtree(results)
    ratio = median([r["ratio"] for r in runs])
    md = [
        f"{args.trials} trials (Ridge, 2-fold CV on 200 rows), {cores} worker slots, {args.repeats} repeats.",
        "",
        "| repeat | trials | ms per trial | sum of trial times / slots (s) | tuner wall (s) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(runs):
        md.append(f"| {i} | {r['trials']} | {r['ms_per_trial']:.2f} | {r['ideal_s']:.1f} | {r['wall_s']:.1f} | {r['ratio']:.2f} |")
    md += ["", f"Median ratio wall / (sum of trial times / slots): **{ratio:.2f}** (1.0 = no overhead).",
           "Wall time includes planning, dispatch, result files and reading the results back."]
    write(args.name, {"runs": runs, "median_ratio": ratio}, "\n".join(md))


if __name__ == "__main__":
    main()
