"""Graceful preemption: a worker that receives SIGTERM retires instead of dying.

Spot and preemptible nodes send SIGTERM before they go away. ``dask worker``'s own handling of
SIGTERM closes the worker at once, so the scheduler counts its running tasks as failed (after
``allowed-failures`` such losses a trial errs with KilledWorker). :class:`GracefulShutdown`, a
worker plugin that tuner registers on every worker it runs on, turns SIGTERM into
``Worker.close_gracefully()``: the worker stops taking tasks, the scheduler moves what it holds,
and its running trials are rescheduled elsewhere at once, without counting as failures.

It needs the worker's event loop to run in the process's main thread (worker processes, as with
``dask worker --no-nanny`` or a LocalCluster's processes); elsewhere it does nothing.

The plugin also shortens one message: a worker whose scheduler went away (the driver stopped with
Ctrl-C, a scheduler pod rescheduled) logs "Failed to communicate with scheduler during heartbeat"
with a traceback of the closed connection every few seconds until it reconnects or closes; the
plugin keeps the line and drops the traceback (:class:`HeartbeatWithoutTraceback`).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from distributed.diagnostics.plugin import WorkerPlugin

logger = logging.getLogger(__name__)


class HeartbeatWithoutTraceback(logging.Filter):
    """A lost connection to the scheduler in one line: the message and the error, no traceback."""

    MESSAGE = "Failed to communicate with scheduler during heartbeat"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith(self.MESSAGE):
            error = record.exc_info[1]
            record.msg = f"{self.MESSAGE} ({type(error).__name__}: {error})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class GracefulShutdown(WorkerPlugin):
    name = "tuner-graceful-shutdown"

    def setup(self, worker) -> None:
        worker_log = logging.getLogger("distributed.worker")
        if not any(isinstance(f, HeartbeatWithoutTraceback) for f in worker_log.filters):
            worker_log.addFilter(HeartbeatWithoutTraceback())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        import threading

        if threading.current_thread() is not threading.main_thread():
            return  # in-process workers: signals belong to the host process

        def retire() -> None:
            logger.info("SIGTERM: retiring worker %s gracefully", worker.address)
            asyncio.ensure_future(worker.close_gracefully(reason="SIGTERM (preemption notice)"))

        try:
            loop.add_signal_handler(signal.SIGTERM, retire)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals on this loop/platform
            pass
