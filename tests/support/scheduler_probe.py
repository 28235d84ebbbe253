"""A scheduler plugin that counts tuner's tasks: how many were dispatched, how many at once."""

from __future__ import annotations

from distributed.diagnostics.plugin import SchedulerPlugin

from tuner.engine import TASK_PREFIX


class TaskProbe(SchedulerPlugin):
    name = "tuner-task-probe"

    def __init__(self):
        self.created = 0
        self.units: set = set()  # first trial id of each task's trials: one per unit of work
        self.max_live = 0
        self.live: set = set()

    def transition(self, key, start, finish, *args, **kwargs):
        if not str(key).startswith(TASK_PREFIX):
            return
        if start == "released" and finish in ("waiting", "no-worker", "queued", "processing"):
            self.created += 1
            self.units.add(str(key)[len(TASK_PREFIX) + 1 :].split("-")[0])
        # in flight: submitted and not finished (results held for the client are not in flight)
        if finish in ("waiting", "no-worker", "queued", "processing"):
            self.live.add(key)
        else:
            self.live.discard(key)
        self.max_live = max(self.max_live, len(self.live))


def install(client) -> None:
    """Install once per scheduler (idempotent) and start counting from zero."""
    plugin = TaskProbe()
    client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.add_plugin(plugin, idempotent=True))
    reset(client)


def read(client) -> dict:
    def get(dask_scheduler):
        p = dask_scheduler.plugins[TaskProbe.name]
        return {"created": p.created, "units": len(p.units), "max_live": p.max_live}

    return client.run_on_scheduler(get)


def reset(client) -> None:
    def do(dask_scheduler):
        p = dask_scheduler.plugins[TaskProbe.name]
        p.created, p.units, p.max_live, p.live = 0, set(), 0, set()

    client.run_on_scheduler(do)
