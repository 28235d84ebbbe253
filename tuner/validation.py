"""Validation primitives shared by every section of a configuration.

Each function checks one value read from a configuration and returns it (or raises
:class:`~tuner.errors.ConfigError` naming the dotted key, the value received and what is allowed,
with a "did you mean" hint for a near miss). :mod:`tuner.config` and
:mod:`tuner.kubernetes.spec` build their section parsers from these, so that the same mistake
gets the same message wherever it is made.

Example
-------
>>> integer(4, "cluster.workers", minimum=1)
4
>>> choice("grid", ("grid", "random"), "search.strategy")
'grid'
>>> choice("gird", ("grid", "random"), "search.strategy")
Traceback (most recent call last):
    ...
tuner.errors.ConfigError: config key 'search.strategy': got 'gird'; allowed: one of grid, random (did you mean 'grid'?)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.errors import ConfigError

__all__ = ["adapt_bounds", "boolean", "check_keys", "choice", "integer", "mapping", "section"]


def _did_you_mean(value: Any, allowed: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(str(value), allowed, n=1)
    return f"did you mean '{close[0]}'?" if close else None


def check_keys(section: Mapping[str, Any], allowed: Sequence[str], prefix: str) -> None:
    """Reject any key of ``section`` that is not in ``allowed``.

    Parameters
    ----------
    section : mapping
        A section of the configuration.
    allowed : sequence of str
        The keys the section may have.
    prefix : str
        The section's dotted path with a trailing dot (``"cv."``), or ``""`` at the top level.

    Raises
    ------
    tuner.errors.ConfigError
        For the first unknown key, named with ``prefix``.

    Examples
    --------
    >>> check_keys({"folds": 3}, ("folds", "shuffle"), "cv.")
    >>> check_keys({"fold": 3}, ("folds", "shuffle"), "cv.")
    Traceback (most recent call last):
        ...
    tuner.errors.ConfigError: config key 'cv.fold': got 'fold'; allowed: one of folds, shuffle (did you mean 'folds'?)
    """
    for key in section:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}", key, "one of " + ", ".join(allowed), _did_you_mean(key, allowed))


def section(raw: Mapping[str, Any], key: str) -> dict:
    """The mapping under ``raw[key]``; an absent or null section is an empty one.

    >>> section({"cv": {"folds": 5}}, "cv"), section({}, "cv")
    ({'folds': 5}, {})
    """
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, value, "a mapping")
    return value


def mapping(value: Any, key: str) -> Mapping:
    """``value`` when it is a mapping, ``{}`` when it is None.

    >>> mapping(None, "cluster.env")
    {}
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a mapping")
    return value


def integer(value: Any, key: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer between ``minimum`` and ``maximum`` (inclusive, each optional); not a bool.

    >>> integer(3, "cv.folds", 2)
    3
    >>> integer(1, "cv.folds", 2)
    Traceback (most recent call last):
        ...
    tuner.errors.ConfigError: config key 'cv.folds': got 1; allowed: an integer >= 2
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        bounds = ([f">= {minimum}"] if minimum is not None else []) + ([f"<= {maximum}"] if maximum is not None else [])
        raise ConfigError(key, value, " and ".join(["an integer " + bounds[0], *bounds[1:]]) if bounds else "an integer")
    return value


def boolean(value: Any, key: str) -> bool:
    """``true`` or ``false``; YAML's strings and integers are not booleans here.

    >>> boolean(True, "cv.shuffle")
    True
    """
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def choice(value: Any, allowed: Sequence[str], key: str) -> str:
    """One of ``allowed``, with a "did you mean" hint for a near miss.

    >>> choice("spot", ("spot", "on-demand"), "cluster.worker.pool")
    'spot'
    """
    if value not in allowed:
        raise ConfigError(key, value, "one of " + ", ".join(allowed), _did_you_mean(value, allowed))
    return value


def adapt_bounds(value: Any, key: str = "cluster.adapt") -> tuple[int, int]:
    """The ``(minimum, maximum)`` workers of an adaptive cluster: ``{minimum: N, maximum: M}``.

    Both bounds are required (the Kubernetes operator's DaskAutoscaler has no default for
    either), ``minimum >= 0`` and ``maximum >= max(1, minimum)``.

    >>> adapt_bounds({"minimum": 0, "maximum": 20})
    (0, 20)
    >>> adapt_bounds({"minimum": 0})
    Traceback (most recent call last):
        ...
    tuner.errors.ConfigError: config key 'cluster.adapt.maximum': got None; allowed: an integer (adaptive scaling needs both minimum and maximum)
    """
    bounds = mapping(value, key)
    check_keys(bounds, ("minimum", "maximum"), key + ".")
    for bound in ("minimum", "maximum"):
        if bound not in bounds:
            raise ConfigError(f"{key}.{bound}", None, "an integer (adaptive scaling needs both minimum and maximum)")
    minimum = integer(bounds["minimum"], f"{key}.minimum", 0)
    maximum = integer(bounds["maximum"], f"{key}.maximum", max(1, minimum))
    return minimum, maximum
