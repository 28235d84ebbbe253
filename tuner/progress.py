"""Live progress of a search: trials done/total, failures, best score so far, ETA.

Uses rich, which draws a live bar in a terminal and in Jupyter; when output is not a terminal
(logs, CI) it prints a line every few seconds instead.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from tuner.metrics import greater_is_better
from tuner.record import TrialRecord


class SearchProgress:
    """Context manager fed one record at a time by the engine."""

    def __init__(self, total: int, metric: str, enabled: bool = True, console: Console | None = None):
        self.total = total
        self.metric = metric
        self.higher = greater_is_better(metric)
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.done = self.failed = self.reused_count = 0
        self.best: float | None = None
        self.best_model = ""
        self._live = enabled and (self.console.is_terminal or self.console.is_jupyter)
        self._progress: Progress | None = None
        self._last_line = 0.0
        self._printed = -1
        self._start = time.monotonic()

    def __enter__(self) -> SearchProgress:
        if self._live:
            self._progress = Progress(
                TextColumn("[bold]trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}"),
                TextColumn("best {task.fields[best]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task("search", total=self.total, failed=0, best="-")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.refresh()  # Jupyter does not redraw on stop: show the final count
            self._progress.stop()
        elif self.enabled and self._printed != self.done:
            self._print_line()

    def _best_text(self) -> str:
        return "-" if self.best is None else f"{self.metric}={self.best:.6g} ({self.best_model})"

    def _print_line(self) -> None:
        elapsed = time.monotonic() - self._start
        fresh = self.done - self.reused_count  # ETA from this run's pace, not from resumed trials
        eta = f"{elapsed / fresh * (self.total - self.done):.0f}s" if fresh > 0 else "-"
        print(
            f"trials {self.done}/{self.total}  failed {self.failed}  best {self._best_text()}  "
            f"elapsed {elapsed:.0f}s  ETA {eta}",
            file=sys.stderr,
            flush=True,
        )
        self._last_line = time.monotonic()
        self._printed = self.done

    def reused(self, record: TrialRecord) -> None:
        """A trial finished by an earlier run: counted and ranked, never printed on its own."""
        self.reused_count += 1
        self.update(record, show=False)

    def finish(self, done: int) -> None:
        """The search is over: the total becomes what was done (small random spaces, failures
        that end a bracket early), so the last line reads N/N."""
        self.total = done
        if self._progress is not None:
            self._progress.update(self._task, total=done)

    def update(self, record: TrialRecord, show: bool = True) -> None:
        self.done += 1
        if not record.is_ok:
            self.failed += 1
        else:
            score = record.mean_test_score
            assert score is not None  # an ok record always has a score
            if self.best is None or (score > self.best if self.higher else score < self.best):
                self.best, self.best_model = score, record.model
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, failed=self.failed, best=self._best_text())
        elif show and self.enabled and time.monotonic() - self._last_line > 5:
            self._print_line()
