"""LightGBM through its scikit-learn API (``LGBMRegressor`` / ``LGBMClassifier``)."""

from __future__ import annotations

from tuner.models.base import ModelAdapter, StagedView, import_optional


class LightGBMAdapter(ModelAdapter):
    name = "lightgbm"
    rounds_param = "n_estimators"

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

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra):
        est = self.make({**params, "n_estimators": extra}, task, n_threads, seed)
        return est.fit(X, y, init_model=previous.booster_)

    def can_share_rounds(self, params):
        boosting = {params.get(k) for k in ("boosting_type", "boosting", "boost", "boosting_type")}
        return "dart" not in boosting and "rf" not in boosting and params.get("early_stopping_round") is None

    def staged(self, estimator, n):
        methods = {"predict": lambda X: estimator.predict(X, num_iteration=n)}
        if hasattr(estimator, "predict_proba"):
            methods["predict_proba"] = lambda X: estimator.predict_proba(X, num_iteration=n)
        return StagedView(estimator, methods)
