"""Tables as people have them: an ID, text categories with gaps, a date, missing numbers, a text label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LABELS = {"Paris": "gold", "Lyon": "silver"}  #: every other city, and no city, is "basic"


def customer_table(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Customers with an ID, two text categories (with gaps), a signup date, a number with gaps,
    a region to partition by, and a text label that depends on the city alone."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["Paris", "Lyon", "Nice", "Lille", "Brest"], n).astype(object)
    city[rng.random(n) < 0.08] = None
    spend = rng.gamma(2.0, 10.0, n)
    spend[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "city": city,
        "plan": rng.choice(["basic", "plus", None], n),
        "signup": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "spend": spend,
        "region": rng.choice(["north", "south"], n),
        "segment": [LABELS.get(c, "basic") if c is not None else "basic" for c in city],
    })


def write(frame: pd.DataFrame, folder: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "csv":  # as pandas writes it by default: with its index as an unnamed column
        path = folder / "customers.csv"
        frame.assign(signup=frame["signup"].dt.strftime("%Y-%m-%d")).to_csv(path)
    elif kind == "parquet":
        path = folder / "customers.parquet"
        frame.to_parquet(path, index=False)
    else:  # Hive partitions, as Spark, Dask and pyarrow write them, and a _SUCCESS marker
        path = folder / "customers"
        frame.to_parquet(path, partition_cols=["region"], index=False)
        (path / "_SUCCESS").write_text("")
    return path
