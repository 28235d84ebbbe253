"""Parameter spaces: grids (lists) and distributions, validated on construction.

A model's space in the configuration maps each parameter name to

* a list -- the values of a grid (or the choices in random search);
* ``{uniform: [low, high]}``, ``{loguniform: [low, high]}``, ``{randint: [low, high]}``
  (``high`` excluded, as in :func:`scipy.stats.randint`) or ``{choice: [a, b, ...]}``;
* a scalar -- a fixed value.

Example
-------
>>> space = ParamSpace.from_config({"max_depth": [3, 5], "learning_rate": 0.1}, key="models.x")
>>> list(space.grid())
[{'learning_rate': 0.1, 'max_depth': 3}, {'learning_rate': 0.1, 'max_depth': 5}]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.errors import ConfigError

DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
#: parameters for which NaN or infinity is a meaningful value (XGBoost's marker of missing values)
NON_FINITE_PARAMS = ("missing",)
MAX_RANDINT = 2**53  #: randint bounds stay exact as floats (grid values are spaced in floats)
MAX_BOUND = 1e300  #: larger bounds overflow in numpy's spacing and sampling


@dataclass(frozen=True)
class Distribution:
    """A distribution to sample a parameter from (random search) or to discretise (grid).

    ``kind`` is one of :data:`DISTRIBUTIONS`; ``args`` holds ``(low, high)`` or the choices.
    """

    kind: str
    args: tuple

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "uniform":
            return float(rng.uniform(*self.args))
        if self.kind == "loguniform":
            low, high = self.args
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if self.kind == "randint":
            return int(rng.integers(*self.args))
        return _plain(self.args[int(rng.integers(len(self.args)))])

    def grid_values(self, resolution: int) -> list:
        """``resolution`` evenly spaced values (log-spaced for loguniform), for grid search."""
        if self.kind == "choice":
            return [_plain(v) for v in self.args]
        low, high = self.args
        if self.kind == "uniform":
            return [float(v) for v in np.linspace(low, high, resolution)]
        if self.kind == "loguniform":
            return [float(v) for v in np.geomspace(low, high, resolution)]
        return sorted({int(round(v)) for v in np.linspace(low, high - 1, resolution)})

    def values(self) -> list:
        """Every value this distribution can take, where that set is finite (for typing)."""
        if self.kind == "choice":
            return list(self.args)
        if self.kind == "randint":
            return [int(self.args[0])]
        return [float(self.args[0])]


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars, so parameters hash and serialise the same everywhere."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_values(values: list, key: str, name: str, given: Any) -> None:
    """NaN and infinity are no parameter values, except where a library gives them a meaning;
    integers fit in 64 bits (the results' ``param_<name>`` columns are int64)."""
    if any(isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63 for v in values):
        raise ConfigError(key, given, "integers between -2**63 and 2**63 - 1")
    if name in NON_FINITE_PARAMS:
        return
    if any(_is_number(v) and not _is_finite(v) for v in values):
        raise ConfigError(key, given, "finite numbers (NaN or infinity is no value for this parameter)")


def _parse_distribution(spec: dict, key: str) -> Distribution:
    if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise ConfigError(
            key,
            spec,
            "a list of values, a scalar, or one of "
            + ", ".join(f"{{{d}: ...}}" for d in DISTRIBUTIONS),
        )
    kind, args = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ConfigError(f"{key}.choice", args, "a non-empty list of choices")
        return Distribution(kind, tuple(args))
    if not (isinstance(args, list) and len(args) == 2 and all(_is_number(a) for a in args)):
        raise ConfigError(f"{key}.{kind}", args, "a list [low, high] of two numbers")
    if not all(_is_finite(a) and abs(a) <= MAX_BOUND for a in args):
        raise ConfigError(f"{key}.{kind}", args, "finite bounds [low, high] (no NaN or infinity), at most 1e300 in size")
    low, high = args
    if not low < high:
        raise ConfigError(f"{key}.{kind}", args, "low < high")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{key}.{kind}", args, "0 < low < high (a log scale needs positive bounds)")
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise ConfigError(f"{key}.{kind}", args, "integers [low, high) with low < high")
    if kind == "randint" and not -MAX_RANDINT <= low < high <= MAX_RANDINT:
        raise ConfigError(f"{key}.{kind}", args, "integers [low, high) between -2**53 and 2**53")
    if kind != "randint":  # numpy spaces and samples floats; a bound such as 2**64 is no int64
        low, high = float(low), float(high)
    return Distribution(kind, (low, high))


@dataclass(frozen=True)
class ParamSpace:
    """The search space of one model: parameter name -> list of values or :class:`Distribution`."""

    params: dict

    @classmethod
    def from_config(cls, spec: Any, key: str) -> ParamSpace:
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise ConfigError(key, spec, "a mapping of parameter name -> list, distribution or value")
        params: dict = {}
        for name, value in spec.items():
            pkey = f"{key}.{name}"
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(pkey, name, "a parameter name (a Python identifier)")
            if isinstance(value, dict):
                params[name] = _parse_distribution(value, pkey)
                if params[name].kind == "choice":
                    _check_values(list(params[name].args), f"{pkey}.choice", name, value["choice"])
            elif isinstance(value, list):
                if not value:
                    raise ConfigError(pkey, value, "a non-empty list of values")
                for v in value:
                    if isinstance(v, (dict, list)):
                        raise ConfigError(pkey, value, "a list of scalar values (numbers, strings, booleans, null)")
                _check_values(value, pkey, name, value)
                params[name] = list(value)
            else:
                _check_values([value], pkey, name, value)
                params[name] = [value]
        return cls(dict(sorted(params.items())))

    @property
    def has_distributions(self) -> bool:
        return any(isinstance(v, Distribution) for v in self.params.values())

    def grid(self, resolution: int = 3, last: str | None = None) -> Iterator[dict]:
        """Every point of the grid; distributions contribute ``resolution`` evenly spaced values.

        ``last`` names the parameter that varies fastest (the rounds, so that points sharing one
        fit come one after another). Points are dicts with sorted keys either way.
        """
        names = sorted(self.params, key=lambda n: (n == last, n))
        axes = [
            self.params[n].grid_values(resolution) if isinstance(self.params[n], Distribution) else self.params[n]
            for n in names
        ]
        for combo in itertools.product(*axes):
            yield dict(sorted(zip(names, combo, strict=True)))

    def without(self, name: str | None) -> ParamSpace:
        """This space without parameter ``name`` (e.g. the rounds, which a grid's points share a fit over)."""
        return ParamSpace({k: v for k, v in self.params.items() if k != name})

    def grid_size(self, resolution: int = 3) -> int:
        return math.prod(
            len(v.grid_values(resolution)) if isinstance(v, Distribution) else len(v)
            for v in self.params.values()
        )

    def sample(self, rng: np.random.Generator) -> dict:
        """One random point: lists are uniform choices, distributions are sampled."""
        out = {}
        for name, v in self.params.items():
            out[name] = v.sample(rng) if isinstance(v, Distribution) else _plain(v[int(rng.integers(len(v)))])
        return out

    def possible_values(self, name: str) -> list:
        v = self.params[name]
        return v.values() if isinstance(v, Distribution) else list(v)
