"""tuner vs scikit-learn GridSearchCV(n_jobs=all cores) vs dask-ml GridSearchCV, per library.

The same California housing grid (a scaled-down version of the classic 26,160-point grid for
these three libraries), the same 3 folds, the same scorer. Reports per library the median wall
time of each harness over the repeats, the ratios measured side by side, the machine's CPU
utilisation, and the largest difference between the per-trial scores of the three.

    python -m benchmarks.grid [--repeats 3] [--sample 10000]

Estimators get one thread each in every harness (no oversubscription, the fairest baseline), and
cluster start-up is excluded for tuner and dask-ml (a notebook starts its cluster once).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile

from benchmarks.common import cpu_meter, ensure_data, median, write

GRIDS = {
    "xgboost": {"max_depth": [3, 5, 7], "learning_rate": [0.05, 0.1], "n_estimators": [50, 100, 200, 400]},
    "lightgbm": {"num_leaves": [15, 31, 63], "learning_rate": [0.05, 0.1], "n_estimators": [50, 100, 200, 400]},
    "catboost": {"depth": [4, 6], "learning_rate": [0.05, 0.1], "iterations": [50, 100, 200, 400]},
}


def estimator(library: str):
    from tuner.models import get_adapter

    return get_adapter(library).make({}, "regression", n_threads=1, seed=0)


def key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def run_sklearn(library, X, y, cv, cores):
    from sklearn.model_selection import GridSearchCV

    gs = GridSearchCV(estimator(library), GRIDS[library], cv=cv, scoring="neg_root_mean_squared_error",
                      n_jobs=cores, refit=False)
    gs.fit(X, y)
    return {key(p): -s for p, s in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"], strict=True)}


def run_dask_ml(library, X, y, cv, client):
    from dask_ml.model_selection import GridSearchCV

    gs = GridSearchCV(estimator(library), GRIDS[library], cv=cv, scoring="neg_root_mean_squared_error",
                      refit=False, scheduler=client)
    gs.fit(X, y)
    return {key(p): -s for p, s in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"], strict=True)}


def run_tuner(library, sample, client, workdir):
    from tuner import Search

    results = tempfile.mkdtemp(dir=workdir)
    cfg = {
        "name": f"grid-{library}",
        "data": {"dataset": "california_housing", "sample": sample, "seed": 0},
        "cv": {"folds": 3, "shuffle": True, "seed": 0},
        "models": {library: GRIDS[library]},
        "results": results,
    }
    result = Search(cfg).run(client, progress=False, refit=False)
    shutil.rmtree(results)
    return {row["params"]: row["mean_test_score"] for _, row in result.results_.iterrows()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample", type=int, default=10000, help="rows of California housing (20640 = all)")
    ap.add_argument("--libraries", nargs="+", default=list(GRIDS))
    ap.add_argument("--rounds", type=int, nargs="+", default=None,
                    help="the rounds axis of every grid (default: 50 100 200 400)")
    ap.add_argument("--name", default="grid", help="results file name under benchmarks/results/")
    args = ap.parse_args()
    if args.rounds:
        for lib, grid in GRIDS.items():
            grid["iterations" if lib == "catboost" else "n_estimators"] = list(args.rounds)
    ensure_data()

    from distributed import Client, LocalCluster
    from sklearn.model_selection import KFold

    from tuner.data import DataSpec, load

    cores = os.cpu_count() or 1
    X, y = load(DataSpec(dataset="california_housing", sample=args.sample, seed=0), "regression")
    cv = KFold(3, shuffle=True, random_state=0)
    workdir = tempfile.mkdtemp()
    rows = []
    with LocalCluster(n_workers=cores, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        for library in args.libraries:
            times: dict[str, list] = {"tuner": [], "sklearn": [], "dask-ml": []}
            util: dict[str, list] = {"tuner": [], "sklearn": [], "dask-ml": []}
            scores: dict[str, dict] = {}
            for r in range(args.repeats):
                order = ["tuner", "sklearn", "dask-ml"]
                order = order[r % 3:] + order[: r % 3]  # rotate, so no harness always runs first
                for harness in order:
                    with cpu_meter() as m:
                        if harness == "tuner":
                            scores[harness] = run_tuner(library, args.sample, client, workdir)
                        elif harness == "sklearn":
                            scores[harness] = run_sklearn(library, X, y, cv, cores)
                        else:
                            scores[harness] = run_dask_ml(library, X, y, cv, client)
                    times[harness].append(m["wall_s"])
                    util[harness].append(m["utilisation"])
                    print(f"{library} repeat {r} {harness}: {m['wall_s']:.2f}s, cpu {m['utilisation']:.0%}", flush=True)
            common = set(scores["tuner"]) & set(scores["sklearn"]) & set(scores["dask-ml"])
            diff = max(abs(scores["tuner"][k] - scores["sklearn"][k]) for k in common)
            diff_dask_ml = max(abs(scores["tuner"][k] - scores["dask-ml"][k]) for k in common)
            med = {h: median(v) for h, v in times.items()}
            rows.append({
                "library": library,
                "trials": len(common),
                "median_wall_s": med,
                "all_wall_s": times,
                "utilisation": {h: median(v) for h, v in util.items()},
                "speedup_vs_sklearn": med["sklearn"] / med["tuner"],
                "speedup_vs_dask_ml": med["dask-ml"] / med["tuner"],
                "per_trial_ratios_vs_sklearn": [s / t for s, t in zip(times["sklearn"], times["tuner"], strict=True)],
                "max_abs_score_difference_vs_sklearn": diff,
                "max_abs_score_difference_vs_dask_ml": diff_dask_ml,
            })
    shutil.rmtree(workdir, ignore_errors=True)
    md = [
        f"California housing, {args.sample} rows, 3-fold CV, {args.repeats} repeats, {cores} workers/jobs. "
        f"Grids: {json.dumps(GRIDS)}.",
        "",
        "| library | trials | tuner s | GridSearchCV s | dask-ml s | speed-up vs GridSearchCV | vs dask-ml | CPU busy (tuner / sklearn / dask-ml) | max score diff vs GridSearchCV / dask-ml |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, u = r["median_wall_s"], r["utilisation"]
        md.append(
            f"| {r['library']} | {r['trials']} | {m['tuner']:.1f} | {m['sklearn']:.1f} | {m['dask-ml']:.1f} | "
            f"{r['speedup_vs_sklearn']:.2f}x | {r['speedup_vs_dask_ml']:.2f}x | "
            f"{u['tuner']:.0%} / {u['sklearn']:.0%} / {u['dask-ml']:.0%} | "
            f"{r['max_abs_score_difference_vs_sklearn']:.1e} / {r['max_abs_score_difference_vs_dask_ml']:.1e} |"
        )
    md.append("")
    md.append("Times are medians of the repeats (seconds, for reading the ratios; they vary between machines).")
    write(args.name, {"sample": args.sample, "repeats": args.repeats, "grids": GRIDS, "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
