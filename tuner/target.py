"""The target column: the task it implies, its checks, and the user's labels.

The task, when ``task:`` is not given, is inferred from the target (:func:`infer_task`):

- text, boolean or ``category`` targets: classification;
- numbers with a fractional part: regression;
- whole numbers: classification when they take at most :data:`MAX_INTEGER_CLASSES` distinct
  values (0/1, a rating 1..5), regression otherwise (a count, a price in cents).

``task: regression`` or ``task: classification`` overrides the rule. Models are trained on the
codes ``0..n-1`` of the sorted labels (what XGBoost requires); :meth:`Target.decode` turns codes
back into the user's labels, so the best model predicts ``"gold"``, not ``2``.

Example
-------
>>> import pandas as pd
>>> t = check_target(pd.Series(["b", "a", "b", "a", "b", "a"]), "segment", None, folds=3)
>>> t.task, t.classes, t.reason
('classification', ('a', 'b'), 'a text target')
>>> t.decode(t.encode(pd.Series(["b", "a"]))).tolist()
['b', 'a']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from tuner.errors import ConfigError

MAX_INTEGER_CLASSES = 10
TASKS = ("regression", "classification")


@dataclass(frozen=True)
class Target:
    """A target column's task and, for classification, its labels (sorted)."""

    task: str
    classes: tuple | None = None  #: classification: the labels, in the order of their codes
    reason: str = "given"  #: why this task: "given" (``task:``) or the rule that inferred it
    name: str | None = None
    counts: tuple[int, ...] = ()  #: classification: rows of each class, in the order of ``classes``

    def encode(self, y: Any) -> np.ndarray:
        """Labels as codes 0..n-1 (classification) or floats (regression)."""
        if self.task != "classification":
            return np.asarray(y, dtype=np.float64)
        assert self.classes is not None  # classification targets always have their classes
        codes = pd.Index(list(self.classes)).get_indexer(pd.Series(y).map(_plain))
        if (codes < 0).any():
            unknown = pd.Series(y)[codes < 0].unique()[:5]
            raise ValueError(f"labels {list(unknown)} are none of the classes {list(self.classes)}")
        return codes.astype(np.int64)

    def decode(self, codes: Any) -> np.ndarray:
        """Codes back to the user's labels (regression: the values unchanged)."""
        if self.task != "classification":
            return np.asarray(codes)
        assert self.classes is not None
        codes = np.asarray(codes, dtype=np.int64)
        if codes.ndim == 2 and codes.shape[1] == 1:  # CatBoost predicts a column
            codes = codes[:, 0]
        return np.asarray(self.classes)[codes]

    def lines(self) -> list[str]:
        other = "regression" if self.task == "classification" else "classification"
        if self.reason == "given":
            how = "given with task:"
        elif "number" in self.reason or "fractional" in self.reason:
            how = f"inferred from {self.reason}; set task: {other} to override"
        else:
            how = f"from {self.reason}"
        out = [f"task: {self.task} ({how})"]
        if self.classes is not None:
            counts = self.counts or (None,) * len(self.classes)
            shown = ", ".join(f"{c!s}: {n:,}" if n is not None else str(c)
                              for c, n in list(zip(self.classes, counts, strict=True))[:20])
            more = f", ... {len(self.classes) - 20} more" if len(self.classes) > 20 else ""
            out.append(f"classes: {len(self.classes)} ({shown}{more})")
        return out


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (JSON, and equal to the user's literals)."""
    return value.item() if isinstance(value, np.generic) else value


def infer_task(y: pd.Series) -> tuple[str, str]:
    """(task, the reason) for a target column without ``task:``; see the module's rule."""
    if is_bool_dtype(y):
        return "classification", "a boolean target"
    if not is_numeric_dtype(y):
        return "classification", "a text target" if not isinstance(y.dtype, pd.CategoricalDtype) else "a category target"
    values = y.dropna().to_numpy(dtype=np.float64)
    if not np.all(values == np.round(values)):
        return "regression", "a target with fractional values"
    n = len(np.unique(values))
    if n <= MAX_INTEGER_CLASSES:
        return "classification", f"a whole-number target with {n} values (at most {MAX_INTEGER_CLASSES})"
    return "regression", f"a whole-number target with {n} values (more than {MAX_INTEGER_CLASSES})"


def _rows(mask: np.ndarray, n: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r + 1) for r in rows[:n])
    return shown + (f" and {len(rows) - n:,} more" if len(rows) > n else "")


def check_target(y: pd.Series, name: str | None, task: str | None, folds: int) -> Target:
    """The target's task and labels, after checking it can be cross-validated with ``folds``.

    Raises
    ------
    tuner.errors.ConfigError
        Missing values (naming the data rows, counted from 1 after the header), infinities, text
        for regression, a single class, or a class with fewer rows than ``folds`` (naming it).
    """
    key = "data.target" if name is not None else "data"
    missing = y.isna().to_numpy()
    if missing.any():
        raise ConfigError(key, name, "a column with a value in every row",
                          f"{int(missing.sum()):,} rows have none: rows {_rows(missing)} (drop or fill them)")
    if is_numeric_dtype(y) and not is_bool_dtype(y) and not np.isfinite(y.to_numpy(dtype=np.float64)).all():
        raise ConfigError(key, name, "a column of finite values (no infinity)",
                          f"rows {_rows(~np.isfinite(y.to_numpy(dtype=np.float64)))}")
    reason = "given"
    if task is None:
        task, reason = infer_task(y)
    if task == "regression":
        if not is_numeric_dtype(y) or is_bool_dtype(y):
            raise ConfigError(key, name, "a numeric column for task 'regression'", f"it holds {y.dtype}")
        return Target(task=task, reason=reason, name=name)
    counts = y.map(_plain).value_counts()
    if len(counts) < 2:
        raise ConfigError(key, name, "a column with at least two classes for classification",
                          f"every row is {counts.index[0]!r}")
    small = counts[counts < folds]
    if len(small):
        label, n = small.index[0], int(small.iloc[0])
        raise ConfigError(key, name, f"classes with at least cv.folds = {folds} rows each (stratified folds)",
                          f"class {label!r} has {n} row{'s' if n != 1 else ''}; lower cv.folds, or drop or merge the class")
    classes = tuple(sorted(counts.index, key=_sort_key))
    return Target(task=task, classes=classes, reason=reason, name=name, counts=tuple(int(counts[c]) for c in classes))


def _sort_key(value: Any) -> tuple:
    """Numbers in numeric order, then everything else by its text (mixed labels do not fail)."""
    if isinstance(value, (bool, np.bool_, int, float, np.number)):
        return (0, float(value), "")
    return (1, 0.0, str(value))

