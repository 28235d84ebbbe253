import time, numpy as np
from benchmarks.common import ensure_data
ensure_data()
from tuner import Search
from sklearn.model_selection import cross_val_score
import xgboost, lightgbm
rng = np.random.default_rng(1)
for n, R in ((2000, 90), (4000, 90)):
    cfg = {"name": "x", "data": {"dataset": "california_housing", "sample": n, "seed": 0},
           "cv": {"folds": 3, "shuffle": True, "seed": 0}, "metric": "rmse", "models": {"xgboost": {"max_depth": [6]}}, "results": "/tmp/xx"}
    X, y, splits = Search(cfg).problem.load()
    tx = tl = 0
    for i in range(6):
        lr = float(np.exp(rng.uniform(np.log(0.01), np.log(0.3))))
        e = xgboost.XGBRegressor(max_depth=int(rng.integers(2, 11)), learning_rate=lr, subsample=rng.uniform(.5,1), colsample_bytree=rng.uniform(.5,1), min_child_weight=float(np.exp(rng.uniform(0, np.log(100)))), n_estimators=R, n_jobs=1, random_state=0)
        t = time.perf_counter(); cross_val_score(e, X, y, cv=splits); tx += time.perf_counter() - t
        e = lightgbm.LGBMRegressor(num_leaves=int(rng.integers(4, 129)), learning_rate=lr, feature_fraction=rng.uniform(.5,1), bagging_fraction=rng.uniform(.5,1), bagging_freq=1, min_child_samples=int(rng.integers(5, 101)), n_estimators=R, n_jobs=1, random_state=0, verbose=-1)
        t = time.perf_counter(); cross_val_score(e, X, y, cv=splits); tl += time.perf_counter() - t
    print(n, R, "xgb per trial", tx / 6, "lgbm", tl / 6, flush=True)
