"""How the engine sizes its tasks (BatchSizer), without a cluster."""

from __future__ import annotations

import pytest

from tuner.engine import BatchSizer


class FakeClient:
    def __init__(self, slots: int):
        self.slots = slots

    def nthreads(self) -> dict[str, int]:
        return {"tcp://worker:1": self.slots}


def sizer(slots: int) -> BatchSizer:
    return BatchSizer(FakeClient(slots), folds=3, window=4 * slots)


def test_tasks_last_the_target_until_the_driver_is_measured():
    s = sizer(1000)
    assert s.task_seconds() == 0.5
    s.observe(units=10, seconds=1.0, remaining=10**6)  # 0.1 s per trial
    assert s.batch_size == 5


@pytest.mark.parametrize(("slots", "expected"), [(8, 0.5), (200, 0.8), (1000, 4.0)])
def test_tasks_grow_with_the_slots_so_the_driver_keeps_up(slots, expected):
    """1 ms of driver CPU per task: the slots' tasks may take at most a quarter of the driver."""
    s = sizer(slots)
    s.observe_driver(cpu_seconds=0.05, tasks=50)
    assert s.task_seconds() == pytest.approx(expected)
    s.observe(units=1, seconds=0.1, remaining=10**7)
    assert s.batch_size == round(expected / 0.1)


def test_batches_leave_two_tasks_per_slot_for_the_end_of_the_search():
    s = sizer(1000)
    s.observe_driver(cpu_seconds=0.05, tasks=50)
    s.observe(units=1, seconds=0.1, remaining=10_000)  # wants 40 trials a task; 10,000 // 2,000 = 5
    assert s.batch_size == 5


def test_long_units_are_split_into_folds_only_near_the_end_and_only_when_long():
    from tuner.trial import Trial

    unit = [Trial("xgboost", {"max_depth": 2}, "t1")]
    s = sizer(100)
    assert s.split(unit, units_left=150)  # nothing measured yet, fewer units than 2 x slots
    assert not s.split(unit, units_left=250)
    s.observe(units=1, seconds=0.2, remaining=150)  # short units: one task each is enough
    assert not s.split(unit, units_left=150)
