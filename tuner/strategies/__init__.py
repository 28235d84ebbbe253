"""Search strategies, by the name used under ``search.strategy``."""

from __future__ import annotations

from tuner.strategies.base import Strategy
from tuner.strategies.grid import GridStrategy
from tuner.strategies.hyperband import ASHAStrategy, HyperbandStrategy, SuccessiveHalvingStrategy
from tuner.strategies.random import RandomStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "grid": GridStrategy,
    "random": RandomStrategy,
    "successive_halving": SuccessiveHalvingStrategy,
    "hyperband": HyperbandStrategy,
    "asha": ASHAStrategy,
}

__all__ = [
    "STRATEGIES",
    "ASHAStrategy",
    "GridStrategy",
    "HyperbandStrategy",
    "RandomStrategy",
    "Strategy",
    "SuccessiveHalvingStrategy",
]
