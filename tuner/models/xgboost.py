"""XGBoost through its scikit-learn API (``XGBRegressor`` / ``XGBClassifier``)."""

from __future__ import annotations

from tuner.models.base import ModelAdapter, StagedView, import_optional


class XGBoostAdapter(ModelAdapter):
    name = "xgboost"
    rounds_param = "n_estimators"

    def estimator_class(self, task: str) -> type:
        xgb = import_optional("xgboost")
        return xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor

    def fixed_params(self, cls: type, n_threads: int, seed: int) -> dict:
        return {"n_jobs": n_threads, "random_state": seed, "verbosity": 0}

    def n_resources(self, estimator) -> int | None:
        value = estimator.get_params().get("n_estimators")
        return 100 if value is None else int(value)  # XGBoost's own default

    def continue_fit(self, previous, params, task, n_threads, seed, X, y, extra):
        est = self.make({**params, "n_estimators": extra}, task, n_threads, seed)
        return est.fit(X, y, xgb_model=previous.get_booster())

    def can_share_rounds(self, params):
        # DART re-weights earlier trees while training; early stopping decides the count itself
        return params.get("booster", "gbtree") != "dart" and params.get("early_stopping_rounds") is None

    def staged(self, estimator, n):
        methods = {"predict": lambda X: estimator.predict(X, iteration_range=(0, n))}
        if hasattr(estimator, "predict_proba"):
            methods["predict_proba"] = lambda X: estimator.predict_proba(X, iteration_range=(0, n))
        return StagedView(estimator, methods)
