"""The result store: an append-only Parquet dataset in a folder, a mounted volume or a bucket.

Every flush writes one new, uniquely named part file ``part-<time>-<uuid>.parquet``:

* on a local or mounted filesystem it is written to a hidden temporary name first and renamed
  (``os.replace`` is atomic), so a crash never leaves a partial file under a readable name;
* on object stores (``s3://``, ``gs://``) one object upload is atomic: the object appears whole
  or not at all.

Readers (``pandas.read_parquet(url)``, pyarrow, DuckDB, :meth:`ResultStore.read`) ignore names
starting with ``.`` or ``_``, where temporary files and bookkeeping live. Within a search every
part file has the same schema, built from the configuration (:func:`result_schema`).
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from tuner.errors import ResultsError
from tuner.record import HEAD_COLUMNS, SCORE_COLUMNS, STATUS_COLUMNS


def _param_type(values: Iterable) -> pa.DataType:
    """One Arrow type per parameter column across all models: bool, int64, float64 or string."""
    values = [v for v in values if v is not None]
    if values and all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def result_schema(param_values: dict[str, list], folds: int, extra: Iterable[tuple] = ()) -> pa.Schema:
    """The schema of every part file of a search: fixed columns, ``param_<name>``, ``split<i>_test_score``."""
    params = [(f"param_{name}", _param_type(vals)) for name, vals in sorted(param_values.items())]
    splits = [(f"split{i}_test_score", pa.float64()) for i in range(folds)]
    return pa.schema(HEAD_COLUMNS + params + SCORE_COLUMNS + splits + STATUS_COLUMNS + list(extra))


def records_to_table(records: list[dict], schema: pa.Schema) -> pa.Table:
    columns = {}
    for f in schema:
        values = [r.get(f.name) for r in records]
        if pa.types.is_string(f.type):
            values = [v if v is None or isinstance(v, str) else _to_text(v) for v in values]
        elif pa.types.is_floating(f.type):
            values = [None if v is None else float(v) for v in values]
        columns[f.name] = pa.array(values, type=f.type)
    return pa.table(columns, schema=schema)


def _to_text(value) -> str:
    import json

    return json.dumps(value, default=str)


class ResultStore:
    """Append-only Parquet dataset at ``url`` (a path or any fsspec URL)."""

    def __init__(self, url: str, storage_options: dict | None = None):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        self.local = isinstance(self.fs, LocalFileSystem)

    def _path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def write(self, records: list[dict], schema: pa.Schema) -> str | None:
        """Append ``records`` as one new part file, atomically. Returns its path."""
        if not records:
            return None
        table = records_to_table(records, schema)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.parquet"
        final = self._path(name)
        if self.local:
            os.makedirs(self.root, exist_ok=True)
            tmp = self._path(f".tmp-{name}")
            pq.write_table(table, tmp)
            with open(tmp, "rb+") as fh:  # data on disk before the rename makes it visible
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        else:
            buf = io.BytesIO()
            pq.write_table(table, buf)
            self.fs.pipe_file(final, buf.getvalue())  # one upload: atomic on object stores
        return final

    def _check_not_file(self) -> None:
        if self.fs.isfile(self.root):
            raise ResultsError(f"results location {self.url} is a file; a results location is a folder or a "
                               "bucket prefix: pass another path")

    def check_writable(self) -> None:
        """Raise :class:`ResultsError` unless part files can be written here (checked before a run
        dispatches anything): not a file, and, on a local or mounted filesystem, a folder in which
        a file can be created."""
        self._check_not_file()
        if not self.local:
            return  # object stores: credentials are checked by the first write of the lease
        folder = self.root
        while not os.path.exists(folder):  # the nearest existing folder decides
            parent = os.path.dirname(folder.rstrip("/")) or "/"
            if parent == folder:
                break
            folder = parent
        if not os.path.isdir(folder):
            raise ResultsError(f"results location {self.url} is inside {folder}, which is a file: pass another path")
        probe = os.path.join(folder, f".tmp-probe-{uuid.uuid4().hex[:8]}")
        try:
            with open(probe, "wb"):
                pass
            os.remove(probe)
        except OSError as exc:
            raise ResultsError(f"cannot write to results location {self.url} ({exc.strerror or exc}); "
                               "pass a writable folder with --results or fix its permissions") from None

    def searches(self) -> list[str]:
        """Names of the searches under this location, when it is a results root (folders holding
        part files) rather than one search's results; [] otherwise."""
        try:
            self._check_not_file()
            names = self.fs.ls(self.root, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        if any(os.path.basename(n["name"].rstrip("/")).startswith("part-") for n in names):
            return []
        found = []
        for n in names:
            if n.get("type") != "directory":
                continue
            try:
                inner = self.fs.ls(n["name"], detail=False)
            except OSError:
                continue
            if any(os.path.basename(q.rstrip("/")).startswith("part-") for q in inner):
                found.append(os.path.basename(n["name"].rstrip("/")))
        return sorted(found)

    def part_files(self) -> list[str]:
        """Part files, sorted. Anything else not hidden (``.``/``_``) is foreign: an error, since
        mixing another program's files into the results would silently corrupt them."""
        self._check_not_file()
        try:
            self.fs.invalidate_cache(self.root)
            names = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        except OSError as exc:  # unreadable folder
            raise ResultsError(f"cannot read results location {self.url} ({exc})") from None
        parts: list[str] = []
        foreign: list[str] = []
        for p in names:
            base = os.path.basename(p.rstrip("/"))
            if base.startswith((".", "_")):
                continue
            (parts if base.startswith("part-") and base.endswith(".parquet") else foreign).append(p)
        if foreign:
            shown = ", ".join(os.path.basename(p.rstrip("/")) for p in sorted(foreign)[:5])
            raise ResultsError(
                f"results location {self.url} holds files that are not tuner part files: {shown}"
                f"{' ...' if len(foreign) > 5 else ''}; move them away or use another results location"
            )
        return sorted(parts)

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """All trials, one row per ``trial_id`` (the first finished wins), in finishing order."""
        files = self.part_files()
        if not files:
            return pd.DataFrame()

        def read_one(path: str) -> pa.Table:
            try:
                return pq.read_table(path, filesystem=self.fs, columns=columns)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ResultsError(
                    f"results file {path} is not a readable Parquet file ({exc}); tuner writes part files "
                    "atomically, so it was damaged or written by something else: move it away to go on"
                ) from None

        with ThreadPoolExecutor(8) as pool:
            tables = list(pool.map(read_one, files))
        table = pa.concat_tables(tables, promote_options="permissive")
        df = table.to_pandas()
        if "finished_at" in df.columns:
            df = df.sort_values("finished_at", kind="stable")
        if "trial_id" in df.columns:
            df = df.drop_duplicates("trial_id", keep="first")
        return df.reset_index(drop=True)

    def finished_ids(self) -> set[str]:
        """Trial ids already in the results (ok or failed): a re-run skips them."""
        df = self.read(columns=["trial_id"])
        return set(df["trial_id"]) if len(df) else set()
