"""Local worker processes that start with their imports already done.

A LocalCluster starts each worker as a fresh interpreter ("spawn"), which then imports Dask,
scikit-learn and the model library before its first trial: about two seconds per worker, after
the driver has done the same imports. ``tuner run`` instead starts, before anything else, one
``multiprocessing`` fork server that imports what the search's workers need (tuner's trial code
and the configuration's model libraries) on another core while the driver imports and validates;
the workers are then forked from it, ready (Dask's ``multiprocessing-method: forkserver``).

Only for a local cluster, only where the platform has a fork server (Linux, macOS), and only when
Dask's method is still its default; a scheduler address or Kubernetes gains nothing from it.
``TUNER_WARM_START=0`` turns it off (workers spawned as Dask does by default).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator

import yaml

#: what every worker imports for its first trial, whatever the model
WORKER_MODULES = ("tuner.scipy_docstrings", "distributed", "numpy", "pandas", "pyarrow", "tuner.evaluate")
#: the configuration's library names and the module each imports
LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost"}


def worker_modules(config_text: str, cluster_override: str | None = None) -> list[str]:
    """The modules a local search's workers import, from the configuration's text ([] when its
    cluster is not local or the text does not parse: validation reports that, not this)."""
    try:
        raw = yaml.safe_load(config_text)
        cluster = raw.get("cluster") or {}
        kind = cluster_override or (cluster.get("kind") if isinstance(cluster, dict) else None) or "local"
        if kind != "local" or not isinstance(raw.get("models"), dict):
            return []
        modules = list(WORKER_MODULES)
        for name in raw["models"]:
            name = str(name)
            module = LIBRARIES.get(name) or (name.rpartition(".")[0] if "." in name else "")
            if module and module not in modules:
                modules.append(module)
        return modules
    except Exception:  # noqa: BLE001 - a peek before validation: any surprise means "no warm start"
        return []


@contextlib.contextmanager
def ignore_ctrl_c() -> Iterator[None]:
    """Start processes that ignore SIGINT.

    A LocalCluster's processes share the terminal's process group, so Ctrl-C reaches each of them
    and every one would print its own traceback. An ignored signal stays ignored in the processes
    started meanwhile (and in those a fork server started meanwhile forks later); the driver
    handles Ctrl-C alone and closes them cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _distributed_defaults() -> None:
    """Dask's defaults for ``distributed.*`` without importing distributed (half a second, which the
    fork server's imports would wait for); ``import distributed`` later sets the same defaults."""
    import importlib.util

    import dask.config

    spec = importlib.util.find_spec("distributed")
    if spec is None or spec.origin is None:
        return
    with open(os.path.join(os.path.dirname(spec.origin), "distributed.yaml"), encoding="utf-8") as f:
        dask.config.update_defaults(yaml.safe_load(f))


def start(modules: list[str]) -> bool:
    """Start the fork server importing ``modules`` (returns at once; the imports run in it).

    The server gets the environment Dask's nanny gives a spawned worker before it starts
    (``distributed.nanny.pre-spawn-environ``: one OpenMP/BLAS thread, ...), since libraries read
    it when they load, and ignores Ctrl-C as the workers must (the driver alone handles it).
    """
    if (not modules or os.environ.get("TUNER_WARM_START", "1") == "0"
            or "forkserver" not in multiprocessing.get_all_start_methods()):
        return False
    import dask.config

    _distributed_defaults()
    if dask.config.get("distributed.worker.multiprocessing-method") != "spawn":
        return False  # the user chose a method: keep it
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
    environ = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
    with ignore_ctrl_c(), _environ(environ):
        forkserver.ensure_running()
    return True


@contextlib.contextmanager
def preloaded_workers(modules: list[str]) -> Iterator[None]:
    """Within the block, a LocalCluster's workers are forked from the fork server of :func:`start`."""
    if not start(modules):
        yield
        return
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        yield
