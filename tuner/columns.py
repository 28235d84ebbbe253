"""What a table's columns become for the models, decided once from the whole data.

:func:`profile` looks at a table (every row) and the ``data`` section's choices and returns a
:class:`Columns`: the features used, which of them are categorical (with their levels), which are
dates, and which columns are left out and why. :meth:`Columns.prepare` then turns any rows of
that table -- a worker's copy of the data, or new rows given to the best model -- into the
frame every model is trained on:

- numbers stay numbers (missing values stay missing: NaN);
- categorical columns become pandas ``category`` columns whose levels are fixed from the whole
  data, so that every CV fold, the refit and later predictions share the same codes; a level
  never seen becomes missing instead of failing;
- date columns become numeric parts: ``<name>_year``, ``_month``, ``_day``, ``_day_of_week``,
  ``_day_of_year`` and ``_days`` (days since the earliest date of the data).

How each library is then given the categorical columns is the model adapters' part
(:meth:`tuner.models.base.ModelAdapter.data_params` and ``model_input``).

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"id": ["a", "b", "c"], "city": ["Lyon", None, "Nice"], "x": [1.0, 2.0, None]})
>>> cols = profile(frame)
>>> cols.features, cols.levels, cols.dropped
(('city', 'x'), {'city': ('Lyon', 'Nice')}, (('id', 'identifier: a distinct text value in every row'),))
>>> cols.prepare(frame)["city"].tolist()
['Lyon', nan, 'Nice']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

from tuner.errors import ConfigError

DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year")
IDENTIFIER = "identifier: a distinct text value in every row"
INDEX = "an unnamed index column"
DROPPED = "named in data.drop"
NOT_LISTED = "not in data.features"
DATES_DROPPED = "a date (data.dates: drop)"
#: text columns are taken for dates ("auto") when their values are written like 2024-03-01
DATE_SAMPLE = 1000


@dataclass(frozen=True)
class Columns:
    """The columns of a table as the models see them. Build it with :func:`profile`."""

    features: tuple[str, ...]  #: the table's columns used, in the table's order
    categorical: tuple[tuple[str, tuple[str, ...]], ...] = ()  #: (column, its levels)
    dates: tuple[tuple[str, str], ...] = ()  #: (column, the earliest date, ISO format)
    dropped: tuple[tuple[str, str], ...] = ()  #: (column, why it is not a feature)
    missing: tuple[str, ...] = ()  #: features with missing values

    @property
    def levels(self) -> dict[str, tuple[str, ...]]:
        return dict(self.categorical)

    @property
    def date_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.dates)

    @property
    def model_columns(self) -> list[str]:
        """The prepared frame's columns: features, with each date split into its parts."""
        dates = self.date_columns
        out: list[str] = []
        for name in self.features:
            out.extend([f"{name}_{p}" for p in (*DATE_PARTS, "days")] if name in dates else [name])
        return out

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows of the table (any columns besides the features are ignored) as the models see them.

        Raises
        ------
        ValueError
            Naming the features the rows lack.
        """
        absent = [name for name in self.features if name not in frame.columns]
        if absent:
            raise ValueError(f"the rows lack the feature column(s) {', '.join(map(repr, absent))}")
        out: dict[str, pd.Series] = {}
        for name in self.features:
            out.update(self.prepare_column(name, frame[name]))
        return pd.DataFrame(out, index=frame.index, copy=False)

    def prepare_column(self, name: str, values: pd.Series) -> dict[str, pd.Series]:
        """One feature column as the models see it (a date: its parts)."""
        levels, earliest = self.levels, dict(self.dates)
        if name in levels:
            return {name: as_category(values, levels[name])}
        if name in earliest:
            return date_parts(name, values, pd.Timestamp(earliest[name]))
        if is_numeric_dtype(values) and not is_bool_dtype(values):
            return {name: values}
        # booleans (and numbers read as text) the configuration keeps as numbers
        return {name: pd.to_numeric(values.astype("float64"), errors="coerce")}

    def lines(self) -> list[str]:
        """What is used and what is not, for ``tuner validate`` and ``tuner plan``."""
        out = [f"features: {len(self.features)} ({', '.join(_short(list(self.features)))})"]
        if self.categorical:
            out.append("categorical: " + ", ".join(f"{n} ({len(lv)} levels)" for n, lv in self.categorical))
        if self.dates:
            out.append("dates: " + ", ".join(f"{n} (from {d[:10]})" for n, d in self.dates))
        if self.missing:
            out.append("missing values in: " + ", ".join(_short(list(self.missing))))
        for name, why in self.dropped:
            out.append(f"not used: {name} ({why})")
        return out

    def as_dict(self) -> dict:
        return {
            "features": list(self.features),
            "categorical": {n: len(lv) for n, lv in self.categorical},
            "dates": [n for n, _ in self.dates],
            "dropped": {n: why for n, why in self.dropped},
            "missing": list(self.missing),
        }


def _short(names: list[str], n: int = 8) -> list[str]:
    return names if len(names) <= n else [*names[:n], f"... {len(names) - n} more"]


# -- turning values into model input ---------------------------------------------------------


def as_text(values: pd.Series) -> pd.Series:
    """Values as the text of their levels; missing stays missing. Whole numbers read as floats
    (a column of integers with gaps, in CSV) are written without ``.0`` so ``94110.0`` and
    ``94110`` are one level."""
    if is_bool_dtype(values) or values.dtype == object and values.map(type).eq(bool).all():
        return values.astype("string")
    if is_numeric_dtype(values):
        numbers = values.astype("float64")
        whole = numbers.dropna()
        if (whole == np.round(whole)).all():
            return numbers.astype("Int64").astype("string")
        return numbers.astype("string")
    if isinstance(values.dtype, pd.CategoricalDtype):
        return as_text(pd.Series(np.asarray(values.astype(object)), index=values.index))
    return values.astype("string")


def as_category(values: pd.Series, levels: Sequence[str]) -> pd.Series:
    """A pandas ``category`` column with exactly ``levels``; other values become missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # read as a dictionary: recode the levels only
        names = as_text(pd.Series(values.cat.categories))
        if names.notna().all() and names.is_unique:
            renamed = values.cat.rename_categories(list(names))
            return renamed.cat.set_categories(list(levels))  # other levels: missing
    text = as_text(values)
    text = text.where(text.isin(levels))  # a level never seen: missing
    return pd.Series(pd.Categorical(text, categories=list(levels)), index=values.index)


def as_dates(values: pd.Series) -> pd.Series:
    """Datetimes (timezone-aware ones in UTC, without zone); what does not parse is missing."""
    if is_datetime64_any_dtype(values):
        dates = values
    else:
        dates = pd.to_datetime(values.astype("string"), errors="coerce", format="mixed", utc=True)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return dates


def date_parts(name: str, values: pd.Series, earliest: pd.Timestamp) -> dict[str, pd.Series]:
    dates = as_dates(values)
    parts = {f"{name}_{p}": getattr(dates.dt, p).astype("float64") for p in DATE_PARTS}
    parts[f"{name}_days"] = (dates - earliest).dt.total_seconds() / 86400.0
    return parts


# -- deciding, from the whole data -----------------------------------------------------------


def _is_text(values: pd.Series) -> bool:
    return not is_numeric_dtype(values) and not is_datetime64_any_dtype(values) and not isinstance(
        values.dtype, pd.CategoricalDtype)


def _looks_like_dates(values: pd.Series) -> bool:
    """Text written as ISO 8601 dates (2024-03-01, 2024-03-01T10:00): every sampled value parses."""
    sample = values.dropna().astype("string")
    sample = sample.iloc[:DATE_SAMPLE]
    if sample.empty or not sample.str.contains(r"^\d{4}-\d{2}-\d{2}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="ISO8601", utc=True)
    return bool(parsed.notna().all())


def _is_unnamed_index(name: str) -> bool:
    return name.startswith("Unnamed: ") or name in ("__index_level_0__", "index", "")


def profile(
    frame: pd.DataFrame,
    drop: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    categorical: str | Sequence[str] = "auto",
    dates: str | Sequence[str] = "auto",
) -> Columns:
    """Decide the columns of ``frame`` (the whole table, target excluded).

    Parameters
    ----------
    frame
        Every row of the table, without the target column.
    drop, features
        ``data.drop`` (columns left out) or ``data.features`` (the only columns used); not both.
        Without ``features``, identifiers (a text column with a distinct value in every row) and
        unnamed index columns (``Unnamed: 0``) are left out, and this is said in ``dropped``.
    categorical
        ``"auto"``: text, pandas ``category`` and boolean columns; or the list of columns.
    dates
        ``"auto"``: datetime columns and text columns written as ISO 8601 dates; a list of
        columns; or ``"drop"`` to leave date columns out.

    Raises
    ------
    tuner.errors.ConfigError
        Naming the ``data.*`` key and the column, for names that are no column of the table, a
        text column that is neither categorical nor a date, and a table left without features.
    """
    names = [str(c) for c in frame.columns]
    for key, listed in (("data.drop", drop), ("data.features", features),
                        ("data.categorical", None if isinstance(categorical, str) else categorical),
                        ("data.dates", None if isinstance(dates, str) else dates)):
        for name in listed or ():
            if name not in names:
                raise ConfigError(key, name, "a column of the data: " + ", ".join(_short(names, 20)))
    def is_date(name: str) -> bool:
        values = frame[name]
        if not isinstance(dates, str):
            return name in dates
        return is_datetime64_any_dtype(values) or (_is_text(values) and _looks_like_dates(values))

    dropped: list[tuple[str, str]] = []
    if features is not None:
        used = [n for n in names if n in set(features)]
        dropped += [(n, NOT_LISTED) for n in names if n not in set(features)]
    else:
        used = []
        for name in names:
            values = frame[name]
            if drop is not None and name in drop:
                dropped.append((name, DROPPED))
            elif _is_unnamed_index(name):
                dropped.append((name, INDEX))
            elif (_is_text(values) and len(values) > 1 and values.notna().all() and values.is_unique
                  and not is_date(name)):
                dropped.append((name, IDENTIFIER))
            else:
                used.append(name)

    date_cols = [name for name in used if is_date(name)]
    if dates == "drop":
        dropped += [(n, DATES_DROPPED) for n in date_cols]
        used = [n for n in used if n not in date_cols]
        date_cols = []

    cat_cols: list[str] = []
    for name in used:
        if name in date_cols:
            continue
        values = frame[name]
        if isinstance(categorical, str):
            if _is_text(values) or is_bool_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
                cat_cols.append(name)
        elif name in categorical:
            cat_cols.append(name)
        elif _is_text(values):
            raise ConfigError("data.categorical", list(categorical),
                              f"a list naming every text column used; column {name!r} holds text "
                              "(add it, drop it with data.drop, or set data.categorical: auto)")
    if not used:
        raise ConfigError("data", [n for n, _ in dropped] or names, "a table with at least one feature column",
                          "every column was left out: " + "; ".join(f"{n}: {w}" for n, w in dropped))

    categorical_levels = []
    for name in cat_cols:
        text = as_text(frame[name])
        levels = tuple(sorted(str(v) for v in text.dropna().unique()))
        categorical_levels.append((name, levels))
    date_starts = []
    for name in date_cols:
        parsed = as_dates(frame[name])
        if parsed.notna().sum() == 0:
            raise ConfigError("data.dates", name, "a column of dates", "no value of it parses as a date")
        date_starts.append((name, parsed.min().isoformat()))
    missing = tuple(n for n in used if frame[n].isna().any())
    return Columns(
        features=tuple(used),
        categorical=tuple(categorical_levels),
        dates=tuple(date_starts),
        dropped=tuple(dropped),
        missing=missing,
    )
