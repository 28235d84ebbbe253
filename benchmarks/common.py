"""Shared by the benchmark scripts: machine and version records, CPU meters, result files.

Benchmarks report ratios measured side by side in one run and medians of repeats; nothing here
is a pass/fail test.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import psutil

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("tuner", "dask", "distributed", "dask-ml", "scikit-learn", "xgboost", "lightgbm", "catboost",
            "pandas", "pyarrow", "numpy")


def ensure_data() -> None:
    """Use an offline copy of scikit-learn's data sets when one sits beside the project."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "scikit_learn_data"
    if "SCIKIT_LEARN_DATA" not in os.environ and shared.is_dir():
        os.environ["SCIKIT_LEARN_DATA"] = str(shared)


def machine() -> dict:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "versions": versions,
        "command": " ".join(["python -m benchmarks." + Path(sys.argv[0]).stem, *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


@contextmanager
def cpu_meter():
    """Wall time and whole-machine CPU utilisation (busy core-seconds / (wall x cores))."""
    out: dict = {}
    cpu0, t0 = psutil.cpu_times(), time.perf_counter()
    yield out
    cpu1, t1 = psutil.cpu_times(), time.perf_counter()
    busy = (cpu1.user + cpu1.system + getattr(cpu1, "nice", 0)) - (cpu0.user + cpu0.system + getattr(cpu0, "nice", 0))
    out["wall_s"] = t1 - t0
    out["utilisation"] = busy / ((t1 - t0) * (os.cpu_count() or 1))


def median(values: list[float]) -> float:
    return statistics.median(values)


def write(name: str, payload: dict, markdown: str) -> None:
    """benchmarks/results/<name>.json (machine-readable) and <name>.md (the table)."""
    RESULTS.mkdir(exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    m = payload["machine"]
    header = (
        f"# {name}\n\n{m['date']} · {m['cores']} cores · {m['memory_gib']} GiB · Python {m['python']} · "
        f"{m['platform']}\n\nCommand: `{m['command']}`\n\nVersions: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + "\n\n"
    )
    (RESULTS / f"{name}.md").write_text(header + markdown.strip() + "\n")
    print(header + markdown)
