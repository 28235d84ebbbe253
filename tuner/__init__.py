"""tuner: distributed hyperparameter search for gradient-boosted trees and scikit-learn models,
on Dask, with every finished trial written to Parquet at once.

>>> import tuner                                            # doctest: +SKIP
>>> result = tuner.run("search.yaml")                       # a LocalCluster sized to the machine
>>> result.best_params_, result.best_score_
"""

from tuner.config import Config, load_config
from tuner.errors import ConfigError, TunerError
from tuner.results import best_per_model, best_trials, read_results
from tuner.search import Search, SearchResult, run
from tuner.tuned_model import TunedModel

__version__ = "0.1.0"

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
