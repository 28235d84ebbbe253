"""Load and validate a search configuration (YAML file or Python dict).

Everything is checked here, before any work is dispatched: unknown keys, types, ranges, model
names, parameter names (and, for scikit-learn estimators, parameter values), the data source and
its target column, and that the metric fits the task. Each :class:`~tuner.errors.ConfigError` names
the key, the value and what is allowed.

Example
-------
>>> cfg = load_config({"data": {"dataset": "diabetes"}, "models": {"xgboost": {"max_depth": [2, 3]}}})
>>> cfg.task, cfg.metric, cfg.cv.folds
('regression', 'rmse', 3)
"""

from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tuner.budget import BUDGET_KEYS as BUDGET_LIMITS
from tuner.budget import Budget
from tuner.columns import NOT_LISTED, Columns
from tuner.data import (
    BUILTIN_DATASETS,
    BUILTIN_TASKS,
    CSV_SUFFIXES,
    FILE_SUFFIXES,
    PARQUET_SUFFIXES,
    DataSpec,
    data_files,
    describe,
    file_columns,
    raw,
)
from tuner.engine import ENGINES as ENGINE_REGISTRY
from tuner.errors import ConfigError
from tuner.metrics import DEFAULT_METRIC, METRICS
from tuner.models import BUILTIN, ModelAdapter, get_adapter
from tuner.space import ParamSpace
from tuner.strategies import STRATEGIES as STRATEGY_REGISTRY
from tuner.target import TASKS, Target, check_target
from tuner.trial import ROWS
from tuner.user_code import code_paths, importable, module_source, search_folders
from tuner.validation import adapt_bounds, boolean, check_keys, choice, integer, section

TOP_KEYS = ("name", "data", "task", "cv", "metric", "seed", "search", "models", "cluster", "results", "code")
#: the names ``search.strategy`` and ``search.engine`` accept come from the registries
STRATEGIES = tuple(STRATEGY_REGISTRY)
BUDGETED = tuple(name for name, cls in STRATEGY_REGISTRY.items() if cls.budgeted)
#: strategies that take search.max_resource as a ladder of rounds scored from one fit
#: strategies whose configurations an Optuna sampler proposes (tuner/strategies/model_based.py)
MODEL_BASED = ("tpe", "cmaes")
LADDER_STRATEGIES = ("random", *MODEL_BASED)
ENGINES = tuple(ENGINE_REGISTRY)
DATA_KEYS = ("dataset", "path", "target", "drop", "features", "categorical", "dates", "sample", "seed",
             "n_samples", "n_features", "n_classes")
CV_KEYS = ("folds", "shuffle", "seed")
BUDGET_KEYS = ("resource", "min_resource", "max_resource", "eta")
SEARCH_KEYS = ("strategy", "n_trials", "seed", "engine", "grid_resolution", "window", "max_attempts", "budget",
               *BUDGET_KEYS)
CLUSTER_KEYS = ("kind", "workers", "threads_per_worker", "address", "dashboard", "adapt")
#: a section's key -> its section, for the hint when one is written at the top level
SECTION_OF = {key: section for section, keys in (("cluster", CLUSTER_KEYS), ("search", SEARCH_KEYS), ("cv", CV_KEYS),
                                                 ("data", DATA_KEYS)) for key in keys}
MAX_SEED = 2**32 - 1  #: scikit-learn's random_state (and numpy's legacy seeding) takes no more
MAX_GRID_RESOLUTION = 10_000  #: points per distribution in a grid: more is an axis of its own
CLUSTER_KINDS = ("local", "address", "kubernetes")


@dataclass(frozen=True)
class CVConfig:
    folds: int = 3
    shuffle: bool = False
    seed: int = 0


@dataclass(frozen=True)
class SearchConfig:
    strategy: str = "grid"
    n_trials: int | None = None  #: random search: configurations sampled per model
    seed: int = 0
    engine: str = "tuner"
    grid_resolution: int = 3  #: grid points taken from each distribution in a grid search
    window: int | None = None  #: trials in flight at once; default: 4 x the cluster's threads
    max_attempts: int = 3  #: times a trial is retried when it kills its worker
    # successive_halving | hyperband | asha
    resource: str | None = None  #: the budget parameter; default: each library's rounds; "rows": a share of the rows
    min_resource: int = 30  #: rounds in the first rung (default: max_resource / eta^2)
    max_resource: int = 270  #: rounds at the top rung
    eta: int = 3
    #: random, tpe, cmaes with max_resource: each configuration trained once to max_resource rounds and
    #: scored at every count of :meth:`ladder` from that one fit
    rounds_ladder: bool = False
    budget: Budget | None = None  #: stop asking for trials once this is spent (tuner.budget)

    @property
    def budgeted(self) -> bool:
        return self.strategy in BUDGETED

    @property
    def sets_rounds(self) -> bool:
        """Whether the strategy sets each model's rounds itself (budgeted, or a rounds ladder)."""
        return self.budgeted or self.rounds_ladder

    def ladder(self) -> list[int]:
        """Round counts max_resource / eta^k down to min_resource, smallest first: 10, 30, 90, 270."""
        counts, n = [], float(self.max_resource)
        while n >= self.min_resource:
            counts.append(int(round(n)))
            n /= self.eta
        return sorted(set(counts))


@dataclass(frozen=True)
class ClusterConfig:
    kind: str = "local"
    workers: int | None = None  #: local: default one per core
    threads_per_worker: int = 1
    address: str | None = None
    dashboard: bool = True
    kubernetes: Any = None  #: kind 'kubernetes': the validated section, see tuner.kubernetes
    adapt: tuple[int, int] | None = None  #: local: (minimum, maximum) workers for cluster.adapt()


@dataclass(frozen=True)
class ModelConfig:
    name: str
    space: ParamSpace
    adapter: ModelAdapter = field(compare=False, repr=False)


@dataclass(frozen=True)
class Config:
    """A validated search configuration. Build it with :func:`load_config`."""

    name: str
    data: DataSpec
    task: str
    cv: CVConfig
    metric: str
    seed: int
    search: SearchConfig
    models: tuple[ModelConfig, ...]
    cluster: ClusterConfig
    results: str
    raw: dict = field(compare=False, repr=False, default_factory=dict)
    #: what the data's columns become (decided from every row) and the target's task and labels
    columns: Columns | None = field(default=None, compare=False, repr=False)
    target: Target | None = field(default=None, compare=False, repr=False)
    rows: int | None = field(default=None, compare=False, repr=False)  #: rows of the data (sampled)
    #: your modules and packages the models need (``code:`` and modules beside the configuration),
    #: shipped to the workers
    code: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def data_lines(self) -> list[str]:
        """What the search will use, as ``tuner validate`` and ``tuner plan`` print it."""
        out = [f"data: {self.data.path or self.data.dataset}" + (f", {self.rows:,} rows" if self.rows else "")
               + (f" (data.sample of {self.data.sample:,})" if self.data.sample else "")]
        if self.columns is not None:
            out += self.columns.lines()
        if self.target is not None:
            out += self.target.lines()
        out.append(f"metric: {self.metric}" + ("" if "metric" in self.raw else " (the default for the task)"))
        return out

    @property
    def results_url(self) -> str:
        """Where this search's Parquet dataset lives: ``<results>/<name>``."""
        return self.results.rstrip("/") + "/" + self.name

    def with_overrides(self, results: str | None = None, cluster: str | None = None, workers: int | None = None) -> Config:
        """The CLI's ``--results``, ``--cluster`` and ``--workers`` on top of the file."""
        cfg = self
        if results is not None:
            cfg = replace(cfg, results=_check_results(results, "--results"))
        if cluster is not None:
            kind = "local" if cluster == "local" else "address"
            if kind == "address" and "://" not in cluster:
                raise ConfigError("--cluster", cluster, "'local' or a scheduler address such as tcp://host:8786")
            cfg = replace(cfg, cluster=replace(cfg.cluster, kind=kind, address=None if kind == "local" else cluster))
        if workers is not None:
            if workers < 1:
                raise ConfigError("--workers", workers, "an integer >= 1")
            kube = cfg.cluster.kubernetes
            if kube is not None:
                kube = replace(kube, workers=workers)
            cfg = replace(cfg, cluster=replace(cfg.cluster, workers=workers, kubernetes=kube))
        return cfg


# -- helpers ---------------------------------------------------------------------------------
# The generic checks (check_keys, section, integer, boolean, choice) live in tuner.validation.


def _check_results(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "a folder path or a URL such as s3://bucket/prefix or gs://bucket/prefix")
    protocol = value.split("://", 1)[0] if "://" in value else "file"
    import fsspec

    if protocol not in fsspec.available_protocols():
        raise ConfigError(key, value, "a folder path or a URL of a known protocol (file, s3, gs, memory, ...)")
    return value


def _is_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= 200
        and name[0] not in "._-"
        and all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in name)
    )


def check_name(name: Any) -> str:
    """A search's name is one path segment under ``results``: a run writes only below
    ``<results>/<name>/`` (no separators, no ``..``, not hidden: no leading ``.``, ``_`` or ``-``)."""
    if not _is_name(name):
        raise ConfigError("name", name, "one folder name of letters, digits, '-', '_' and '.', starting with a "
                          "letter or digit (no '/', no '..'), e.g. california-gbdt")
    return name


# -- sections --------------------------------------------------------------------------------


def _names(data: dict, key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"data.{key}", value, "a list of column names")
    return tuple(value)


def _data(raw: dict, base_dir: Path | None) -> DataSpec:
    data = section(raw, "data")
    if not data:
        raise ConfigError("data", raw.get("data"), "a mapping with 'dataset' (a built-in) or 'path' and 'target'")
    check_keys(data, DATA_KEYS, "data.")
    if ("dataset" in data) == ("path" in data):
        raise ConfigError("data", data, "exactly one of 'dataset' or 'path'")
    sample = None if data.get("sample") is None else integer(data["sample"], "data.sample", 10)
    if "drop" in data and "features" in data:
        raise ConfigError("data.drop", data["drop"], "either data.drop or data.features, not both")
    categorical = data.get("categorical", "auto")
    if categorical != "auto":
        categorical = _names(data, "categorical")
    dates = data.get("dates", "auto")
    if dates not in ("auto", "drop"):
        if not isinstance(dates, list):
            raise ConfigError("data.dates", dates, "auto, drop, or a list of column names")
        dates = _names(data, "dates")
    kwargs: dict[str, Any] = {
        "sample": sample,
        "seed": integer(data.get("seed", 0), "data.seed", 0, MAX_SEED),
        "n_samples": integer(data.get("n_samples", 2000), "data.n_samples", 20),
        "n_features": integer(data.get("n_features", 10), "data.n_features", 1),
        "n_classes": integer(data.get("n_classes", 2), "data.n_classes", 2),
        "drop": _names(data, "drop"),
        "features": _names(data, "features"),
        "categorical": categorical,
        "dates": dates,
    }
    if "dataset" in data:
        choice(data["dataset"], BUILTIN_DATASETS, "data.dataset")
        if "target" in data:
            raise ConfigError("data.target", data["target"], "no target with a built-in dataset (only with 'path')")
        return DataSpec(dataset=data["dataset"], **kwargs)
    path = data["path"]
    allowed = "a Parquet or CSV file (" + ", ".join(FILE_SUFFIXES) + "), a folder of Parquet parts, or a glob"
    if not isinstance(path, str) or not path:
        raise ConfigError("data.path", path, allowed)
    if "://" not in path and not os.path.isabs(path) and base_dir is not None:
        candidate = base_dir / path
        if not Path(path).exists() and (candidate.exists() or any(ch in path for ch in "*?[")):
            path = str(candidate)
    if "://" not in path:
        path = str(Path(path).resolve()) if Path(path).exists() else os.path.abspath(path)
    try:
        _, files, folder = data_files(path)
    except FileNotFoundError:
        raise ConfigError("data.path", data["path"], allowed, "no such file or folder, or no file matches") from None
    except Exception as exc:  # an unreachable bucket, a permission error
        raise ConfigError("data.path", data["path"], allowed, f"{type(exc).__name__}: {exc}") from None
    is_csv = path.endswith(CSV_SUFFIXES)
    wrong = [f for f in files if not f.endswith(CSV_SUFFIXES if is_csv else PARQUET_SUFFIXES)]
    if wrong and (is_csv or folder is None and "://" not in path):  # parts in a folder may have any name
        raise ConfigError("data.path", data["path"], allowed, f"{wrong[0]} is not a {'CSV' if is_csv else 'Parquet'} file")
    target = data.get("target")
    try:
        columns = file_columns(path)
    except Exception as exc:  # any reader error: the file is not what its name says
        raise ConfigError("data.path", data["path"], "a readable Parquet or CSV file", f"{type(exc).__name__}: {exc}") from None
    if target not in columns:
        raise ConfigError("data.target", target, "a column of the file: " + ", ".join(map(str, columns[:20])))
    if len(columns) < 2:
        raise ConfigError("data.path", data["path"], "a file with the target and at least one feature column")
    for key in ("drop", "features", "categorical", "dates"):
        if not isinstance(kwargs[key], tuple):
            continue
        if target in kwargs[key]:
            raise ConfigError(f"data.{key}", list(kwargs[key]), f"feature columns; {target!r} is the target")
        for name in kwargs[key]:
            if name not in columns:
                close = difflib.get_close_matches(name, list(map(str, columns)), n=1)
                raise ConfigError(f"data.{key}", name, "a column of the data: " + ", ".join(map(str, columns[:20])),
                                  f"did you mean '{close[0]}'?" if close else None)
    return DataSpec(path=path, target=target, **kwargs)


def _table(raw_config: dict, data: DataSpec, folds: int) -> tuple[Columns, Target, int]:
    """The columns the models use and the target's task, from every row of the data."""
    task = None if raw_config.get("task") is None else choice(raw_config["task"], TASKS, "task")
    if data.dataset is not None:
        task = task or BUILTIN_TASKS.get(data.dataset, "regression")
    try:
        with warnings.catch_warnings():  # scikit-learn's download retries: the error below says it
            warnings.simplefilter("ignore")
            frame, y = raw(data, task or "regression")
    except Exception as exc:
        if data.dataset is not None:  # a built-in that must be downloaded first
            raise ConfigError("data.dataset", data.dataset, "a built-in dataset that can be loaded",
                              f"{type(exc).__name__}: {exc}; without a network, point SCIKIT_LEARN_DATA at an "
                              "offline copy of scikit-learn's data folder") from None
        # the header was readable, a row further down is not
        raise ConfigError("data.path", data.path, "a readable Parquet or CSV file", f"{type(exc).__name__}: {exc}") from None
    if len(frame) == 0:
        raise ConfigError("data.path", data.path, "a file with rows of data", "it has a header only")
    columns = describe(data, frame)
    if data.features is not None and data.path is not None:  # only the features were read: name the rest
        unread = [n for n in file_columns(data.path) if n not in data.features and n != data.target]
        columns = replace(columns, dropped=(*((n, NOT_LISTED) for n in unread), *columns.dropped))
    if len(frame) < folds:
        raise ConfigError("cv.folds", folds, f"at most the number of rows of the data ({len(frame)})")
    target = check_target(y, data.target, task, folds)
    if data.dataset is not None and raw_config.get("task") is None:
        target = replace(target, reason=f"the built-in dataset '{data.dataset}'")
    return columns, target, len(frame)


def _cv(raw: dict) -> CVConfig:
    cv = section(raw, "cv")
    check_keys(cv, CV_KEYS, "cv.")
    return CVConfig(
        folds=integer(cv.get("folds", 3), "cv.folds", 2),
        shuffle=boolean(cv.get("shuffle", False), "cv.shuffle"),
        seed=integer(cv.get("seed", 0), "cv.seed", 0, MAX_SEED),
    )


def _search(raw: dict) -> SearchConfig:
    s = section(raw, "search")
    check_keys(s, SEARCH_KEYS, "search.")
    strategy = choice(s.get("strategy", "grid"), STRATEGIES, "search.strategy")
    n_trials = s.get("n_trials")
    budget: dict = {}
    ladder = strategy in LADDER_STRATEGIES and "max_resource" in s
    if strategy in BUDGETED or ladder:
        rows = s.get("resource") == ROWS and strategy in BUDGETED
        budget["eta"] = integer(s.get("eta", 3), "search.eta", 2)
        budget["max_resource"] = integer(s.get("max_resource", 100 if rows else 270), "search.max_resource", 1,
                                         100 if rows else None)
        # default: two rungs below the top (max / eta^2). Measured on California housing
        # (benchmarks/results/fidelity.md): XGBoost scores after max/9 rounds rank configurations
        # like the full run's (Spearman +0.64) where max/27 and max/81 do not (+0.44, +0.36)
        budget["min_resource"] = integer(s.get("min_resource", max(1, budget["max_resource"] // budget["eta"] ** 2)),
                                         "search.min_resource", 1)
        if budget["max_resource"] < budget["min_resource"] * budget["eta"]:
            raise ConfigError(
                "search.max_resource", budget["max_resource"],
                f"at least min_resource * eta = {budget['min_resource'] * budget['eta']} (two rungs or more)",
            )
        resource = s.get("resource")
        if ladder and resource is not None:
            raise ConfigError("search.resource", resource, f"no value with strategy '{strategy}': its ladder counts "
                              "each library's own boosting rounds (n_estimators, iterations, max_iter)")
        if resource is not None and (not isinstance(resource, str) or not resource.isidentifier()):
            raise ConfigError("search.resource", resource, "a parameter name such as n_estimators or iterations, "
                              f"or '{ROWS}' (a share of each training fold's rows, in percent)")
        budget["resource"] = resource
        budget["rounds_ladder"] = ladder
        if s.get("engine", "tuner") != "tuner":
            raise ConfigError("search.engine", s.get("engine"), f"'tuner' with strategy '{strategy}'"
                              + (" and search.max_resource" if ladder else ""))
    else:
        for key in BUDGET_KEYS:
            if key in s:
                raise ConfigError(f"search.{key}", s[key], "only with strategy " + ", ".join(BUDGETED)
                                  + " (and with " + ", ".join(LADDER_STRATEGIES)
                                  + ", after max_resource: a ladder of rounds)")
    if strategy in ("random", "successive_halving", "asha", *MODEL_BASED):
        n_trials = integer((30 if strategy in MODEL_BASED else 10) if n_trials is None else n_trials,
                           "search.n_trials", 1)
    elif n_trials is not None:
        why = "a grid runs every point" if strategy == "grid" else "Hyperband's brackets fix the number"
        raise ConfigError("search.n_trials", n_trials,
                          f"only with strategy random, {', '.join(MODEL_BASED)}, successive_halving or asha ({why})")
    if STRATEGY_REGISTRY[strategy].adaptive and not STRATEGY_REGISTRY[strategy].budgeted \
            and s.get("engine", "tuner") != "tuner":
        raise ConfigError("search.engine", s.get("engine"), f"'tuner' with strategy '{strategy}'")
    window = s.get("window")
    return SearchConfig(
        budget=_budget(s.get("budget"), strategy, s.get("engine", "tuner")),
        **budget,
        strategy=strategy,
        n_trials=n_trials,
        seed=integer(s.get("seed", 0), "search.seed", 0),
        engine=choice(s.get("engine", "tuner"), ENGINES, "search.engine"),
        grid_resolution=integer(s.get("grid_resolution", 3), "search.grid_resolution", 2, MAX_GRID_RESOLUTION),
        window=None if window is None else integer(window, "search.window", 1),
        max_attempts=integer(s.get("max_attempts", 3), "search.max_attempts", 1),
    )


def _budget(value: Any, strategy: str, engine: str) -> Budget | None:
    """``search.budget``: ``{rounds: N, fits: N, minutes: X}``, at least one of them."""
    if value is None:
        return None
    allowed = "a mapping with rounds (boosting rounds, summed over folds), fits and/or minutes"
    if not isinstance(value, dict) or not value:
        raise ConfigError("search.budget", value, allowed)
    check_keys(value, BUDGET_LIMITS, "search.budget.")
    if engine != "tuner":
        raise ConfigError("search.budget", value, "no budget with engine 'dask-ml' (it runs whole batches)")
    minutes = value.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0):
        raise ConfigError("search.budget.minutes", minutes, "a number of minutes > 0")
    return Budget(
        rounds=None if value.get("rounds") is None else integer(value["rounds"], "search.budget.rounds", 1),
        fits=None if value.get("fits") is None else integer(value["fits"], "search.budget.fits", 1),
        minutes=None if minutes is None else float(minutes),
    )


def _check_budget(models: tuple[ModelConfig, ...], search: SearchConfig) -> None:
    """Budgeted strategies: every model needs a budget parameter the schedule can set."""
    for m in models:
        key = f"models.{m.name}"
        resource = search.resource or m.adapter.rounds_param
        if resource is None:
            raise ConfigError(key, m.name, f"a model with boosting rounds or iterations for strategy '{search.strategy}'",
                              "or set search.resource")
        if resource in m.space.params:
            raise ConfigError(f"{key}.{resource}", m.space.params[resource],
                              f"no value: strategy '{search.strategy}' sets the budget '{resource}' itself")
        if search.resource == ROWS:
            continue  # every rung trains afresh on its share of the rows: no parameter, no continuation
        if search.resource is not None:
            m.adapter.validate_param_names([resource], "regression", "search.resource")
        m.adapter.check_budgeted(m.space, search.strategy, key)


def _models(raw: dict, task: str, folders: list[Path]) -> tuple[ModelConfig, ...]:
    models = raw.get("models")
    if not isinstance(models, dict) or not models:
        raise ConfigError("models", models, "a mapping of model name -> parameter space, with at least one model")
    out = []
    for name, spec in models.items():
        key = f"models.{name}"
        allowed = ", ".join(BUILTIN) + ", or the dotted path of an estimator class"
        if not all(part.isidentifier() for part in str(name).split(".")):
            raise ConfigError(key, name, allowed)
        if "." not in str(name) and str(name) not in BUILTIN:  # a library's name, misspelt
            close = difflib.get_close_matches(str(name), list(BUILTIN), n=1)
            raise ConfigError(key, name, allowed, f"did you mean '{close[0]}'?" if close else
                              "a class is named by its module too, e.g. sklearn.ensemble.RandomForestRegressor")
        try:
            with importable(folders):  # your modules: beside the configuration, or under code:
                adapter = get_adapter(str(name), key)
        except TypeError as exc:  # a class that cannot be built without arguments, e.g. a Pipeline
            raise ConfigError(key, name, "an estimator class whose parameters all have defaults", str(exc)) from None
        space = ParamSpace.from_config(spec, key)
        adapter.check_space(space, task, key)  # names, and each library's own rules
        out.append(ModelConfig(str(name), space, adapter))
    return tuple(out)


def _cluster(raw: dict) -> ClusterConfig:
    c = section(raw, "cluster")
    if c.get("kind") == "kubernetes":
        from tuner.kubernetes.spec import parse_kubernetes_section

        spec = parse_kubernetes_section(c)  # validates every key of the section, adapt included
        adapt = (spec.adapt.minimum, spec.adapt.maximum) if spec.adapt is not None else None
        return ClusterConfig(kind="kubernetes", workers=spec.workers, kubernetes=spec, adapt=adapt)
    check_keys(c, CLUSTER_KEYS, "cluster.")
    kind = choice(c.get("kind", "local"), CLUSTER_KINDS, "cluster.kind")
    address = c.get("address")
    if kind == "address" and (not isinstance(address, str) or "://" not in address):
        raise ConfigError("cluster.address", address, "a scheduler address such as tcp://host:8786")
    workers = c.get("workers")
    adapt = c.get("adapt")
    if adapt is not None:
        if kind != "local":
            raise ConfigError("cluster.adapt", adapt, "only with kind 'local' or 'kubernetes' (an address has its own)")
        adapt = adapt_bounds(adapt, "cluster.adapt")  # the same check as kind 'kubernetes'
    return ClusterConfig(
        adapt=adapt,
        kind=kind,
        workers=None if workers is None else integer(workers, "cluster.workers", 1),
        threads_per_worker=integer(c.get("threads_per_worker", 1), "cluster.threads_per_worker", 1),
        address=address,
        dashboard=boolean(c.get("dashboard", True), "cluster.dashboard"),
    )


def parse_cluster(cluster: dict | None) -> ClusterConfig:
    """Validate a ``cluster`` section on its own (what ``cluster:`` holds in a configuration).

    Parameters
    ----------
    cluster : dict or None
        ``{"kind": "local", "workers": 2}``, ``{"kind": "address", "address": "tcp://..."}`` or a
        section of kind ``kubernetes``; None is a default local cluster.

    Returns
    -------
    ClusterConfig

    Raises
    ------
    tuner.errors.ConfigError
        Naming the dotted key (``cluster.workers``), the value and what is allowed.

    Examples
    --------
    >>> parse_cluster({"kind": "local", "workers": 2, "adapt": {"minimum": 1, "maximum": 4}}).adapt
    (1, 4)
    """
    return _cluster({"cluster": cluster})


def load_config(source: str | os.PathLike | dict | Config) -> Config:
    """Validate a configuration given as a YAML path, a YAML string, a dict or a :class:`Config`."""
    if isinstance(source, Config):
        return source
    base_dir = None
    default_name = "search"
    if isinstance(source, dict):
        raw = source
    else:
        text = str(source)
        path = Path(text)
        if "\n" not in text and path.suffix in (".yaml", ".yml", ".json"):
            if not path.is_file():
                raise ConfigError("config", text, "an existing YAML file", "no such file")
            base_dir = path.resolve().parent
            if _is_name(path.stem):  # configs without a name do not share one results folder
                default_name = path.stem
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError("config", str(source), "a readable UTF-8 YAML file", f"{type(exc).__name__}: {exc}") from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("config", str(source), "valid YAML", str(exc).replace("\n", " ")) from None
        except RecursionError:
            raise ConfigError("config", str(source)[:80], "valid YAML", "nested too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError("config", raw, "a mapping at the top level")
    for key in raw:  # a section's key written at the top level: name its place
        if key not in TOP_KEYS and key in SECTION_OF:
            raise ConfigError(str(key), raw[key], "a top-level key: " + ", ".join(TOP_KEYS),
                              f"did you mean '{SECTION_OF[key]}.{key}'?")
    check_keys(raw, TOP_KEYS, "")
    name = check_name(raw["name"]) if "name" in raw else default_name
    data = _data(raw, base_dir)
    cv = _cv(raw)
    columns, target, rows = _table(raw, data, cv.folds)
    task = target.task
    metric = raw.get("metric", DEFAULT_METRIC[task])
    choice(metric, tuple(METRICS), "metric")
    if METRICS[metric].task != task:
        allowed = [m for m, v in METRICS.items() if v.task == task]
        raise ConfigError("metric", metric, f"a {task} metric: " + ", ".join(allowed))
    search = _search(raw)
    code = code_paths(raw.get("code"), base_dir)
    folders = search_folders(code, base_dir)
    models = _models(raw, task, folders)
    beside = (module_source(m.name, folders) for m in models if "." in m.name)
    code = tuple(dict.fromkeys([*code, *(src for src in beside if src is not None)]))
    if search.sets_rounds:
        _check_budget(models, search)
    results = _check_results(raw.get("results", "results"), "results")
    return Config(
        name=name,
        data=data,
        task=task,
        cv=cv,
        metric=metric,
        seed=integer(raw.get("seed", 0), "seed", 0, MAX_SEED),
        search=search,
        models=models,
        cluster=_cluster(raw),
        results=results,
        raw=raw,
        columns=columns,
        target=target,
        rows=rows,
        code=code,
    )
