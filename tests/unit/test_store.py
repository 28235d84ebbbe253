"""The result store contract, on a local folder and on memory:// (S3 is covered in
tests/integration/test_s3.py); gs:// URLs get gcsfs."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from tests.support.records import record
from tuner.store import ResultStore, result_schema


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    if request.param == "local":
        yield ResultStore(str(tmp_path / "res"))
        return
    url = f"memory://tuner-test-{os.getpid()}-{id(request)}/res"
    yield ResultStore(url)
    ResultStore(url).fs.rm(url.replace("memory://", "/"), recursive=True)


def test_append_read_dedupe(store):
    schema = result_schema({"depth": [1, 2], "kind": ["a", None]}, folds=3)
    assert store.read().empty and store.finished_ids() == set()
    store.write([record(1), record(2)], schema)
    store.write([record(2, mean_test_score=99.0), record(3)], schema)
    df = store.read()
    assert list(df["trial_id"]) == ["t1", "t2", "t3"]
    assert df.set_index("trial_id").loc["t2", "mean_test_score"] == 2.0  # first finished wins
    assert store.finished_ids() == {"t1", "t2", "t3"}
    assert str(df["param_depth"].dtype) == "int64"


def test_local_part_files_are_plain_parquet_and_no_temp_left(tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    schema = result_schema({"depth": [1]}, folds=2)
    store.write([record(1)], schema)
    names = os.listdir(tmp_path / "res")
    assert len(names) == 1 and names[0].startswith("part-") and names[0].endswith(".parquet")
    # a leftover temporary file (a crash mid-write) is ignored by pandas and by tuner
    (tmp_path / "res" / ".tmp-part-x.parquet").write_bytes(b"PAR1 truncated")
    assert len(pd.read_parquet(tmp_path / "res")) == 1
    assert len(store.read()) == 1


def test_param_column_types():
    schema = result_schema({"a": [1, 2], "b": [0.1, 1], "c": [True, False], "d": ["x", 3], "e": [None, 2]}, folds=2)
    types = {f.name: str(f.type) for f in schema}
    assert types["param_a"] == "int64" and types["param_b"] == "double" and types["param_c"] == "bool"
    assert types["param_d"] == "string" and types["param_e"] == "int64"
    assert [n for n in schema.names if n.startswith("split")] == ["split0_test_score", "split1_test_score"]


def test_gcs_urls_use_gcsfs():
    """gs:// needs only gcsfs installed: the same single-object uploads, no extra code in tuner."""
    gcsfs = pytest.importorskip("gcsfs")
    import fsspec

    assert fsspec.get_filesystem_class("gs") is gcsfs.GCSFileSystem
    store = ResultStore("gs://bucket/prefix/search", {"token": "anon"})  # constructing needs no network
    assert isinstance(store.fs, gcsfs.GCSFileSystem) and not store.local
    assert store.root == "bucket/prefix/search"
    assert store._path("part-x.parquet") == "bucket/prefix/search/part-x.parquet"
