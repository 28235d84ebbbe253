"""Data sets: built-ins through scikit-learn's loaders, Parquet/CSV files (local or fsspec URLs),
and synthetic data.

Data are loaded where they are used: on every worker, by :func:`load_cached`, which keeps one copy
per worker process. Nothing is scattered, so a worker that dies loses nothing that cannot be
rebuilt, and a worker that joins midway loads the data itself on its first trial.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

BUILTIN_DATASETS = ("california_housing", "diabetes", "breast_cancer", "synthetic")
BUILTIN_TASKS = {
    "california_housing": "regression",
    "diabetes": "regression",
    "breast_cancer": "classification",
}
BUILTIN_ROWS = {"california_housing": 20640, "diabetes": 442, "breast_cancer": 569}
FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")


@dataclass(frozen=True)
class DataSpec:
    """Where the data come from. Exactly one of ``dataset`` and ``path``."""

    dataset: str | None = None
    path: str | None = None
    target: str | None = None
    sample: int | None = None  #: keep this many rows, drawn with ``seed`` (quick runs)
    seed: int = 0
    n_samples: int = 2000  #: synthetic only
    n_features: int = 10  #: synthetic only
    n_classes: int = 2  #: synthetic classification only

    def fingerprint(self, task: str) -> str:
        """Stable identity of the data, part of every trial id.

        For files the size and modification time (or ETag) are included, so a changed file gives
        new trial ids instead of silently reusing old results.
        """
        ident: dict[str, Any] = {"spec": asdict(self), "task": task}
        if self.path is not None:
            ident["file"] = _file_identity(self.path)
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_identity(path: str) -> dict:
    import fsspec

    fs, fpath = fsspec.core.url_to_fs(path)
    info = fs.info(fpath)
    keep = ("size", "mtime", "ETag", "etag", "md5Hash", "LastModified", "updated")
    return {k: str(info[k]) for k in keep if k in info}


def read_table(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet or CSV file (any fsspec URL) as a DataFrame."""
    if path.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path, usecols=columns)
    return pd.read_parquet(path, columns=columns)


def read_target(path: str, target: str, chunk_rows: int = 100_000) -> pd.Series:
    """The target column of a data file, with every row of a CSV parsed as :func:`load` will parse it
    (reading one column alone lets rows with extra fields through), in bounded memory."""
    if not path.endswith((".csv", ".csv.gz")):
        return pd.read_parquet(path, columns=[target])[target]
    with pd.read_csv(path, chunksize=chunk_rows) as chunks:
        return pd.concat([chunk[target] for chunk in chunks])


def file_columns(path: str) -> list[str]:
    if path.endswith((".csv", ".csv.gz")):
        return list(pd.read_csv(path, nrows=0).columns)
    import fsspec
    import pyarrow.parquet as pq

    fs, fpath = fsspec.core.url_to_fs(path)
    return list(pq.read_schema(fpath, filesystem=fs).names)


def infer_task(y: Any) -> str:
    """``regression`` for continuous targets (or integers with many values), else ``classification``."""
    from sklearn.utils.multiclass import type_of_target

    y = np.asarray(y)
    with np.errstate(invalid="ignore"):  # floats beyond int64 (1e20) warn in its integer test; still continuous
        kind = type_of_target(y)
    if kind == "continuous":
        return "regression"
    if kind == "multiclass" and np.issubdtype(y.dtype, np.number) and len(np.unique(y)) > 50:
        return "regression"
    return "classification"


def load(spec: DataSpec, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Load ``(X, y)``. Classification labels are encoded as 0..n-1 (what XGBoost requires)."""
    if spec.dataset == "synthetic":
        from sklearn.datasets import make_classification, make_regression

        if task == "classification":
            X, y = make_classification(
                n_samples=spec.n_samples,
                n_features=spec.n_features,
                n_informative=max(2, spec.n_features // 2),
                n_classes=spec.n_classes,
                random_state=spec.seed,
            )
        else:
            X, y = make_regression(
                n_samples=spec.n_samples, n_features=spec.n_features, noise=10.0, random_state=spec.seed
            )
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    elif spec.dataset is not None:
        import sklearn.datasets as skd

        loader = {
            "california_housing": skd.fetch_california_housing,
            "diabetes": skd.load_diabetes,
            "breast_cancer": skd.load_breast_cancer,
        }[spec.dataset]
        bunch = loader(as_frame=True)
        X, y = bunch.data, bunch.target.to_numpy()
    else:
        assert spec.path is not None  # exactly one of dataset and path
        frame = read_table(spec.path)
        y = frame.pop(spec.target).to_numpy()
        X = frame
    if spec.sample is not None and spec.sample < len(X):
        rows = np.sort(np.random.default_rng(spec.seed).choice(len(X), spec.sample, replace=False))
        X, y = X.iloc[rows].reset_index(drop=True), y[rows]
    if task == "classification":
        _, y = np.unique(y, return_inverse=True)
    else:
        y = y.astype(np.float64)
    return X.reset_index(drop=True), y


_cache: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
_cache_lock = threading.Lock()


def load_cached(spec: DataSpec, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`load`, once per process (each Dask worker keeps its own copy)."""
    key = spec.fingerprint(task) if spec.path is None else json.dumps([asdict(spec), task], default=str)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load(spec, task)
        return _cache[key]
