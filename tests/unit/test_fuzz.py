"""Bad input, fuzzed: configurations, parameter spaces and data files.

Whatever the input, ``load_config`` either accepts it or raises :class:`ConfigError` naming the
key; ``tuner validate`` exits 2 with that message (0 for inputs that are valid by chance), and
``tuner run`` with an invalid configuration leaves existing results exactly as they were.
Any other exception type, or a traceback, is a bug in the validation.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from tests.support.configs import small_config
from tuner import ConfigError, load_config
from tuner.cli import main
from tuner.config import TOP_KEYS
from tuner.space import DISTRIBUTIONS, ParamSpace

# A fixed, modest budget: the same examples on every run, a few seconds per test
# (TUNER_FUZZ_EXAMPLES=3000 for a deeper search, a few minutes).
FUZZ = settings(
    max_examples=int(os.environ.get("TUNER_FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
MAX_PLANNED_TRIALS = 5000  # valid-by-chance configs larger than this are only loaded, not planned


# -- values ----------------------------------------------------------------------------------

SPECIAL_INTS = [0, 1, 2, -1, -(2**31), 2**31, 2**32, 2**63, -(2**63), 2**64, 10**30]
SPECIAL_FLOATS = [0.0, -0.0, 0.5, 1e-320, 1e308, -1e308, math.nan, math.inf, -math.inf]
# strings that mean something somewhere in a configuration
WORDS = [
    "", " ", "grid", "random", "hyperband", "asha", "successive_halving", "tuner", "dask-ml", "rmse",
    "accuracy", "roc_auc", "regression", "classification", "local", "address", "kubernetes",
    "diabetes", "synthetic", "breast_cancer", "xgboost", "lightgbm", "catboost", "uniform", "choice",
    "randint", "loguniform", "n_estimators", "memory://fuzz", "tcp://127.0.0.1:1", "s3://bucket/x",
    "nosuch://x", "a b", "../x", "x.csv", "x.parquet", "null", "yes", "1e3", "nan", "inf",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-50, 50),
    st.sampled_from(SPECIAL_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SPECIAL_FLOATS),
    st.text(max_size=10),
    st.sampled_from(WORDS),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)


# -- valid starting points -------------------------------------------------------------------


def base_configs(results: str) -> list[dict]:
    """Valid configurations of every shape the fuzzer mutates (each validates in milliseconds)."""
    grid = small_config(Path("."), results=results)
    rand = small_config(
        Path("."),
        name="rand",
        results=results,
        search={"strategy": "random", "n_trials": 4, "seed": 1, "window": 4, "max_attempts": 2},
        models={
            "lightgbm": {"num_leaves": {"randint": [4, 32]}, "learning_rate": {"loguniform": [0.01, 0.3]}},
            "sklearn.ensemble.RandomForestRegressor": {"max_depth": [2, 4], "max_features": {"uniform": [0.3, 1.0]},
                                                        "criterion": {"choice": ["squared_error", "absolute_error"]}},
        },
    )
    hyper = small_config(
        Path("."),
        name="hyper",
        results=results,
        search={"strategy": "hyperband", "min_resource": 5, "max_resource": 45, "eta": 3},
        models={"xgboost": {"max_depth": [2, 3]}, "catboost": {"depth": [2], "learning_rate": 0.1}},
    )
    clf = small_config(
        Path("."),
        name="clf",
        results=results,
        data={"dataset": "synthetic", "n_samples": 100, "n_features": 4, "n_classes": 3, "sample": 50, "seed": 2},
        task="classification",
        metric="accuracy",
        seed=3,
        cv={"folds": 2, "shuffle": False},
        models={"sklearn.linear_model.LogisticRegression": {"C": [0.1, 1.0]}},
        cluster={"kind": "address", "address": "tcp://127.0.0.1:1"},
    )
    kube = small_config(
        Path("."),
        name="kube",
        results=results,
        cluster={
            "kind": "kubernetes", "name": "tuner-search", "namespace": "tuning", "image": "registry.example.com/tuner:0.1.0",
            "provider": "gke", "workers": 4, "adapt": {"minimum": 0, "maximum": 20},
            "worker": {"cpu": 2, "memory": "8Gi", "pool": "spot"}, "scheduler": {"cpu": 1, "memory": "4Gi", "pool": "on-demand"},
            "results_volume": {"claim": "tuner-results", "mount": "/results"}, "credentials_secret": "bucket-credentials",
        },
    )
    return [grid, rand, hyper, clf, kube]


def _containers(node, out):
    """Every (container, key) in a nested config, containers included."""
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((node, k))
            _containers(v, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((node, i))
            _containers(v, out)
    return out


def _dicts(node, out):
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            _dicts(v, out)
    elif isinstance(node, list):
        for v in node:
            _dicts(v, out)
    return out


@st.composite
def mutated_configs(draw, results: str):
    cfg = copy.deepcopy(draw(st.sampled_from(base_configs(results))))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "add":
            target = draw(st.sampled_from(_dicts(cfg, [])))
            target[draw(keys)] = draw(json_values)
            continue
        slots = _containers(cfg, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if op == "delete":
            del container[key]
        else:
            container[key] = draw(json_values)
    return cfg


# -- checks ----------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*argv: str) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, err.getvalue()


def planned_trials(cfg) -> int:
    """An upper bound on the trials of a valid configuration, computed without enumerating them."""
    s = cfg.search
    if s.strategy == "grid":
        return sum(m.space.grid_size(s.grid_resolution) for m in cfg.models)
    if s.n_trials is not None:
        return s.n_trials * len(cfg.models)
    return 0  # hyperband: a few brackets


def check(raw, workdir: Path) -> ConfigError | None:
    """The contract for any configuration; returns the error for invalid ones."""
    results = workdir / "results"
    before = snapshot(results)
    path = workdir / "fuzz.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    try:
        cfg = load_config(raw)
    except ConfigError as exc:
        error = exc
    else:
        error = None
    if currently_in_test_context():  # statistics: which sections the examples reach
        head = "valid" if error is None else error.key.split(".")[0]
        event(head if head in ("valid", "config", *TOP_KEYS) else "an unknown top-level key")
    if error is not None:
        assert isinstance(error.key, str) and f"config key '{error.key}'" in str(error)
        # the same document as a file (YAML may change a character on the way, e.g. '\x85' -> ' ')
        with pytest.raises(ConfigError) as from_file:
            load_config(str(path))
        for verb in ("validate", "run"):  # one line naming the key, no traceback
            code, err = cli(verb, str(path))
            assert code == 2 and err.startswith(f"tuner: error: config key '{from_file.value.key}'"), err
        assert snapshot(results) == before  # nothing written, nothing removed
        return error
    # valid by chance: the file says the same, and validate agrees
    # a file without a name is named after the file, so that such searches do not share a folder
    assert load_config(str(path)).name == (cfg.name if "name" in cfg.raw else path.stem)
    if planned_trials(cfg) <= MAX_PLANNED_TRIALS:
        code, err = cli("validate", str(path))
        assert code == 0, err
    return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with a configuration file slot and existing results that must never change."""
    root = tmp_path_factory.mktemp("fuzz")
    existing = root / "results" / "small"
    existing.mkdir(parents=True)
    pd.DataFrame({"trial_id": ["t0"], "mean_test_score": [1.0]}).to_parquet(existing / "part-0-existing.parquet")
    (root / "results" / "rand").mkdir()
    (root / "results" / "rand" / "part-0-existing.parquet").write_bytes((existing / "part-0-existing.parquet").read_bytes())
    return root


# -- configurations --------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_mutated_configs(workdir, data):
    raw = data.draw(mutated_configs(str(workdir / "results")))
    check(raw, workdir)


@FUZZ
@given(raw=json_values)
def test_arbitrary_documents(workdir, raw):
    error = check(raw, workdir)
    assert error is not None  # nothing arbitrary is a valid configuration (no models)


# Minimal examples the fuzzers found (each raised something other than ConfigError, or passed
# validation and failed every trial later): overrides of the small config -> the key named.
REGRESSIONS = [
    ({"models": {"../x": {}}}, "models.../x"),  # TypeError from a relative import
    ({"models": {"sklearn.pipeline.Pipeline": {}}}, "models.sklearn.pipeline.Pipeline"),  # TypeError: needs steps
    ({"models": {"sklearn.ensemble.VotingRegressor": {}}}, "models.sklearn.ensemble.VotingRegressor"),
    ({"models": {"xgboost": {"eta": {"uniform": [0, math.inf]}}}}, "models.xgboost.eta.uniform"),  # OverflowError
    ({"models": {"xgboost": {"eta": {"uniform": [-1e308, 1e308]}}}}, "models.xgboost.eta.uniform"),  # OverflowError
    ({"models": {"xgboost": {"eta": {"uniform": [math.nan, 1]}}}}, "models.xgboost.eta.uniform"),
    ({"models": {"xgboost": {"eta": {"loguniform": [1, 1.7976931348622103e308]}}}}, "models.xgboost.eta.loguniform"),
    ({"models": {"xgboost": {"max_depth": {"randint": [0, 2**70]}}}}, "models.xgboost.max_depth.randint"),  # ValueError
    ({"models": {"xgboost": {"max_depth": [2, 10**30]}}}, "models.xgboost.max_depth"),  # int64 results column
    ({"models": {"xgboost": {"eta": [0.1, math.nan]}}}, "models.xgboost.eta"),
    ({"models": {"xgboost": {"gamma": math.inf}}}, "models.xgboost.gamma"),
    ({"models": {"xgboost": {"eta": {"choice": [0.1, -math.inf]}}}}, "models.xgboost.eta.choice"),
    ({"search": {"strategy": "grid", "grid_resolution": 10**12}}, "search.grid_resolution"),  # MemoryError in plan
    ({"seed": 2**32}, "seed"),  # scikit-learn's random_state: every trial failed
    ({"cv": {"folds": 3, "shuffle": True, "seed": 2**32}}, "cv.seed"),
    ({"data": {"dataset": "synthetic", "seed": 2**40}}, "data.seed"),
    ({"cv": {"folds": 443}}, "cv.folds"),  # diabetes has 442 rows
    ({"data": {"dataset": "diabetes", "sample": 10}, "cv": {"folds": 11}}, "cv.folds"),
]


@pytest.mark.parametrize("overrides,key", REGRESSIONS, ids=[k for _, k in REGRESSIONS])
def test_regressions(workdir, overrides, key):
    error = check(small_config(Path("."), results=str(workdir / "results"), **overrides), workdir)
    assert error is not None and error.key == key, error


@pytest.mark.parametrize("space", [
    {"missing": [math.nan, -999.0]},  # XGBoost's marker of missing values may be NaN
    {"eta": {"uniform": [0, 2**64]}},  # a large int bound is a float bound
    {"max_depth": {"randint": [1, 2**53]}},
])
def test_valid_edge_values(workdir, space):
    assert check(small_config(Path("."), results=str(workdir / "results"), models={"xgboost": space}), workdir) is None


def test_validate_budgeted(workdir):
    raw = small_config(Path("."), results=str(workdir / "results"), models={"xgboost": {"max_depth": [2, 3]}},
                       search={"strategy": "hyperband", "min_resource": 5, "max_resource": 45})
    path = workdir / "hyperband.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert cli("validate", str(path))[0] == 0


YAML_SNIPPETS = ["[", "]", "{", "}", ": ", "- ", "&a ", "*a", "!!binary ", "!!set ", "!!python/object:os.system ",
                 "? ", "%YAML 1.1\n", "---\n", "...\n", "\t", "\n", "'", '"', "#", "@", "|", ">", "2001-01-01",
                 "models", "data", "xgboost", "1e400", ".nan"]


def check_config_file(workdir: Path, content: bytes) -> None:
    """Any bytes in a configuration file: a ConfigError for the file, never a traceback."""
    path = workdir / "bytes.yaml"
    path.write_bytes(content)
    results = workdir / "results"
    before = snapshot(results)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert isinstance(info.value.key, str)
    for verb in ("validate", "run"):
        code, err = cli(verb, str(path))
        assert code == 2 and err.startswith("tuner: error: config key '"), err
    assert snapshot(results) == before


@FUZZ
@given(content=st.one_of(
    st.binary(max_size=100),
    st.lists(st.sampled_from(YAML_SNIPPETS), max_size=20).map(lambda parts: "".join(parts).encode()),
))
def test_config_files(workdir, content):
    check_config_file(workdir, content)


@pytest.mark.parametrize("content", [
    b"\xff\xfe\x00not utf-8",  # was UnicodeDecodeError
    b"[" * 3000 + b"]" * 3000,  # was RecursionError (nested too deeply for the YAML parser)
    b"a: " + b"{b: " * 3000 + b"1" + b"}" * 3000,
    b"a: &a [*a]",
], ids=["not-utf8", "deep-list", "deep-mapping", "self-reference"])
def test_config_file_regressions(workdir, content):
    check_config_file(workdir, content)


# -- parameter spaces ------------------------------------------------------------------------

NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(SPECIAL_INTS + SPECIAL_FLOATS))
pairs = st.lists(NUMBERS, min_size=2, max_size=2)
EDGES = [math.inf, -math.inf, math.nan, 1e308, -1e308, 2**63, -(2**63), 2**70, 1, 0.5]
edge_bounds = st.builds(  # one ordinary bound and one at the edge of what numbers can be
    lambda low, edge, flip: [edge, low] if flip else [low, edge],
    st.one_of(st.integers(-100, 100), st.floats(-100, 100)), st.sampled_from(EDGES), st.booleans(),
)
bounds = st.one_of(
    edge_bounds,
    edge_bounds,
    pairs,
    pairs.map(sorted),  # low <= high often: what is left to check are the numbers themselves
    st.tuples(st.integers(-100, 100), NUMBERS).map(sorted),
    st.lists(st.one_of(NUMBERS, scalars), max_size=4),
    json_values,
)
distributions = st.builds(lambda kind, args: {kind: args}, st.sampled_from(DISTRIBUTIONS), bounds)
space_values = st.one_of(
    st.just([]),
    st.lists(scalars, min_size=1, max_size=4),
    st.lists(st.lists(scalars, max_size=2), min_size=1, max_size=2),  # nested lists
    distributions,
    distributions,
    distributions,
    st.builds(lambda kind, args: {kind: args}, st.sampled_from(["normal", "Uniform", "log-uniform", ""]), bounds),
    st.dictionaries(st.sampled_from(DISTRIBUTIONS), bounds, min_size=2, max_size=3),
    st.builds(lambda b: {"uniform": sorted(b, reverse=True)}, st.lists(st.floats(-10, 10), min_size=2, max_size=2)),
    scalars,
)
# real parameter names, so that the values (not the names) are what is checked
MODEL_PARAMS = {
    "xgboost": ["max_depth", "learning_rate", "subsample", "missing", "n_estimators"],
    "lightgbm": ["num_leaves", "learning_rate", "min_child_samples"],
    "catboost": ["depth", "learning_rate", "l2_leaf_reg"],
    "sklearn.ensemble.HistGradientBoostingRegressor": ["max_iter", "learning_rate", "max_leaf_nodes", "l2_regularization"],
    "sklearn.ensemble.RandomForestRegressor": ["max_depth", "max_features", "min_samples_leaf"],
}


def check_space(space: ParamSpace) -> None:
    """An accepted space can be enumerated and sampled, and gives finite numbers where it samples."""
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = space.sample(rng)
        assert set(point) == set(space.params)
    for name, value in space.params.items():
        if hasattr(value, "kind") and value.kind != "choice":
            assert all(math.isfinite(v) for v in value.grid_values(4)), (name, value)
            assert math.isfinite(value.sample(rng)), (name, value)
    assert space.grid_size(3) >= 1
    next(iter(space.grid(3)))


@FUZZ
@given(spec=st.dictionaries(st.sampled_from(["max_depth", "eta", "gamma", "n_estimators"]), space_values, max_size=3))
def test_param_space_values(spec):
    try:
        space = ParamSpace.from_config(spec, "models.m")
    except ConfigError as exc:
        assert exc.key.startswith("models.m.") and f"config key '{exc.key}'" in str(exc)
        return
    check_space(space)


@FUZZ
@given(kind=st.sampled_from(DISTRIBUTIONS), args=st.one_of(edge_bounds, pairs))
def test_distribution_bounds(kind, args):
    try:
        space = ParamSpace.from_config({"eta": {kind: args}}, "models.m")
    except ConfigError as exc:
        assert exc.key == f"models.m.eta.{kind}" and f"config key '{exc.key}'" in str(exc)
        return
    check_space(space)


@FUZZ
@given(data=st.data())
def test_param_spaces_in_configs(workdir, data):
    model = data.draw(st.sampled_from(sorted(MODEL_PARAMS)))
    names = data.draw(st.lists(st.sampled_from(MODEL_PARAMS[model]), min_size=1, max_size=3, unique=True))
    space = {name: data.draw(space_values) for name in names}
    raw = small_config(Path("."), results=str(workdir / "results"), models={model: space})
    error = check(raw, workdir)
    if error is None:
        check_space(load_config(raw).models[0].space)
    else:
        assert error.key.startswith(f"models.{model}"), error


# -- data files ------------------------------------------------------------------------------


def data_config(workdir: Path, path: Path, target="y", task=None, folds=3) -> dict:
    extra = {} if task is None else {"task": task, "metric": "rmse" if task == "regression" else "accuracy"}
    return small_config(Path("."), results=str(workdir / "results"), data={"path": str(path), "target": target},
                        models={"xgboost": {"max_depth": [2]}}, cv={"folds": folds}, **extra)


def check_data(workdir: Path, path: Path, task=None, folds=3) -> ConfigError | None:
    """The contract for a data file; an accepted file loads into finite targets, enough rows for the folds."""
    from tuner.data import load

    raw = data_config(workdir, path, task=task, folds=folds)
    error = check(raw, workdir)
    if error is not None:
        assert error.key.startswith(("data", "task", "metric", "cv")), error
        return error
    cfg = load_config(raw)
    X, y = load(cfg.data, cfg.task)
    assert len(X) == len(y) >= folds and X.shape[1] >= 1
    assert np.isfinite(y).all()
    if cfg.task == "classification":
        assert len(np.unique(y)) >= 2
    return None


csv_cells = st.one_of(
    st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "a", "nan", "NA", "inf", "-inf", '"', ",", "1,2", "\n", "x\ny", "1e400", "True"]),
)


@st.composite
def csv_texts(draw):
    """Ragged, quoted, broken CSV text."""
    columns = draw(st.lists(st.sampled_from(["y", "x1", "x2", "", "Y", "y "]), max_size=4))
    rows = draw(st.lists(st.lists(csv_cells, min_size=0, max_size=len(columns) + 1), max_size=6))
    lines = [",".join(columns)] + [",".join(str(c) for c in row) for row in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


COLUMN_KINDS = {
    "int": st.integers(-3, 3),
    "float": st.floats(-1e3, 1e3),
    "odd float": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf])),
    "str": st.sampled_from(["a", "b", "", "1"]),
    "bool": st.booleans(),
    "none": st.none(),
}


@st.composite
def frames(draw) -> pd.DataFrame:
    """Well-formed tables with odd contents: few rows, missing or lonely target, NaN, inf, strings."""
    n = draw(st.integers(0, 8))
    names = draw(st.lists(st.sampled_from(["y", "x1", "x2", "x3"]), max_size=4, unique=True))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(COLUMN_KINDS)))
        columns[name] = draw(st.lists(COLUMN_KINDS[kind], min_size=n, max_size=n))
    return pd.DataFrame(columns, index=range(n))


@FUZZ
@given(
    content=st.one_of(st.binary(max_size=200), st.just(b"PAR1"), st.just(b"PAR1" + bytes(20) + b"PAR1"),
                      csv_texts().map(str.encode)),
    suffix=st.sampled_from([".csv", ".parquet", ".csv.gz", ".pq"]),
    task=st.sampled_from([None, "regression", "classification"]),
)
def test_data_file_bytes(workdir, content, suffix, task):
    path = workdir / f"data{suffix}"
    path.write_bytes(content)
    check_data(workdir, path, task)


@FUZZ
@given(frame=frames(), suffix=st.sampled_from([".csv", ".parquet"]), task=st.sampled_from([None, "regression", "classification"]),
       folds=st.sampled_from([2, 3, 5]))
def test_data_file_tables(workdir, frame, suffix, task, folds):
    path = workdir / f"table{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    check_data(workdir, path, task, folds)


DATA_CASES = {  # (file content, task) -> the key the error must name
    "missing target": ("x1,x2\n1,2\n3,4\n5,6\n", None, "data.target"),
    "empty file": ("", None, "data.path"),
    "header only": ("y,x1\n", None, "data.path"),
    "only the target": ("y\n1\n2\n3\n", None, "data.path"),
    "target with NaN": ("y,x1\n1,1\n,2\n3,3\n", None, "data.target"),
    "target with NaN, task given": ("y,x1\n1,1\nnan,2\n3,3\n", "regression", "data.target"),
    "target with inf": ("y,x1\n1,1\ninf,2\n3,3\n", None, "data.target"),
    "broken row after the header": ('y,x1\n1,1\n"2,2\n3,3\n', None, "data.path"),
    "row with an extra field": ("y,x1\n1,1\n2,2\n3,3,3\n", None, "data.path"),
    "fewer rows than folds": ("y,x1\n1,1\n2,2\n", None, "cv.folds"),
    "text target for regression": ("y,x1\na,1\nb,2\nc,3\n", "regression", "data.target"),
    "one class": ("y,x1\n1,1\n1,2\n1,3\n", "classification", "data.target"),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_data_files(workdir, case):
    content, task, key = DATA_CASES[case]
    path = workdir / "case.csv"
    path.write_text(content)
    error = check_data(workdir, path, task)
    assert error is not None and error.key == key, error
