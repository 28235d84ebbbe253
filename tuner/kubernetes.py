"""Kubernetes: a Dask cluster for a search through the dask-kubernetes operator.

Design
------
Everything that decides *what* runs on Kubernetes is a pure function of the validated
``cluster`` section (:class:`KubernetesSpec`) and returns plain dicts, so that it is unit-tested
and schema-validated without a cluster:

* :func:`parse_kubernetes_section` validates every key of the section (called by
  :mod:`tuner.config`); every error names the dotted key, the value and what is allowed.
* :func:`build_cluster_spec` starts from ``dask_kubernetes.operator.make_cluster_spec`` and then
  edits the worker and scheduler PodSpecs, because the operator's ``KubeCluster`` has no keyword
  arguments for node placement, volumes, security contexts or lifecycle hooks.
* :func:`make_kube_cluster` is the only function that talks to the Kubernetes API: it passes that
  spec to ``KubeCluster(custom_cluster_spec=...)`` and then calls ``adapt`` or ``scale``.

Choices the spec encodes, and why:

* A worker runs ``--nthreads`` equal to its integer CPU request and one trial per thread, so
  trials never oversubscribe the cores they were given. Requests equal limits (Guaranteed QoS),
  which makes a worker the last pod the kubelet evicts under node pressure.
* Workers go to the spot or preemptible pool (node selector + toleration of that pool's taint,
  per provider); the scheduler never does: it gets a required node affinity away from spot nodes
  and no spot toleration, because losing the scheduler loses the whole cluster.
* A preempted worker retires gracefully: a ``preStop`` hook asks the scheduler to retire it
  (its finished results move to other workers and its running trials are rescheduled without
  counting as failures), bounded by ``timeout`` so it fits in ``terminationGracePeriodSeconds``,
  which is set from the provider's preemption notice (GKE spot pods get about 15 s of the
  node's 30 s; AKS 30 s; EKS 2 min; never more than 25 s here).
* The scheduler's HTTP API route is enabled, so the operator's autoscaler asks the scheduler
  which workers to retire instead of deleting the newest pods. The API has no authentication:
  the Service stays ``ClusterIP`` and ``cluster/networkpolicy.yaml`` restricts ports 8786/8787.
* Credentials come from a Secret by reference (``envFrom``), never as values in the spec;
  containers run as the image's non-root user (uid 1000) with a read-only root filesystem.

Example
-------
>>> spec = parse_kubernetes_section({
...     "kind": "kubernetes", "name": "demo", "image": "registry.example.com/tuner:0.1.0",
...     "provider": "gke", "workers": 2, "worker": {"cpu": 2, "memory": "8Gi", "pool": "spot"},
... })
>>> manifest = build_cluster_spec(spec)
>>> manifest["spec"]["worker"]["spec"]["nodeSelector"]
{'cloud.google.com/gke-spot': 'true'}
>>> manifest["spec"]["worker"]["spec"]["containers"][0]["args"][:4]
['dask', 'worker', '--nthreads', '2']
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuner.config import _check_keys, _choice, _int
from tuner.errors import ConfigError, TunerError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from tuner.config import ClusterConfig

__all__ = [
    "Adapt",
    "KubernetesSpec",
    "PodRole",
    "ResultsVolume",
    "VersionMismatchError",
    "build_autoscaler_spec",
    "build_cluster_spec",
    "check_versions",
    "compare_versions",
    "grace_period",
    "make_kube_cluster",
    "parse_kubernetes_section",
    "placement",
    "render_cluster_spec",
    "retire_command",
    "strip_none",
]

PROVIDERS = ("gke", "eks", "aks", "generic")
POOLS = ("spot", "preemptible", "on-demand")
SECTION_KEYS = (
    "kind",
    "name",
    "namespace",
    "image",
    "provider",
    "workers",
    "adapt",
    "worker",
    "scheduler",
    "results_volume",
    "credentials_secret",
    "service_account",
    "env",
    "node_selector",
    "tolerations",
    "affinity",
    "idle_timeout",
)
ROLE_KEYS = ("cpu", "memory", "pool", "gpus", "node_selector", "tolerations", "affinity")
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
_SPOT_VALUES = (None, "true", "spot", "SPOT")

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
_SECRET_LIKE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|API_KEY", re.I)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
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
MAX_CLUSTER_NAME_LEN = 53  #: dask-kubernetes' limit: pod names append '-default-worker-<uuid>'
MIN_MEMORY = 256 * 2**20


# -- the validated section --------------------------------------------------------------------


@dataclass(frozen=True)
class PodRole:
    """Resources and placement of one kind of pod (the workers or the scheduler).

    ``cpu`` is an integer number of cores for workers (it is also their ``--nthreads``) and a
    Kubernetes CPU quantity string for the scheduler.
    """

    cpu: int | str
    memory: str
    pool: str
    node_selector: dict = field(default_factory=dict, hash=False)
    tolerations: tuple = ()
    affinity: dict = field(default_factory=dict, hash=False)
    gpus: int = 0  #: NVIDIA GPUs per worker pod (``nvidia.com/gpu``), workers only


@dataclass(frozen=True)
class Adapt:
    """Adaptive scaling bounds; the DaskAutoscaler resource requires both."""

    minimum: int
    maximum: int


@dataclass(frozen=True)
class ResultsVolume:
    """A PersistentVolumeClaim mounted into every worker."""

    claim: str
    mount: str


@dataclass(frozen=True)
class KubernetesSpec:
    """The validated ``cluster`` section of kind ``kubernetes``.

    Build it with :func:`parse_kubernetes_section`; turn it into a ``DaskCluster`` manifest with
    :func:`build_cluster_spec`.
    """

    name: str
    image: str
    provider: str = "generic"
    namespace: str | None = None
    workers: int = 2  #: initial replicas of the default worker group
    adapt: Adapt | None = None
    worker: PodRole = PodRole(cpu=1, memory="4Gi", pool="spot")
    scheduler: PodRole = PodRole(cpu="1", memory="2Gi", pool="on-demand")
    results_volume: ResultsVolume | None = None
    credentials_secret: str | None = None
    service_account: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    idle_timeout: int = 0  #: seconds; the operator deletes an idle cluster (0: never)

    @property
    def worker_grace_period(self) -> int:
        """``terminationGracePeriodSeconds`` of the worker pods (see :func:`grace_period`)."""
        return grace_period(self.provider, self.worker.pool)


# -- validation helpers -----------------------------------------------------------------------


def _mapping(value: Any, key: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a mapping")
    return value


def _dns(value: Any, key: str, what: str, subdomain: bool = True, max_len: int = 253) -> str:
    pattern = _DNS_SUBDOMAIN if subdomain else _DNS_LABEL
    if not isinstance(value, str) or len(value) > max_len or not pattern.match(value):
        raise ConfigError(
            key,
            value,
            f"{what}: lower-case letters, digits and '-'{', ' + repr('.') if subdomain else ''}, "
            f"starting and ending with a letter or digit, at most {max_len} characters",
        )
    return value


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity such as ``8Gi``, ``512Mi`` or ``4G``.

    >>> memory_bytes("8Gi"), memory_bytes("1.5G")
    (8589934592, 1500000000)
    """
    match = _QUANTITY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def _memory(value: Any, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(key, value, "a Kubernetes memory quantity such as 8Gi or 512Mi")
    text = str(value)
    if not _QUANTITY.match(text):
        hint = "binary units are Ki, Mi, Gi, Ti (not GB or gb)" if re.search(r"[A-Za-z]", text) else None
        raise ConfigError(key, value, "a Kubernetes memory quantity such as 8Gi or 512Mi", hint)
    if memory_bytes(text) < MIN_MEMORY:
        raise ConfigError(key, value, "at least 256Mi", "a worker holds a copy of the data and a model being fit")
    return text


def _worker_cpu(value: Any, key: str) -> int:
    """An integer number of cores: ``2``, ``"2"`` or ``"2000m"``."""
    allowed = "a whole number of cores >= 1 such as 2 or '2000m' (a worker runs one trial per core)"
    if isinstance(value, bool):
        raise ConfigError(key, value, allowed)
    if isinstance(value, int):
        cores = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        cores = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+m", value) and int(value[:-1]) % 1000 == 0:
        cores = int(value[:-1]) // 1000
    else:
        hint = "--nthreads equals the CPU request; fractional cores would oversubscribe" if value else None
        raise ConfigError(key, value, allowed, hint)
    if cores < 1:
        raise ConfigError(key, value, allowed)
    return cores


def _scheduler_cpu(value: Any, key: str) -> str:
    allowed = "a Kubernetes CPU quantity such as 1, 0.5 or '500m'"
    if isinstance(value, bool):
        raise ConfigError(key, value, allowed)
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ConfigError(key, value, allowed)
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?m?", value) and float(value.rstrip("m")) > 0:
        return value
    raise ConfigError(key, value, allowed)


def _node_selector(value: Any, key: str) -> dict[str, str]:
    selector = _mapping(value, key)
    out = {}
    for k, v in selector.items():
        if not isinstance(k, str) or not k or isinstance(v, bool) or not isinstance(v, (str, int)):
            raise ConfigError(f"{key}.{k}", v, "a node label key mapped to a string value")
        out[k] = str(v)
    return out


_TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")


def _tolerations(value: Any, key: str) -> tuple[dict, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(key, value, "a list of tolerations ({key, operator, value, effect})")
    out = []
    for i, tol in enumerate(value):
        k = f"{key}[{i}]"
        if not isinstance(tol, Mapping):
            raise ConfigError(k, tol, "a toleration mapping with key, operator, value, effect")
        _check_keys(tol, _TOLERATION_KEYS, k + ".")
        operator = _choice(tol.get("operator", "Equal"), ("Equal", "Exists"), k + ".operator")
        if "effect" in tol:
            _choice(tol["effect"], ("NoSchedule", "PreferNoSchedule", "NoExecute"), k + ".effect")
        if operator == "Exists" and "value" in tol:
            raise ConfigError(k + ".value", tol["value"], "no value with operator Exists")
        if operator == "Equal" and not tol.get("key"):
            raise ConfigError(k + ".key", tol.get("key"), "a taint key (or operator: Exists)")
        if "tolerationSeconds" in tol:
            _int(tol["tolerationSeconds"], k + ".tolerationSeconds", 0)
        clean = {name: tol[name] for name in _TOLERATION_KEYS if name in tol}
        if "value" in clean:
            clean["value"] = str(clean["value"])
        out.append(clean)
    return tuple(out)


def _affinity(value: Any, key: str) -> dict:
    affinity = _mapping(value, key)
    _check_keys(affinity, ("nodeAffinity", "podAffinity", "podAntiAffinity"), key + ".")
    for k, v in affinity.items():
        _mapping(v, f"{key}.{k}")
    return copy.deepcopy(dict(affinity))


def _is_spot_toleration(tol: Mapping) -> bool:
    if tol.get("operator") == "Exists" and not tol.get("key"):
        return True  # tolerates every taint, spot included
    return tol.get("key") in SPOT_LABEL_KEYS and tol.get("value") in _SPOT_VALUES


def _image(value: Any, key: str) -> str:
    allowed = "an image reference with a tag or digest, e.g. registry.example.com/tuner:0.1.0"
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        raise ConfigError(key, value, allowed)
    last = value.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        raise ConfigError(
            key, value, allowed, "an untagged image means ':latest', which can differ from the client's versions"
        )
    if "@" not in last and last.endswith(":latest"):
        raise ConfigError(key, value, allowed, "':latest' can differ from the client's versions; tag images by release")
    return value


def _env(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    env = _mapping(value, key)
    out = []
    for name, v in env.items():
        k = f"{key}.{name}"
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ConfigError(k, name, "an environment variable name of letters, digits and '_'")
        if name in RESERVED_ENV:
            raise ConfigError(k, v, "a variable tuner or the operator does not set: not " + ", ".join(RESERVED_ENV))
        if _SECRET_LIKE.search(name):
            raise ConfigError(
                k,
                "<redacted>",
                "a non-secret setting",
                "put credentials in the Kubernetes Secret named by cluster.credentials_secret",
            )
        if v is None or isinstance(v, (dict, list)):
            raise ConfigError(k, v, "a string, number or boolean")
        out.append((name, str(v).lower() if isinstance(v, bool) else str(v)))
    return tuple(out)


def _role(raw: Any, key: str, worker: bool, common: dict) -> PodRole:
    section = _mapping(raw, key)
    _check_keys(section, ROLE_KEYS, key + ".")
    default = KubernetesSpec.worker if worker else KubernetesSpec.scheduler
    if worker:
        cpu: int | str = _worker_cpu(section.get("cpu", default.cpu), key + ".cpu")
        pool = _choice(section.get("pool", default.pool), POOLS, key + ".pool")
    else:
        cpu = _scheduler_cpu(section.get("cpu", default.cpu), key + ".cpu")
        pool = section.get("pool", default.pool)
        if pool != "on-demand":
            raise ConfigError(
                key + ".pool",
                pool,
                "on-demand",
                "the scheduler holds the cluster's state: it never runs on spot/preemptible nodes",
            )
    node_selector = dict(common["node_selector"]) | _node_selector(section.get("node_selector"), key + ".node_selector")
    tolerations = common["tolerations"] + _tolerations(section.get("tolerations"), key + ".tolerations")
    affinity = _merge_affinity(common["affinity"], _affinity(section.get("affinity"), key + ".affinity"))
    if not worker:
        for tol in tolerations:
            if _is_spot_toleration(tol):
                where = "cluster.tolerations" if tol in common["tolerations"] else key + ".tolerations"
                raise ConfigError(
                    where,
                    tol,
                    "tolerations of non-spot taints",
                    "the scheduler must not tolerate spot/preemptible taints; put them under cluster.worker.tolerations",
                )
        for label, v in node_selector.items():
            if label in SPOT_LABEL_KEYS and v in _SPOT_VALUES:
                where = "cluster.node_selector" if label in common["node_selector"] else key + ".node_selector"
                raise ConfigError(
                    f"{where}.{label}",
                    v,
                    "labels of on-demand nodes",
                    "the scheduler must not run on spot/preemptible nodes; put this under cluster.worker.node_selector",
                )
    gpus = section.get("gpus", 0)
    if not worker and gpus:
        raise ConfigError(key + ".gpus", gpus, "0", "trials run on the workers; the scheduler needs no GPU")
    return PodRole(
        cpu=cpu,
        gpus=_int(gpus, key + ".gpus", 0),
        memory=_memory(section.get("memory", default.memory), key + ".memory"),
        pool=pool,
        node_selector=node_selector,
        tolerations=tolerations,
        affinity=affinity,
    )


def parse_kubernetes_section(section: Mapping[str, Any]) -> KubernetesSpec:
    """Validate a ``cluster`` section of kind ``kubernetes``; every key is checked.

    Parameters
    ----------
    section : mapping
        The ``cluster`` section of a configuration, with ``kind: kubernetes``.

    Returns
    -------
    KubernetesSpec

    Raises
    ------
    tuner.errors.ConfigError
        Naming the dotted key (``cluster.worker.cpu``), the value and what is allowed.

    Examples
    --------
    >>> spec = parse_kubernetes_section({"kind": "kubernetes", "image": "r.example.com/tuner:0.1.0",
    ...                                  "adapt": {"minimum": 0, "maximum": 20}})
    >>> spec.name, spec.workers, spec.adapt, spec.worker.pool, spec.scheduler.pool
    ('tuner', 2, Adapt(minimum=0, maximum=20), 'spot', 'on-demand')
    """
    if not isinstance(section, Mapping):
        raise ConfigError("cluster", section, "a mapping")
    _check_keys(section, SECTION_KEYS, "cluster.")
    if section.get("kind") != "kubernetes":
        raise ConfigError("cluster.kind", section.get("kind"), "kubernetes")
    name = _dns(
        section.get("name", "tuner"),
        "cluster.name",
        "a DaskCluster name",
        subdomain=False,
        max_len=MAX_CLUSTER_NAME_LEN,
    )
    namespace = section.get("namespace")
    if namespace is not None:
        _dns(namespace, "cluster.namespace", "a namespace name", subdomain=False, max_len=63)
    if "image" not in section:
        raise ConfigError(
            "cluster.image",
            None,
            "the worker image built from tuner's Dockerfile, e.g. registry.example.com/tuner:0.1.0",
        )
    image = _image(section["image"], "cluster.image")
    provider = _choice(section.get("provider", "generic"), PROVIDERS, "cluster.provider")

    adapt = None
    if section.get("adapt") is not None:
        raw = _mapping(section["adapt"], "cluster.adapt")
        _check_keys(raw, ("minimum", "maximum"), "cluster.adapt.")
        for bound in ("minimum", "maximum"):
            if bound not in raw:
                raise ConfigError(
                    f"cluster.adapt.{bound}", None, "an integer (the DaskAutoscaler needs both minimum and maximum)"
                )
        minimum = _int(raw["minimum"], "cluster.adapt.minimum", 0)
        maximum = _int(raw["maximum"], "cluster.adapt.maximum", max(1, minimum))
        adapt = Adapt(minimum, maximum)
    default_workers = adapt.minimum if adapt is not None else KubernetesSpec.workers
    workers = _int(section.get("workers", default_workers), "cluster.workers", 0)
    if adapt is not None and not adapt.minimum <= workers <= adapt.maximum:
        raise ConfigError(
            "cluster.workers", workers, f"between adapt.minimum ({adapt.minimum}) and adapt.maximum ({adapt.maximum})"
        )

    common = {
        "node_selector": _node_selector(section.get("node_selector"), "cluster.node_selector"),
        "tolerations": _tolerations(section.get("tolerations"), "cluster.tolerations"),
        "affinity": _affinity(section.get("affinity"), "cluster.affinity"),
    }
    worker = _role(section.get("worker"), "cluster.worker", True, common)
    scheduler = _role(section.get("scheduler"), "cluster.scheduler", False, common)

    volume = None
    if section.get("results_volume") is not None:
        raw = _mapping(section["results_volume"], "cluster.results_volume")
        _check_keys(raw, ("claim", "mount"), "cluster.results_volume.")
        claim = _dns(raw.get("claim"), "cluster.results_volume.claim", "a PersistentVolumeClaim name")
        mount = raw.get("mount", "/results")
        if (
            not isinstance(mount, str)
            or not mount.startswith("/")
            or mount.rstrip("/") in ("", "/tmp")
            or ".." in mount
        ):
            raise ConfigError(
                "cluster.results_volume.mount", mount, "an absolute path such as /results (not / or /tmp)"
            )
        volume = ResultsVolume(claim=claim, mount=mount.rstrip("/"))

    secret = section.get("credentials_secret")
    if secret is not None:
        if isinstance(secret, Mapping):
            raise ConfigError(
                "cluster.credentials_secret",
                "<mapping>",
                "the name of a Kubernetes Secret",
                "never credential values in the configuration",
            )
        _dns(secret, "cluster.credentials_secret", "the name of a Kubernetes Secret")
    account = section.get("service_account")
    if account is not None:
        _dns(account, "cluster.service_account", "a ServiceAccount name")
    return KubernetesSpec(
        name=name,
        image=image,
        provider=provider,
        namespace=namespace,
        workers=workers,
        adapt=adapt,
        worker=worker,
        scheduler=scheduler,
        results_volume=volume,
        credentials_secret=secret,
        service_account=account,
        env=_env(section.get("env"), "cluster.env"),
        idle_timeout=_int(section.get("idle_timeout", 0), "cluster.idle_timeout", 0),
    )


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
    _choice(provider, PROVIDERS, "cluster.provider")
    _choice(pool, POOLS, "cluster.worker.pool")
    if pool == "on-demand":
        return {"nodeSelector": {}, "tolerations": [], "affinity": _on_demand_affinity(provider)}
    key, value = SPOT_LABELS[provider][pool]
    return {
        "nodeSelector": {key: value},
        "tolerations": [{"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}],
        "affinity": {},
    }


def _merge_affinity(base: Mapping, extra: Mapping) -> dict:
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
    affinity = _merge_affinity(generated["affinity"], role.affinity)
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


def _import_operator():
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
    operator = _import_operator()
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
    _choice(fmt, ("yaml", "json"), "--format")
    manifest = build_cluster_spec(cluster_config.kubernetes)
    if fmt == "json":
        return json.dumps(manifest, indent=2)
    import yaml

    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, width=1000).rstrip("\n")


# -- the one function that talks to Kubernetes ------------------------------------------------


def make_kube_cluster(spec: KubernetesSpec, **kwargs: Any):
    """Start (or connect to) the ``KubeCluster`` for ``spec`` and size it.

    Parameters
    ----------
    spec : KubernetesSpec
    **kwargs
        Passed to ``dask_kubernetes.operator.KubeCluster`` (``shutdown_on_close``,
        ``resource_timeout``, ``quiet``, ...).

    Returns
    -------
    dask_kubernetes.operator.KubeCluster
        Started; adaptive between ``adapt.minimum`` and ``adapt.maximum`` when ``adapt`` is
        configured, else scaled to ``workers``.
    """
    operator = _import_operator()
    kwargs.setdefault("namespace", spec.namespace)
    cluster = operator.KubeCluster(custom_cluster_spec=build_cluster_spec(spec), **kwargs)
    try:
        if spec.adapt is not None:
            cluster.adapt(minimum=spec.adapt.minimum, maximum=spec.adapt.maximum)
        else:
            cluster.scale(spec.workers)
    except BaseException:
        cluster.close()
        raise
    return cluster


# -- versions ---------------------------------------------------------------------------------

#: Packages whose versions must agree between the client, the scheduler and the workers, and how
#: much of the version must agree (None: all of it). Trials are pickled by the client and run
#: by tuner's code on the workers; models and scores must come from the same library versions.
CHECKED_PACKAGES: dict[str, int | None] = {
    "python": 2,  # major.minor: pickled code objects and bytecode differ between minors
    "dask": None,
    "distributed": None,
    "cloudpickle": None,
    "tuner": None,
    "xgboost": None,
    "lightgbm": None,
    "catboost": None,
    "scikit-learn": None,
    "pandas": 2,
    "pyarrow": 1,
}
#: What the scheduler runs itself: only these must agree with it.
SCHEDULER_PACKAGES = ("python", "dask", "distributed", "cloudpickle")
#: Model-name prefix -> the package that must be installed on every worker.
MODEL_PACKAGES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost", "sklearn": "scikit-learn"}


class VersionMismatchError(TunerError):
    """The client and the cluster run different versions of a package that matters.

    Attributes
    ----------
    package, client_version, other_version, where :
        The first mismatch: ``where`` is ``"scheduler"`` or a worker's address.
    mismatches : list of tuple
        Every mismatch as ``(package, client_version, other_version, where)``.
    """

    def __init__(self, mismatches: list[tuple[str, str | None, str | None, str]]):
        self.mismatches = mismatches
        self.package, self.client_version, self.other_version, self.where = mismatches[0]
        lines = []
        for package, mine, theirs, where in mismatches:
            side = "scheduler" if where == "scheduler" else f"worker {where}"
            lines.append(f"  {package}: client {mine or 'not installed'}, {side} {theirs or 'not installed'}")
        super().__init__(
            "the client and the cluster run different versions of packages that matter:\n"
            + "\n".join(lines)
            + "\nRun the client and the workers from the same requirements.lock: rebuild the worker image"
            " (Dockerfile) or install the client with `pip install -r requirements.lock`."
        )


def _cut(version: str | None, parts: int | None) -> str | None:
    if version is None or parts is None:
        return version
    return ".".join(str(version).split(".")[:parts])


def required_packages(models: Iterable[str]) -> tuple[str, ...]:
    """The packages a search's models need on every worker.

    >>> required_packages(["xgboost", "sklearn.ensemble.RandomForestRegressor"])
    ('scikit-learn', 'xgboost')
    """
    out = set()
    for name in models:
        prefix = str(name).split(".", 1)[0]
        if prefix in MODEL_PACKAGES:
            out.add(MODEL_PACKAGES[prefix])
    return tuple(sorted(out))


def compare_versions(
    versions: Mapping[str, Any], required: Iterable[str] = ()
) -> list[tuple[str, str | None, str | None, str]]:
    """Mismatches in the output of ``Client.get_versions(check=False)``.

    A package counts when the client and the other side both have it, or when it is
    ``required`` (then "not installed" on a worker is a mismatch too). Versions are compared to
    the precision in :data:`CHECKED_PACKAGES`.

    Returns
    -------
    list of (package, client_version, other_version, where)
    """
    required = set(required)
    client = (versions.get("client") or {}).get("packages", {})
    others: list[tuple[str, dict]] = [("scheduler", (versions.get("scheduler") or {}).get("packages", {}))]
    others += [
        (addr, (info or {}).get("packages", {})) for addr, info in sorted((versions.get("workers") or {}).items())
    ]
    mismatches = []
    for package, parts in CHECKED_PACKAGES.items():
        mine = _cut(client.get(package), parts)
        for where, theirs_all in others:
            if where == "scheduler" and package not in SCHEDULER_PACKAGES:
                continue
            theirs = _cut(theirs_all.get(package), parts)
            if mine == theirs:
                continue
            if (mine is None or theirs is None) and package not in required:
                continue
            mismatches.append((package, client.get(package), theirs_all.get(package), where))
    return mismatches


def check_versions(client: Client, models: Iterable[str] = ()) -> dict[str, Any]:
    """Check, when a client connects, that the cluster runs the client's versions.

    Parameters
    ----------
    client : distributed.Client
    models : iterable of str
        The search's model names; their libraries must be installed on every worker.

    Returns
    -------
    dict
        What ``client.get_versions`` returned.

    Raises
    ------
    VersionMismatchError
        Naming each package, the client's version and the scheduler's or worker's version.
    """
    packages = [p for p in CHECKED_PACKAGES if p != "python"]
    versions = client.get_versions(check=False, packages=packages)
    mismatches = compare_versions(versions, required_packages(models))
    if mismatches:
        raise VersionMismatchError(mismatches)
    return versions
