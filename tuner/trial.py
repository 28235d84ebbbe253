"""Trials: immutable descriptions of one configuration to evaluate, with a stable id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TrialStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


def canonical_params(params: dict) -> str:
    """Parameters as JSON text with sorted keys: the ``params`` column and part of the id."""
    return json.dumps(params, sort_keys=True, default=str)


@dataclass(frozen=True)
class Trial:
    """One configuration of one model. ``trial_id`` is a stable hash of model, parameters, data,
    CV, metric and seed, so re-running the same search on the same results skips it."""

    model: str
    params: dict = field(hash=False)
    trial_id: str

    @classmethod
    def create(cls, model: str, params: dict, context: str) -> Trial:
        digest = hashlib.sha256(f"{context}|{model}|{canonical_params(params)}".encode()).hexdigest()
        return cls(model=model, params=dict(params), trial_id=digest[:20])


def context_key(*parts: Any) -> str:
    """Hash of everything besides model and parameters that changes a score."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
