"""The fixed cost of ``tuner run``: a search of one trial, end to end, against its parts.

Side by side, each a fresh process, medians of ``--repeats``:

- ``import tuner.cli`` (what every command pays);
- a bare script that starts a 2-worker LocalCluster, runs one task and closes it (Dask's own floor);
- ``tuner run`` on a one-trial search (XGBoost, 10 rounds, the diabetes data set, 2 workers), as it
  runs (workers forked ready from a server that imported their modules beside the driver's own
  imports, :mod:`tuner.warm_start`) and with ``TUNER_WARM_START=0`` (workers spawned, each importing
  for itself after the driver: how it was before);
- ``tuner validate`` on the same configuration (imports and validation, no cluster).

    python -m benchmarks.startup [--repeats 5]

Nothing here is a pass/fail test; the ratio ``tuner run`` / bare cluster says what tuner adds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import median, write

CONFIG = """name: one
data: {dataset: diabetes}
cv: {folds: 3}
models:
  xgboost: {max_depth: [2], n_estimators: [10]}
cluster: {kind: local, workers: 2, dashboard: false}
results: RESULTS
"""

BARE = """
from distributed import Client, LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as c, Client(c) as client:
        client.submit(sum, [1, 2]).result()
"""


def timed(argv: list[str], cwd: str, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr[-2000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--name", default="startup")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tuner-startup-"))
    bare = work / "bare.py"
    bare.write_text(BARE)
    cases = {"import tuner.cli": [sys.executable, "-c", "import tuner.cli"],
             "bare LocalCluster, one task": [sys.executable, str(bare)]}
    cold, warm = "tuner run (1 trial), TUNER_WARM_START=0", "tuner run (1 trial)"
    times: dict[str, list[float]] = {name: [] for name in (*cases, "tuner validate", cold, warm)}
    for r in range(args.repeats):
        config = work / f"one-{r}.yaml"
        config.write_text(CONFIG.replace("RESULTS", str(work / f"results-{r}")))
        for name, argv in cases.items():
            times[name].append(timed(argv, str(work)))
        times["tuner validate"].append(timed([sys.executable, "-m", "tuner", "validate", str(config)], str(work)))
        for name, flag in ((cold, "0"), (warm, "1")):
            shutil.rmtree(work / f"results-{r}", ignore_errors=True)
            times[name].append(timed([sys.executable, "-m", "tuner", "run", str(config), "--quiet"], str(work),
                                     {"TUNER_WARM_START": flag}))
        print({k: round(v[-1], 2) for k, v in times.items()}, flush=True)
    med = {k: median(v) for k, v in times.items()}
    rows = "\n".join(f"| {k} | {v:.2f} |" for k, v in med.items())
    ratio = med[warm] / med["bare LocalCluster, one task"]
    speedup = med[cold] / med[warm]
    md = f"""
Each a fresh process, medians of {args.repeats}: the fixed cost of `tuner run` on a one-trial search
(XGBoost, 10 rounds, diabetes, 3 folds, a LocalCluster of 2 workers) and its parts.

| what | seconds |
|---|---|
{rows}

Workers forked ready make `tuner run` **{speedup:.2f}x** faster to finish a one-trial search than
workers spawned (the same command, `TUNER_WARM_START=0`, measured side by side). `tuner run` takes
**{ratio:.2f}x** what a bare LocalCluster with one task takes. The rest is imports (the driver's:
scikit-learn, pandas, distributed), validating the configuration (which loads the data once to
describe it), the version check on the workers, the results location's lease and the Parquet write.
"""
    write(args.name, {"repeats": args.repeats, "seconds": times, "median_seconds": med, "ratio_to_bare": ratio,
                      "warm_start_speedup": speedup}, md)


if __name__ == "__main__":
    main()
