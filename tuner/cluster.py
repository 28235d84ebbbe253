"""Where the ``distributed.Client`` comes from: a LocalCluster (default), a scheduler address, or
Kubernetes through the dask-kubernetes operator (:mod:`tuner.kubernetes`).

>>> from tuner.cluster import make_cluster          # doctest: +SKIP
>>> cluster = make_cluster({"kind": "local", "workers": 2})
>>> cluster.scale(4)                                 # any Dask cluster idiom works
>>> client = Client(cluster)
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator

from distributed import Client, LocalCluster

from tuner.config import ClusterConfig, parse_cluster
from tuner.errors import ClusterError
from tuner.warm_start import ignore_ctrl_c

#: seconds to wait for a scheduler at an address before giving up with its address named
CONNECT_TIMEOUT = 5


def _dashboard_address(enabled: bool) -> str:
    if not enabled:
        return ":0"  # the scheduler's HTTP server binds anyway: a free port, no clash, no warning
    with socket.socket() as s:  # the usual port when free, any free port otherwise (no warning)
        try:
            s.bind(("127.0.0.1", 8787))
            return ":8787"
        except OSError:
            return ":0"


def as_cluster_config(cfg: ClusterConfig | dict | None) -> ClusterConfig:
    if cfg is None:
        return ClusterConfig()
    if isinstance(cfg, dict):
        return parse_cluster(cfg)
    return cfg


def make_cluster(cfg: ClusterConfig | dict | None = None):
    """A Dask cluster object for ``cluster.kind`` (``local`` only: ``address`` has none to make).

    Local clusters use worker processes, one per core by default, each with
    ``threads_per_worker`` threads; every trial runs in one thread.
    """
    cfg = as_cluster_config(cfg)
    if cfg.kind == "kubernetes":
        from tuner.kubernetes import make_kube_cluster

        return make_kube_cluster(cfg.kubernetes)
    if cfg.kind != "local":
        raise ValueError(f"cluster kind {cfg.kind!r} has no cluster object to make; use connect()")
    if cfg.adapt is not None:
        n_workers = cfg.adapt[0]
    else:
        n_workers = cfg.workers or os.cpu_count() or 1
    with ignore_ctrl_c():
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=cfg.threads_per_worker,
            processes=True,
            dashboard_address=_dashboard_address(cfg.dashboard),
            # workers share the driver's terminal: errors only (a cancelled task at the end of a
            # search or on Ctrl-C is no news); the dashboard shows the rest
            silence_logs=logging.ERROR,
        )
    if cfg.adapt is not None:
        cluster.adapt(minimum=cfg.adapt[0], maximum=cfg.adapt[1])
    return cluster


@contextlib.contextmanager
def connect(cfg: ClusterConfig | dict | None = None) -> Iterator[Client]:
    """A Client for the configuration; a cluster made here is closed on exit."""
    cfg = as_cluster_config(cfg)
    if cfg.kind == "address":
        try:
            client = Client(cfg.address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"no Dask scheduler answered at {cfg.address} within {CONNECT_TIMEOUT} s ({type(exc).__name__}); "
                "check the address and that the scheduler is running and reachable"
            ) from None
        with client:
            yield client
        return
    with make_cluster(cfg) as cluster, Client(cluster) as client:
        yield client


def dashboard_link(client: Client) -> str | None:
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # no dashboard (bokeh missing or disabled)
        return None
