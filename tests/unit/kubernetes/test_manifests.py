"""tuner.kubernetes.manifests and cluster/, checked without a Kubernetes cluster.

* Every DaskCluster that tuner renders (each provider x pool) is validated against the
  openAPIV3Schema of the CRD inside the installed dask-kubernetes wheel, with unknown fields
  forbidden (the API server would silently prune them); the Deployments and Service that the
  operator makes from it (rendered by the operator's own builders) and every manifest in
  cluster/ are validated against strict Kubernetes 1.33 schemas (tests/support/kubernetes.py).
* Placement is checked by behaviour: a small model of the scheduler's node selection and taint
  rules places each pod on nodes labelled and tainted the way each provider does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.configs import config_file
from tests.support.kubernetes import DROP, operator_objects, section, validate_manifest, yaml_docs
from tests.support.paths import BIN, CLUSTER_DIR
from tuner.errors import ConfigError
from tuner.kubernetes import (
    MAX_GRACE_SECONDS,
    POOLS,
    PROVIDERS,
    ROUTES_ENV,
    SCHEDULER_HTTP_ROUTES,
    build_autoscaler_spec,
    build_cluster_spec,
    memory_bytes,
    parse_kubernetes_section,
    render_cluster_spec,
)

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
    adaptive = parse_kubernetes_section(section(workers=DROP))
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


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(CLUSTER_DIR)))
def test_cluster_manifests_validate(path):
    docs = yaml_docs(path)
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
    assert yaml_docs(CLUSTER_DIR / "daskcluster.yaml") == [build_cluster_spec(spec)]
    assert yaml_docs(CLUSTER_DIR / "daskautoscaler.yaml") == [build_autoscaler_spec(spec)]
    resources = {d["kind"]: d for p in MANIFESTS for d in yaml_docs(p)}
    assert resources["PersistentVolumeClaim"]["metadata"]["name"] == spec.results_volume.claim
    assert resources["Secret"]["metadata"]["name"] == spec.credentials_secret
    job = resources["Job"]["spec"]["template"]
    assert job["spec"]["containers"][0]["image"] == spec.image
    assert cfg.results.startswith(
        next(m["mountPath"] for m in job["spec"]["containers"][0]["volumeMounts"] if m["name"] == "results")
    )


def test_secret_template_holds_no_values():
    (secret,) = yaml_docs(CLUSTER_DIR / "secret-template.yaml")
    assert secret["stringData"] and all(re.fullmatch(r"<[^>]+>", v) for v in secret["stringData"].values())
    assert "data" not in secret


def test_network_policy_admits_only_cluster_pods_driver_and_operator():
    (policy,) = yaml_docs(CLUSTER_DIR / "networkpolicy.yaml")
    (job,) = yaml_docs(CLUSTER_DIR / "job" / "job.yaml")
    assert policy["spec"]["podSelector"]["matchExpressions"] == [{"key": "dask.org/cluster-name", "operator": "Exists"}]
    same_cluster, outside = policy["spec"]["ingress"]
    assert "ports" not in same_cluster  # workers exchange data on random ports
    assert {p["port"] for p in outside["ports"]} == {8786, 8787}
    driver = next(f["podSelector"]["matchLabels"] for f in outside["from"] if "podSelector" in f)
    assert driver.items() <= job["spec"]["template"]["metadata"]["labels"].items()


def test_pods_meet_the_namespace_pod_security_standard():
    (namespace,) = yaml_docs(CLUSTER_DIR / "namespace.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (job,) = yaml_docs(CLUSTER_DIR / "job" / "job.yaml")
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
