"""Versions: the client, the scheduler and the workers run the same packages (tuner.versions)."""

from __future__ import annotations

import pytest

from tuner.kubernetes import CHECKED_PACKAGES, VersionMismatchError, check_versions, compare_versions


def _versions(client: dict, scheduler: dict | None = None, **workers: dict) -> dict:
    base = {"python": "3.11.9.final.0", **{p: "1.2.3" for p in CHECKED_PACKAGES if p != "python"}}
    return {
        "client": {"packages": base | client},
        "scheduler": {"packages": base | (scheduler or {})},
        "workers": {addr.replace("_", ":"): {"packages": base | w} for addr, w in workers.items()},
    }


@pytest.mark.parametrize(
    ("versions", "required", "mismatch"),
    [
        (_versions({}, w_1={}), (), None),
        (_versions({"python": "3.11.4.final.0"}, w_1={}), (), None),  # patch releases pickle alike
        (_versions({}, w_1={"python": "3.12.1.final.0"}), (), ("python", "3.11.9.final.0", "3.12.1.final.0", "w:1")),
        (_versions({}, {"distributed": "1.2.4"}), (), ("distributed", "1.2.3", "1.2.4", "scheduler")),
        (_versions({}, {"xgboost": "9"}), (), None),  # the scheduler runs no models
        (_versions({}, w_1={}, w_2={"xgboost": "1.2.4"}), (), ("xgboost", "1.2.3", "1.2.4", "w:2")),
        (_versions({}, w_1={"pandas": "1.2.9"}), (), None),
        (_versions({}, w_1={"pandas": "1.3.0"}), (), ("pandas", "1.2.3", "1.3.0", "w:1")),
        (_versions({}, w_1={"pyarrow": "1.9.0"}), (), None),
        (_versions({}, w_1={"catboost": None}), (), None),  # not used by this search
        (_versions({}, w_1={"catboost": None}), ("catboost",), ("catboost", "1.2.3", None, "w:1")),
        (_versions({}, w_1={"tuner": "1.2.4"}), (), ("tuner", "1.2.3", "1.2.4", "w:1")),
    ],
)
def test_compare_versions(versions, required, mismatch):
    found = compare_versions(versions, required)
    assert found == ([mismatch] if mismatch else [])


def test_version_error_names_package_and_versions():
    class FakeClient:
        def get_versions(self, check, packages):
            assert check is False and "scikit-learn" in packages
            return _versions({}, w_1={"scikit-learn": "1.5.0"})

    with pytest.raises(VersionMismatchError, match=r"scikit-learn: client 1\.2\.3, worker w:1 1\.5\.0") as info:
        check_versions(FakeClient(), models=["sklearn.ensemble.RandomForestRegressor"])
    err = info.value
    assert (err.package, err.client_version, err.other_version, err.where) == ("scikit-learn", "1.2.3", "1.5.0", "w:1")
    assert "requirements.lock" in str(err)
