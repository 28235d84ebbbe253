"""tuner.kubernetes.spec: every invalid ``cluster`` section of kind kubernetes names the key; a valid
one loads through ``load_config``."""

from __future__ import annotations

import re

import pytest

from tests.support.kubernetes import DROP, section
from tuner.errors import ConfigError

SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
INVALID = [
    ({"worker": {"cpu": 1.5}}, "cluster.worker.cpu", "whole number of cores"),
    ({"worker": {"cpu": "500m"}}, "cluster.worker.cpu", "whole number of cores"),
    ({"worker": {"cpu": 0}}, "cluster.worker.cpu", ">= 1"),
    ({"worker": {"cpu": True}}, "cluster.worker.cpu", "whole number"),
    ({"worker": {"memory": "8GB"}}, "cluster.worker.memory", "Ki, Mi, Gi"),
    ({"worker": {"memory": "100Mi"}}, "cluster.worker.memory", "at least 256Mi"),
    ({"worker": {"pool": "spto"}}, "cluster.worker.pool", "did you mean 'spot'"),
    ({"worker": {"cpus": 2}}, "cluster.worker.cpus", "did you mean 'cpu'"),
    ({"worker": "big"}, "cluster.worker", "a mapping"),
    ({"scheduler": {"pool": "spot"}}, "cluster.scheduler.pool", "never runs on spot"),
    ({"scheduler": {"cpu": "-1"}}, "cluster.scheduler.cpu", "CPU quantity"),
    ({"provider": "gcp"}, "cluster.provider", "gke, eks, aks, generic"),
    ({"namspace": "tuning"}, "cluster.namspace", "did you mean 'namespace'"),
    ({"adapt": {"minimum": 0}}, "cluster.adapt.maximum", "both minimum and maximum"),
    ({"adapt": {"minimum": 5, "maximum": 2}}, "cluster.adapt.maximum", ">= 5"),
    ({"adapt": {"min": 1, "maximum": 2}}, "cluster.adapt.min", "did you mean 'minimum'"),
    ({"workers": 500}, "cluster.workers", "between adapt.minimum"),
    ({"workers": -1}, "cluster.workers", ">= 0"),
    ({"name": "Tuner_Search"}, "cluster.name", "lower-case"),
    ({"name": "x" * 54}, "cluster.name", "at most 53"),
    ({"namespace": "Tuning"}, "cluster.namespace", "lower-case"),
    ({"image": DROP}, "cluster.image", "Dockerfile"),
    ({"image": "tuner"}, "cluster.image", "untagged"),
    ({"image": "registry.example.com:5000/tuner"}, "cluster.image", "untagged"),
    ({"image": "registry.example.com/tuner:latest"}, "cluster.image", "latest"),
    ({"credentials_secret": {"AWS_SECRET_ACCESS_KEY": "hunter2"}}, "cluster.credentials_secret", "never credential"),
    ({"credentials_secret": "Bucket Credentials"}, "cluster.credentials_secret", "Secret"),
    ({"env": {"AWS_SECRET_ACCESS_KEY": "hunter2"}}, "cluster.env.AWS_SECRET_ACCESS_KEY", "credentials_secret"),
    ({"env": {"GCS_TOKEN": "hunter2"}}, "cluster.env.GCS_TOKEN", "credentials_secret"),
    ({"env": {"DASK_SCHEDULER_ADDRESS": "tcp://x:8786"}}, "cluster.env.DASK_SCHEDULER_ADDRESS", "does not set"),
    ({"env": {"A-B": "1"}}, "cluster.env.A-B", "letters, digits"),
    ({"env": {"A": [1]}}, "cluster.env.A", "string, number"),
    ({"tolerations": [SPOT_TOLERATION]}, "cluster.tolerations", "cluster.worker.tolerations"),
    ({"scheduler": {"tolerations": [{"operator": "Exists"}]}}, "cluster.scheduler.tolerations", "must not tolerate"),
    (
        {"node_selector": {"cloud.google.com/gke-spot": "true"}},
        "cluster.node_selector.cloud.google.com/gke-spot",
        "must not run on spot",
    ),
    (
        {"worker": {"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]}},
        "cluster.worker.tolerations[0].value",
        "Exists",
    ),
    (
        {"worker": {"tolerations": [{"key": "a", "value": "b", "effect": "NoScheduel"}]}},
        "cluster.worker.tolerations[0].effect",
        "did you mean 'NoSchedule'",
    ),
    ({"worker": {"tolerations": {"key": "a"}}}, "cluster.worker.tolerations", "a list"),
    ({"affinity": {"nodeAfinity": {}}}, "cluster.affinity.nodeAfinity", "did you mean 'nodeAffinity'"),
    (
        {"results_volume": {"claim": "tuner-results", "mount": "results"}},
        "cluster.results_volume.mount",
        "absolute path",
    ),
    ({"results_volume": {"claim": "Bad_Claim"}}, "cluster.results_volume.claim", "PersistentVolumeClaim"),
    ({"results_volume": {"claim": "r", "path": "/r"}}, "cluster.results_volume.path", "claim, mount"),
    ({"service_account": "a b"}, "cluster.service_account", "ServiceAccount"),
    ({"idle_timeout": -5}, "cluster.idle_timeout", ">= 0"),
    ({"worker": {"gpus": -1}}, "cluster.worker.gpus", "an integer >= 0"),
    ({"worker": {"gpus": "one"}}, "cluster.worker.gpus", "an integer >= 0"),
    ({"scheduler": {"gpus": 1}}, "cluster.scheduler.gpus", "needs no GPU"),
]


@pytest.mark.parametrize(("overrides", "key", "message"), INVALID, ids=[case[1] for case in INVALID])
def test_invalid_sections_name_the_key(overrides, key, message, config):
    from tuner.config import load_config

    cfg = dict(config, cluster=section(**overrides))
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(cfg)
    assert info.value.key == key
    assert "hunter2" not in str(info.value)  # secrets are never echoed back


def test_valid_section_through_load_config(config):
    from tuner.config import load_config

    cfg = load_config(dict(config, cluster=section()))
    assert cfg.cluster.kind == "kubernetes" and cfg.cluster.workers == 4
    spec = cfg.cluster.kubernetes
    assert spec.worker.cpu == 2 and spec.scheduler.cpu == "1" and spec.worker_grace_period == 15
    hash(spec)  # frozen and hashable
