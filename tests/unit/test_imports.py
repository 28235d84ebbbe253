"""Import hygiene: ``import tuner`` stays light, and modules depend on each other one way only.

* ``import tuner`` (and ``import tuner.kubernetes``) must not load dask-kubernetes, the
  Kubernetes client or matplotlib: they are needed only to start a Kubernetes cluster or draw a
  plot. Checked in a fresh interpreter, since this one has imported them already.
* ``tuner.config`` -> ``tuner.kubernetes.spec`` -> ``tuner.validation``: the Kubernetes package
  never imports ``tuner.config`` at run time, and no module imports another's private names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

TUNER = ROOT / "tuner"
KUBERNETES = TUNER / "kubernetes"
HEAVY = ("dask_kubernetes", "kubernetes", "kubernetes_asyncio", "kr8s", "matplotlib")


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys; {statement}; "
        f"print('\\n'.join(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize("statement", ["import tuner", "import tuner.kubernetes", "import tuner.config"])
def test_import_does_not_load_kubernetes_client_or_matplotlib(statement):
    assert _loaded_after(statement) == []


def _imports(path: Path) -> list[tuple[str, str, bool, bool]]:
    """``(module, name, at_run_time, at_import_time)`` for every import in ``path``.

    ``at_run_time`` is False under ``if TYPE_CHECKING:``; ``at_import_time`` is also False inside
    a function (a lazy import).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only: set[int] = set()
    lazy: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lazy |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [(alias.name, "") for alias in node.names]
        else:
            continue
        run_time = id(node) not in type_only
        out += [(module, name, run_time, run_time and id(node) not in lazy) for module, name in names]
    return out


SOURCES = sorted(TUNER.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(TUNER.parent)) for p in SOURCES])
def test_no_private_names_from_config_or_kubernetes(path):
    for module, name, *_ in _imports(path):
        if module == "tuner.config" or module.startswith("tuner.kubernetes"):
            assert not name.startswith("_"), f"{path.name}: from {module} import {name}"


@pytest.mark.parametrize("path", sorted(KUBERNETES.glob("*.py")), ids=lambda p: p.name)
def test_kubernetes_never_imports_config_at_run_time(path):
    for module, name, at_run_time, at_import_time in _imports(path):
        if at_run_time:
            assert not (module == "tuner.config" or (module == "tuner" and name == "config")), path.name
        if at_import_time:
            assert module.split(".")[0] not in HEAVY, f"{path.name}: {module} at import time"


def test_validation_imports_only_errors_from_tuner():
    modules = {module for module, *_ in _imports(TUNER / "validation.py") if module.startswith("tuner")}
    assert modules == {"tuner.errors"}


# every name that ``from tuner.kubernetes import X`` reached before the package was split
COMPATIBLE = [
    "Adapt", "KubernetesSpec", "PodRole", "ResultsVolume", "VersionMismatchError", "build_autoscaler_spec",
    "build_cluster_spec", "check_versions", "compare_versions", "grace_period", "make_kube_cluster",
    "parse_kubernetes_section", "placement", "render_cluster_spec", "retire_command", "strip_none",
    "CHECKED_PACKAGES", "INTERRUPTIBLE_LABELS", "MAX_GRACE_SECONDS", "POOLS", "PROVIDERS", "ROUTES_ENV",
    "SCHEDULER_HTTP_ROUTES", "SPOT_LABELS", "SPOT_LABEL_KEYS", "GPU_RESOURCE", "memory_bytes", "required_packages",
]


def test_public_names_still_import_from_tuner_kubernetes():
    import tuner.kubernetes
    import tuner.versions

    missing = [name for name in COMPATIBLE if not hasattr(tuner.kubernetes, name)]
    assert missing == []
    assert tuner.kubernetes.check_versions is tuner.versions.check_versions
    assert set(tuner.kubernetes.__all__) >= set(COMPATIBLE)
