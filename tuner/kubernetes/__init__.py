"""Kubernetes: a Dask cluster for a search through the dask-kubernetes operator.

Design
------
Everything that decides *what* runs on Kubernetes is a pure function of the validated
``cluster`` section (:class:`KubernetesSpec`) and returns plain dicts, so that it is unit-tested
and schema-validated without a cluster:

* :mod:`tuner.kubernetes.spec`: :func:`parse_kubernetes_section` validates every key of the
  section (called by :mod:`tuner.config`); every error names the dotted key, the value and what
  is allowed.
* :mod:`tuner.kubernetes.manifests`: :func:`build_cluster_spec` starts from
  ``dask_kubernetes.operator.make_cluster_spec`` and then edits the worker and scheduler PodSpecs,
  because the operator's ``KubeCluster`` has no keyword arguments for node placement, volumes,
  security contexts or lifecycle hooks; the provider tables and :func:`placement` live there too.
* :mod:`tuner.kubernetes.cluster`: :func:`make_kube_cluster` is the only function that talks to
  the Kubernetes API: it passes that spec to ``KubeCluster(custom_cluster_spec=...)`` and then
  calls ``adapt`` or ``scale``.
* :mod:`tuner.versions` checks that the client and the cluster run the same packages
  (re-exported here).

Imports go one way: ``tuner.config`` -> ``spec`` -> ``manifests`` -> ``tuner.validation``; nothing
here imports :mod:`tuner.config` at run time, and dask-kubernetes is imported only when a manifest
is built or a cluster started.

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

from tuner.kubernetes.cluster import make_kube_cluster
from tuner.kubernetes.manifests import (
    GPU_RESOURCE,
    INTERRUPTIBLE_LABELS,
    LOCAL_DIRECTORY,
    MAX_GRACE_SECONDS,
    ON_DEMAND_GRACE_SECONDS,
    POOLS,
    PROVIDERS,
    RESERVED_ENV,
    ROUTES_ENV,
    SCHEDULER_HTTP_ROUTES,
    SPOT_GRACE_SECONDS,
    SPOT_LABEL_KEYS,
    SPOT_LABELS,
    SPOT_VALUES,
    UID,
    WORKER_DASHBOARD_PORT,
    build_autoscaler_spec,
    build_cluster_spec,
    grace_period,
    import_operator,
    memory_bytes,
    merge_affinity,
    placement,
    render_cluster_spec,
    retire_command,
    strip_none,
)
from tuner.kubernetes.spec import (
    MAX_CLUSTER_NAME_LEN,
    MIN_MEMORY,
    ROLE_KEYS,
    SECTION_KEYS,
    Adapt,
    KubernetesSpec,
    PodRole,
    ResultsVolume,
    parse_kubernetes_section,
)
from tuner.versions import (
    CHECKED_PACKAGES,
    MODEL_PACKAGES,
    SCHEDULER_PACKAGES,
    VersionMismatchError,
    check_versions,
    compare_versions,
    required_packages,
)

__all__ = [
    "CHECKED_PACKAGES",
    "GPU_RESOURCE",
    "INTERRUPTIBLE_LABELS",
    "LOCAL_DIRECTORY",
    "MAX_CLUSTER_NAME_LEN",
    "MAX_GRACE_SECONDS",
    "MIN_MEMORY",
    "MODEL_PACKAGES",
    "ON_DEMAND_GRACE_SECONDS",
    "POOLS",
    "PROVIDERS",
    "RESERVED_ENV",
    "ROLE_KEYS",
    "ROUTES_ENV",
    "SCHEDULER_HTTP_ROUTES",
    "SCHEDULER_PACKAGES",
    "SECTION_KEYS",
    "SPOT_GRACE_SECONDS",
    "SPOT_LABELS",
    "SPOT_LABEL_KEYS",
    "SPOT_VALUES",
    "UID",
    "WORKER_DASHBOARD_PORT",
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
    "import_operator",
    "make_kube_cluster",
    "memory_bytes",
    "merge_affinity",
    "parse_kubernetes_section",
    "placement",
    "render_cluster_spec",
    "required_packages",
    "retire_command",
    "strip_none",
]
