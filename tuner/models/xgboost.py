"""XGBoost through its scikit-learn API (``XGBRegressor`` / ``XGBClassifier``)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from tuner.models.base import ModelAdapter, StagedView, import_optional

#: the parameters that decide how XGBoost builds its training matrix from the same data
MATRIX_PARAMS = ("tree_method", "device", "booster", "max_bin", "missing", "enable_categorical",
                 "feature_types", "feature_weights", "n_jobs", "max_cat_to_onehot")
_matrices = threading.local()
_test_matrices = threading.local()
#: the parameters that decide how XGBoost reads data to predict on
PREDICT_PARAMS = ("missing", "enable_categorical", "feature_types", "n_jobs")


class XGBoostAdapter(ModelAdapter):
    name = "xgboost"
    rounds_param = "n_estimators"
    model_format = "xgboost-ubj"

    def estimator_class(self, task: str) -> type:
        xgb = import_optional("xgboost")
        return xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor

    def fixed_params(self, cls: type, n_threads: int, seed: int) -> dict:
        return {"n_jobs": n_threads, "random_state": seed, "verbosity": 0}

    def data_params(self, columns) -> dict:
        """Categorical columns are split on natively (pandas ``category`` columns, hist method)."""
        return {"enable_categorical": True} if columns.categorical else {}

    def n_resources(self, estimator) -> int | None:
        value = estimator.get_params().get("n_estimators")
        return 100 if value is None else int(value)  # XGBoost's own default

    def fit(self, estimator, X, y, data_key=None, keep=1, **fit_kwargs):
        """Train on this worker thread's matrix for ``data_key`` when one was built with the same
        binning parameters: ``QuantileDMatrix`` construction (sketching quantiles and binning every
        value) is up to a fifth of a short fit, and the model trained on it is identical."""
        if data_key is None:
            return estimator.fit(X, y, **fit_kwargs)
        key = (data_key, *(repr(getattr(estimator, p, None)) for p in MATRIX_PARAMS))  # not get_params: 0.5 ms
        build = estimator._create_dmatrix

        def create(ref, **kwargs):
            if ref is not None or kwargs.get("weight") is not None or kwargs.get("base_margin") is not None:
                return build(ref, **kwargs)  # evaluation sets and weighted fits: as XGBoost does
            return _kept(_matrices, key, keep, lambda: build(ref, **kwargs))

        estimator._create_dmatrix = create  # the instance's attribute, for this fit only
        try:
            return estimator.fit(X, y, **fit_kwargs)
        finally:
            del estimator._create_dmatrix

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra, data_key=None, keep=1):
        """``extra`` more rounds on the booster of ``previous``, on the fold's kept matrix (a
        continued rung is short: rebuilding the matrix would be a large share of it)."""
        est = self.make({**params, "n_estimators": extra}, task, n_threads, seed)
        return self.fit(est, X, y, data_key=data_key, keep=keep, xgb_model=previous.get_booster())

    def dump_model(self, estimator) -> bytes:
        """The booster as XGBoost's Universal Binary JSON (``save_raw("ubj")``)."""
        return bytes(estimator.get_booster().save_raw("ubj"))

    def load_model(self, data: bytes, params: dict, task: str, n_threads: int, seed: int):
        """An estimator of the trial's class holding the booster :meth:`dump_model` wrote."""
        est = self.make(params, task, n_threads, seed)
        est.load_model(bytearray(data))
        return est

    def can_share_rounds(self, params):
        # DART re-weights earlier trees while training; early stopping decides the count itself
        return params.get("booster", "gbtree") != "dart" and params.get("early_stopping_rounds") is None

    def scoring(self, estimator, data_key=None, keep=1, n=None):
        """Predict a fold's test rows from a DMatrix of them kept per worker thread: converting the
        pandas rows on every prediction costs several milliseconds a fold, more than a short
        rung's rounds. The estimator's own ``predict`` / ``predict_proba`` run (labels,
        probabilities, early stopping's best iteration: XGBoost's code); only the booster they ask
        to predict these rows predicts the kept matrix instead (the same predictions)."""
        if data_key is None:
            return super().scoring(estimator, data_key, keep, n)
        names = ("predict", "predict_proba") if hasattr(estimator, "predict_proba") else ("predict",)
        rounds = None if n is None else (0, n)
        return StagedView(estimator, {name: self._on_kept_rows(estimator, name, rounds, data_key, keep)
                                      for name in names})

    def _on_kept_rows(self, estimator, name, rounds, data_key, keep):
        method = getattr(type(estimator), name)

        def call(X):
            kept = _KeptRowsBooster(estimator.get_booster(), X,
                                    lambda: self._test_matrix(estimator, X, data_key, keep))
            estimator.get_booster = lambda: kept  # the instance's attribute, for this call only
            try:
                return method(estimator, X, iteration_range=rounds)
            finally:
                del estimator.get_booster

        return call

    def _test_matrix(self, estimator, X, data_key, keep):
        params = {p: getattr(estimator, p, None) for p in PREDICT_PARAMS}  # its own attributes: XGBoost's __init__
        key = (data_key, *(repr(v) for v in params.values()))

        def build():
            xgb = import_optional("xgboost")
            missing = params["missing"]
            return xgb.DMatrix(
                X, missing=float("nan") if missing is None else missing, nthread=params["n_jobs"],
                enable_categorical=bool(params["enable_categorical"]), feature_types=params["feature_types"],
            )

        return _kept(_test_matrices, key, keep, build)

    def staged(self, estimator, n):
        methods = {"predict": lambda X: estimator.predict(X, iteration_range=(0, n))}
        if hasattr(estimator, "predict_proba"):
            methods["predict_proba"] = lambda X: estimator.predict_proba(X, iteration_range=(0, n))
        return StagedView(estimator, methods)


def _kept(store: threading.local, key: tuple, keep: int, build):
    """This worker thread's matrix for ``key`` from ``store``, built on first use; the ``keep``
    most recently used are kept."""
    cache = getattr(store, "cache", None)
    if cache is None:
        cache = store.cache = OrderedDict()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    matrix = cache[key] = build()
    while len(cache) > keep:
        cache.popitem(last=False)
    return matrix


class _KeptRowsBooster:
    """A booster that predicts one table of rows from their kept DMatrix: what XGBoost's scikit-learn
    ``predict`` asks of ``inplace_predict`` for those rows, ``Booster.predict`` on the matrix answers
    (the same trees, the same values); anything else goes to the booster itself."""

    def __init__(self, booster, rows, matrix):
        self._booster, self._rows, self._matrix = booster, rows, matrix

    def inplace_predict(self, data, iteration_range=(0, 0), predict_type="value", missing=float("nan"),
                        validate_features=True, base_margin=None, strict_shape=False):
        if data is not self._rows or base_margin is not None or strict_shape or predict_type not in ("value", "margin"):
            return self._booster.inplace_predict(data, iteration_range=iteration_range, predict_type=predict_type,
                                                 missing=missing, validate_features=validate_features,
                                                 base_margin=base_margin, strict_shape=strict_shape)
        return self._booster.predict(self._matrix(), iteration_range=iteration_range,
                                     output_margin=predict_type == "margin", validate_features=validate_features)

    def __getattr__(self, name):
        return getattr(self._booster, name)
