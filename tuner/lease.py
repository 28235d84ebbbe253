"""Who may write a results location: one driver at a time, one search per location.

* ``_lease.json`` names the driver that writes there (run id, host, pid, heartbeat). A second
  driver is refused while the lease is alive: on the same host while the process exists, on
  another host until the heartbeat is older than ``ttl`` seconds. A driver killed with SIGKILL
  leaves a lease that is stale at once on its own host (the pid is gone), so ``tuner run`` can
  simply be run again. ``take_over=True`` (``tuner run --take-over``) breaks a lease on purpose.
  A driver whose lease was taken over stops writing.
* ``_search.json`` records the fingerprint of the search that owns the location (data, CV,
  metric, seed): results of another search are refused unless ``allow_mixed=True``.

Both files start with ``_``, so Parquet readers ignore them.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import fsspec

from tuner.errors import ResultsError, ResultsLockedError

LEASE = "_lease.json"
IDENTITY = "_search.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Lease:
    """The lease of one driver on a results location, refreshed by a background thread."""

    def __init__(self, url: str, run_id: str, ttl: float = 60.0, storage_options: dict | None = None):
        self.fs, self.root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        self.url = url
        self.path = f"{self.root.rstrip('/')}/{LEASE}"
        self.run_id = run_id
        self.ttl = ttl
        self.lost: str | None = None  # set when another driver took the lease over
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> dict | None:
        try:
            self.fs.invalidate_cache(self.root)
            return json.loads(self.fs.cat_file(self.path))
        except (FileNotFoundError, ValueError):
            return None

    def _write(self) -> None:
        self.fs.makedirs(self.root, exist_ok=True)
        body = {"run_id": self.run_id, "host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
        self.fs.pipe_file(self.path, json.dumps(body).encode())

    def holder_alive(self, lease: dict) -> bool:
        if lease.get("host") == socket.gethostname():
            return _pid_alive(int(lease.get("pid", -1)))
        return time.time() - float(lease.get("heartbeat", 0)) < self.ttl

    def acquire(self, take_over: bool = False) -> None:
        current = self._read()
        if current and current.get("run_id") != self.run_id and not take_over and self.holder_alive(current):
            age = time.time() - float(current.get("heartbeat", 0))
            raise ResultsLockedError(
                f"another tuner run is writing to {self.url}: run {current.get('run_id')} on host "
                f"{current.get('host')} (pid {current.get('pid')}, last heartbeat {age:.0f}s ago). Wait for it to "
                f"finish, use another results location, or pass --take-over if that run is gone"
            )
        self._write()
        # two drivers starting together: the last writer wins and the other one notices here
        time.sleep(0.05)
        current = self._read()
        if current and current.get("run_id") != self.run_id:
            raise ResultsLockedError(f"another tuner run ({current.get('run_id')}) took {self.url} at the same time")
        self._thread = threading.Thread(target=self._beat, name="tuner-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            current = self._read()
            if current and current.get("run_id") != self.run_id:
                self.lost = current.get("run_id")
                return
            try:
                self._write()
            except OSError:  # a bucket hiccup: the next beat tries again
                pass

    def check(self) -> None:
        """Raise if another driver took the location over (called before every write)."""
        if self.lost is not None:
            raise ResultsLockedError(f"run {self.lost} took over {self.url}; this run stops writing there")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        current = self._read()
        if current and current.get("run_id") == self.run_id:
            try:
                self.fs.rm(self.path)
            except FileNotFoundError:
                pass


def check_identity(url: str, name: str, fingerprint: str, allow_mixed: bool = False,
                   storage_options: dict | None = None) -> None:
    """Refuse to write one search's trials among another search's results."""
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    path = f"{root.rstrip('/')}/{IDENTITY}"
    try:
        found = json.loads(fs.cat_file(path))
    except FileNotFoundError:
        found = None
    except ValueError:
        raise ResultsError(f"{url}/{IDENTITY} is damaged; it records which search owns the results") from None
    if found is None:
        fs.makedirs(root, exist_ok=True)
        fs.pipe_file(path, json.dumps({"name": name, "fingerprint": fingerprint, "created": time.time()}).encode())
        return
    if found.get("fingerprint") != fingerprint and not allow_mixed:
        raise ResultsError(
            f"results at {url} belong to a search with other data, CV, metric or seed (fingerprint "
            f"{found.get('fingerprint')}, this search {fingerprint}); use another name or results location, or "
            f"pass --allow-mixed to add these trials anyway"
        )
