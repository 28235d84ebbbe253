"""End to end on a real Kubernetes cluster: a KubeCluster from a configuration, a search, Parquet.

Skipped unless ``TUNER_K8S_E2E=1`` and a kubeconfig exists (``$KUBECONFIG`` or
``~/.kube/config``). The cluster needs the dask-kubernetes operator, the namespace from
``kubectl apply -k cluster/`` and the worker image; cluster/README.md ("Live test on kind")
sets all of it up on a laptop. Settings:

``TUNER_K8S_IMAGE``      worker image (default ``tuner:e2e``, loaded into kind)
``TUNER_K8S_NAMESPACE``  namespace (default ``tuning``)
``TUNER_K8S_PROVIDER``   gke, eks, aks or generic (default ``generic``: the kind nodes' labels)
``TUNER_K8S_POOL``       the workers' pool (default ``spot``)
``TUNER_K8S_RESULTS``    results location, e.g. ``s3://bucket/prefix`` (default: a local folder;
                         the driver, this test, writes them)
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest

from tests.support.waiting import wait_for

KUBECONFIG = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
pytestmark = pytest.mark.skipif(
    os.environ.get("TUNER_K8S_E2E") != "1" or not KUBECONFIG.is_file(),
    reason="live Kubernetes test: set TUNER_K8S_E2E=1 with a kubeconfig (cluster/README.md)",
)

NAMESPACE = os.environ.get("TUNER_K8S_NAMESPACE", "tuning")
PROVIDER = os.environ.get("TUNER_K8S_PROVIDER", "generic")
POOL = os.environ.get("TUNER_K8S_POOL", "spot")


def _config(tmp_path: Path, name: str) -> dict:
    return {
        "name": name,
        "data": {"dataset": "diabetes"},  # ships with scikit-learn: no download on the workers
        "cv": {"folds": 3, "shuffle": True, "seed": 0},
        "metric": "rmse",
        "search": {"strategy": "grid"},
        "models": {
            "xgboost": {"max_depth": [2, 3, 4], "n_estimators": [20, 40], "learning_rate": 0.3},
            "sklearn.ensemble.HistGradientBoostingRegressor": {"max_leaf_nodes": [7, 15, 31], "max_iter": [30]},
        },
        "cluster": {
            "kind": "kubernetes",
            "name": name,
            "namespace": NAMESPACE,
            "image": os.environ.get("TUNER_K8S_IMAGE", "tuner:e2e"),
            "provider": PROVIDER,
            "workers": 1,
            "worker": {"cpu": 1, "memory": "1Gi", "pool": POOL},
            "scheduler": {"cpu": "500m", "memory": "1Gi"},
        },
        "results": os.environ.get("TUNER_K8S_RESULTS") or str(tmp_path / "results"),
    }


def _pods(name: str, component: str) -> list:
    import kr8s

    return list(
        kr8s.get(
            "pods",
            namespace=NAMESPACE,
            label_selector={"dask.org/cluster-name": name, "dask.org/component": component},
        )
    )


def _on_interruptible_node(pod) -> bool:
    from kr8s.objects import Node

    from tuner.kubernetes import INTERRUPTIBLE_LABELS

    labels = Node.get(pod.spec.nodeName).labels
    return any(labels.get(key) in values for key, values in INTERRUPTIBLE_LABELS[PROVIDER])


def test_search_on_kubernetes_survives_a_preempted_worker(tmp_path):
    import pyarrow.parquet as pq
    from distributed import Client

    from tuner.cluster import make_cluster
    from tuner.kubernetes import check_versions
    from tuner.results import read_results
    from tuner.search import Search
    from tuner.store import ResultStore

    name = f"tuner-e2e-{uuid.uuid4().hex[:6]}"
    search = Search(_config(tmp_path, name))
    planned = search.plan(with_store=False)["total_trials"]
    with make_cluster(search.config.cluster) as cluster:
        cluster.scale(2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=600)
            check_versions(client, models=[m.name for m in search.config.models])

            (scheduler,) = _pods(name, "scheduler")
            workers = _pods(name, "worker")
            assert not _on_interruptible_node(scheduler)
            assert all(_on_interruptible_node(p) == (POOL != "on-demand") for p in workers)

            # Preempt a worker in the middle of the search: deleting its pod runs the preStop
            # hook (graceful retirement) within the grace period, like a spot node's notice.
            outcome: dict = {}
            thread = threading.Thread(
                target=lambda: outcome.update(result=search.run(client, progress=False, refit=False))
            )
            thread.start()
            store = ResultStore(search.config.results_url)
            wait_for(lambda: store.part_files() or not thread.is_alive(), 600, interval=1, message="the first results")
            if thread.is_alive():
                workers[0].delete()
            thread.join(timeout=900)
            assert not thread.is_alive() and "result" in outcome

    df = read_results(search.config.results_url)
    assert len(df) == planned and (df["status"] == "ok").all(), df[["status", "error"]]
    raw = [pq.read_table(p, filesystem=store.fs, columns=["trial_id"]) for p in store.part_files()]
    ids = [i for t in raw for i in t.column("trial_id").to_pylist()]
    assert len(ids) == len(set(ids)) == planned  # no trial written twice despite the lost worker
