"""The ``cluster`` section of kind ``kubernetes``: validated into a :class:`KubernetesSpec`.

:func:`parse_kubernetes_section` checks every key of the section (it is called by
:mod:`tuner.config`); each :class:`~tuner.errors.ConfigError` names the dotted key
(``cluster.worker.cpu``), the value and what is allowed. The generic checks come from
:mod:`tuner.validation`; the provider tables that placement is checked against come from
:mod:`tuner.kubernetes.manifests`, which builds the manifests from the same tables.

Example
-------
>>> spec = parse_kubernetes_section({"kind": "kubernetes", "image": "r.example.com/tuner:0.1.0",
...                                  "worker": {"cpu": 2, "memory": "8Gi"}})
>>> spec.worker.cpu, spec.worker.pool, spec.worker_grace_period
(2, 'spot', 25)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuner.errors import ConfigError
from tuner.kubernetes.manifests import (
    POOLS,
    PROVIDERS,
    RESERVED_ENV,
    SPOT_LABEL_KEYS,
    SPOT_VALUES,
    grace_period,
    memory_bytes,
    merge_affinity,
)
from tuner.validation import adapt_bounds, check_keys, choice, integer, mapping

__all__ = ["Adapt", "KubernetesSpec", "PodRole", "ResultsVolume", "parse_kubernetes_section"]

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

_SECRET_LIKE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|API_KEY", re.I)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

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
    :func:`~tuner.kubernetes.manifests.build_cluster_spec`.
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
        """``terminationGracePeriodSeconds`` of the worker pods (see :func:`~tuner.kubernetes.manifests.grace_period`)."""
        return grace_period(self.provider, self.worker.pool)


# -- validation helpers -----------------------------------------------------------------------


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


def _memory(value: Any, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(key, value, "a Kubernetes memory quantity such as 8Gi or 512Mi")
    text = str(value)
    try:
        size = memory_bytes(text)
    except ValueError:
        hint = "binary units are Ki, Mi, Gi, Ti (not GB or gb)" if re.search(r"[A-Za-z]", text) else None
        raise ConfigError(key, value, "a Kubernetes memory quantity such as 8Gi or 512Mi", hint) from None
    if size < MIN_MEMORY:
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
    selector = mapping(value, key)
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
        check_keys(tol, _TOLERATION_KEYS, k + ".")
        operator = choice(tol.get("operator", "Equal"), ("Equal", "Exists"), k + ".operator")
        if "effect" in tol:
            choice(tol["effect"], ("NoSchedule", "PreferNoSchedule", "NoExecute"), k + ".effect")
        if operator == "Exists" and "value" in tol:
            raise ConfigError(k + ".value", tol["value"], "no value with operator Exists")
        if operator == "Equal" and not tol.get("key"):
            raise ConfigError(k + ".key", tol.get("key"), "a taint key (or operator: Exists)")
        if "tolerationSeconds" in tol:
            integer(tol["tolerationSeconds"], k + ".tolerationSeconds", 0)
        clean = {name: tol[name] for name in _TOLERATION_KEYS if name in tol}
        if "value" in clean:
            clean["value"] = str(clean["value"])
        out.append(clean)
    return tuple(out)


def _affinity(value: Any, key: str) -> dict:
    affinity = mapping(value, key)
    check_keys(affinity, ("nodeAffinity", "podAffinity", "podAntiAffinity"), key + ".")
    for k, v in affinity.items():
        mapping(v, f"{key}.{k}")
    return copy.deepcopy(dict(affinity))


def _is_spot_toleration(tol: Mapping) -> bool:
    if tol.get("operator") == "Exists" and not tol.get("key"):
        return True  # tolerates every taint, spot included
    return tol.get("key") in SPOT_LABEL_KEYS and tol.get("value") in SPOT_VALUES


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
    env = mapping(value, key)
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
    section = mapping(raw, key)
    check_keys(section, ROLE_KEYS, key + ".")
    default = KubernetesSpec.worker if worker else KubernetesSpec.scheduler
    if worker:
        cpu: int | str = _worker_cpu(section.get("cpu", default.cpu), key + ".cpu")
        pool = choice(section.get("pool", default.pool), POOLS, key + ".pool")
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
    affinity = merge_affinity(common["affinity"], _affinity(section.get("affinity"), key + ".affinity"))
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
            if label in SPOT_LABEL_KEYS and v in SPOT_VALUES:
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
        gpus=integer(gpus, key + ".gpus", 0),
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
    ('tuner', 0, Adapt(minimum=0, maximum=20), 'spot', 'on-demand')
    """
    if not isinstance(section, Mapping):
        raise ConfigError("cluster", section, "a mapping")
    check_keys(section, SECTION_KEYS, "cluster.")
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
    provider = choice(section.get("provider", "generic"), PROVIDERS, "cluster.provider")

    adapt = None
    if section.get("adapt") is not None:
        adapt = Adapt(*adapt_bounds(section["adapt"], "cluster.adapt"))  # the same check as a local cluster
    default_workers = adapt.minimum if adapt is not None else KubernetesSpec.workers
    workers = integer(section.get("workers", default_workers), "cluster.workers", 0)
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
        raw = mapping(section["results_volume"], "cluster.results_volume")
        check_keys(raw, ("claim", "mount"), "cluster.results_volume.")
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
        idle_timeout=integer(section.get("idle_timeout", 0), "cluster.idle_timeout", 0),
    )

