"""How much continued training differs from training from scratch, per library.

Trains 20 rounds, continues 40 more (what a Hyperband promotion does), and compares the
predictions with a model trained 60 rounds from scratch, without and with row/column subsampling.

    python -m benchmarks.continuation [--sample 5000]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import ensure_data, write

CASES = {
    "xgboost": ({"max_depth": 4, "learning_rate": 0.1}, {"subsample": 0.8, "colsample_bytree": 0.8}),
    "lightgbm": ({"num_leaves": 15, "learning_rate": 0.1}, {"subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8}),
    "catboost": ({"depth": 4, "learning_rate": 0.1}, {"subsample": 0.8, "bootstrap_type": "Bernoulli", "rsm": 0.8}),
    "sklearn.ensemble.HistGradientBoostingRegressor": ({"max_leaf_nodes": 15, "early_stopping": False}, None),
    "sklearn.ensemble.GradientBoostingRegressor": ({"max_depth": 3}, {"subsample": 0.8}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=5000)
    args = ap.parse_args()
    ensure_data()
    from tuner.data import DataSpec, load
    from tuner.models import get_adapter

    X, y = load(DataSpec(dataset="california_housing", sample=args.sample, seed=0), "regression")
    rows = []
    for model, (params, sampling) in CASES.items():
        adapter = get_adapter(model)
        r = adapter.rounds_param
        for label, extra in (("deterministic", {}), ("subsampled", sampling)):
            if extra is None:
                continue
            p = {**params, **extra}
            first = adapter.make({**p, r: 20}, "regression").fit(X, y)
            cont = adapter.continue_fit(first, {**p, r: 60}, "regression", 1, 0, X, y, extra=40)
            scratch = adapter.make({**p, r: 60}, "regression").fit(X, y)
            diff = np.abs(cont.predict(X) - scratch.predict(X))
            rmse = [float(np.sqrt(np.mean((m.predict(X) - y) ** 2))) for m in (cont, scratch)]
            rows.append({"model": model, "setting": label, "params": p, "max_abs_diff": float(diff.max()),
                         "mean_abs_diff": float(diff.mean()), "train_rmse_continued": rmse[0],
                         "train_rmse_scratch": rmse[1]})
            print(rows[-1], flush=True)
    md = [f"20 rounds, continued by 40, against 60 from scratch; California housing, {args.sample} rows "
          "(target in units of $100,000).", "",
          "| model | setting | max abs diff | mean abs diff | train RMSE continued / scratch |", "|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['model']} | {r['setting']} | {r['max_abs_diff']:.3g} | {r['mean_abs_diff']:.3g} | "
                  f"{r['train_rmse_continued']:.4f} / {r['train_rmse_scratch']:.4f} |")
    write("continuation", {"rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
