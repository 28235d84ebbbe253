"""A faster ``import scipy.stats`` in the ``tuner`` command's own processes.

SciPy 1.17's ``xp_capabilities`` decorator parses the docstring of each of several hundred
functions with its numpydoc parser when ``scipy.stats`` is imported, to append a table of the array
backends each supports; scikit-learn imports ``scipy.stats``, and that parsing is about a third of
``import sklearn`` (half a second on a laptop core). The command never shows those docstrings, so
in its processes (the driver, and the fork server its local workers come from) the decorator keeps
each docstring as written instead. :func:`apply` does nothing where scipy.stats is already imported
or SciPy's decorator is not the one described here. Importing this module applies it (a fork
server's preload list names modules); ``import tuner`` as a library never does.
"""

from __future__ import annotations

import sys

__all__ = ["apply"]


class _AsWritten:
    """What the decorator needs of SciPy's ``FunctionDoc``: a Notes section to append to, and a
    text whose first line (the signature) it drops; the docstring comes back unchanged."""

    def __init__(self, func):
        self._doc = getattr(func, "__doc__", None) or ""
        self._sections: dict[str, list] = {}

    def __getitem__(self, section: str) -> list:
        return self._sections.setdefault(section, [])

    def __str__(self) -> str:
        return "\n" + self._doc


def apply() -> bool:
    """Keep SciPy's docstrings as written from here on (True when it did)."""
    if "scipy.stats" in sys.modules:
        return False
    try:
        from scipy._lib import _array_api
    except Exception:  # noqa: BLE001 - no SciPy, or another layout of it: nothing to speed up
        return False
    if not callable(getattr(_array_api, "xp_capabilities", None)) or \
            getattr(_array_api, "FunctionDoc", None) is None:
        return False
    _array_api.FunctionDoc = _AsWritten
    return True


apply()
