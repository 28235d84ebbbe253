"""tuner.validation: each primitive accepts good values and names the key, the value and what is
allowed for bad ones; ``cluster.adapt`` gets the same check for local and Kubernetes clusters."""

from __future__ import annotations

import re
from collections import OrderedDict

import pytest

from tuner import validation
from tuner.config import parse_cluster
from tuner.errors import ConfigError

KUBE = {"kind": "kubernetes", "image": "registry.example.com/tuner:0.1.0"}

# (function, arguments, expected return value)
VALID = [
    (validation.check_keys, ({"folds": 3, "seed": 0}, ("folds", "shuffle", "seed"), "cv."), None),
    (validation.check_keys, ({}, ("folds",), "cv."), None),
    (validation.section, ({"cv": {"folds": 5}}, "cv"), {"folds": 5}),
    (validation.section, ({"cv": None}, "cv"), {}),
    (validation.section, ({}, "cv"), {}),
    (validation.mapping, (OrderedDict(a=1), "cluster.env"), OrderedDict(a=1)),
    (validation.mapping, (None, "cluster.env"), {}),
    (validation.integer, (0, "seed"), 0),
    (validation.integer, (2, "cv.folds", 2), 2),
    (validation.integer, (7, "search.grid_resolution", 2, 7), 7),
    (validation.integer, (-3, "x", None, 0), -3),
    (validation.boolean, (True, "cv.shuffle"), True),
    (validation.boolean, (False, "cluster.dashboard"), False),
    (validation.choice, ("grid", ("grid", "random"), "search.strategy"), "grid"),
    (validation.adapt_bounds, ({"minimum": 0, "maximum": 1}, "cluster.adapt"), (0, 1)),
    (validation.adapt_bounds, ({"maximum": 9, "minimum": 3}, "cluster.adapt"), (3, 9)),
]


@pytest.mark.parametrize("func,args,expected", VALID, ids=[f"{f.__name__}{a!r}"[:60] for f, a, _ in VALID])
def test_valid_values_pass(func, args, expected):
    assert func(*args) == expected


# (function, arguments, key named in the error, value named in the error, fragments of the message)
INVALID = [
    (validation.check_keys, ({"fold": 3}, ("folds", "shuffle"), "cv."), "cv.fold", "fold",
     ["one of folds, shuffle", "did you mean 'folds'?"]),
    (validation.check_keys, ({"colour": 1}, ("name", "data"), ""), "colour", "colour", ["one of name, data"]),
    (validation.section, ({"cv": [3]}, "cv"), "cv", [3], ["a mapping"]),
    (validation.section, ({"cv": "folds=3"}, "cv"), "cv", "folds=3", ["a mapping"]),
    (validation.mapping, ("big", "cluster.worker"), "cluster.worker", "big", ["a mapping"]),
    (validation.mapping, ([("a", 1)], "cluster.env"), "cluster.env", [("a", 1)], ["a mapping"]),
    (validation.integer, ("3", "cv.folds", 2), "cv.folds", "3", ["an integer >= 2"]),
    (validation.integer, (1.0, "cv.folds"), "cv.folds", 1.0, ["allowed: an integer"]),
    (validation.integer, (True, "cluster.workers", 1), "cluster.workers", True, ["an integer >= 1"]),
    (validation.integer, (None, "seed", 0), "seed", None, ["an integer >= 0"]),
    (validation.integer, (1, "cv.folds", 2), "cv.folds", 1, ["an integer >= 2"]),
    (validation.integer, (11, "x", 2, 10), "x", 11, ["an integer >= 2 and <= 10"]),
    (validation.integer, (11, "x", None, 10), "x", 11, ["an integer <= 10"]),
    (validation.boolean, ("yes", "cv.shuffle"), "cv.shuffle", "yes", ["true or false"]),
    (validation.boolean, (1, "cluster.dashboard"), "cluster.dashboard", 1, ["true or false"]),
    (validation.boolean, (None, "cv.shuffle"), "cv.shuffle", None, ["true or false"]),
    (validation.choice, ("gird", ("grid", "random"), "search.strategy"), "search.strategy", "gird",
     ["one of grid, random", "did you mean 'grid'?"]),
    (validation.choice, ("bayes", ("grid", "random"), "search.strategy"), "search.strategy", "bayes",
     ["one of grid, random"]),
    (validation.choice, (None, ("yaml", "json"), "--format"), "--format", None, ["one of yaml, json"]),
    (validation.adapt_bounds, ([0, 4], "cluster.adapt"), "cluster.adapt", [0, 4], ["a mapping"]),
    (validation.adapt_bounds, ({"minimum": 0}, "cluster.adapt"), "cluster.adapt.maximum", None,
     ["both minimum and maximum"]),
    (validation.adapt_bounds, ({"maximum": 4}, "cluster.adapt"), "cluster.adapt.minimum", None,
     ["both minimum and maximum"]),
    (validation.adapt_bounds, ({"min": 1, "maximum": 2}, "cluster.adapt"), "cluster.adapt.min", "min",
     ["one of minimum, maximum", "did you mean 'minimum'?"]),
    (validation.adapt_bounds, ({"minimum": -1, "maximum": 2}, "cluster.adapt"), "cluster.adapt.minimum", -1,
     ["an integer >= 0"]),
    (validation.adapt_bounds, ({"minimum": 5, "maximum": 2}, "cluster.adapt"), "cluster.adapt.maximum", 2,
     ["an integer >= 5"]),
    (validation.adapt_bounds, ({"minimum": 0, "maximum": 0}, "cluster.adapt"), "cluster.adapt.maximum", 0,
     ["an integer >= 1"]),
]


@pytest.mark.parametrize(
    "func,args,key,value,fragments", INVALID, ids=[f"{f.__name__}{a!r}"[:60] for f, a, *_ in INVALID]
)
def test_invalid_values_name_key_value_and_allowed(func, args, key, value, fragments):
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}': got {value!r}; allowed: ")) as info:
        func(*args)
    assert (info.value.key, info.value.value) == (key, value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_no_hint_without_a_near_miss():
    with pytest.raises(ConfigError) as info:
        validation.choice("xyzzy", ("grid", "random"), "search.strategy")
    assert info.value.hint is None and "did you mean" not in str(info.value)


# cluster.adapt: one check, the same message for a local cluster and a Kubernetes one
ADAPT = [
    ({"minimum": 0}, "cluster.adapt.maximum", "both minimum and maximum"),
    ({"minimum": 5, "maximum": 2}, "cluster.adapt.maximum", "an integer >= 5"),
    ({"min": 1, "maximum": 2}, "cluster.adapt.min", "did you mean 'minimum'?"),
    ({"minimum": "1", "maximum": 2}, "cluster.adapt.minimum", "an integer >= 0"),
    ("0..4", "cluster.adapt", "a mapping"),
]


@pytest.mark.parametrize("adapt,key,fragment", ADAPT, ids=[repr(a) for a, *_ in ADAPT])
def test_adapt_is_checked_the_same_way_for_local_and_kubernetes(adapt, key, fragment):
    messages = []
    for section in ({"kind": "local", "adapt": adapt}, {**KUBE, "adapt": adapt}):
        with pytest.raises(ConfigError, match=re.escape(fragment)) as info:
            parse_cluster(section)
        assert info.value.key == key
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_adapt_bounds_reach_both_cluster_kinds():
    assert parse_cluster({"kind": "local", "adapt": {"minimum": 1, "maximum": 4}}).adapt == (1, 4)
    kube = parse_cluster({**KUBE, "adapt": {"minimum": 1, "maximum": 4}})
    assert kube.adapt == (1, 4)
    assert (kube.kubernetes.adapt.minimum, kube.kubernetes.adapt.maximum, kube.workers) == (1, 4, 1)
