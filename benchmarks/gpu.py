"""XGBoost on a GPU through tuner: the same grid with ``device: cpu`` on every core and with
``device: cuda`` on a few workers that share the GPU.

Checks that the trials really train on the GPU (the booster's own configuration says so), that the
scores agree with the CPU's (GPU histograms are not bit-identical, so the relative difference is
reported), and how the wall times compare.

    python -m benchmarks.gpu [--repeats 2] [--gpu-workers 1 4] [--name gpu]

Needs an NVIDIA GPU and an XGBoost build with CUDA (the ``xgboost`` wheel from PyPI has it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile

from benchmarks.common import cpu_meter, ensure_data, median, write

GRID = {"max_depth": [6, 8], "learning_rate": [0.05, 0.1], "n_estimators": [200, 400, 800],
        "tree_method": ["hist"]}


def gpu_name() -> str:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "none found"


def trained_on(client) -> list[str]:
    """Fit a small model with device=cuda on every worker and read the device back from the booster."""
    def probe():
        import numpy as np
        import xgboost as xgb

        X = np.random.default_rng(0).normal(size=(256, 4))
        model = xgb.XGBRegressor(n_estimators=2, device="cuda", tree_method="hist").fit(X, X[:, 0])
        return json.loads(model.get_booster().save_config())["learner"]["generic_param"]["device"]

    return sorted(set(client.run(probe).values()))


def run(client, device: str, sample: int, workdir: str) -> dict:
    from tuner import Search

    results = tempfile.mkdtemp(dir=workdir)
    cfg = {
        "name": f"gpu-check-{device}",
        "data": {"dataset": "california_housing", "sample": sample, "seed": 0},
        "cv": {"folds": 3, "shuffle": True, "seed": 0},
        "models": {"xgboost": {**GRID, "device": [device]}},
        "results": results,
    }
    frame = Search(cfg).run(client, progress=False, refit=False).results_
    shutil.rmtree(results)
    out = {}
    for _, row in frame.iterrows():
        params = json.loads(row["params"])
        params.pop("device")
        out[json.dumps(params, sort_keys=True)] = row["mean_test_score"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--sample", type=int, default=20640, help="rows of California housing (20640 = all)")
    ap.add_argument("--gpu-workers", type=int, nargs="+", default=[1, 4],
                    help="worker processes sharing the one GPU, one run each")
    ap.add_argument("--name", default="gpu")
    args = ap.parse_args()
    ensure_data()
    from distributed import Client, LocalCluster

    cores = os.cpu_count() or 1
    workdir = tempfile.mkdtemp()
    setups = [("cpu", cores)] + [("cuda", n) for n in args.gpu_workers]
    times: dict[str, list[float]] = {}
    util: dict[str, list[float]] = {}
    scores: dict[str, dict] = {}
    devices: dict[str, list[str]] = {}
    for device, n in setups:
        label = f"{device} x{n} workers"
        with LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.wait_for_workers(n)
            if device == "cuda":
                devices[label] = trained_on(client)
            for r in range(args.repeats):
                with cpu_meter() as m:
                    scores[label] = run(client, device, args.sample, workdir)
                times.setdefault(label, []).append(m["wall_s"])
                util.setdefault(label, []).append(m["utilisation"])
                print(f"{label} repeat {r}: {m['wall_s']:.2f}s cpu {m['utilisation']:.0%}", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    cpu_label = f"cpu x{cores} workers"
    rows = []
    for label in times:
        common = set(scores[label]) & set(scores[cpu_label])
        rel = max(abs(scores[label][k] - scores[cpu_label][k]) / abs(scores[cpu_label][k]) for k in common)
        rows.append({"setup": label, "median_wall_s": median(times[label]), "all_wall_s": times[label],
                     "utilisation": median(util[label]), "trials": len(common),
                     "speedup_vs_cpu": median(times[cpu_label]) / median(times[label]),
                     "max_rel_score_difference_vs_cpu": rel, "booster_device": devices.get(label, ["cpu"])})
    gpu = gpu_name()
    md = [f"XGBoost, California housing {args.sample} rows, 3-fold CV, grid {json.dumps(GRID)} "
          f"({len(scores[cpu_label])} trials), {args.repeats} repeats. GPU: {gpu}.", "",
          "| setup | booster device | median wall (s) | speed-up vs CPU | CPU busy | max relative score difference vs CPU |",
          "|---|---|---|---|---|---|"]
    md += [f"| {r['setup']} | {', '.join(r['booster_device'])} | {r['median_wall_s']:.1f} | {r['speedup_vs_cpu']:.2f}x | "
           f"{r['utilisation']:.0%} | {r['max_rel_score_difference_vs_cpu']:.1e} |" for r in rows]
    write(args.name, {"gpu": gpu, "grid": GRID, "sample": args.sample, "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
