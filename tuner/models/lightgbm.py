"""LightGBM through its scikit-learn API (``LGBMRegressor`` / ``LGBMClassifier``)."""

from __future__ import annotations

from tuner.models.base import ModelAdapter, StagedView, import_optional


class LightGBMAdapter(ModelAdapter):
    name = "lightgbm"
    rounds_param = "n_estimators"
    model_format = "lightgbm-text"

    def estimator_class(self, task: str) -> type:
        lgb = import_optional("lightgbm")
        return lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor

    def fixed_params(self, cls: type, n_threads: int, seed: int) -> dict:
        return {"n_jobs": n_threads, "random_state": seed, "verbose": -1}

    def extra_param_names(self) -> set[str]:
        # LightGBM's native parameter names and their aliases (bagging_fraction, lambda_l1, ...).
        basic = import_optional("lightgbm.basic")
        names: set[str] = set()
        for name, aliases in basic._ConfigAliases._get_all_param_aliases().items():
            names.add(name)
            names.update(aliases)
        return names

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra, data_key=None, keep=1):
        """``previous``: a fitted LGBM estimator, or the ``lightgbm.Booster`` of a checkpoint."""
        lgb = import_optional("lightgbm")
        init = previous if isinstance(previous, lgb.Booster) else previous.booster_
        est = self.make({**params, "n_estimators": extra}, task, n_threads, seed)
        return est.fit(X, y, init_model=init)

    def dump_model(self, estimator) -> bytes:
        """The booster as LightGBM's text model format (``model_to_string``), UTF-8."""
        return estimator.booster_.model_to_string().encode("utf-8")

    def load_model(self, data: bytes, params: dict, task: str, n_threads: int, seed: int):
        """A ``lightgbm.Booster`` parsed from the text :meth:`dump_model` wrote (its own
        parameters come from the model text; training threads come from the continuing fit)."""
        lgb = import_optional("lightgbm")
        return lgb.Booster(model_str=data.decode("utf-8"))

    def can_share_rounds(self, params):
        boosting = {params.get(k) for k in ("boosting_type", "boosting", "boost", "boosting_type")}
        return "dart" not in boosting and "rf" not in boosting and params.get("early_stopping_round") is None

    def staged(self, estimator, n):
        methods = {"predict": lambda X: estimator.predict(X, num_iteration=n)}
        if hasattr(estimator, "predict_proba"):
            methods["predict_proba"] = lambda X: estimator.predict_proba(X, num_iteration=n)
        return StagedView(estimator, methods)
