"""A local S3-compatible HTTP endpoint for tests: moto's server on 127.0.0.1, in a thread.

tuner itself has no S3 settings: s3fs (through botocore) reads the endpoint and the credentials
from the standard environment variables, which is also how a pod on Kubernetes gets them.
:func:`s3_environment` sets exactly those, for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables that would point botocore at a real account or another endpoint.
S3_ENV_CLEARED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server on a free port of 127.0.0.1; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


def clear_s3fs_instances() -> None:
    """fsspec caches filesystem instances; an instance remembers the endpoint it was made with."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@contextlib.contextmanager
def s3_environment(endpoint: str, monkeypatch) -> Iterator[None]:
    """Credentials and endpoint in the environment (restored by ``monkeypatch``), fresh s3fs instances."""
    for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    for key in S3_ENV_CLEARED:
        monkeypatch.delenv(key, raising=False)
    # no user config or credentials file may add to (or override) the test settings
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    clear_s3fs_instances()
    try:
        yield
    finally:
        clear_s3fs_instances()
