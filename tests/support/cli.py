"""The ``tuner`` command as a user runs it: a real subprocess on this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

TUNER = [sys.executable, "-m", "tuner"]


def run_cli(*args, cwd=None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*TUNER, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})},
                          timeout=300)
