"""Whatever dies -- workers (SIGKILL or SIGTERM), the driver -- every trial lands exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import dask
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from tests.support.cli import TUNER
from tests.support.configs import config_file, small_config
from tests.support.waiting import wait_for
from tuner import Search
from tuner.cli import main
from tuner.cluster import make_cluster
from tuner.errors import ResultsLockedError

SLEEP = "benchmarks.sleep_model.SleepRegressor"


def sleep_config(tmp_path, n_trials=40, ms=150, **overrides):
    return small_config(
        tmp_path,
        name="chaos",
        data={"dataset": "synthetic", "n_samples": 60, "n_features": 2},
        cv={"folds": 2},
        search={"strategy": "random", "n_trials": n_trials, "seed": 0, "window": 4},
        models={SLEEP: {"ms": ms, "offset": {"uniform": [-1.0, 1.0]}}},
        **overrides,
    )


def worker_pids(cluster) -> list[int]:
    """The worker processes' pids, from their nannies (what a node's kernel would kill)."""
    return [n.process.pid for n in cluster.workers.values() if n.process is not None and n.process.pid]


def test_workers_killed_and_terminated_mid_search_lose_nothing(tmp_path):
    cfg = sleep_config(tmp_path, n_trials=60, ms=250)
    out = tmp_path / "results" / "chaos"
    killed: list[tuple[str, int]] = []
    outcome: dict = {}
    with LocalCluster(n_workers=3, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(3)

        def search():
            try:
                outcome["result"] = Search(cfg).run(client, progress=False, refit=False)
            except BaseException as exc:  # reported by the assertions below
                outcome["error"] = exc

        thread = threading.Thread(target=search)
        thread.start()

        def running_until(predicate):
            wait_for(lambda: predicate() or not thread.is_alive(), 90, message="the search to get that far")
            assert thread.is_alive(), f"the search ended before the chaos: {outcome}"

        def full_strength():
            return len(cluster.scheduler.workers) == 3 and len(worker_pids(cluster)) == 3

        running_until(lambda: out.exists() and len(list(out.glob("part-*.parquet"))) >= 1)
        pid = worker_pids(cluster)[0]
        os.kill(pid, signal.SIGKILL)  # no notice
        killed.append(("SIGKILL", pid))
        running_until(full_strength)  # the nanny brings a fresh worker
        for pid in worker_pids(cluster):  # every worker at once
            os.kill(pid, signal.SIGKILL)
            killed.append(("SIGKILL", pid))
        running_until(full_strength)
        pid = worker_pids(cluster)[-1]
        os.kill(pid, signal.SIGTERM)  # a preemption notice: graceful retirement
        killed.append(("SIGTERM", pid))
        thread.join(180)
    assert "error" not in outcome, outcome.get("error")
    assert len(killed) == 5
    df = pd.read_parquet(out)
    assert len(df) == 60 and df["trial_id"].is_unique  # nothing lost, nothing twice
    assert (df["status"] == "ok").all(), df["error"].dropna().tolist()
    assert len(outcome["result"].results_) == 60


def test_trial_that_kills_its_worker_fails_after_bounded_attempts(tmp_path):
    cfg = small_config(
        tmp_path,
        search={"strategy": "grid", "max_attempts": 2},
        models={"benchmarks.sleep_model.SleepRegressor": {"ms": [1.0, -1.0]}},  # ms < 0: the fit kills its process
        data={"dataset": "synthetic", "n_samples": 60, "n_features": 2},
    )
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
            result = Search(cfg).run(client, progress=False, refit=False)
    df = result.results_.set_index("param_ms")
    assert df.loc[1.0, "status"] == "ok"
    assert df.loc[-1.0, "status"] == "failed"
    assert "worker died 2 times" in df.loc[-1.0, "error"]


def test_driver_killed_twice_then_resumed(cluster, tmp_path):
    cfg = sleep_config(tmp_path, n_trials=30, ms=60)
    cfg["search"]["window"] = 1  # a slow, steady search: each kill lands midway
    cfg["cluster"] = {"kind": "address", "address": cluster.scheduler_address}
    path = config_file(tmp_path, cfg)
    out = tmp_path / "results" / "chaos"
    counts = []
    for _ in range(2):
        before = len(list(out.glob("part-*.parquet"))) if out.exists() else 0
        proc = subprocess.Popen([*TUNER, "run", str(path), "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda b=before, p=proc: p.poll() is not None or len(list(out.glob("part-*.parquet"))) > b, 120,
                 message="a new part file")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        df = pd.read_parquet(out)  # never an unreadable or partial file
        counts.append(len(df))
        assert df["trial_id"].is_unique
    assert 0 < counts[0] <= counts[1] < 30
    proc = subprocess.run([*TUNER, "run", str(path), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"({30 - counts[1]} run now" in proc.stdout
    df = pd.read_parquet(out)
    assert len(df) == 30 and df["trial_id"].is_unique and (df["status"] == "ok").all()


def test_second_driver_is_refused_while_the_first_is_alive(tmp_path, capsys):
    cfg = small_config(tmp_path)
    path = config_file(tmp_path, cfg)
    out = tmp_path / "results" / "small"
    out.mkdir(parents=True)
    lease = {"run_id": "other-run", "host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
    (out / "_lease.json").write_text(json.dumps(lease))
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "another tuner run is writing" in err and "other-run" in err
    assert not list(out.glob("part-*"))
    # another host, heartbeat fresh: refused too; heartbeat stale: taken
    (out / "_lease.json").write_text(json.dumps({**lease, "host": "elsewhere", "pid": 1}))
    with pytest.raises(ResultsLockedError):
        Search(cfg).run(progress=False, refit=False)
    # a driver that died on this host (pid gone): its lease is stale at once
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / "_lease.json").write_text(json.dumps({**lease, "pid": dead.pid}))
    assert main(["run", str(path), "--quiet", "--workers", "1"]) == 0
    assert not (out / "_lease.json").exists()  # released at the end


def test_results_of_another_search_are_refused(tmp_path, capsys):
    cfg = small_config(tmp_path, models={"xgboost": {"max_depth": [2], "n_estimators": [5]}})
    path = config_file(tmp_path, cfg, "a.yaml")
    assert main(["run", str(path), "--quiet", "--workers", "1"]) == 0
    other = {**cfg, "cv": {"folds": 4}}  # same name and location, other CV: another search
    config_file(tmp_path, other, "a.yaml")
    files = sorted(os.listdir(tmp_path / "results" / "small"))
    assert main(["run", str(path), "--quiet", "--workers", "1"]) == 2
    assert "belong to a search with other data, CV, metric or seed" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "results" / "small")) == files
    assert main(["run", str(path), "--quiet", "--workers", "1", "--allow-mixed"]) == 0


def test_adaptive_cluster_from_zero_workers_scales_up_and_down(tmp_path):
    cfg = sleep_config(tmp_path, n_trials=12, ms=50)
    cluster = make_cluster({"kind": "local", "adapt": {"minimum": 0, "maximum": 2}, "dashboard": False})
    try:
        cluster.adapt(minimum=0, maximum=2, interval="200ms", wait_count=3)
        with Client(cluster) as client:
            assert len(cluster.workers) == 0
            result = Search(cfg).run(client, progress=False, refit=False)
            assert len(result.results_) == 12 and (result.results_["status"] == "ok").all()
            assert result.results_["worker"].nunique() >= 1
            wait_for(lambda: len(cluster.scheduler.workers) == 0, timeout=60, message="the cluster to scale down")
    finally:
        cluster.close()


@pytest.mark.parametrize("allowed_failures", [3, 0], ids=["scheduler-reruns", "engine-resubmits"])
def test_fold_tasks_of_a_killed_worker_are_rerun_and_combined_once(tmp_path, allowed_failures):
    """A worker SIGKILLed while it runs fold tasks: those folds run again (rescheduled by the
    scheduler, or resubmitted by the engine after KilledWorker), and each trial's record is
    combined from exactly one result per fold."""
    from tuner.engine import Engine

    cfg = sleep_config(tmp_path, n_trials=16, ms=300)
    search = Search(cfg)
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}), \
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        engine = Engine(client, search.problem, search.store(), search.schema(), "run-1", batch_size=1,
                        split_folds=True)
        thread = threading.Thread(target=engine.run, args=(search.strategy(),))
        thread.start()
        wait_for(lambda: engine.stats.finished >= 2, 60, message="two finished trials")
        victim = worker_pids(cluster)[0]
        os.kill(victim, signal.SIGKILL)  # the scheduler reruns its folds (allowed-failures)
        thread.join(120)
        engine.flush()
        assert victim not in worker_pids(cluster)
    assert not thread.is_alive()
    # one task per fold, and one more per fold lost with the worker when the engine resubmits
    assert engine.stats.submitted_tasks == 16 * 2 + engine.stats.resubmitted
    assert (engine.stats.resubmitted >= 1) == (allowed_failures == 0)
    df = pd.read_parquet(tmp_path / "results" / "chaos")
    assert len(df) == 16 and df["trial_id"].is_unique
    assert (df["status"] == "ok").all(), df["error"].dropna().tolist()
    assert df["split0_test_score"].notna().all() and df["split1_test_score"].notna().all()
