"""A chaos run a user can repeat: a search on a LocalCluster while workers are killed on a schedule.

Runs the same search twice side by side: calm, then with chaos -- every ``--every`` seconds a
random worker is SIGKILLed (no notice), once all of them at once, and one gets SIGTERM (a
preemption notice: graceful retirement; the cluster is scaled back up afterwards). Then prints
trials planned, finished, duplicated and lost, workers killed, and the wall time against the
calm run.

    python -m benchmarks.chaos [--trials 200] [--ms 100] [--workers 3] [--every 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import tempfile
import threading
import time

import pandas as pd

from benchmarks.common import write


def config(results: str, trials: int, ms: float) -> dict:
    return {
        "name": "chaos",
        "data": {"dataset": "synthetic", "n_samples": 60, "n_features": 2},
        "cv": {"folds": 2},
        "search": {"strategy": "random", "n_trials": trials, "seed": 0},
        "models": {"benchmarks.sleep_model.SleepRegressor": {"ms": ms, "offset": {"uniform": [-1.0, 1.0]}}},
        "results": results,
    }


def pids(cluster) -> list[int]:
    """Workers that have started and joined the scheduler (a node is not lost while it boots)."""
    return [ws.pid for ws in list(cluster.scheduler.workers.values()) if ws.pid]


def run(trials: int, ms: float, workers: int, every: float | None, seed: int = 0) -> dict:
    from distributed import Client, LocalCluster

    from tuner import Search

    results = tempfile.mkdtemp()
    kills = {"SIGKILL": 0, "SIGTERM": 0}
    rng = random.Random(seed)
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        done = threading.Event()

        def chaos():
            step = 0
            while not done.wait(every):
                alive = pids(cluster)
                if not alive:
                    continue
                step += 1
                if step == 2:  # every worker at once
                    targets, sig = alive, signal.SIGKILL
                elif step == 3:  # a preemption notice
                    targets, sig = [rng.choice(alive)], signal.SIGTERM
                else:
                    targets, sig = [rng.choice(alive)], signal.SIGKILL
                for pid in targets:
                    try:
                        os.kill(pid, sig)
                        kills[sig.name] += 1
                    except ProcessLookupError:
                        pass
                if sig is signal.SIGTERM:
                    time.sleep(1)
                    cluster.scale(workers)  # the autoscaler's part: replace the retired node

        thread = threading.Thread(target=chaos, daemon=True)
        if every:
            thread.start()
        t0 = time.perf_counter()
        Search(config(results, trials, ms)).run(client, progress=False, refit=False)
        wall = time.perf_counter() - t0
        done.set()
    df = pd.read_parquet(os.path.join(results, "chaos"))
    shutil.rmtree(results)
    finished = int((df["status"] == "ok").sum())
    return {
        "planned": trials, "rows": len(df), "finished": finished,
        "duplicated": int(len(df) - df["trial_id"].nunique()),
        "lost": trials - int(df.loc[df["status"] == "ok", "trial_id"].nunique()),
        "failed": int((df["status"] == "failed").sum()),
        "workers_sigkilled": kills["SIGKILL"], "workers_sigtermed": kills["SIGTERM"], "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--ms", type=float, default=100.0, help="sleep per fold (2 folds per trial)")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--every", type=float, default=5.0, help="seconds between kills")
    args = ap.parse_args()
    calm = run(args.trials, args.ms, args.workers, None)
    print("calm", calm, flush=True)
    chaos = run(args.trials, args.ms, args.workers, args.every)
    print("chaos", chaos, flush=True)
    md = [f"{args.trials} trials of 2 x {args.ms:g} ms on a LocalCluster of {args.workers} worker processes; "
          f"chaos: a kill every {args.every:g} s (one SIGKILL, then all workers at once, then a SIGTERM, then SIGKILLs).",
          "", "| run | planned | finished | duplicated | lost | failed | SIGKILLed | SIGTERMed | wall (s) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for name, r in (("calm", calm), ("chaos", chaos)):
        md.append(f"| {name} | {r['planned']} | {r['finished']} | {r['duplicated']} | {r['lost']} | {r['failed']} | "
                  f"{r['workers_sigkilled']} | {r['workers_sigtermed']} | {r['wall_s']:.1f} |")
    md += ["", f"Wall time with chaos / calm: **{chaos['wall_s'] / calm['wall_s']:.2f}x**."]
    write("chaos", {"calm": calm, "chaos": chaos, "args": vars(args)}, "\n".join(md))


if __name__ == "__main__":
    main()
