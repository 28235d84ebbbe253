"""What a short rung costs per round against a long fit, as a worker runs them.

Hyperband-style searches train many short rungs (10 rounds) and few long ones (810). A short rung
pays for things a long fit spreads over many rounds: building the training matrix, loading the
previous rung's checkpoint, scoring, writing its own checkpoint. tuner keeps each fold's XGBoost
matrix for the rungs that follow and writes checkpoints in the background, so that a short rung
costs little more per round than a long fit. Measured side by side, in one worker process, with
tuner's own trial code (:func:`tuner.evaluate.evaluate_trial`: every fold fitted and scored,
checkpoints written and read as in a search), XGBoost on California housing, 3-fold CV, one thread:

- a first rung of 10 rounds (trained from scratch, on the kept matrix);
- a continued rung of 10 more rounds (from the first rung's checkpoint);
- a top rung of 810 rounds trained from scratch;

seconds per round of each (fit and score time of the three folds), medians of ``--repeats``.

    python -m benchmarks.rung_cost [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from benchmarks.common import ensure_data, median, write

PARAMS = {"max_depth": 6, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--name", default="rung_cost")
    args = ap.parse_args()
    ensure_data()
    from tuner import checkpoints
    from tuner.config import CVConfig
    from tuner.data import DataSpec
    from tuner.evaluate import Problem, evaluate_trial
    from tuner.trial import Trial

    problem = Problem(DataSpec(dataset="california_housing"), "regression", CVConfig(3, True, 0), "rmse")
    folder = tempfile.mkdtemp(prefix="tuner-rung-cost-")

    def rung(n: int, rung: int, continue_from: int | None, bracket: int) -> Trial:
        return Trial.create("xgboost", {**PARAMS, "n_estimators": n}, "rung-cost", bracket=bracket, rung=rung,
                            resource="n_estimators", continue_from=continue_from, checkpoints=folder)

    def seconds(trial: Trial) -> float:
        record = evaluate_trial(problem, trial)
        assert record.is_ok, record.error
        checkpoints.wait_written()  # the next rung reads it; the background write is not timed
        return record.fit_time + record.score_time

    seconds(rung(10, 0, None, bracket=-1))  # warm-up: data loaded, the fold matrices built once
    per_round: dict[str, list[float]] = {"first rung, 10 rounds": [], "continued rung, 10 more rounds": [],
                                         "top rung, 810 rounds from scratch": []}
    try:
        for r in range(args.repeats):
            per_round["first rung, 10 rounds"].append(seconds(rung(10, 0, None, bracket=r)) / 10)
            per_round["continued rung, 10 more rounds"].append(seconds(rung(20, 1, 10, bracket=r)) / 10)
            per_round["top rung, 810 rounds from scratch"].append(seconds(rung(810, 0, None, bracket=r)) / 810)
            print({k: round(1000 * v[-1], 3) for k, v in per_round.items()}, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    med = {k: median(v) for k, v in per_round.items()}
    top = med["top rung, 810 rounds from scratch"]
    rows = "\n".join(f"| {k} | {1000 * v:.3f} | {v / top:.2f}x |" for k, v in med.items())
    md = f"""
XGBoost ({", ".join(f"{k} {v}" for k, v in PARAMS.items())}) on California housing (20,640 rows),
3-fold CV, one thread, tuner's trial code in one process; fit and score time of the three folds per
round, medians of {args.repeats}.

| rung | ms per round | per round against the 810-round fit |
|---|---|---|
{rows}

A continued 10-round rung costs **{med["continued rung, 10 more rounds"] / top:.2f}x** per round what an 810-round
fit costs (it loads the previous rung's checkpoint and trains on the fold's kept matrix; its own
checkpoint is written in the background, not timed here: the trial's record does not wait for it).
"""
    write(args.name, {"repeats": args.repeats, "params": PARAMS, "seconds_per_round": per_round,
                      "median_seconds_per_round": med}, md)


if __name__ == "__main__":
    main()
