"""Search strategies, by the name used under ``search.strategy``."""

from __future__ import annotations

from tuner.strategies.base import Strategy
from tuner.strategies.grid import GridStrategy
from tuner.strategies.random import RandomStrategy

STRATEGIES: dict[str, type[Strategy]] = {"grid": GridStrategy, "random": RandomStrategy}

__all__ = ["STRATEGIES", "GridStrategy", "RandomStrategy", "Strategy"]
