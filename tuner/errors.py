"""Exceptions raised to users. Each names the key, the value received and what is allowed."""

from __future__ import annotations

from typing import Any


class TunerError(Exception):
    """Base class of tuner's own errors."""


class ConfigError(TunerError, ValueError):
    """An invalid configuration value, found before any work is dispatched.

    The message names the key (dotted path into the configuration), the value given and what is
    allowed, so that the fix is obvious: ``config key 'cv.folds': got 1; allowed: an integer >= 2``.
    """

    def __init__(self, key: str, value: Any, allowed: str, hint: str | None = None):
        self.key, self.value, self.allowed, self.hint = key, value, allowed, hint
        message = f"config key '{key}': got {value!r}; allowed: {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class ResultsError(TunerError):
    """The results location cannot be used as it is: a damaged or foreign file, another search's
    results, or another driver writing there."""


class ResultsLockedError(ResultsError):
    """Another driver holds the results location (its lease is alive)."""


class ClusterError(TunerError):
    """The cluster cannot be used: a scheduler address that does not answer, a cluster that
    could not start."""
