from __future__ import annotations

import numpy as np
import pytest

from tuner.space import Distribution, ParamSpace


def test_grid_is_cartesian_product_in_sorted_name_order():
    space = ParamSpace.from_config({"b": [1, 2], "a": ["x", "y", "z"], "c": 0.5}, key="m")
    points = list(space.grid())
    assert len(points) == space.grid_size() == 6
    assert points[0] == {"a": "x", "b": 1, "c": 0.5}
    assert {tuple(sorted(p.items())) for p in points} == {
        (("a", a), ("b", b), ("c", 0.5)) for a in "xyz" for b in (1, 2)
    }


def test_distributions_discretised_for_grid():
    space = ParamSpace.from_config(
        {"lr": {"loguniform": [0.01, 1.0]}, "u": {"uniform": [0, 1]}, "d": {"randint": [1, 10]},
         "c": {"choice": ["gbdt", "dart"]}},
        key="m",
    )
    assert space.params["lr"].grid_values(3) == pytest.approx([0.01, 0.1, 1.0])
    assert space.params["u"].grid_values(3) == [0.0, 0.5, 1.0]
    assert space.params["d"].grid_values(3) == [1, 5, 9]
    assert space.grid_size(3) == 3 * 3 * 3 * 2


def test_sampling_respects_bounds_and_is_reproducible():
    space = ParamSpace.from_config(
        {"lr": {"loguniform": [0.01, 0.3]}, "depth": {"randint": [2, 5]}, "leaves": [7, 15]}, key="m"
    )
    a = [space.sample(np.random.default_rng(1)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(1)) for _ in range(3)]
    assert a == b
    draws = [space.sample(rng) for rng in [np.random.default_rng(0)] for _ in range(500)]
    assert all(0.01 <= d["lr"] <= 0.3 for d in draws)
    assert {d["depth"] for d in draws} == {2, 3, 4}
    assert {d["leaves"] for d in draws} == {7, 15}
    assert all(type(d["depth"]) is int and type(d["leaves"]) is int for d in draws)
    logs = np.log([d["lr"] for d in draws])
    assert abs(np.median(logs) - np.mean(np.log([0.01, 0.3]))) < 0.3  # uniform on the log scale


def test_distribution_is_frozen():
    d = Distribution("uniform", (0, 1))
    with pytest.raises(AttributeError):
        d.kind = "x"
