"""Checkpoints between rungs: the libraries' own formats, exact continuation, and nothing unpickled."""

from __future__ import annotations

import collections
import copy
import hashlib
import io
import json
import logging
import os
import pickle
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression
from sklearn.model_selection import KFold

from tests.support.payloads import ShellPayload
from tuner import checkpoints
from tuner.models import get_adapter
from tuner.models.base import ModelAdapter

HGB = "sklearn.ensemble.HistGradientBoostingRegressor"
GB = "sklearn.ensemble.GradientBoostingRegressor"
#: model -> parameters without row or column subsampling (continuation is then exact)
MODELS = {
    "xgboost": {"max_depth": 3, "learning_rate": 0.3},
    "lightgbm": {"num_leaves": 7, "learning_rate": 0.3},
    "catboost": {"depth": 3, "learning_rate": 0.3},  # learning_rate set: else derived from iterations
    HGB: {"max_leaf_nodes": 7, "early_stopping": False},
    GB: {"max_depth": 2},
}
FIRST, EXTRA = 5, 4


def _data():
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return X, y, list(KFold(2, shuffle=True, random_state=0).split(X))


def _params(model: str, n: int) -> dict:
    return {**MODELS[model], get_adapter(model).rounds_param: n}


def _fit_folds(model: str):
    adapter = get_adapter(model)
    X, y, splits = _data()
    models = [adapter.make(_params(model, FIRST), "regression", 1, 0).fit(X.iloc[tr], y[tr]) for tr, _ in splits]
    return adapter, models


def _load(url: str, model: str, n_folds: int = 2):
    return checkpoints.load(url, get_adapter(model), _params(model, FIRST + EXTRA), "regression", 1, 0, n_folds)


@pytest.fixture
def saved(tmp_path, request):
    """(url, model) of a checkpoint of 2 folds saved for ``request.param``."""
    model = request.param
    adapter, models = _fit_folds(model)
    url = checkpoints.checkpoint_url(str(tmp_path / "_checkpoints"), "cfg", FIRST)
    checkpoints.save(url, adapter, models)
    return url, model


# -- format and exact continuation ---------------------------------------------------------------


def test_checkpoint_url():
    assert checkpoints.checkpoint_url("s3://b/res/_checkpoints/", "abc", 30) == "s3://b/res/_checkpoints/abc-30.ckpt"


@pytest.mark.parametrize("model", list(MODELS))
def test_saved_models_continue_exactly_as_in_memory(tmp_path, model):
    adapter, models = _fit_folds(model)
    url = checkpoints.checkpoint_url(str(tmp_path / "ckpt"), "cfg", FIRST)
    checkpoints.save(url, adapter, models)
    assert os.listdir(tmp_path / "ckpt") == ["cfg-5.ckpt"]  # no temporary file left behind
    with zipfile.ZipFile(url) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["model"] == model and manifest["n_folds"] == 2
        assert {m["format"] for m in manifest["members"]} == {adapter.model_format}
        for m in manifest["members"]:  # the library's own bytes, not a pickle
            assert not zf.read(m["name"]).startswith(b"\x80")
    loaded = _load(url, model)
    assert loaded is not None and len(loaded) == 2
    X, y, splits = _data()
    params = _params(model, FIRST + EXTRA)
    for i, (train, test) in enumerate(splits):
        from_file = adapter.continue_fit(loaded[i], params, "regression", 1, 0, X.iloc[train], y[train], EXTRA)
        # CatBoost's just-fitted model keeps training state that no saved model holds (not its
        # cbm file, nor the pickle earlier checkpoints used), and only its first continuation
        # uses it; the model as CatBoost copies it is what any checkpoint can give.
        previous = copy.deepcopy(models[i]) if model == "catboost" else models[i]
        in_memory = adapter.continue_fit(previous, params, "regression", 1, 0, X.iloc[train], y[train], EXTRA)
        assert adapter.n_resources(from_file) == adapter.n_resources(in_memory)
        np.testing.assert_array_equal(from_file.predict(X.iloc[test]), in_memory.predict(X.iloc[test]))


def test_object_store_is_one_upload():
    fsspec = pytest.importorskip("fsspec")
    adapter, models = _fit_folds("xgboost")
    url = checkpoints.checkpoint_url("memory://tuner-test-ckpt", "cfg", FIRST)
    try:
        checkpoints.save(url, adapter, models)
        assert [p.rsplit("/", 1)[-1] for p in fsspec.filesystem("memory").ls("/tuner-test-ckpt", detail=False)] == [
            "cfg-5.ckpt"]
        assert _load(url, "xgboost") is not None
        checkpoints.remove_all("memory://tuner-test-ckpt")
        assert _load(url, "xgboost") is None
    finally:
        checkpoints.remove_all("memory://tuner-test-ckpt")


def test_adapter_without_format_writes_nothing(tmp_path, caplog):
    class Plain(ModelAdapter):
        name = "plain-for-test"

    url = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        checkpoints.save(url, Plain(), [object(), object()])
    assert not os.path.exists(url)
    assert "no checkpoint format without pickle" in caplog.text
    assert checkpoints.load(url, Plain(), {}, "regression", 1, 0, 2) is None


# -- written off the trial's critical path ------------------------------------------------------


def test_a_checkpoint_is_written_in_the_background_and_its_continuation_waits_for_it(tmp_path, monkeypatch):
    adapter, models = _fit_folds("xgboost")
    release = threading.Event()
    dump = adapter.dump_model
    monkeypatch.setattr(adapter, "dump_model", lambda m: (release.wait(30), dump(m))[1])
    url = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    checkpoints.save_later(url, adapter, models)
    assert not os.path.exists(url)  # save_later returned with the write still to do
    threading.Timer(0.3, release.set).start()
    loaded = _load(url, "xgboost")  # waits for this process's write
    assert loaded is not None and len(loaded) == 2


def test_a_continuation_waits_for_a_checkpoint_another_worker_is_still_writing(tmp_path):
    adapter, models = _fit_folds("xgboost")
    url = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    threading.Timer(0.5, checkpoints.save, args=(url, adapter, models)).start()  # not this process's write
    loaded = _load(url, "xgboost")
    assert loaded is not None and len(loaded) == 2


def test_the_checkpoint_continued_from_is_removed_once_the_next_one_is_written(tmp_path):
    adapter, models = _fit_folds("xgboost")
    first = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    checkpoints.save(first, adapter, models)
    second = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST + EXTRA)
    checkpoints.save_later(second, adapter, models, replaces=first)
    checkpoints.wait_written()
    assert os.path.exists(second) and not os.path.exists(first)


# -- refused files: None, and a warning naming the path ------------------------------------------


def test_missing_file_is_none_without_warning(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(checkpoints, "WAIT_SECONDS", 0.2)  # no other worker is writing it
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        assert _load(str(tmp_path / "nope" / "cfg-5.ckpt"), "xgboost") is None
    assert caplog.records == []


@pytest.mark.parametrize("saved", list(MODELS), indirect=True)
def test_truncated_file_is_none(saved, caplog):
    url, model = saved
    data = Path(url).read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        Path(url).write_bytes(data[:cut])
        with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
            assert _load(url, model) is None
    assert url in caplog.text and "refusing checkpoint" in caplog.text


@pytest.mark.parametrize("saved", ["xgboost"], indirect=True)
def test_file_of_another_model_is_none(saved, caplog):
    url, _ = saved
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        assert _load(url, "lightgbm") is None
    assert url in caplog.text and "'xgboost'" in caplog.text
    assert _load(url, "xgboost") is not None


@pytest.mark.parametrize("saved", [HGB], indirect=True)
def test_file_of_another_sklearn_class_is_none(saved):
    url, _ = saved
    assert _load(url, GB) is None


@pytest.mark.parametrize("saved", ["lightgbm", GB], indirect=True)
def test_wrong_fold_count_is_none(saved, caplog):
    url, model = saved
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        assert _load(url, model, n_folds=3) is None
    assert "folds" in caplog.text


def _rewrite(url: str, edit) -> None:
    """Rewrite a checkpoint's members through ``edit(dict name -> bytes)``."""
    with zipfile.ZipFile(url) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    edit(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    Path(url).write_bytes(buf.getvalue())


@pytest.mark.parametrize("saved", ["xgboost"], indirect=True)
def test_tampered_checkpoint_is_none(saved):
    url, model = saved
    original = Path(url).read_bytes()

    def flip_byte(m):
        m["fold-1.ubj"] = m["fold-1.ubj"][:-1] + bytes([m["fold-1.ubj"][-1] ^ 1])

    def extra_member(m):
        m["extra.pkl"] = b"x"

    def other_version(m):
        manifest = json.loads(m["manifest.json"])
        m["manifest.json"] = json.dumps({**manifest, "version": 99}).encode()

    def not_json(m):
        m["manifest.json"] = b"\x80\x04not json"

    for edit in (flip_byte, extra_member, other_version, not_json):
        Path(url).write_bytes(original)
        _rewrite(url, edit)
        assert _load(url, model) is None, edit.__name__
    Path(url).write_bytes(original)
    assert _load(url, model) is not None


# -- nothing from a results location is ever unpickled or imported -------------------------------

_MARKER: list[str] = []  #: where the payloads below write, set by each test


def _write_marker(path: str) -> list:
    Path(path).write_text("pwned")
    return []


class Payload:
    """Unpickling this writes a marker file (what a hostile checkpoint would do instead)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return _write_marker, (self.marker,)


class HostileDict(collections.OrderedDict):
    """Not a scikit-learn type: constructing it (as skops would to load it) writes the marker."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for path in _MARKER:
            Path(path).write_text("pwned")


def test_payloads_are_live(tmp_path):
    """The payloads do run when unpickled: the tests below would see it."""
    pickle.loads(pickle.dumps(Payload(tmp_path / "a")))
    pickle.loads(pickle.dumps(ShellPayload(tmp_path / "b")))
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()


@pytest.mark.parametrize("payload", [Payload, ShellPayload])
@pytest.mark.parametrize("model", list(MODELS))
def test_checkpoint_replaced_by_a_pickle_is_never_unpickled(tmp_path, model, payload, caplog):
    marker = tmp_path / "pwned"
    url = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    Path(url).write_bytes(pickle.dumps([payload(marker), payload(marker)]))
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        assert _load(url, model) is None
    assert not marker.exists()
    assert url in caplog.text and "not a zip" in caplog.text


def _valid_zip(url: str, model: str, blobs: list[bytes]) -> None:
    """A container exactly as ``save`` writes one for ``model``, holding ``blobs``."""
    adapter = get_adapter(model)
    names = [f"fold-{i}{checkpoints._EXTENSIONS[adapter.model_format]}" for i in range(len(blobs))]
    manifest = {
        "format": checkpoints.FORMAT, "version": checkpoints.VERSION, "model": adapter.name,
        "adapter": type(adapter).__name__, "n_folds": len(blobs),
        "members": [{"name": n, "format": adapter.model_format, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                    for n, b in zip(names, blobs, strict=True)],
    }
    with zipfile.ZipFile(url, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for n, b in zip(names, blobs, strict=True):
            zf.writestr(n, b)


@pytest.mark.parametrize("model", list(MODELS))
def test_pickle_inside_a_valid_looking_container_is_never_unpickled(tmp_path, model, caplog):
    marker = tmp_path / "pwned"
    url = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    blob = pickle.dumps(Payload(marker))
    _valid_zip(url, model, [blob, blob])
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        assert _load(url, model) is None
    assert not marker.exists()
    assert url in caplog.text


@pytest.mark.parametrize("model", [HGB, GB])
def test_skops_file_with_a_type_outside_the_estimator_package_is_refused(tmp_path, model, monkeypatch, caplog):
    sio = pytest.importorskip("skops.io")
    marker = tmp_path / "pwned"
    monkeypatch.setattr(f"{__name__}._MARKER", [str(marker)])
    _, models = _fit_folds(model)
    for m in models:
        m.hostile_ = HostileDict(a=1)
    blobs = [sio.dumps(m) for m in models]
    marker.unlink(missing_ok=True)  # written while building the payload
    hostile = f"{__name__}.HostileDict"
    assert hostile in sio.get_untrusted_types(data=blobs[0])
    url = checkpoints.checkpoint_url(str(tmp_path), "cfg", FIRST)
    _valid_zip(url, model, blobs)
    with caplog.at_level(logging.WARNING, logger="tuner.checkpoints"):
        assert _load(url, model) is None
    assert not marker.exists()
    assert url in caplog.text and "HostileDict" in caplog.text
    # it is the refusal that kept the marker away: skops told to trust the type would build it
    sio.loads(blobs[0], trusted=sio.get_untrusted_types(data=blobs[0]))
    assert marker.exists()


def test_skops_types_trusted_only_as_classes_of_the_estimator_package():
    adapter = get_adapter(HGB)
    assert adapter._trusted_type("sklearn.tree._tree.Tree")
    assert adapter._trusted_type("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor")
    for name in ("builtins.eval", "os.system", "numpy.memmap", "numpy.load",
                 "sklearn.base.clone",  # a function, not a class
                 "sklearn.utils.Bunch",  # a re-export: skops names classes by their own module
                 "sklearn.utils._testing.TempMemmap",  # test helpers are no part of a model
                 "sklearn.nonexistent_module.Tree", "sklearn", "", "tests.unit.test_checkpoints.HostileDict"):
        assert not adapter._trusted_type(name), name


# -- removal ----------------------------------------------------------------------------------------


def test_remove_and_remove_all_ignore_missing_paths(tmp_path):
    folder = tmp_path / "_checkpoints"
    checkpoints.remove(checkpoints.checkpoint_url(str(folder), "cfg", 5))
    checkpoints.remove_all(str(folder))
    adapter, models = _fit_folds("lightgbm")
    for n in (5, 10):
        checkpoints.save(checkpoints.checkpoint_url(str(folder), "cfg", n), adapter, models)
    checkpoints.remove(checkpoints.checkpoint_url(str(folder), "cfg", 5))
    assert os.listdir(folder) == ["cfg-10.ckpt"]
    checkpoints.remove(checkpoints.checkpoint_url(str(folder), "cfg", 5))
    checkpoints.remove_all(str(folder))
    assert not folder.exists()
    checkpoints.remove_all(str(folder))
