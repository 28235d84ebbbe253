"""Search strategies, by the name used under ``search.strategy``."""

from __future__ import annotations

from tuner.strategies.base import PlannedStrategy, Strategy
from tuner.strategies.grid import GridStrategy
from tuner.strategies.hyperband import ASHAStrategy, BudgetedStrategy, HyperbandStrategy, SuccessiveHalvingStrategy
from tuner.strategies.model_based import BOHBStrategy, CmaEsStrategy, TPEStrategy
from tuner.strategies.random import RandomStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "grid": GridStrategy,
    "random": RandomStrategy,
    "successive_halving": SuccessiveHalvingStrategy,
    "hyperband": HyperbandStrategy,
    "asha": ASHAStrategy,
    "tpe": TPEStrategy,
    "cmaes": CmaEsStrategy,
    "bohb": BOHBStrategy,
}

__all__ = [
    "STRATEGIES",
    "ASHAStrategy",
    "BOHBStrategy",
    "BudgetedStrategy",
    "CmaEsStrategy",
    "GridStrategy",
    "HyperbandStrategy",
    "PlannedStrategy",
    "RandomStrategy",
    "Strategy",
    "SuccessiveHalvingStrategy",
    "TPEStrategy",
]
