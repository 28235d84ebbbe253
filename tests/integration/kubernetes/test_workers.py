"""Pods from the rendered manifests, as real processes, and the real KubeCluster against a fake API.

* The rendered container commands run for real: a scheduler and two workers started from the
  spec's args and env, the HTTP API route the autoscaler needs, and the preStop hook retiring a
  worker gracefully (its data survives).
* The real ``KubeCluster`` runs against an in-process fake Kubernetes API server
  (tests/support/fake_apiserver.py): make_kube_cluster's spec, adapt and scale reach the API as
  valid custom resources, and every request it makes is allowed by cluster/rbac.yaml.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.support.fake_apiserver import FakeKubernetes, write_kubeconfig
from tests.support.kubernetes import section, yaml_docs
from tests.support.paths import BIN, CLUSTER_DIR
from tests.support.waiting import wait_for
from tuner.kubernetes import build_cluster_spec, check_versions, make_kube_cluster, parse_kubernetes_section


def _expand(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion of container args."""
    return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), a) for a in args]


def _local(args: list[str], **flags: str) -> list[str]:
    """The pod's command on this machine: the venv's ``dask``; loopback only, free ports."""
    out = [str(BIN / args[0])] + list(args[1:])
    for flag, value in flags.items():
        flag = "--" + flag.replace("_", "-")
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


@pytest.fixture(scope="module")
def pods(tmp_path_factory):
    """A scheduler and two workers started from the rendered containers' args and env."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("pods")
    spec = parse_kubernetes_section(section(provider="generic", worker={"cpu": 2, "memory": "1Gi"}))
    manifest = build_cluster_spec(spec)
    sched = manifest["spec"]["scheduler"]["spec"]["containers"][0]
    worker = manifest["spec"]["worker"]["spec"]["containers"][0]

    def env_of(container, **extra):
        env = dict(os.environ) | {e["name"]: e["value"] for e in container["env"]} | extra
        env["HOME"] = str(tmp)
        return env

    with socket.socket() as sock:  # a free port, so that the workers can start with the scheduler
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    commands = [
        (
            "scheduler",
            _local(sched["args"], host="127.0.0.1", port=str(port), dashboard_address="127.0.0.1:0"),
            env_of(sched),
        )
    ]
    for i in range(2):
        name = f"tuner-search-default-worker-{i:010d}"
        env = env_of(worker, DASK_SCHEDULER_ADDRESS=address, DASK_WORKER_NAME=name)
        args = _local(
            _expand(worker["args"], env), host="127.0.0.1", dashboard_address="127.0.0.1:0", local_directory=str(tmp)
        )
        commands.append((name, args, env))
    procs, logs, workers = [], [], {}
    try:
        for name, args, env in commands:
            logs.append((tmp / f"{name}.log").open("w"))
            procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=logs[-1]))
            if name != "scheduler":
                workers[name] = (procs[-1], env)
        with Client(address, set_as_default=False, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            yield {"address": address, "client": client, "workers": workers, "manifest": manifest, "spec": spec}
    finally:
        for proc in reversed(procs):  # workers first: they close quickly while the scheduler is up
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def test_workers_run_with_the_rendered_threads_names_and_memory(pods):
    info = pods["client"].scheduler_info(n_workers=-1)["workers"].values()
    assert info and {w["name"] for w in info} <= set(pods["workers"])
    assert all(w["nthreads"] == 2 and w["memory_limit"] == 2**30 for w in info)


def test_scheduler_serves_the_autoscaler_http_api(pods):
    port = pods["client"].scheduler_info()["services"]["dashboard"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/adaptive_target", timeout=10) as response:
        assert response.status == 200 and "workers" in json.loads(response.read())


@pytest.fixture
def fake_kubernetes(tmp_path, monkeypatch, pods):
    """The fake API server as the kubeconfig's cluster; its scheduler Service reaches ``pods``."""
    import dask_kubernetes.operator.kubecluster.kubecluster as kubecluster

    fake = FakeKubernetes()
    server, url = fake.serve()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", url, "tuning")))

    async def service_address(service_name, namespace, port_name="tcp-comm", **kwargs):
        # cluster DNS / port-forward: the one network hop the fake server cannot provide
        assert (service_name, namespace) == ("tuner-search-scheduler", "tuning")
        if port_name == "http-dashboard":
            return f"tcp://127.0.0.1:{pods['client'].scheduler_info()['services']['dashboard']}"
        return pods["address"]

    monkeypatch.setattr(kubecluster, "get_scheduler_address", service_address)
    yield fake
    server.shutdown()


def _granted(rules: list[dict]) -> set[tuple[str, str]]:
    return {(verb, resource) for rule in rules for resource in rule["resources"] for verb in rule["verbs"]}


#: What the Role grants beyond the requests below: cluster.get_logs() and port-forwarding from
#: outside the cluster (neither happens against the fake server).
RBAC_EXTRAS = {("get", "pods/log"), ("get", "pods/portforward"), ("create", "pods/portforward")}


def test_make_kube_cluster_adapts_and_rbac_is_least_privilege(fake_kubernetes, pods):
    from distributed import Client

    spec = parse_kubernetes_section(section(provider="generic"))
    objects = fake_kubernetes.objects
    with make_kube_cluster(spec, quiet=True, resource_timeout=20) as cluster:
        assert cluster.name == "tuner-search" and cluster.namespace == "tuning"
        with Client(cluster, set_as_default=False) as client:
            assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
            check_versions(client, models=["xgboost"])
        stored = objects[("daskclusters", "tuning", "tuner-search")]
        expected = build_cluster_spec(spec)
        assert stored["spec"] == expected["spec"] and stored["metadata"]["labels"] == expected["metadata"]["labels"]
        assert objects[("daskautoscalers", "tuning", "tuner-search")]["spec"] == {
            "cluster": "tuner-search",
            "minimum": 0,
            "maximum": 200,
        }
        cluster.scale(3)  # turns adaptivity off and sizes the default group
        assert ("daskautoscalers", "tuning", "tuner-search") not in objects
        assert objects[("daskworkergroups", "tuning", "tuner-search-default")]["spec"]["worker"]["replicas"] == 3
    assert fake_kubernetes.rejected == []
    assert ("daskclusters", "tuning", "tuner-search") not in objects  # deleted on close
    role, _ = yaml_docs(CLUSTER_DIR / "rbac.yaml")
    assert _granted(role["rules"]) == set(fake_kubernetes.requests) | RBAC_EXTRAS


def test_make_kube_cluster_scales_without_adapt(fake_kubernetes, pods):
    spec = parse_kubernetes_section(section(adapt=None, workers=3))
    with make_kube_cluster(spec, quiet=True, resource_timeout=20):
        objects = fake_kubernetes.objects
        assert ("daskautoscalers", "tuning", "tuner-search") not in objects
        assert objects[("daskworkergroups", "tuning", "tuner-search-default")]["spec"]["worker"]["replicas"] == 3
        workers = [k for k in objects if k[0] == "deployments" and "-default-worker-" in k[2]]
        assert len(workers) == 3  # the operator's worker Deployments, validated when created
    assert fake_kubernetes.rejected == []
    role, _ = yaml_docs(CLUSTER_DIR / "rbac.yaml")
    assert set(fake_kubernetes.requests) <= _granted(role["rules"])


def test_prestop_hook_retires_the_worker_gracefully(pods):
    """Runs last in this module: it retires one of the two workers."""
    client = pods["client"]
    by_name = {w["name"]: addr for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}
    name = sorted(by_name)[0]
    proc, env = pods["workers"][name]
    future = client.submit(lambda: list(range(1000)), workers=[by_name[name]], pure=False)
    assert len(future.result(timeout=30)) == 1000
    container = pods["manifest"]["spec"]["worker"]["spec"]["containers"][0]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    env = dict(env, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    start = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < pods["spec"].worker_grace_period
    wait_for(lambda: name not in {w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values()}, 30,
             message=f"{name} to leave the scheduler")
    assert proc.wait(timeout=20) == 0  # the worker process exits by itself
    assert len(future.result(timeout=10)) == 1000  # its data moved to the other worker
