"""Scale simulation: 200 worker slots (in-process workers) and 100,000 sleep trials.

Checks that the driver's memory stays flat as the number of trials grows (the bounded window
keeps a fixed number of tasks in flight; strategies generate trials lazily), and records the
per-trial overhead. The driver, the scheduler and the workers share one process here, so the
resident memory reported is an upper bound for the driver's.

    python -m benchmarks.scale_sim [--trials 10000 100000] [--slots 200] [--ms 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time

import psutil

from benchmarks.common import write


def run(trials: int, slots: int, ms: float) -> dict:
    from distributed import Client, LocalCluster

    from tuner import Search

    results = tempfile.mkdtemp()
    cfg = {
        "name": "scale-sim",
        "data": {"dataset": "synthetic", "n_samples": 40, "n_features": 2, "seed": 0},
        "cv": {"folds": 2},
        "search": {"strategy": "random", "n_trials": trials, "seed": 0},
        "models": {"benchmarks.sleep_model.SleepRegressor": {"ms": ms, "offset": {"uniform": [-1.0, 1.0]}}},
        "results": results,
    }
    proc = psutil.Process()
    samples: list[float] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(proc.memory_info().rss / 2**20)
            time.sleep(0.5)

    with LocalCluster(n_workers=slots // 10, threads_per_worker=10, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        search = Search(cfg)
        before = proc.memory_info().rss / 2**20
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        from tuner.engine import Engine

        # Drive the engine directly: the measurement is the search loop, not reading 100,000 rows back.
        engine = Engine(client, search.problem, search.store(), search.schema(), "scale-sim")
        engine.run(search.strategy())
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        stats = engine.stats
    shutil.rmtree(results)
    ideal = trials * 2 * ms / 1000 / slots
    return {
        "trials": trials, "slots": slots, "trial_ms": ms * 2, "wall_s": wall, "ideal_s": ideal,
        "overhead_ms_per_trial": 1000 * (wall - ideal) * slots / trials / slots,
        "tasks": stats.submitted_tasks, "max_in_flight": stats.max_in_flight,
        "rss_before_mib": before, "rss_peak_mib": max(samples) if samples else before,
        "rss_growth_mib": (max(samples) if samples else before) - before,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--slots", type=int, default=200)
    ap.add_argument("--ms", type=float, default=1.0, help="sleep per fit (2 folds per trial)")
    args = ap.parse_args()
    runs = []
    for n in args.trials:
        runs.append(run(n, args.slots, args.ms))
        print(runs[-1], flush=True)
    small, large = runs[0], runs[-1]
    ratio = large["rss_peak_mib"] / small["rss_peak_mib"]
    md = [
        f"{args.slots} in-process worker slots; sleep trials of {2 * args.ms:g} ms (2 folds x {args.ms:g} ms).",
        "",
        "| trials | tasks | max tasks in flight | wall (s) | ideal (s) | driver overhead per trial (ms) | RSS peak (MiB) | RSS growth (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        md.append(f"| {r['trials']} | {r['tasks']} | {r['max_in_flight']} | {r['wall_s']:.1f} | {r['ideal_s']:.1f} | "
                  f"{1000 * r['wall_s'] / r['trials']:.2f} | {r['rss_peak_mib']:.0f} | {r['rss_growth_mib']:.0f} |")
    md += ["", f"Peak memory at {large['trials']} trials / at {small['trials']}: **{ratio:.2f}x**.",
           "Per-trial time is wall / trials: driver, scheduler and all 200 workers share one process (and one GIL) here."]
    write("scale_sim", {"runs": runs, "memory_ratio": ratio}, "\n".join(md))


if __name__ == "__main__":
    main()
