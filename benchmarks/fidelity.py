"""Which cheap run predicts the full one: fewer boosting rounds, or fewer rows?

Successive halving, Hyperband, ASHA and BOHB stop configurations after a cheap run; they pay only
where the cheap run ranks configurations as the full run does. Measured on California housing with
random configurations of XGBoost and LightGBM (the spaces of ``benchmarks/configs/fidelity_housing.yaml``,
3-fold CV, RMSE):

- **rounds**: each configuration trained once to 810 rounds and scored at 10, 30, 90, 270 and 810
  (tuner's rounds ladder, ``strategy: random`` with ``max_resource``), as ``tuner fidelity`` reports;
- **rows**: the same configurations trained to 810 rounds on a random 1/9 and 1/3 of each training
  fold (the same test folds), on the same cluster.

For each cheap run: its cost as a share of the full run (rounds x rows), the Spearman rank
correlation of its scores with the full run's, and where the full run's best configuration ranks
under it. This is the measurement behind the default ``min_resource`` (README, "Hyperband").

    python -m benchmarks.fidelity [--trials 40] [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import ensure_data, write

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "configs" / "fidelity_housing.yaml"
FRACTIONS = (1 / 9, 1 / 3)


def rows_score(problem, model: str, params: dict, fraction: float, seed: int) -> float:
    """Mean CV RMSE of the configuration trained on ``fraction`` of each training fold (on a worker)."""
    from tuner.metrics import get_metric, scorer_for

    _, y, splits = problem.load()
    adapter = problem.adapter(model)
    X = problem.model_input(adapter)
    metric = get_metric(problem.metric)
    scorer = scorer_for(metric)
    rng = np.random.default_rng(seed)
    scores = []
    for train, test in splits:
        part = rng.choice(train, size=max(1, int(round(fraction * len(train)))), replace=False)
        est = adapter.make(params, problem.task, problem.n_threads, problem.seed)
        est.fit(X.iloc[part], y[part])
        scores.append(metric.sign * float(scorer(est, X.iloc[test], y[test])))
    return float(np.mean(scores))


def spearman(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a, b], axis=1).dropna()
    return float(both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=40, help="random configurations per model")
    ap.add_argument("--results", help="results folder (a finished one is reused: nothing is trained again)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--name", default="fidelity")
    args = ap.parse_args()
    ensure_data()

    import yaml
    from distributed import Client, LocalCluster

    from tuner import Search
    from tuner.models import get_adapter
    from tuner.results import fidelity, ok_rows

    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["search"]["n_trials"] = args.trials
    cfg["results"] = args.results or tempfile.mkdtemp(prefix="tuner-fidelity-")
    search = Search(cfg)
    top = cfg["search"]["max_resource"]
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        rows = search.run(client, progress=True, refit=False).results_
        rows = ok_rows(rows)
        rounds = fidelity(rows)
        full = rows[rows["n_resources"] == top].copy()
        jobs = []
        for _, row in full.iterrows():
            params = json.loads(row["params"])
            for fraction in FRACTIONS:
                jobs.append((row["trial_id"], row["model"], params, fraction))
        futures = client.map(rows_score, [search.problem] * len(jobs), [j[1] for j in jobs], [j[2] for j in jobs],
                             [j[3] for j in jobs], list(range(len(jobs))), pure=False)
        subsampled = client.gather(futures)

    table = []
    per_model: dict[str, dict] = {}
    for model, group in full.groupby("model"):
        rounds_param = get_adapter(model).rounds_param
        base = {tid: s for tid, s in zip(group["trial_id"], group["mean_test_score"], strict=True)}
        best = min(base, key=base.get)
        per_model[model] = {"configurations": len(base)}
        # rows: the same configurations on fewer rows
        for fraction in FRACTIONS:
            scores = {j[0]: s for j, s in zip(jobs, subsampled, strict=True) if j[1] == model and j[3] == fraction}
            ranked = sorted(scores, key=scores.get)
            table.append({"model": model, "fidelity": f"{fraction:.3f} of the rows, {top} rounds", "cost": fraction,
                          "spearman": spearman(pd.Series(scores), pd.Series(base)),
                          "best_rank": ranked.index(best) + 1, "configurations": len(scores)})
        # rounds: the same fits scored at fewer rounds (the ladder's rows of each configuration)
        ladder = rows[rows["model"] == model].copy()
        ladder["key"] = [json.dumps({k: v for k, v in json.loads(p).items() if k != rounds_param}, sort_keys=True)
                         for p in ladder["params"]]
        by_key = ladder.pivot_table(index="key", columns="n_resources", values="mean_test_score", aggfunc="first")
        best_key = ladder.loc[ladder["trial_id"] == best, "key"].iloc[0]
        for count in sorted(c for c in by_key.columns if c != top):
            column = by_key[count].dropna()
            ranked = list(column.sort_values().index)
            rho = rounds[(rounds["model"] == model) & (rounds["rounds"] == count)]["spearman"]
            table.append({"model": model, "fidelity": f"all rows, {int(count)} rounds", "cost": count / top,
                          "spearman": float(rho.iloc[0]) if len(rho) else spearman(column, by_key[top]),
                          "best_rank": ranked.index(best_key) + 1, "configurations": len(column)})
    df = pd.DataFrame(table).sort_values(["model", "cost"])
    md = [
        f"California housing (20,640 rows), 3-fold CV, RMSE; {args.trials} random configurations per model "
        f"({CONFIG.relative_to(ROOT)}), each trained once to {top} rounds on all rows (the full run).",
        "",
        "| model | cheap run | cost (share of the full run) | Spearman with the full run | the full run's best ranks |",
        "|---|---|---|---|---|",
    ]
    for r in df.itertuples():
        md.append(f"| {r.model} | {r.fidelity} | {r.cost:.3f} | {r.spearman:+.2f} | "
                  f"{r.best_rank} of {r.configurations} |")
    write(args.name, {"trials": args.trials, "max_rounds": top, "rows": df.to_dict("records"), "models": per_model},
          "\n".join(md))


if __name__ == "__main__":
    main()
