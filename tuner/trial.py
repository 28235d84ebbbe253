"""Trials: immutable descriptions of one configuration to evaluate, with a stable id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tuner.record import canonical_params

#: ``search.resource`` of budgeted strategies that is not a parameter: the share of each training
#: fold's rows a rung trains on, in percent (every rung trains from scratch, at the model's rounds)
ROWS = "rows"


@dataclass(frozen=True)
class Trial:
    """One evaluation of one configuration of one model: one row of the results.

    ``trial_id`` is a stable hash of model, parameters, data, CV, metric and seed (and, for
    Hyperband-style strategies, the bracket), so re-running the same search on the same results
    skips it. In Hyperband-style searches each rung of a configuration is its own trial (its
    parameters include the rung's budget); ``config_id`` groups the rungs of one configuration,
    and ``continue_from`` names the budget of the previous rung whose checkpoint training
    continues from.
    """

    model: str
    params: dict = field(hash=False)
    trial_id: str
    config_id: str | None = None
    bracket: int | None = None
    rung: int | None = None
    resource: str | None = None  #: the parameter that is the budget (boosting rounds)
    continue_from: int | None = None  #: budget of the previous rung, to continue its checkpoint
    checkpoints: str | None = None  #: URL of the folder holding checkpoints between rungs
    final: bool = False  #: the top rung (max_resource): no rung continues from it, no checkpoint kept

    @property
    def estimator_params(self) -> dict:
        """The parameters as the estimator takes them: a share of the rows (``resource: rows``) is
        the rung's budget, not a parameter of the estimator."""
        if self.resource == ROWS:
            return {k: v for k, v in self.params.items() if k != ROWS}
        return self.params

    @classmethod
    def create(cls, model: str, params: dict, context: str, **rung_fields: Any) -> Trial:
        bracket = rung_fields.get("bracket")
        salt = "" if bracket is None else f"|bracket={bracket}"
        digest = hashlib.sha256(f"{context}|{model}|{canonical_params(params)}{salt}".encode()).hexdigest()
        resource = rung_fields.get("resource")
        if resource is not None:
            base = {k: v for k, v in params.items() if k != resource}
            rung_fields["config_id"] = hashlib.sha256(
                f"{context}|{model}|{canonical_params(base)}{salt}".encode()
            ).hexdigest()[:20]
        return cls(model=model, params=dict(params), trial_id=digest[:20], **rung_fields)


def context_key(*parts: Any) -> str:
    """Hash of everything besides model and parameters that changes a score."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
