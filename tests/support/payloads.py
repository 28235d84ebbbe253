"""Hostile pickles: what a tampered checkpoint in a shared results location would be."""

from __future__ import annotations

import os
from pathlib import Path


class ShellPayload:
    """A pickle that runs a shell command when loaded: it touches ``marker``."""

    def __init__(self, marker: Path | str):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)
