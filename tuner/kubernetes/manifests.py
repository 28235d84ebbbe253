"""Kubernetes manifests: the ``DaskCluster`` and ``DaskAutoscaler`` resources of a search.

Pure functions of a validated :class:`~tuner.kubernetes.spec.KubernetesSpec` that return plain
dicts, so that every manifest is unit-tested and schema-validated without a cluster. The tables
here (each provider's spot labels and taints, grace periods, reserved environment variables) are
also what :mod:`tuner.kubernetes.spec` validates against, so this module imports nothing from it
at run time.

Example
-------
>>> placement("gke", "spot")["nodeSelector"]
{'cloud.google.com/gke-spot': 'true'}
>>> grace_period("gke", "spot")
15
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError, TunerError
from tuner.validation import choice

if TYPE_CHECKING:  # pragma: no cover
    from tuner.config import ClusterConfig
    from tuner.kubernetes.spec import KubernetesSpec, PodRole

__all__ = [
    "build_autoscaler_spec",
    "build_cluster_spec",
    "grace_period",
    "import_operator",
    "memory_bytes",
    "merge_affinity",
    "placement",
    "render_cluster_spec",
    "retire_command",
    "strip_none",
]

PROVIDERS = ("gke", "eks", "aks", "generic")
POOLS = ("spot", "preemptible", "on-demand")
#: The extended resource of NVIDIA's device plugin, and the taint GPU node pools carry
#: (GKE and AKS add it themselves; EKS and others by convention).
GPU_RESOURCE = "nvidia.com/gpu"

#: Node label and taint of each provider's spot / preemptible capacity: (key, value).
#: GKE labels spot and preemptible nodes itself (Standard pools get the taint from
#: ``--node-taints``); AKS labels and taints spot pools itself; on EKS Karpenter labels nodes with
#: their capacity type and the NodePool adds the taint; elsewhere the cluster's operator labels
#: and taints the nodes (see cluster/README.md). Providers with a single kind of interruptible
#: capacity use it for both 'spot' and 'preemptible'.
SPOT_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "gke": {
        "spot": ("cloud.google.com/gke-spot", "true"),
        "preemptible": ("cloud.google.com/gke-preemptible", "true"),
    },
    "eks": {"spot": ("karpenter.sh/capacity-type", "spot"), "preemptible": ("karpenter.sh/capacity-type", "spot")},
    "aks": {
        "spot": ("kubernetes.azure.com/scalesetpriority", "spot"),
        "preemptible": ("kubernetes.azure.com/scalesetpriority", "spot"),
    },
    "generic": {
        "spot": ("node.kubernetes.io/lifecycle", "spot"),
        "preemptible": ("node.kubernetes.io/lifecycle", "spot"),
    },
}
#: Node labels (key, values) that mark interruptible nodes: on-demand pods require their absence.
#: EKS managed node groups label nodes with ``eks.amazonaws.com/capacityType`` instead of Karpenter's.
INTERRUPTIBLE_LABELS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "gke": (("cloud.google.com/gke-preemptible", ("true",)), ("cloud.google.com/gke-spot", ("true",))),
    "eks": (("eks.amazonaws.com/capacityType", ("SPOT",)), ("karpenter.sh/capacity-type", ("spot",))),
    "aks": (("kubernetes.azure.com/scalesetpriority", ("spot",)),),
    "generic": (("node.kubernetes.io/lifecycle", ("spot",)),),
}
#: Label keys that mark interruptible nodes on any provider.
SPOT_LABEL_KEYS = tuple(sorted({key for labels in INTERRUPTIBLE_LABELS.values() for key, _ in labels}))
#: Values of :data:`SPOT_LABEL_KEYS` that mark interruptible capacity (None: a toleration of any value).
SPOT_VALUES = (None, "true", "spot", "SPOT")

#: Seconds a pod gets between its termination notice and SIGKILL, per provider, for workers on
#: interruptible capacity. GKE gives non-system pods about 15 s of a spot node's 30 s notice by
#: default; AKS gives 30 s and EKS two minutes, but the grace period is kept <= 25 s everywhere:
#: retiring a worker takes seconds, and a shorter period frees the node sooner.
SPOT_GRACE_SECONDS = {"gke": 15, "eks": 25, "aks": 25, "generic": 25}
ON_DEMAND_GRACE_SECONDS = 25
MAX_GRACE_SECONDS = 25

UID = 1000  #: the image's non-root user (Dockerfile: useradd --uid 1000 tuner)
WORKER_DASHBOARD_PORT = 8788
LOCAL_DIRECTORY = "/tmp/dask"

#: distributed's default scheduler HTTP routes plus the JSON API (``/api/v1/...``) that the
#: operator's autoscaler uses for ``adaptive_target`` and ``retire_workers``.
SCHEDULER_HTTP_ROUTES = (
    "distributed.http.scheduler.prometheus",
    "distributed.http.scheduler.info",
    "distributed.http.scheduler.json",
    "distributed.http.health",
    "distributed.http.proxy",
    "distributed.http.statics",
    "distributed.http.scheduler.api",
)
ROUTES_ENV = "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES"
#: Environment variables set by tuner or by the operator: the ``env`` key cannot override them.
RESERVED_ENV = (ROUTES_ENV, "DASK_SCHEDULER_ADDRESS", "DASK_WORKER_NAME")

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity such as ``8Gi``, ``512Mi`` or ``4G``.

    >>> memory_bytes("8Gi"), memory_bytes("1.5G")
    (8589934592, 1500000000)
    """
    match = _QUANTITY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


# -- pure spec builders -----------------------------------------------------------------------


def grace_period(provider: str, pool: str) -> int:
    """``terminationGracePeriodSeconds`` for a worker of ``pool`` on ``provider``.

    >>> grace_period("gke", "spot"), grace_period("aks", "spot"), grace_period("gke", "on-demand")
    (15, 25, 25)
    """
    seconds = ON_DEMAND_GRACE_SECONDS if pool == "on-demand" else SPOT_GRACE_SECONDS[provider]
    return min(seconds, MAX_GRACE_SECONDS)


def _on_demand_affinity(provider: str) -> dict:
    """A required node affinity that keeps a pod off every interruptible node of ``provider``."""
    expressions = [
        {"key": key, "operator": "NotIn", "values": list(values)} for key, values in INTERRUPTIBLE_LABELS[provider]
    ]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}
        }
    }


def placement(provider: str, pool: str) -> dict[str, Any]:
    """Node selector, tolerations and affinity that put a pod on ``pool`` nodes of ``provider``.

    Spot and preemptible pods select the pool's node label and tolerate its ``NoSchedule`` taint;
    on-demand pods get a required node affinity away from interruptible nodes (``NotIn`` also
    matches nodes without the label) and tolerate nothing.

    >>> placement("aks", "spot")["tolerations"]
    [{'key': 'kubernetes.azure.com/scalesetpriority', 'operator': 'Equal', 'value': 'spot', 'effect': 'NoSchedule'}]
    >>> placement("gke", "on-demand")["nodeSelector"]
    {}
    """
    choice(provider, PROVIDERS, "cluster.provider")
    choice(pool, POOLS, "cluster.worker.pool")
    if pool == "on-demand":
        return {"nodeSelector": {}, "tolerations": [], "affinity": _on_demand_affinity(provider)}
    key, value = SPOT_LABELS[provider][pool]
    return {
        "nodeSelector": {key: value},
        "tolerations": [{"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}],
        "affinity": {},
    }


def merge_affinity(base: Mapping, extra: Mapping) -> dict:
    """Combine two affinities so that both hold: required node terms are ANDed, the rest added."""
    out = copy.deepcopy(dict(base))
    for kind, value in extra.items():
        value = copy.deepcopy(dict(value))
        if kind != "nodeAffinity" or kind not in out:
            if kind in out:
                for rule, terms in value.items():
                    out[kind][rule] = list(out[kind].get(rule, [])) + list(terms)
            else:
                out[kind] = value
            continue
        node = out[kind]
        for rule, terms in value.items():
            if rule == "requiredDuringSchedulingIgnoredDuringExecution" and rule in node:
                mine = node[rule].get("nodeSelectorTerms", [])
                theirs = terms.get("nodeSelectorTerms", [])
                # (a1 or a2) and (b1 or b2) == (a1 and b1) or (a1 and b2) or ...
                combined = []
                for a in mine or [{}]:
                    for b in theirs or [{}]:
                        term = {}
                        for part in ("matchExpressions", "matchFields"):
                            items = list(a.get(part, [])) + list(b.get(part, []))
                            if items:
                                term[part] = items
                        combined.append(term)
                node[rule] = {"nodeSelectorTerms": combined}
            else:
                node[rule] = (list(node.get(rule, [])) + list(terms)) if isinstance(terms, list) else terms
    return out


def _pod_placement(spec: KubernetesSpec, role: PodRole) -> dict[str, Any]:
    generated = placement(spec.provider, role.pool)
    node_selector = generated["nodeSelector"] | dict(role.node_selector)
    tolerations = generated["tolerations"] + [dict(t) for t in role.tolerations]
    if role.gpus and not any(t.get("key") == GPU_RESOURCE for t in tolerations):
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    affinity = merge_affinity(generated["affinity"], role.affinity)
    out: dict[str, Any] = {}
    if node_selector:
        out["nodeSelector"] = node_selector
    if tolerations:
        out["tolerations"] = tolerations
    if affinity:
        out["affinity"] = affinity
    return out


def retire_command(timeout: int) -> list[str]:
    """The worker's ``preStop`` command: ask the scheduler to retire this worker gracefully.

    Retirement moves the worker's results to other workers and reschedules its running tasks
    without counting them as failures (a plain SIGTERM closes the worker within 10 s, and its
    tasks count towards ``allowed-failures``). ``timeout`` bounds the whole hook so that it fits
    in the pod's grace period. ``DASK_SCHEDULER_ADDRESS`` and ``DASK_WORKER_NAME`` are set on
    every worker container by the operator.

    >>> retire_command(13)[:3]
    ['timeout', '13', 'python']
    """
    script = (
        "import os; from distributed import Client; "
        "c = Client(os.environ['DASK_SCHEDULER_ADDRESS'], timeout=5, set_as_default=False); "
        "c.retire_workers(names=[os.environ['DASK_WORKER_NAME']], close_workers=True); "
        "c.close()"
    )
    return ["timeout", str(timeout), "python", "-c", script]


def _security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security_context() -> dict:
    # fsGroup makes the results volume writable by the non-root user
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _labels(spec: KubernetesSpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "tuner",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "dask-kubernetes-operator",
    }


def _env_list(spec: KubernetesSpec) -> list[dict[str, str]]:
    # writable caches on the read-only root filesystem; the configuration's env may override
    env = {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib"} | dict(spec.env)
    return [{"name": k, "value": v} for k, v in env.items()]


def _resources(cpu: int | str, memory: str, gpus: int = 0) -> dict:
    # requests == limits: Guaranteed QoS, the last pods evicted under node pressure
    quantities = {"cpu": str(cpu), "memory": memory} | ({GPU_RESOURCE: str(gpus)} if gpus else {})
    return {"requests": dict(quantities), "limits": dict(quantities)}


def _tmp_volume() -> tuple[dict, dict]:
    return {"name": "tmp", "emptyDir": {}}, {"name": "tmp", "mountPath": "/tmp"}


def _worker_pod(spec: KubernetesSpec, base: dict) -> dict:
    role = spec.worker
    grace = spec.worker_grace_period
    container = base["spec"]["containers"][0]
    volume, mount = _tmp_volume()
    volumes, mounts = [volume], [mount]
    if spec.results_volume is not None:
        volumes.append({"name": "results", "persistentVolumeClaim": {"claimName": spec.results_volume.claim}})
        mounts.append({"name": "results", "mountPath": spec.results_volume.mount})
    container.update(
        {
            "imagePullPolicy": "IfNotPresent",
            "env": _env_list(spec),
            "resources": _resources(role.cpu, role.memory, role.gpus),
            "securityContext": _security_context(),
            "volumeMounts": mounts,
            # retire gracefully before SIGTERM; 2 s are left for the process to exit
            "lifecycle": {"preStop": {"exec": {"command": retire_command(max(grace - 2, 1))}}},
        }
    )
    if spec.credentials_secret:
        container["envFrom"] = [{"secretRef": {"name": spec.credentials_secret}}]
    pod = {
        "terminationGracePeriodSeconds": grace,
        "securityContext": _pod_security_context(),
        "automountServiceAccountToken": False,  # workers never call the Kubernetes API
        **_pod_placement(spec, role),
        "volumes": volumes,
        "containers": [container],
    }
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    return {
        "replicas": spec.workers,
        "metadata": {
            "labels": _labels(spec, "dask-worker") | {"tuner/pool": role.pool},
            # graceful retirement makes workers safe to move when the autoscaler drains a node
            "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
        },
        "spec": pod,
    }


def _scheduler_pod(spec: KubernetesSpec, base: dict) -> dict:
    role = spec.scheduler
    container = base["spec"]["containers"][0]
    volume, mount = _tmp_volume()
    container.update(
        {
            "args": ["dask", "scheduler", "--host", "0.0.0.0"],
            "imagePullPolicy": "IfNotPresent",
            "env": _env_list(spec) + [{"name": ROUTES_ENV, "value": repr(list(SCHEDULER_HTTP_ROUTES))}],
            "resources": _resources(role.cpu, role.memory),
            "securityContext": _security_context(),
            "volumeMounts": [mount],
        }
    )
    pod = {
        "securityContext": _pod_security_context(),
        "automountServiceAccountToken": False,
        **_pod_placement(spec, role),
        "volumes": [volume],
        "containers": [container],
    }
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    service = base["service"]
    service["type"] = "ClusterIP"  # never exposed: 8786 runs code, 8787 has no authentication
    return {
        "metadata": {
            "labels": _labels(spec, "dask-scheduler"),
            # the scheduler holds every task's state: autoscalers must not move it
            "annotations": {
                "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
                "karpenter.sh/do-not-disrupt": "true",
            },
        },
        "spec": pod,
        "service": service,
    }


def strip_none(obj: Any) -> Any:
    """A copy of ``obj`` without ``None`` values in mappings (the API server drops them too)."""
    if isinstance(obj, Mapping):
        return {k: strip_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [strip_none(v) for v in obj]
    return obj


def import_operator() -> ModuleType:
    """``dask_kubernetes.operator``, imported on first use: only kind ``kubernetes`` needs it.

    Raises
    ------
    tuner.errors.TunerError
        When dask-kubernetes is not installed, naming the extra that installs it.
    """
    try:
        from dask_kubernetes import operator
    except ImportError as exc:  # pragma: no cover - dask-kubernetes is in requirements.lock
        raise TunerError("cluster kind 'kubernetes' needs dask-kubernetes: pip install 'tuner[kubernetes]'") from exc
    return operator


def build_cluster_spec(spec: KubernetesSpec) -> dict[str, Any]:
    """The ``DaskCluster`` manifest for ``spec`` (a dict without ``None`` values).

    Starts from ``dask_kubernetes.operator.make_cluster_spec`` and edits the worker and scheduler
    PodSpecs; the worker group is the cluster's ``default`` group, the one ``adapt`` scales.

    Parameters
    ----------
    spec : KubernetesSpec

    Returns
    -------
    dict
        ``apiVersion: kubernetes.dask.org/v1``, ``kind: DaskCluster``.
    """
    operator = import_operator()
    role = spec.worker
    worker_command = [
        "dask",
        "worker",
        "--nthreads",
        str(role.cpu),  # one trial per thread, one thread per requested core
        "--nworkers",
        "1",
        "--memory-limit",
        str(memory_bytes(role.memory)),
        "--local-directory",
        LOCAL_DIRECTORY,
    ]
    data = operator.make_cluster_spec(
        name=spec.name,
        image=spec.image,
        n_workers=spec.workers,
        worker_command=worker_command,
        scheduler_service_type="ClusterIP",
        idle_timeout=spec.idle_timeout,
    )
    data["metadata"]["labels"] = _labels(spec, "dask-cluster")
    if spec.namespace:
        data["metadata"]["namespace"] = spec.namespace
    data["spec"]["worker"] = _worker_pod(spec, data["spec"]["worker"])
    data["spec"]["scheduler"] = _scheduler_pod(spec, data["spec"]["scheduler"])
    return strip_none(data)


def build_autoscaler_spec(spec: KubernetesSpec) -> dict[str, Any] | None:
    """The ``DaskAutoscaler`` manifest that ``adapt`` creates, or None without ``adapt``."""
    if spec.adapt is None:
        return None
    metadata: dict[str, Any] = {"name": spec.name, "labels": _labels(spec, "dask-autoscaler")}
    if spec.namespace:
        metadata["namespace"] = spec.namespace
    return {
        "apiVersion": "kubernetes.dask.org/v1",
        "kind": "DaskAutoscaler",
        "metadata": metadata,
        "spec": {"cluster": spec.name, "minimum": spec.adapt.minimum, "maximum": spec.adapt.maximum},
    }


def render_cluster_spec(cluster_config: ClusterConfig, fmt: str = "yaml") -> str:
    """The ``DaskCluster`` manifest of a cluster configuration, as YAML or JSON text.

    Raises
    ------
    tuner.errors.ConfigError
        When ``cluster.kind`` is not ``kubernetes`` or ``fmt`` is neither yaml nor json.
    """
    if getattr(cluster_config, "kind", None) != "kubernetes" or cluster_config.kubernetes is None:
        raise ConfigError(
            "cluster.kind",
            getattr(cluster_config, "kind", None),
            "kubernetes (only a Kubernetes cluster has a manifest)",
        )
    choice(fmt, ("yaml", "json"), "--format")
    manifest = build_cluster_spec(cluster_config.kubernetes)
    if fmt == "json":
        return json.dumps(manifest, indent=2)
    import yaml

    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, width=1000).rstrip("\n")

