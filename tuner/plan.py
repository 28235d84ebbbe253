"""What a search would run, before it runs: :meth:`tuner.Search.plan` returns a :class:`Plan`.

>>> from tuner import Search                                  # doctest: +SKIP
>>> plan = Search("search.yaml").plan()                       # doctest: +SKIP
>>> plan.total_trials, plan.to_run, plan.as_dict()["models"]   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tuner.strategies.hyperband import Bracket


@dataclass(frozen=True)
class ModelPlan:
    """One model's share: trials (budgeted strategies: configurations started), fits, finished."""

    trials: int
    fits: int
    finished: int


@dataclass(frozen=True)
class Plan:
    """Trials and fits per model and in total, and how many the results location already holds.

    For successive halving, Hyperband and ASHA, ``brackets`` lists each rung's configurations and
    rounds; ``total_trials`` then counts rung evaluations at most, and a model's ``trials`` the
    configurations it starts with.
    """

    name: str
    strategy: str
    engine: str
    results: str
    folds: int
    models: dict[str, ModelPlan]
    total_trials: int
    total_fits: int
    finished_trials: int
    brackets: list[Bracket] | None = field(default=None)
    data: dict = field(default_factory=dict)  #: what the data become (Search.data_summary)
    spend: dict | None = None  #: rounds and fits to train (Search.spend), before any budget
    budget: dict | None = None  #: search.budget
    data_lines: list[str] = field(default_factory=list)
    rows_budget: bool = False  #: search.resource rows: rungs train afresh on a share (percent) of the rows

    @property
    def to_run(self) -> int:
        return max(0, self.total_trials - self.finished_trials)

    @property
    def budgeted(self) -> bool:
        return self.brackets is not None

    @property
    def total_resources(self) -> int | None:
        """Rounds per fold if every rung trained from scratch."""
        if self.brackets is None:
            return None
        return sum(r.n_configs * r.n_resources for b in self.brackets for r in b.rungs)

    @property
    def continued_resources(self) -> int | None:
        """Rounds per fold with continued training: a promoted configuration trains only the rounds
        it adds to its previous rung."""
        if self.brackets is None:
            return None
        total = 0
        for b in self.brackets:
            previous = 0
            for r in b.rungs:
                total += r.n_configs * (r.n_resources - previous)
                previous = r.n_resources
        return total

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (``tuner plan --json``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "strategy": self.strategy,
            "engine": self.engine,
            "results": self.results,
            "folds": self.folds,
            "models": {m: asdict(p) for m, p in self.models.items()},
            "total_trials": self.total_trials,
            "total_fits": self.total_fits,
            "finished_trials": self.finished_trials,
            "to_run": self.to_run,
            "data": self.data,
            "spend": self.spend,
            "budget": self.budget,
        }
        if self.brackets is not None:
            out["brackets"] = [
                {"bracket": b.bracket, "rungs": [{"n_configs": r.n_configs, "n_resources": r.n_resources} for r in b.rungs]}
                for b in self.brackets
            ]
            out["total_resources"] = self.total_resources
            out["continued_resources"] = self.continued_resources
        return out

    def __getitem__(self, key: str) -> Any:
        """``plan["total_trials"]``: the keys of :meth:`as_dict`."""
        return self.as_dict()[key]

    def lines(self) -> list[str]:
        """The plan as text (``tuner plan``)."""
        what = "configurations" if self.budgeted else "trials"
        out = [
            f"search '{self.name}': strategy {self.strategy}, engine {self.engine}, {self.folds}-fold CV",
            f"results: {self.results}",
            *self.data_lines,
        ]
        width = max([len(m) for m in self.models] + [5])
        shared = (self.spend or {}).get("models", {})
        for model, m in self.models.items():
            after = shared.get(model)
            extra = f" ({after['fits']:,} after sharing rounds, {after['rounds']:,} rounds)" if after else ""
            out.append(f"  {model:<{width}} {m.trials:>9,} {what:<14} {m.fits:>10,} fits{extra}  {m.finished:,} finished")
        if self.brackets is not None:
            for b in self.brackets:
                rungs = ", ".join(f"{r.n_configs} x {r.n_resources}{'%' if self.rows_budget else ''}" for r in b.rungs)
                unit = "share of the rows" if self.rows_budget else "rounds"
                out.append(f"  bracket {b.bracket}: configurations x {unit} per rung: {rungs}")
            if not self.rows_budget:
                out.append(f"rounds per fold: {self.continued_resources:,} with continued training "
                           f"({self.total_resources:,} if every rung trained from scratch)")
        if self.spend is not None:
            out.append(f"to train: {self.spend['rounds']:,} boosting rounds in {self.spend['fits']:,} fits "
                       "(summed over folds; shared fits and continued rungs counted once)")
        if self.budget:
            limits = ", ".join(f"{v:,} {k}" for k, v in self.budget.items())
            out.append(f"budget: {limits}; no trial is asked for once it is spent")
        total = "rung trials at most" if self.budgeted else _plural(self.total_trials, "trial")
        out.append(f"total: {self.total_trials:,} {total}, {self.total_fits:,} fits, "
                   f"{self.finished_trials:,} finished, {self.to_run:,} to run")
        return out


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
