"""How well short runs predict long ones (tuner.results.fidelity), on rows made up to know the answer."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.records import record
from tuner.results import fidelity


def ladder_rows(short_order: list[int]) -> pd.DataFrame:
    """Five xgboost configurations (max_depth 1..5), each scored at 10 and 90 rounds: at 90 the
    score is the depth; at 10 the configurations are in ``short_order``."""
    rows, i = [], 0
    for depth in range(1, 6):
        for rounds, score in ((90, float(depth)), (10, float(short_order[depth - 1]))):
            rows.append(record(i, "xgboost", {"max_depth": depth, "n_estimators": rounds}, score, n_resources=rounds))
            i += 1
    return pd.DataFrame(rows)


def test_fidelity_is_the_rank_correlation_with_the_longest_runs():
    same = fidelity(ladder_rows([1, 2, 3, 4, 5])).to_dict("records")
    assert [(r["model"], r["rounds"], r["configurations"]) for r in same] == [("xgboost", 10, 5)]
    assert same[0]["spearman"] == pytest.approx(1.0)
    assert fidelity(ladder_rows([5, 4, 3, 2, 1]))["spearman"].iloc[0] == pytest.approx(-1.0)
    assert fidelity(ladder_rows([2, 1, 3, 5, 4]))["spearman"].iloc[0] == pytest.approx(0.8)


def test_rung_rows_group_by_config_id_and_single_counts_say_nothing():
    rows = pd.DataFrame([
        record(0, "lightgbm", {"num_leaves": 4, "n_estimators": 10}, 1.0, n_resources=10, config_id="a", rung=0),
        record(1, "lightgbm", {"num_leaves": 4, "n_estimators": 30}, 1.5, n_resources=30, config_id="a", rung=1),
        record(2, "lightgbm", {"num_leaves": 8, "n_estimators": 10}, 2.0, n_resources=10, config_id="b", rung=0),
    ])
    table = fidelity(rows)
    assert table["configurations"].tolist() == [1] and table["spearman"].isna().all()  # too few to say
    assert fidelity(pd.DataFrame([record(i, "xgboost", {"max_depth": i}, float(i), n_resources=100)
                                  for i in range(4)])).empty
