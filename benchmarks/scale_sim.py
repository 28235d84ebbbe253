"""Scale simulation: many worker slots, sleep trials, the driver and the scheduler measured.

Two questions, two modes:

- memory (default): 200 slots and 10,000 then 100,000 trials of 2 ms. The driver's and the
  scheduler's memory must stay flat as the number of trials grows (the bounded window keeps a fixed
  number of tasks in flight; strategies generate trials lazily).
- efficiency (``--trial-seconds``): 1,000 slots and trials of 0.1 / 1 / 10 s, ``--waves`` times as
  many trials as slots. Wall time against the ideal (trials x length / slots), tasks per second,
  the driver's and the scheduler's CPU seconds, the driver's memory; and beside each, the floor of
  this machine: the same number of tasks of the same total sleep sent with one ``client.map``
  (no strategy, no window, no results) on the same cluster.

The scheduler and the workers (``--processes`` of them, sharing the slots as threads) run as
processes of their own, started with ``dask scheduler`` and ``dask worker`` as on a real cluster,
so the driver is measured alone; each size gets a fresh scheduler.

    python -m benchmarks.scale_sim [--trials 10000 100000] [--slots 200] [--processes 4] [--ms 1]
    python -m benchmarks.scale_sim --slots 1000 --processes 10 --trial-seconds 0.1 1 10 --name scale_sim_1000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.common import write

ROOT = Path(__file__).resolve().parents[1]


def start_cluster(slots: int, processes: int, workdir: str) -> tuple[list[subprocess.Popen], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    file = os.path.join(workdir, "scheduler.json")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", file, "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not os.path.exists(file) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", file, "--nworkers",
         str(processes), "--nthreads", str(slots // processes), "--no-dashboard", "--memory-limit", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [scheduler, workers], file


def _sleep_batch(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def run(trials: int, slots: int, processes: int, ms: float, floor: bool = False) -> dict:
    """One search of ``trials`` sleep trials (2 folds of ``ms`` each) on a fresh cluster; with
    ``floor``, the same number of tasks and total sleep through one ``client.map`` after it."""
    from distributed import Client

    from tuner import Search
    from tuner.engine import Engine
    from tuner.progress import SearchProgress

    workdir = tempfile.mkdtemp()
    results = os.path.join(workdir, "results")
    cfg = {
        "name": "scale-sim",
        "data": {"dataset": "synthetic", "n_samples": 40, "n_features": 2, "seed": 0},
        "cv": {"folds": 2},
        "search": {"strategy": "random", "n_trials": trials, "seed": 0},
        "models": {"benchmarks.sleep_model.SleepRegressor": {"ms": ms, "offset": {"uniform": [-1.0, 1.0]}}},
        "results": results,
    }
    procs, file = start_cluster(slots, processes, workdir)
    driver = psutil.Process()
    scheduler = psutil.Process(procs[0].pid)
    samples: dict[str, list[float]] = {"driver": [], "scheduler": []}
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples["driver"].append(driver.memory_info().rss / 2**20)
            samples["scheduler"].append(scheduler.memory_info().rss / 2**20)
            time.sleep(0.25)

    floor_s = None
    try:
        with Client(scheduler_file=file) as client:
            client.wait_for_workers(processes, timeout=120)
            search = Search(cfg)
            # warm up: data loaded on every worker, imports done, before the measurement starts
            warm = {**cfg, "search": {**cfg["search"], "n_trials": 2 * slots},
                    "models": {"benchmarks.sleep_model.SleepRegressor": {"ms": 1, "offset": {"uniform": [-1.0, 1.0]}}}}
            Engine(client, search.problem, search.store(), search.schema(), "warm-up").run(Search(warm).strategy())
            shutil.rmtree(results)
            before = {"driver": driver.memory_info().rss / 2**20, "scheduler": scheduler.memory_info().rss / 2**20}
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            workers = psutil.Process(procs[1].pid).children(recursive=True)
            cpu0 = {"driver": cpu_seconds(driver), "scheduler": cpu_seconds(scheduler),
                    "workers": sum(map(cpu_seconds, workers))}
            t0 = time.perf_counter()
            # Drive the engine as a search does (progress fed every record, results flushed to
            # Parquet), without reading the rows back at the end: the measurement is the search loop.
            engine = Engine(client, search.problem, search.store(), search.schema(), "scale-sim")
            strategy = search.strategy()
            with SearchProgress(strategy.total(), search.config.metric, enabled=False) as bar:
                engine.on_record = bar.update
                engine.run(strategy)
            wall = time.perf_counter() - t0
            cpu = {"driver": cpu_seconds(driver) - cpu0["driver"],
                   "scheduler": cpu_seconds(scheduler) - cpu0["scheduler"],
                   "workers": sum(map(cpu_seconds, workers)) - cpu0["workers"]}
            done.set()
            sampler.join()
            stats = engine.stats
            if floor:
                tasks = stats.submitted_tasks
                each = trials * 2 * ms / 1000 / tasks
                t0 = time.perf_counter()
                client.gather(client.map(_sleep_batch, [each] * tasks, pure=False))
                floor_s = time.perf_counter() - t0
            client.shutdown()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    ideal = trials * 2 * ms / 1000 / slots
    peak = {k: max(v) if v else before[k] for k, v in samples.items()}
    return {
        "trials": trials, "slots": slots, "processes": processes, "trial_ms": ms * 2, "wall_s": wall,
        "ideal_s": ideal, "ms_per_trial": 1000 * wall / trials, "efficiency": ideal / wall,
        "floor_s": floor_s, "floor_efficiency": None if floor_s is None else ideal / floor_s,
        "tasks": stats.submitted_tasks, "tasks_per_s": stats.submitted_tasks / wall,
        "max_in_flight": stats.max_in_flight, "min_in_flight_waiting": stats.min_in_flight_waiting,
        "driver_cpu_s": cpu["driver"], "scheduler_cpu_s": cpu["scheduler"], "workers_cpu_s": cpu["workers"],
        "driver_ms_per_task": 1000 * cpu["driver"] / stats.submitted_tasks,
        "scheduler_ms_per_task": 1000 * cpu["scheduler"] / stats.submitted_tasks,
        "driver_rss_before_mib": before["driver"], "driver_rss_peak_mib": peak["driver"],
        "scheduler_rss_before_mib": before["scheduler"], "scheduler_rss_peak_mib": peak["scheduler"],
    }


def memory_report(args, runs: list[dict]) -> tuple[dict, str]:
    small, large = runs[0], runs[-1]
    ratios = {k: large[f"{k}_rss_peak_mib"] / small[f"{k}_rss_peak_mib"] for k in ("driver", "scheduler")}
    md = [
        f"{args.slots} worker slots ({args.processes} worker processes x {args.slots // args.processes} threads, "
        f"scheduler and workers in processes of their own); sleep trials of {2 * args.ms:g} ms "
        f"(2 folds x {args.ms:g} ms).",
        "",
        "| trials | tasks | max tasks in flight | wall (s) | ideal (s) | ms per trial | driver RSS before / peak (MiB) "
        "| scheduler RSS before / peak (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        md.append(f"| {r['trials']} | {r['tasks']} | {r['max_in_flight']} | {r['wall_s']:.1f} | {r['ideal_s']:.1f} | "
                  f"{r['ms_per_trial']:.2f} | {r['driver_rss_before_mib']:.0f} / {r['driver_rss_peak_mib']:.0f} | "
                  f"{r['scheduler_rss_before_mib']:.0f} / {r['scheduler_rss_peak_mib']:.0f} |")
    md += ["", f"Peak memory at {large['trials']} trials / at {small['trials']}: driver **{ratios['driver']:.2f}x**, "
           f"scheduler **{ratios['scheduler']:.2f}x**.",
           "ms per trial is wall / trials on this machine, everything (driver, scheduler, workers) sharing its cores."]
    return {"runs": runs, "memory_ratio": ratios["driver"], "memory_ratios": ratios}, "\n".join(md)


def efficiency_report(args, runs: list[dict]) -> tuple[dict, str]:
    md = [
        f"{args.slots} worker slots ({args.processes} worker processes x {args.slots // args.processes} threads, "
        f"scheduler and workers in processes of their own, all on this machine's {os.cpu_count()} cores); random "
        f"search of sleep trials (2 folds each), {args.waves} times as many trials as slots (fewer for the longest).",
        "",
        "| trial (s) | trials | tasks | tasks/s | wall (s) | ideal (s) | efficiency | floor (s) | floor efficiency "
        "| tuner / floor | driver CPU (s) | scheduler CPU (s) | driver RSS peak (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        md.append(
            f"| {r['trial_ms'] / 1000:g} | {r['trials']} | {r['tasks']} | {r['tasks_per_s']:.0f} | {r['wall_s']:.1f} | "
            f"{r['ideal_s']:.1f} | {r['efficiency']:.0%} | {r['floor_s']:.1f} | {r['floor_efficiency']:.0%} | "
            f"{r['floor_s'] / r['wall_s']:.0%} | {r['driver_cpu_s']:.1f} | {r['scheduler_cpu_s']:.1f} | "
            f"{r['driver_rss_peak_mib']:.0f} |")
    md += ["", "efficiency: ideal / wall. floor: the same tasks and total sleep in one `client.map` on the same "
           "cluster, what Dask itself reaches on this machine; tuner / floor is the share of it tuner keeps."]
    return {"runs": runs}, "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--slots", type=int, default=200)
    ap.add_argument("--processes", type=int, default=4, help="worker processes sharing the slots")
    ap.add_argument("--ms", type=float, default=1.0, help="sleep per fit (2 folds per trial)")
    ap.add_argument("--trial-seconds", type=float, nargs="+",
                    help="efficiency mode: trial lengths (2 folds each); --trials is then ignored")
    ap.add_argument("--waves", type=int, default=20, help="efficiency mode: trials per slot (at most 4 for 10 s)")
    ap.add_argument("--name", default="scale_sim", help="results file name under benchmarks/results/")
    args = ap.parse_args()
    runs = []
    if args.trial_seconds:
        for seconds in args.trial_seconds:
            waves = args.waves if seconds < 10 else min(args.waves, 4)
            runs.append(run(waves * args.slots, args.slots, args.processes, 1000 * seconds / 2, floor=True))
            print(runs[-1], flush=True)
        payload, md = efficiency_report(args, runs)
    else:
        for n in args.trials:
            runs.append(run(n, args.slots, args.processes, args.ms))
            print(runs[-1], flush=True)
        payload, md = memory_report(args, runs)
    write(args.name, payload, md)


if __name__ == "__main__":
    main()
