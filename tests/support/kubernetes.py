"""A Kubernetes ``cluster`` section to start from, and strict validation of manifests.

Dask custom resources are validated against the openAPIV3Schema of the CRDs inside the installed
dask-kubernetes wheel, with unknown fields forbidden (the API server would silently prune them);
anything else against strict Kubernetes 1.33 schemas.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

from tests.support.fake_apiserver import KUBERNETES_VERSION, crd_schema

SECTION = {
    "kind": "kubernetes",
    "name": "tuner-search",
    "namespace": "tuning",
    "image": "registry.example.com/tuner:0.1.0",
    "provider": "gke",
    "workers": 4,
    "adapt": {"minimum": 0, "maximum": 200},
    "worker": {"cpu": 2, "memory": "8Gi", "pool": "spot"},
    "scheduler": {"cpu": 1, "memory": "4Gi", "pool": "on-demand"},
    "results_volume": {"claim": "tuner-results", "mount": "/results"},
    "credentials_secret": "bucket-credentials",
}

DROP = object()  #: ``section(key=DROP)`` leaves ``key`` out


def section(**overrides) -> dict:
    """:data:`SECTION` with ``overrides``; ``worker`` and ``scheduler`` mappings are merged into its own."""
    out = copy.deepcopy(SECTION)
    for key, value in overrides.items():
        if key in ("worker", "scheduler") and isinstance(value, dict):
            out[key] = {**out[key], **value}
        elif value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def yaml_docs(path: Path) -> list[dict]:
    """The non-empty YAML documents of ``path``."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# -- schemas ----------------------------------------------------------------------------------


def _forbid_unknown(schema: dict) -> dict:
    """The schema with unknown fields rejected wherever the API server would prune them."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {k: _forbid_unknown(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    if isinstance(schema.get("items"), dict):
        schema["items"] = _forbid_unknown(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _forbid_unknown(schema["additionalProperties"])
    return schema


@functools.cache
def strict_crd(kind: str) -> jsonschema.protocols.Validator:
    """A validator for ``kind`` that also rejects what the API server would prune."""
    schema = _forbid_unknown(crd_schema(kind))
    # the CRD describes spec and status; the API server owns apiVersion, kind and metadata
    schema["properties"] |= {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_manifest(obj: dict) -> None:
    """A Dask custom resource against its CRD, anything else against strict Kubernetes schemas."""
    if obj["apiVersion"].startswith("kubernetes.dask.org/"):
        strict_crd(obj["kind"]).validate(obj)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def operator_objects(manifest: dict) -> dict[str, dict]:
    """What the operator creates from a DaskCluster, rendered with its own builders."""
    from dask_kubernetes.operator.controller import controller as op

    name = manifest["metadata"]["name"]
    ns = manifest["metadata"].get("namespace", "default")
    sched, worker = manifest["spec"]["scheduler"], manifest["spec"]["worker"]
    smeta, wmeta = sched.get("metadata", {}), worker.get("metadata", {})
    group = op.build_default_worker_group_spec(name, worker, wmeta.get("annotations", {}), wmeta.get("labels", {}))
    return {
        "scheduler": op.build_scheduler_deployment_spec(
            name, sched["spec"], smeta.get("annotations", {}), smeta.get("labels", {})
        ),
        "service": op.build_scheduler_service_spec(
            name, sched["service"], smeta.get("annotations", {}), smeta.get("labels", {})
        ),
        "group": group,
        "worker": op.build_worker_deployment_spec(
            group["metadata"]["name"],
            ns,
            name,
            "0123456789",
            worker["spec"],
            wmeta.get("annotations", {}),
            wmeta.get("labels", {}),
        ),
    }
