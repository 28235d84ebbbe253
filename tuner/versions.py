"""Version checks: the client, the scheduler and the workers must run the same packages.

Trials are pickled by the client and run by tuner's code on the workers, so a worker image built
from another lock file can fail in ways that look like bugs (unpicklable code, different scores).
:func:`check_versions` compares ``Client.get_versions`` when a search connects and raises
:class:`VersionMismatchError` naming every package that differs and where.

Example
-------
>>> versions = {"client": {"packages": {"dask": "2025.1.0"}},
...             "scheduler": {"packages": {"dask": "2024.12.1"}}, "workers": {}}
>>> compare_versions(versions)
[('dask', '2025.1.0', '2024.12.1', 'scheduler')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from tuner.errors import TunerError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["CHECKED_PACKAGES", "VersionMismatchError", "check_versions", "compare_versions", "required_packages"]

#: Packages whose versions must agree between the client, the scheduler and the workers, and how
#: much of the version must agree (None: all of it). Trials are pickled by the client and run
#: by tuner's code on the workers; models and scores must come from the same library versions.
CHECKED_PACKAGES: dict[str, int | None] = {
    "python": 2,  # major.minor: pickled code objects and bytecode differ between minors
    "dask": None,
    "distributed": None,
    "cloudpickle": None,
    "tuner": None,
    "xgboost": None,
    "lightgbm": None,
    "catboost": None,
    "scikit-learn": None,
    "pandas": 2,
    "pyarrow": 1,
}
#: What the scheduler runs itself: only these must agree with it.
SCHEDULER_PACKAGES = ("python", "dask", "distributed", "cloudpickle")
#: Model-name prefix -> the package that must be installed on every worker.
MODEL_PACKAGES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost", "sklearn": "scikit-learn"}


class VersionMismatchError(TunerError):
    """The client and the cluster run different versions of a package that matters.

    Attributes
    ----------
    package, client_version, other_version, where :
        The first mismatch: ``where`` is ``"scheduler"`` or a worker's address.
    mismatches : list of tuple
        Every mismatch as ``(package, client_version, other_version, where)``.
    """

    def __init__(self, mismatches: list[tuple[str, str | None, str | None, str]]):
        self.mismatches = mismatches
        self.package, self.client_version, self.other_version, self.where = mismatches[0]
        lines = []
        for package, mine, theirs, where in mismatches:
            side = "scheduler" if where == "scheduler" else f"worker {where}"
            lines.append(f"  {package}: client {mine or 'not installed'}, {side} {theirs or 'not installed'}")
        super().__init__(
            "the client and the cluster run different versions of packages that matter:\n"
            + "\n".join(lines)
            + "\nRun the client and the workers from the same requirements.lock: rebuild the worker image"
            " (Dockerfile) or install the client with `pip install -r requirements.lock`."
        )


def _cut(version: str | None, parts: int | None) -> str | None:
    if version is None or parts is None:
        return version
    return ".".join(str(version).split(".")[:parts])


def required_packages(models: Iterable[str]) -> tuple[str, ...]:
    """The packages a search's models need on every worker.

    >>> required_packages(["xgboost", "sklearn.ensemble.RandomForestRegressor"])
    ('scikit-learn', 'xgboost')
    """
    out = set()
    for name in models:
        prefix = str(name).split(".", 1)[0]
        if prefix in MODEL_PACKAGES:
            out.add(MODEL_PACKAGES[prefix])
    return tuple(sorted(out))


def compare_versions(
    versions: Mapping[str, Any], required: Iterable[str] = ()
) -> list[tuple[str, str | None, str | None, str]]:
    """Mismatches in the output of ``Client.get_versions(check=False)``.

    A package counts when the client and the other side both have it, or when it is
    ``required`` (then "not installed" on a worker is a mismatch too). Versions are compared to
    the precision in :data:`CHECKED_PACKAGES`.

    Returns
    -------
    list of (package, client_version, other_version, where)
    """
    required = set(required)
    client = (versions.get("client") or {}).get("packages", {})
    others: list[tuple[str, dict]] = [("scheduler", (versions.get("scheduler") or {}).get("packages", {}))]
    others += [
        (addr, (info or {}).get("packages", {})) for addr, info in sorted((versions.get("workers") or {}).items())
    ]
    mismatches = []
    for package, parts in CHECKED_PACKAGES.items():
        mine = _cut(client.get(package), parts)
        for where, theirs_all in others:
            if where == "scheduler" and package not in SCHEDULER_PACKAGES:
                continue
            theirs = _cut(theirs_all.get(package), parts)
            if mine == theirs:
                continue
            if (mine is None or theirs is None) and package not in required:
                continue
            mismatches.append((package, client.get(package), theirs_all.get(package), where))
    return mismatches


def check_versions(client: Client, models: Iterable[str] = ()) -> dict[str, Any]:
    """Check, when a client connects, that the cluster runs the client's versions.

    Parameters
    ----------
    client : distributed.Client
    models : iterable of str
        The search's model names; their libraries must be installed on every worker.

    Returns
    -------
    dict
        What ``client.get_versions`` returned.

    Raises
    ------
    VersionMismatchError
        Naming each package, the client's version and the scheduler's or worker's version.
    """
    packages = [p for p in CHECKED_PACKAGES if p != "python"]
    # A synchronous client returns the dict (the Coroutine in its return type is the asynchronous case).
    versions = cast("dict[str, Any]", client.get_versions(check=False, packages=packages))
    mismatches = compare_versions(versions, required_packages(models))
    if mismatches:
        raise VersionMismatchError(mismatches)
    return versions
