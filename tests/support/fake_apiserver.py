"""A small in-process Kubernetes API server that plays the dask-kubernetes operator.

It lets the real ``KubeCluster`` (and the real kr8s HTTP client under it) run against
``http://127.0.0.1:<port>`` through an ordinary kubeconfig: nothing of tuner or dask-kubernetes
is mocked, only the cluster at the other end of the wire. Like an API server it

* validates every custom resource it is sent against the CRD's openAPIV3Schema (shipped inside
  the dask-kubernetes wheel), and the Deployments it creates with kubernetes-validate;
* answers GET/POST/PATCH (merge patch)/DELETE on DaskCluster, DaskWorkerGroup and
  DaskAutoscaler, and GET on Pods, Services and Deployments with label and field selectors;

and like the operator, when a DaskCluster is created it renders the scheduler Deployment,
Service and the ``<name>-default`` DaskWorkerGroup with the operator's own builders
(``dask_kubernetes.operator.controller``), reports a running, ready scheduler pod, and renders
one worker Deployment per replica. Every request is recorded as ``(verb, resource)`` so that
tests can compare what a client needs with what the RBAC Role grants.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dask_kubernetes
import jsonschema
import kubernetes_validate
import yaml
from dask_kubernetes.operator.controller import controller as operator

CRD_DIR = Path(dask_kubernetes.__file__).parent / "operator/deployment/helm/dask-kubernetes-operator/crds"
KUBERNETES_VERSION = "1.33.0"
CUSTOM = {"daskclusters": "DaskCluster", "daskworkergroups": "DaskWorkerGroup", "daskautoscalers": "DaskAutoscaler"}
CORE = {"pods": "Pod", "services": "Service"}
APPS = {"deployments": "Deployment"}
_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)


def crd_schema(kind: str) -> dict:
    """The openAPIV3Schema of a dask-kubernetes CRD, e.g. ``crd_schema("DaskCluster")``."""
    doc = yaml.safe_load((CRD_DIR / f"{kind.lower()}.yaml").read_text())
    return doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@functools.cache
def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    schema = crd_schema(kind)
    return jsonschema.validators.validator_for(schema)(schema)


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7386 JSON merge patch."""
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _selected(obj: dict, labels: str | None, fields: str | None) -> bool:
    meta = obj.get("metadata", {})
    for term in filter(None, (labels or "").split(",")):
        key, _, value = term.partition("=")
        if meta.get("labels", {}).get(key) != value:
            return False
    for term in filter(None, (fields or "").split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and meta.get("name") != value:
            return False
        if key == "status.phase" and obj.get("status", {}).get("phase") != value:
            return False
    return True


class FakeKubernetes:
    """The cluster's state and the operator's reactions; serve it with :meth:`serve`."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}  # (plural, namespace, name) -> object
        self.requests: list[tuple[str, str]] = []  # (verb, resource) as RBAC names them
        self.rejected: list[str] = []  # validation errors returned to the client
        self.lock = threading.Lock()

    # -- operator ------------------------------------------------------------------------
    def _put(self, plural: str, ns: str, obj: dict) -> dict:
        obj.setdefault("metadata", {})["namespace"] = ns
        obj["metadata"].setdefault("uid", str(uuid.uuid4()))
        self.objects[(plural, ns, obj["metadata"]["name"])] = obj
        return obj

    def _validate_deployment(self, obj: dict) -> None:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)

    def _on_cluster_created(self, ns: str, cluster: dict) -> None:
        name = cluster["metadata"]["name"]
        cluster["status"] = {"phase": "Running"}
        sched = cluster["spec"]["scheduler"]
        meta = sched.get("metadata", {})
        deployment = operator.build_scheduler_deployment_spec(
            name, sched["spec"], meta.get("annotations", {}), meta.get("labels", {})
        )
        self._validate_deployment(deployment)
        self._put("deployments", ns, deployment)
        pod = copy.deepcopy(deployment["spec"]["template"])
        pod.update(apiVersion="v1", kind="Pod")
        pod["metadata"] = dict(pod["metadata"], name=f"{name}-scheduler-0")
        pod["status"] = {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
        }
        self._put("pods", ns, pod)
        service = operator.build_scheduler_service_spec(
            name, sched["service"], meta.get("annotations", {}), meta.get("labels", {})
        )
        self._validate_deployment(service)
        self._put("services", ns, service)
        worker = cluster["spec"]["worker"]
        wmeta = worker.get("metadata", {})
        group = operator.build_default_worker_group_spec(
            name, worker, wmeta.get("annotations", {}), wmeta.get("labels", {})
        )
        self._put("daskworkergroups", ns, group)
        self._on_group_changed(ns, group)

    def _on_group_changed(self, ns: str, group: dict) -> None:
        cluster = group["spec"]["cluster"]
        group_name = group["metadata"]["name"]
        current = [k for k in self.objects if k[0] == "deployments" and k[2].startswith(f"{group_name}-worker-")]
        wanted = group["spec"]["worker"].get("replicas", 0)
        worker = group["spec"]["worker"]
        meta = worker.get("metadata", {})
        for _ in range(wanted - len(current)):
            deployment = operator.build_worker_deployment_spec(
                group_name,
                ns,
                cluster,
                uuid.uuid4().hex[:10],
                worker["spec"],
                meta.get("annotations", {}),
                meta.get("labels", {}),
            )
            self._validate_deployment(deployment)
            self._put("deployments", ns, deployment)
        for key in current[wanted:] if wanted < len(current) else []:
            del self.objects[key]

    def _on_cluster_deleted(self, ns: str, name: str) -> None:
        for key in [k for k, v in self.objects.items() if k[1] == ns]:
            labels = self.objects[key].get("metadata", {}).get("labels", {})
            if labels.get("dask.org/cluster-name") == name or key[0] == "daskworkergroups" and key[2].startswith(name):
                del self.objects[key]

    # -- API -----------------------------------------------------------------------------
    @staticmethod
    def _discovery(path: str) -> dict | None:
        def resources(kinds: dict) -> dict:
            return {
                "resources": [
                    {"name": plural, "singularName": kind.lower(), "kind": kind, "namespaced": True}
                    for plural, kind in kinds.items()
                ]
            }

        groups = {"apps/v1": APPS, "kubernetes.dask.org/v1": CUSTOM}
        if path == "/api":
            return {"versions": ["v1"]}
        if path == "/api/v1":
            return resources(CORE)
        if path == "/apis":
            return {"groups": [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv}]} for gv in groups]}
        if path.startswith("/apis/") and path[len("/apis/") :] in groups:
            return resources(groups[path[len("/apis/") :]])
        return None

    def handle(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, dict]:
        path = path.rstrip("/") or "/"
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
        discovery = self._discovery(path)
        if discovery is not None:  # open to every authenticated user (system:discovery)
            return 200, discovery
        match = _PATH.match(path)
        if not match:
            return 404, {"kind": "Status", "message": f"no route {path}", "code": 404}
        ns, plural, name, sub = match["ns"], match["plural"], match["name"], match["sub"]
        if plural not in CUSTOM and plural not in CORE and plural not in APPS:
            return 404, {"kind": "Status", "message": f"unknown resource {plural}", "code": 404}
        verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch", "DELETE": "delete"}[method]
        self.requests.append((verb, f"{plural}/{sub}" if sub else plural))
        with self.lock:
            key = (plural, ns, name)
            if method == "GET" and not name:
                labels = query.get("labelSelector", [None])[0]
                fields = query.get("fieldSelector", [None])[0]
                items = [
                    v for k, v in self.objects.items() if k[0] == plural and k[1] == ns and _selected(v, labels, fields)
                ]
                return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
            if method == "GET":
                if key not in self.objects:
                    return 404, {"kind": "Status", "message": f"{plural} {name} not found", "code": 404}
                return 200, self.objects[key]
            if method == "POST":
                obj = json.loads(body)
                if plural not in CUSTOM:
                    return 403, {"kind": "Status", "message": "this fake creates only Dask resources", "code": 403}
                try:
                    crd_validator(CUSTOM[plural]).validate(obj)
                except jsonschema.ValidationError as exc:
                    self.rejected.append(exc.message)
                    return 422, {"kind": "Status", "message": exc.message, "code": 422}
                obj_key = (plural, ns, obj["metadata"]["name"])
                if obj_key in self.objects:
                    return 409, {"kind": "Status", "message": "already exists", "code": 409}
                obj = self._put(plural, ns, obj)
                if plural == "daskclusters":
                    self._on_cluster_created(ns, obj)
                return 201, obj
            if key not in self.objects:
                return 404, {"kind": "Status", "message": f"{plural} {name} not found", "code": 404}
            if method == "PATCH":
                obj = merge_patch(self.objects[key], json.loads(body))
                if plural in CUSTOM:
                    try:
                        crd_validator(CUSTOM[plural]).validate(obj)
                    except jsonschema.ValidationError as exc:
                        self.rejected.append(exc.message)
                        return 422, {"kind": "Status", "message": exc.message, "code": 422}
                self.objects[key] = obj
                if plural == "daskworkergroups":
                    self._on_group_changed(ns, obj)
                return 200, obj
            deleted = self.objects.pop(key)
            if plural == "daskclusters":
                self._on_cluster_deleted(ns, name)
            return 200, deleted

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        """Start serving on 127.0.0.1; returns the server (call ``shutdown()``) and its URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = fake.handle(self.command, url.path, parse_qs(url.query), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _reply

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"


def write_kubeconfig(path: Path, url: str, namespace: str = "default") -> Path:
    """A kubeconfig for ``url`` without credentials (the fake server needs none)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(config))
    return path
