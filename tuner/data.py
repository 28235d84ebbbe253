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

from tuner.columns import Columns, profile
from tuner.target import Target, check_target

BUILTIN_DATASETS = ("california_housing", "diabetes", "breast_cancer", "synthetic")
BUILTIN_TASKS = {
    "california_housing": "regression",
    "diabetes": "regression",
    "breast_cancer": "classification",
}
BUILTIN_ROWS = {"california_housing": 20640, "diabetes": 442, "breast_cancer": 569}
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
FILE_SUFFIXES = (*PARQUET_SUFFIXES, *CSV_SUFFIXES)
GLOB_CHARS = ("*", "?", "[")
#: DataSpec fields added after trial ids were first made: left out of the fingerprint at their
#: defaults, so that results written before them keep their trial ids
_LATER_FIELDS = {"drop": None, "features": None, "categorical": "auto", "dates": "auto"}


@dataclass(frozen=True)
class DataSpec:
    """Where the data come from and which columns are used. Exactly one of ``dataset`` and ``path``."""

    dataset: str | None = None
    path: str | None = None  #: a Parquet or CSV file, a folder of Parquet parts, or a glob
    target: str | None = None
    sample: int | None = None  #: keep this many rows, drawn with ``seed`` (quick runs)
    seed: int = 0
    n_samples: int = 2000  #: synthetic only
    n_features: int = 10  #: synthetic only
    n_classes: int = 2  #: synthetic classification only
    drop: tuple[str, ...] | None = None  #: columns left out
    features: tuple[str, ...] | None = None  #: the only columns used
    categorical: str | tuple[str, ...] = "auto"  #: "auto" or the categorical columns
    dates: str | tuple[str, ...] = "auto"  #: "auto", "drop" or the date columns

    def fingerprint(self, task: str) -> str:
        """Stable identity of the data, part of every trial id.

        For files the size and modification time (or ETag) of every file are included, so a
        changed file gives new trial ids instead of silently reusing old results.
        """
        spec = {k: v for k, v in asdict(self).items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]}
        ident: dict[str, Any] = {"spec": spec, "task": task}
        if self.path is not None:
            ident["file"] = files_identity(self.path)
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def is_csv(self) -> bool:
        return self.path is not None and self.path.endswith(CSV_SUFFIXES)


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in GLOB_CHARS)


def data_files(path: str) -> tuple[Any, list[str], str | None]:
    """(filesystem, the data files, the folder -- None unless ``path`` is one) of a file, a folder of Parquet
    parts (Hive partition folders included; names starting with ``_`` or ``.`` are no data, as
    Spark and Dask write them) or a glob, on any fsspec URL. Raises FileNotFoundError when there
    are none."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(path)
    fs.invalidate_cache()  # a bucket's listing may have changed since this process last looked
    folder = None
    if _is_glob(root):
        files = sorted(f for f in fs.glob(root) if not fs.isdir(f))
    elif fs.isdir(root):
        folder = root
        files = sorted(
            f for f in fs.find(root)
            if not any(part.startswith(("_", ".")) for part in f[len(root.rstrip("/")) + 1:].split("/"))
        )
    elif fs.exists(root):
        files = [root]
    else:
        raise FileNotFoundError(f"no such file or folder: {path}")
    if not files:
        raise FileNotFoundError(f"no data files in {path}")
    return fs, files, folder


def files_identity(path: str) -> Any:
    """Size and modification time (or ETag) of every data file: one dict for a single file (the
    identity results written before folders existed have), a list for folders and globs."""
    fs, files, folder = data_files(path)
    keep = ("size", "mtime", "ETag", "etag", "md5Hash", "LastModified", "updated")

    def one(f: str) -> dict:
        info = fs.info(f)
        return {k: str(info[k]) for k in keep if k in info}

    if len(files) == 1 and not _is_glob(path) and folder is None:
        return one(files[0])
    return [{"file": f, **one(f)} for f in files]


def _parquet_dataset(path: str, dictionary: list[str] | None = None):
    """A pyarrow dataset of the Parquet files; ``dictionary`` columns are read as dictionaries
    (pandas ``category``: a code per row instead of a string)."""
    import pyarrow.dataset as ds

    fs, files, folder = data_files(path)
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=dictionary or []))
    if folder is not None:
        return ds.dataset(folder, filesystem=fs, format=fmt,
                          partitioning=ds.HivePartitioning.discover(infer_dictionary=True))
    return ds.dataset(files, filesystem=fs, format=fmt)


def read_table(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file or folder of parts, or CSV files (any fsspec URL, or a glob), as a DataFrame
    with only ``columns`` read where the format allows (Parquet)."""
    if path.endswith(CSV_SUFFIXES):
        fs, files, _ = data_files(path)
        frames = []
        for f in files:
            with fs.open(f, "rb", compression="infer") as fh:
                frames.append(pd.read_csv(fh, usecols=columns))
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    table = _parquet_dataset(path).to_table(columns=columns)
    return table.to_pandas(date_as_object=False)


def file_columns(path: str) -> list[str]:
    """The column names of a data source (Parquet: with Hive partition columns), read cheaply."""
    if path.endswith(CSV_SUFFIXES):
        fs, files, _ = data_files(path)
        with fs.open(files[0], "rb", compression="infer") as fh:
            return list(pd.read_csv(fh, nrows=0).columns)
    return list(_parquet_dataset(path).schema.names)


def read(spec: DataSpec, columns: list[str] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """``(rows, target)`` of a data source as they are: the columns before any preparation.

    ``columns`` (Parquet: only these are read) should include the target for files.
    """
    if spec.dataset == "synthetic":
        raise ValueError("synthetic data depend on the task: use raw(spec, task)")
    if spec.dataset is not None:
        import sklearn.datasets as skd

        loader = {
            "california_housing": skd.fetch_california_housing,
            "diabetes": skd.load_diabetes,
            "breast_cancer": skd.load_breast_cancer,
        }[spec.dataset]
        bunch = loader(as_frame=True)
        return bunch.data, bunch.target
    assert spec.path is not None and spec.target is not None  # a file's DataSpec has both
    frame = read_table(spec.path, columns)
    y = frame.pop(spec.target)
    return frame, y


def sample_rows(n_rows: int, spec: DataSpec) -> np.ndarray | None:
    """The rows ``data.sample`` keeps (sorted), or None for all of them."""
    if spec.sample is None or spec.sample >= n_rows:
        return None
    return np.sort(np.random.default_rng(spec.seed).choice(n_rows, spec.sample, replace=False))


def synthetic(spec: DataSpec, task: str) -> tuple[pd.DataFrame, pd.Series]:
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
        X, y = make_regression(n_samples=spec.n_samples, n_features=spec.n_features, noise=10.0, random_state=spec.seed)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), pd.Series(y, name="target")


def raw(spec: DataSpec, task: str, columns: Columns | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The rows and target before preparation, ``data.sample`` applied; with ``columns``, only
    the feature columns are read."""
    if spec.dataset == "synthetic":
        frame, y = synthetic(spec, task)
    else:
        wanted = None
        if columns is not None and spec.path is not None and spec.target is not None:
            wanted = [*columns.features, spec.target]
        elif spec.features is not None and spec.target is not None:
            wanted = [*spec.features, spec.target]
        frame, y = read(spec, wanted)
    rows = sample_rows(len(frame), spec)
    if rows is not None:
        frame, y = frame.iloc[rows], y.iloc[rows]
    return frame.reset_index(drop=True), y.reset_index(drop=True)


def describe(spec: DataSpec, frame: pd.DataFrame) -> Columns:
    """:func:`tuner.columns.profile` with the ``data`` section's choices."""
    return profile(frame, drop=spec.drop, features=spec.features, categorical=spec.categorical, dates=spec.dates)


def load(spec: DataSpec, task: str, columns: Columns | None = None, target: Target | None = None
         ) -> tuple[pd.DataFrame, np.ndarray]:
    """Load ``(X, y)`` as the models see them: ``X`` prepared by :class:`~tuner.columns.Columns`
    (decided from the data when not given), ``y`` as class codes 0..n-1 (classification; what
    XGBoost requires) or floats."""
    if columns is not None and target is not None and spec.path is not None and not spec.is_csv:
        return _load_parquet(spec, columns, target)
    frame, y = raw(spec, task, columns)
    if columns is None:
        columns = describe(spec, frame)
    if target is None:
        target = check_target(y, spec.target, task, folds=1)
    return columns.prepare(frame), target.encode(y)


def _load_parquet(spec: DataSpec, columns: Columns, target: Target) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`load` for Parquet in bounded memory: one column at a time is read (categorical
    columns as dictionaries), converted and released, so the peak is about the prepared frame
    plus one column rather than several copies of the table."""
    assert spec.path is not None and spec.target is not None  # a file's DataSpec has both
    dataset = _parquet_dataset(spec.path, [name for name, _ in columns.categorical])
    rows = sample_rows(dataset.count_rows(), spec)

    def column(name: str) -> pd.Series:
        table = dataset.to_table(columns=[name])  # in file order, as a whole read
        if rows is not None:
            table = table.take(rows)
        return table.column(0).to_pandas(date_as_object=False, self_destruct=True)

    import pyarrow as pa

    pool = pa.default_memory_pool()
    y = target.encode(column(spec.target))
    out: dict[str, pd.Series] = {}
    for name in columns.features:
        out.update(columns.prepare_column(name, column(name)))
        pool.release_unused()  # Arrow's pool would keep each column's buffers, raising the peak
    return pd.DataFrame(out, copy=False), y


_cache: dict[tuple, tuple[pd.DataFrame, np.ndarray]] = {}
_cache_lock = threading.Lock()


def load_cached(spec: DataSpec, task: str, columns: Columns | None = None, target: Target | None = None
                ) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`load`, once per process (each Dask worker keeps one prepared copy)."""
    key = (spec, task, columns, target)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load(spec, task, columns, target)
        return _cache[key]
