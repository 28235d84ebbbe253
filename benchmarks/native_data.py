"""What reusing library-native datasets across trials could save: the time each library spends
building its own data structure (XGBoost ``QuantileDMatrix``, LightGBM ``Dataset``, CatBoost
quantised ``Pool``) as a share of a whole fit through its scikit-learn API, on one CV fold of the
grid benchmark's data, one thread.

    python -m benchmarks.native_data [--sample 10000] [--repeats 5]

The share is an upper bound on the gain: a fit through the scikit-learn API builds the structure
once and then trains on it. For XGBoost, whose adapter keeps the training matrix of each fold per
worker thread, the script also times trials of 50 rounds with the matrix kept and built anew.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import ensure_data, median, write

MODELS = {
    "xgboost": ({"max_depth": 5, "learning_rate": 0.1}, "n_estimators"),
    "lightgbm": ({"num_leaves": 31, "learning_rate": 0.1}, "n_estimators"),
    "catboost": ({"depth": 6, "learning_rate": 0.1}, "iterations"),
}


def build(library: str, X, y) -> None:
    if library == "xgboost":
        import xgboost as xgb

        xgb.QuantileDMatrix(X, y, max_bin=256, nthread=1)
    elif library == "lightgbm":
        import lightgbm as lgb

        lgb.Dataset(X, y, params={"verbose": -1, "num_threads": 1}).construct()
    else:
        from catboost import Pool

        Pool(X, y, thread_count=1).quantize()


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    ensure_data()
    from tuner.data import DataSpec, load
    from tuner.models import get_adapter

    X, y = load(DataSpec(dataset="california_housing", sample=args.sample, seed=0), "regression")
    n_train = len(X) * 2 // 3  # one fold of 3-fold CV
    X, y = X.iloc[:n_train], y[:n_train]
    rows = []
    for library, (params, rounds) in MODELS.items():
        adapter = get_adapter(library)
        build_s = timed(lambda lib=library: build(lib, X, y), args.repeats)
        for n in (50, 400):
            fit_s = timed(lambda a=adapter, p={**params, rounds: n}: a.make(p, "regression", 1, 0).fit(X, y),
                          args.repeats)
            rows.append({"library": library, "rounds": n, "build_s": build_s, "fit_s": fit_s, "share": build_s / fit_s})
            print(rows[-1], flush=True)
    # XGBoost's adapter: the same 50-round trials with the fold's matrix kept, and built per fit
    adapter = get_adapter("xgboost")
    grid = [{"max_depth": d, "learning_rate": lr, "n_estimators": 50} for d in (3, 5, 7) for lr in (0.05, 0.1)]

    def trials(keep: bool) -> None:
        for p in grid:
            est = adapter.make(p, "regression", 1, 0)
            adapter.fit(est, X, y, data_key=("fold", 0) if keep else None)

    kept = {k: timed(lambda k=k: trials(k), args.repeats) for k in (False, True)}
    reuse = {"trials": len(grid), "built_per_fit_s": kept[False], "kept_s": kept[True],
             "speedup": kept[False] / kept[True]}
    md = [f"California housing, {n_train} training rows (one fold of {args.sample}), one thread, "
          f"medians of {args.repeats} repeats.", "",
          "| library | rounds | native dataset build (ms) | whole fit (ms) | build / fit |", "|---|---|---|---|---|"]
    md += [f"| {r['library']} | {r['rounds']} | {1000 * r['build_s']:.1f} | {1000 * r['fit_s']:.0f} | {r['share']:.1%} |"
           for r in rows]
    md += ["", f"XGBoost through tuner's adapter, {len(grid)} trials of 50 rounds on this fold: "
           f"{kept[False]:.2f} s with a matrix built per fit, {kept[True]:.2f} s with the fold's matrix kept: "
           f"**{reuse['speedup']:.2f}x**."]
    write("native_data", {"sample": args.sample, "models": MODELS, "rows": rows, "xgboost_reuse": reuse}, "\n".join(md))


if __name__ == "__main__":
    main()
