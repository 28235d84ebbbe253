"""tuner: distributed hyperparameter search for gradient-boosted trees and scikit-learn models,
on Dask, with every finished trial written to Parquet at once.

>>> import tuner                                            # doctest: +SKIP
>>> result = tuner.run("search.yaml")                       # a LocalCluster sized to the machine
>>> result.best_params_, result.best_score_

The names below are imported when first used (PEP 562), so that ``import tuner`` -- and every
process that imports it, such as a LocalCluster's spawned workers re-reading the ``tuner``
command -- costs almost nothing until a search is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "Config": "tuner.config",
    "load_config": "tuner.config",
    "ConfigError": "tuner.errors",
    "TunerError": "tuner.errors",
    "best_per_model": "tuner.results",
    "best_trials": "tuner.results",
    "read_results": "tuner.results",
    "Search": "tuner.search",
    "SearchResult": "tuner.search",
    "run": "tuner.search",
    "TunedModel": "tuner.tuned_model",
}

__all__ = [
    "Config",
    "ConfigError",
    "Search",
    "SearchResult",
    "TunedModel",
    "TunerError",
    "best_per_model",
    "best_trials",
    "load_config",
    "read_results",
    "run",
]

if TYPE_CHECKING:
    from tuner.config import Config, load_config
    from tuner.errors import ConfigError, TunerError
    from tuner.results import best_per_model, best_trials, read_results
    from tuner.search import Search, SearchResult, run
    from tuner.tuned_model import TunedModel


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tuner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
