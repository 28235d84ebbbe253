"""Results in a bucket: the result store contract, a search, resume and the CLI on a real S3 endpoint.

The endpoint is moto's S3 server on 127.0.0.1, started by the tests. As on a cluster, tuner gets
the endpoint and the credentials from the environment (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ...), which s3fs/botocore read; nothing about them is in the configuration.
Results are written by the driver (this process), so the shared LocalCluster's workers need none of it.
"""

from __future__ import annotations

import io
import json
import uuid

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from tests.support.configs import config_file, small_config  # noqa: E402
from tests.support.records import record  # noqa: E402
from tests.support.s3_server import moto_server, s3_environment  # noqa: E402
from tests.support.tables import customer_table, write  # noqa: E402
from tuner.cli import main  # noqa: E402
from tuner.search import Search  # noqa: E402
from tuner.store import ResultStore, result_schema  # noqa: E402


@pytest.fixture(scope="session")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """A new, empty bucket; the environment points botocore at the local endpoint for this test only."""
    import fsspec

    with s3_environment(s3_endpoint, monkeypatch):
        name = f"tuner-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem("s3").mkdir(name)
        yield name


SCHEMA = result_schema({"depth": [1, 2]}, folds=2)


def raw_client():
    """A plain boto3 client: another writer that shares no cache with tuner's filesystem."""
    import boto3

    return boto3.client("s3")


def test_endpoint_comes_from_the_environment(bucket, s3_endpoint):
    store = ResultStore(f"s3://{bucket}/res")
    assert type(store.fs).__name__ == "S3FileSystem" and not store.local
    assert store.fs.s3.meta.endpoint_url == s3_endpoint  # botocore honours AWS_ENDPOINT_URL


def test_store_contract_on_s3(bucket):
    url = f"s3://{bucket}/prefix/res"
    store = ResultStore(url)
    assert store.read().empty and store.finished_ids() == set() and store.part_files() == []
    store.write([record(1), record(2)], SCHEMA)
    store.write([record(2, mean_test_score=99.0), record(3)], SCHEMA)
    assert len(store.part_files()) == 2
    df = store.read()
    assert list(df["trial_id"]) == ["t1", "t2", "t3"]
    assert df.set_index("trial_id").loc["t2", "mean_test_score"] == 2.0  # first finished wins
    assert store.finished_ids() == {"t1", "t2", "t3"}
    assert str(df["param_depth"].dtype) == "int64"
    # any Parquet reader sees the same rows (before dedupe): plain part files, one schema
    assert len(pd.read_parquet(url)) == 4
    assert sorted(pd.read_parquet(url, columns=["trial_id"])["trial_id"]) == ["t1", "t2", "t2", "t3"]
    # explicit storage options work as well as the environment
    endpoint = store.fs.s3.meta.endpoint_url
    opts = {"client_kwargs": {"endpoint_url": endpoint}, "key": "testing", "secret": "testing",
            "skip_instance_cache": True}
    assert len(pd.read_parquet(url, storage_options=opts)) == 4
    assert ResultStore(url, opts).finished_ids() == {"t1", "t2", "t3"}


def test_new_part_files_are_seen_through_a_cached_listing(bucket):
    """A crash between writing and listing: what another writer put there is seen on the next read."""
    url = f"s3://{bucket}/res"
    reader = ResultStore(url, {"skip_instance_cache": True})  # its own filesystem and listing cache
    writer = ResultStore(url, {"skip_instance_cache": True})
    assert reader.fs is not writer.fs
    writer.write([record(1)], SCHEMA)
    assert reader.finished_ids() == {"t1"}  # lists (and caches) one part file
    writer.write([record(2)], SCHEMA)
    assert reader.finished_ids() == {"t1", "t2"}  # the listing cache is invalidated on each read
    # a part file put by a process that died right after its upload (no fsspec, no cache at all)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([record(3)], schema=SCHEMA), buf)
    raw_client().put_object(Bucket=bucket, Key="res/part-20000101T000000-deadbeef0000.parquet", Body=buf.getvalue())
    assert reader.finished_ids() == writer.finished_ids() == {"t1", "t2", "t3"}
    # and a fresh store, as after a restart of the driver
    assert ResultStore(url, {"skip_instance_cache": True}).finished_ids() == {"t1", "t2", "t3"}


def test_unfinished_uploads_are_never_read(bucket):
    """Half-written objects: hidden temporary names and multipart uploads never completed."""
    url = f"s3://{bucket}/res"
    store = ResultStore(url)
    store.write([record(1)], SCHEMA)
    good = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([record(2)], schema=SCHEMA), good)
    truncated = good.getvalue()[: len(good.getvalue()) // 2]
    s3 = raw_client()
    # a multipart upload under a readable final name, killed before CompleteMultipartUpload
    upload = s3.create_multipart_upload(Bucket=bucket, Key="res/part-20000101T000000-unfinished00.parquet")
    s3.upload_part(Bucket=bucket, Key="res/part-20000101T000000-unfinished00.parquet", PartNumber=1,
                   UploadId=upload["UploadId"], Body=good.getvalue())
    # temporary and bookkeeping names: ignored by tuner and by every Parquet reader
    s3.put_object(Bucket=bucket, Key="res/.tmp-part-20000101T000000-x.parquet", Body=truncated)
    s3.put_object(Bucket=bucket, Key="res/_checkpoints/xgboost/abc.json", Body=b"{}")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # it is there, but no object
    assert len(store.part_files()) == 1  # only the part file written whole
    assert list(store.read()["trial_id"]) == ["t1"]
    assert list(pd.read_parquet(url)["trial_id"]) == ["t1"]
    assert store.finished_ids() == {"t1"}


def test_search_on_s3_and_resume(client, bucket, tmp_path):
    cfg = small_config(tmp_path, results=f"s3://{bucket}/searches")
    result = Search(cfg).run(client, progress=False, refit=False)
    assert result.dispatched == 6 and len(result.results_) == 6
    assert (result.results_["status"] == "ok").all()
    df = pd.read_parquet(f"s3://{bucket}/searches/small")
    assert len(df) == 6 and df["trial_id"].is_unique
    assert set(df["model"]) == {"xgboost", "sklearn.ensemble.HistGradientBoostingRegressor"}
    assert not (tmp_path / "results").exists()
    again = Search(cfg).run(client, progress=False, refit=False)  # resume: everything is there
    assert again.dispatched == 0 and len(again.results_) == 6
    assert len(pd.read_parquet(f"s3://{bucket}/searches/small")) == 6  # nothing written twice


def test_cli_run_and_results_on_s3(bucket, cluster, tmp_path, capsys):
    config = config_file(tmp_path, small_config(tmp_path))
    url = f"s3://{bucket}/cli"
    code = main(["run", str(config), "--results", url, "--cluster", cluster.scheduler_address, "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"6 trials in {url}/small (6 run now, 0 failed)" in out.out
    assert not (tmp_path / "results").exists()
    assert main(["results", f"{url}/small", "--json", "--top", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trials"] == 6 and len(summary["best"]) == 2 and len(summary["best_per_model"]) == 2
    assert summary["best"][0]["mean_test_score"] == pd.read_parquet(f"{url}/small")["mean_test_score"].min()


def test_missing_bucket_is_an_error_not_a_hang(s3_endpoint, monkeypatch):
    with s3_environment(s3_endpoint, monkeypatch):
        store = ResultStore(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/res")
        assert store.read().empty
        with pytest.raises(OSError):  # s3fs: FileNotFoundError (NoSuchBucket)
            store.write([record(1)], SCHEMA)


def test_hyperband_checkpoints_live_in_the_bucket(bucket, tmp_path):
    """Checkpoints between rungs are written and read by the workers: they need the endpoint too,
    which worker processes take from the environment when they start (here: a cluster of its own)."""
    from distributed import Client, LocalCluster

    cfg = small_config(
        tmp_path, name="hb", results=f"s3://{bucket}/searches",
        search={"strategy": "hyperband", "min_resource": 5, "max_resource": 15, "eta": 3},
        models={"xgboost": {"max_depth": [2, 3], "learning_rate": 0.3}},
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        result = Search(cfg).run(client, progress=False, refit=False)
    df = result.results_
    assert len(df) and (df["status"] == "ok").all(), df["error"].dropna().tolist()
    assert df["continued"].fillna(False).any()  # a rung went on from a checkpoint read back from the bucket
    store = ResultStore(f"s3://{bucket}/searches/hb")
    assert not store.fs.exists(f"{bucket}/searches/hb/_checkpoints")  # removed when the search is over
    assert len(pd.read_parquet(f"s3://{bucket}/searches/hb")) == len(df)


def test_data_from_a_hive_folder_in_a_bucket(bucket, tmp_path):
    """data.path on s3://: a folder of Parquet parts as Spark writes it, every file in the identity."""
    import fsspec

    local = write(customer_table(300), tmp_path / "data", "hive")
    fs = fsspec.filesystem("s3")
    for f in local.rglob("*"):
        if f.is_file():
            fs.put_file(str(f), f"{bucket}/tables/customers/{f.relative_to(local).as_posix()}")
    url = f"s3://{bucket}/tables/customers"
    cfg = small_config(tmp_path, data={"path": url, "target": "segment"}, metric="accuracy",
                       models={"xgboost": {"max_depth": [2]}})
    search = Search(cfg)
    assert search.config.rows == 300
    assert search.config.columns.levels["region"] == ("north", "south")  # the partition folders
    X, y, _ = search.problem.load()
    assert X.shape[0] == 300 and str(X["city"].dtype) == "category" and "customer_id" not in X
    before = search.config.data.fingerprint("classification")
    extra = io.BytesIO()
    customer_table(5, seed=1).drop(columns="region").to_parquet(extra, index=False)
    fs.pipe(f"{bucket}/tables/customers/region=north/part-extra.parquet", extra.getvalue())
    assert search.config.data.fingerprint("classification") != before  # new trial ids, not stale reuse
