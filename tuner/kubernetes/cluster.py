"""Starting a search's Dask cluster on Kubernetes: the one module that talks to the Kubernetes API.

:func:`make_kube_cluster` passes the manifest of :func:`~tuner.kubernetes.manifests.build_cluster_spec`
to the dask-kubernetes operator's ``KubeCluster(custom_cluster_spec=...)`` (the operator's
``KubeCluster`` has no keyword arguments for node placement, volumes, security contexts or
lifecycle hooks) and then calls ``adapt`` or ``scale``. dask-kubernetes is imported when a cluster
is started, not when this module is.

Example
-------
>>> from tuner.kubernetes import parse_kubernetes_section
>>> spec = parse_kubernetes_section({"kind": "kubernetes", "image": "registry.example.com/tuner:0.1.0"})
>>> cluster = make_kube_cluster(spec, shutdown_on_close=True)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuner.kubernetes.manifests import build_cluster_spec, import_operator

if TYPE_CHECKING:  # pragma: no cover
    from dask_kubernetes.operator import KubeCluster

    from tuner.kubernetes.spec import KubernetesSpec

__all__ = ["make_kube_cluster"]


def make_kube_cluster(spec: KubernetesSpec, **kwargs: Any) -> KubeCluster:
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
    operator = import_operator()
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
