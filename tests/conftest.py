"""Shared fixtures: a real LocalCluster with worker processes, a small fast configuration.

Helpers that tests import live in tests/support/.
"""

from __future__ import annotations

import os

import pytest

# plain asserts in helpers (tests/support/pages.py) report their values as in a test module
pytest.register_assert_rewrite("tests.support")

from tests.support.configs import small_config  # noqa: E402
from tests.support.paths import SHARED_DATA  # noqa: E402

if "SCIKIT_LEARN_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["SCIKIT_LEARN_DATA"] = str(SHARED_DATA)  # offline copy; workers inherit it


@pytest.fixture(scope="session")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


@pytest.fixture
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c


@pytest.fixture
def config(tmp_path):
    return small_config(tmp_path)
