"""Fold models kept between the rungs of successive halving, Hyperband and ASHA, without pickle.

A rung that continues a configuration from the previous rung loads that rung's fold models from
``<results>/_checkpoints/<config_id>-<n_resources>.ckpt``. The results location may be a shared
bucket that others can write to, so nothing read from it is ever unpickled: each fold model is
kept in its library's own format (:meth:`tuner.models.base.ModelAdapter.dump_model`: XGBoost's
UBJSON, LightGBM's model text, CatBoost's ``cbm``, skops for scikit-learn), in a zip that holds::

    manifest.json     {"format": "tuner-checkpoint", "version": 1, "model": ..., "adapter": ...,
                       "n_folds": k, "members": [{"name", "format", "size", "sha256"}, ...]}
    fold-0.<ext> ... fold-<k-1>.<ext>

:func:`load` returns None for anything that is not exactly what :func:`save` wrote: the rung is
then trained from scratch, which gives the same scores, only slower.

Trials write their checkpoints off their critical path (:func:`save_later`): a background thread
of the worker process serialises and uploads them while the trial's record goes back to the
driver. A continuation that arrives before its checkpoint is written waits for it (:func:`load`:
at once for a write in the same process, by polling for up to :data:`WAIT_SECONDS` otherwise).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import time
import uuid
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tuner.models.base import ModelAdapter

__all__ = ["checkpoint_name", "checkpoint_url", "load", "present", "remove", "remove_all", "save", "save_later", "wait_written"]

logger = logging.getLogger(__name__)

FORMAT = "tuner-checkpoint"
VERSION = 1
SUFFIX = ".ckpt"
MANIFEST = "manifest.json"
#: file name extensions of the fold members, by format (for a person who unzips one)
_EXTENSIONS = {"xgboost-ubj": ".ubj", "lightgbm-text": ".txt", "catboost-cbm": ".cbm", "skops": ".skops"}
_MAX_MANIFEST = 1 << 20  #: bytes: a manifest is a few hundred
_unsupported_logged: set[str] = set()
#: seconds a continuation waits for a checkpoint that another worker may still be writing (a
#: write lands milliseconds after its trial's record); a checkpoint gone before the run started
#: (removed when an earlier search finished) is not waited for: that rung trains from scratch
#: (``Search._find_gone_checkpoints``)
WAIT_SECONDS = 5.0

_writer: ThreadPoolExecutor | None = None
_pending: dict[str, Future] = {}  #: url -> its write in this process, until done
_lock = threading.Lock()


class CheckpointRefused(ValueError):
    """A checkpoint file that exists but is not what :func:`save` wrote for this model."""


def checkpoint_url(folder: str, config_id: str, n_resources: int) -> str:
    """Where the fold models of a configuration trained to ``n_resources`` are kept.

    Parameters
    ----------
    folder : str
        URL or path of the checkpoints folder (``<results>/_checkpoints``).
    config_id : str
        The configuration's id (:attr:`tuner.trial.Trial.config_id`), the same for all its rungs.
    n_resources : int
        The budget (boosting rounds) the models were trained to.

    Returns
    -------
    str
        ``<folder>/<config_id>-<n_resources>.ckpt``.
    """
    return f"{folder.rstrip('/')}/{checkpoint_name(config_id, n_resources)}"


def checkpoint_name(config_id: str, n_resources: int) -> str:
    """The file name of :func:`checkpoint_url`, in its folder."""
    return f"{config_id}-{int(n_resources)}{SUFFIX}"


def present(folder: str) -> set[str]:
    """The names of the checkpoint files in ``folder`` now (one listing; none when it is missing or
    cannot be listed: a rung then trains from scratch, as it would without its checkpoint)."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(folder)
        names = fs.ls(path, detail=False)
    except Exception:  # noqa: BLE001 - missing, or unlistable: nothing to continue from
        return set()
    return {str(n).rstrip("/").rsplit("/", 1)[-1] for n in names if str(n).endswith(SUFFIX)}


def _member_name(i: int, fmt: str) -> str:
    return f"fold-{i}{_EXTENSIONS.get(fmt, '.bin')}"


def _pack(adapter: ModelAdapter, blobs: list[bytes]) -> bytes:
    fmt = adapter.model_format or "unknown"
    members: list[dict[str, Any]] = [
        {"name": _member_name(i, fmt), "format": fmt, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
        for i, b in enumerate(blobs)
    ]
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "model": adapter.name,
        "adapter": type(adapter).__name__,
        "n_folds": len(blobs),
        "members": members,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        for member, blob in zip(members, blobs, strict=True):
            zf.writestr(member["name"], blob)
    return buf.getvalue()


def save(url: str, adapter: ModelAdapter, models: list) -> None:
    """Write the fold models of one rung, atomically, in their libraries' own formats.

    Local and mounted filesystems get a temporary name in the same folder and then
    ``os.replace``; object stores get one upload (``pipe_file``), which is atomic there. Where the
    adapter has no format without pickle (``dump_model`` raises ``NotImplementedError``), nothing
    is written and it is logged (a warning once per model and process): later rungs then train
    from scratch.

    Parameters
    ----------
    url : str
        Where to write, from :func:`checkpoint_url`.
    adapter : ModelAdapter
        The adapter that built the models.
    models : list
        The fitted fold models, in fold order.

    Raises
    ------
    Exception
        Whatever serialising or writing raised (an unwritable location, a full disk).
    """
    import fsspec

    try:
        blobs = [bytes(adapter.dump_model(m)) for m in models]
    except NotImplementedError as exc:
        log = logger.debug if adapter.name in _unsupported_logged else logger.warning
        _unsupported_logged.add(adapter.name)
        log("not writing checkpoint %s: %s", url, exc)
        return
    data = _pack(adapter, blobs)
    fs, fpath = fsspec.core.url_to_fs(url)
    parent = fpath.rsplit("/", 1)[0]
    if parent and parent != fpath:
        fs.makedirs(parent, exist_ok=True)
    if type(fs).__name__ == "LocalFileSystem":
        tmp = f"{fpath}.tmp-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, fpath)
        except BaseException:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise
    else:
        fs.pipe_file(fpath, data)


def save_later(url: str | None, adapter: ModelAdapter, models: list, *, replaces: str | None = None) -> None:
    """:func:`save` in this process's background writer thread (then :func:`remove` ``replaces``,
    the checkpoint the models were continued from); returns at once. A failed write is logged:
    the next rung then trains from scratch. Writes still queued when the process exits normally
    are finished first (Python joins the writer thread). ``url`` None: only remove ``replaces``
    (the top rung, which nothing continues)."""
    global _writer
    with _lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tuner-checkpoints")
        future = _writer.submit(_write, url, adapter, models, replaces)
        key = url or f"removing {replaces}"
        _pending[key] = future
    future.add_done_callback(lambda f: _forget(key, f))


def _forget(url: str, future: Future) -> None:
    with _lock:
        if _pending.get(url) is future:
            del _pending[url]


def _write(url: str | None, adapter: ModelAdapter, models: list, replaces: str | None) -> None:
    try:
        if url is not None:
            save(url, adapter, models)
    except Exception:  # unwritable: the next rung trains from scratch, same score
        logger.warning("could not write checkpoint %s", url, exc_info=True)
    if replaces is not None:
        remove(replaces)


def wait_written(url: str | None = None, timeout: float | None = None) -> None:
    """Wait for this process's background write of ``url`` (of every checkpoint: None)."""
    with _lock:
        futures = list(_pending.values()) if url is None else ([_pending[url]] if url in _pending else [])
    for future in futures:
        future.result(timeout)


def _unpack(data: bytes, adapter: ModelAdapter, n_folds: int) -> list[bytes]:
    """The fold members of a checkpoint, after checking it is what :func:`save` wrote."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CheckpointRefused("not a tuner checkpoint (not a zip file)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if MANIFEST not in infos:
                raise CheckpointRefused("no manifest.json")
            if infos[MANIFEST].file_size > _MAX_MANIFEST:
                raise CheckpointRefused("manifest.json is too large")
            try:
                manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise CheckpointRefused(f"manifest.json is not JSON ({exc})") from None
            members = _check_manifest(manifest, adapter, n_folds)
            names = [m["name"] for m in members]
            if set(infos) != {MANIFEST, *names} or len(infos) != len(names) + 1:
                raise CheckpointRefused(f"members {sorted(infos)} are not the manifest's {[MANIFEST, *names]}")
            blobs = []
            for m in members:
                if infos[m["name"]].file_size != m["size"]:
                    raise CheckpointRefused(f"member {m['name']} is not of the manifest's size")
                blob = zf.read(m["name"])  # checks the zip's CRC
                if len(blob) != m["size"] or hashlib.sha256(blob).hexdigest() != m["sha256"]:
                    raise CheckpointRefused(f"member {m['name']} does not match the manifest's sha256")
                blobs.append(blob)
            return blobs
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise CheckpointRefused(f"unreadable zip ({type(exc).__name__}: {exc})") from None


def _check_manifest(manifest: Any, adapter: ModelAdapter, n_folds: int) -> list[dict]:
    if not isinstance(manifest, dict):
        raise CheckpointRefused("manifest.json is not an object")
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise CheckpointRefused(
            f"format {manifest.get('format')!r} version {manifest.get('version')!r}, "
            f"not {FORMAT!r} version {VERSION}"
        )
    if manifest.get("model") != adapter.name or manifest.get("adapter") != type(adapter).__name__:
        raise CheckpointRefused(
            f"written for model {manifest.get('model')!r} ({manifest.get('adapter')}), "
            f"not {adapter.name!r} ({type(adapter).__name__})"
        )
    members = manifest.get("members")
    if manifest.get("n_folds") != n_folds or not isinstance(members, list) or len(members) != n_folds:
        raise CheckpointRefused(f"{manifest.get('n_folds')!r} folds, not {n_folds}")
    for i, m in enumerate(members):
        if not (isinstance(m, dict) and m.get("name") == _member_name(i, adapter.model_format or "unknown")
                and m.get("format") == adapter.model_format and adapter.model_format is not None
                and isinstance(m.get("size"), int) and isinstance(m.get("sha256"), str)):
            raise CheckpointRefused(f"member {i} is not a {adapter.model_format!r} model as save writes it: {m!r}")
    return members


def load(url: str, adapter: ModelAdapter, params: dict, task: str, n_threads: int, seed: int,
         n_folds: int) -> list | None:
    """The fold models :func:`save` wrote, or None: the rung then trains from scratch.

    Never unpickles anything. None, when the file is missing (logged at debug level), and when
    it exists but is refused (logged as a warning naming the path and why): unreadable,
    truncated, not a tuner checkpoint, of another format version, model, adapter or number of
    folds, a member that fails its checksum, or one the adapter's ``load_model`` cannot read or
    refuses (e.g. a skops file naming types outside the estimator's package).

    Parameters
    ----------
    url : str
        From :func:`checkpoint_url`.
    adapter : ModelAdapter
        The adapter of the trial's model.
    params : dict
        The trial's parameters (some adapters build the estimator that receives the model).
    task : str
        ``"regression"`` or ``"classification"``.
    n_threads : int
        Threads of the worker slot.
    seed : int
        The search's seed.
    n_folds : int
        The number of CV folds; a checkpoint of another count is refused.

    Returns
    -------
    list or None
        One model per fold, ready for ``adapter.continue_fit(models[i], ...)``.
    """
    import fsspec

    if adapter.model_format is None:
        return None  # the library has no format without pickle: nothing was written
    wait_written(url, WAIT_SECONDS)
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        fs, fpath = fsspec.core.url_to_fs(url)
        while True:
            try:
                data = fs.cat_file(fpath)
                break
            except FileNotFoundError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)  # another worker may still be writing it (save_later)
                fs.invalidate_cache(fpath)
    except FileNotFoundError:
        logger.debug("no checkpoint %s: training from scratch", url)
        return None
    except Exception as exc:  # an unreachable bucket, a permission: recompute
        logger.warning("refusing checkpoint %s: unreadable (%s: %s); training from scratch",
                       url, type(exc).__name__, _first_line(exc))
        return None
    try:
        blobs = _unpack(data, adapter, n_folds)
        return [adapter.load_model(b, params, task, n_threads, seed) for b in blobs]
    except Exception as exc:  # anything not exactly what save wrote: recompute, never guess
        reason = str(exc) if isinstance(exc, CheckpointRefused) else f"{type(exc).__name__}: {_first_line(exc)}"
        logger.warning("refusing checkpoint %s: %s; training from scratch", url, reason)
        return None


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """A library error's message without the native stack trace some of them append."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else ""


def remove(url: str) -> None:
    """Delete one checkpoint; a missing one is no error.

    Parameters
    ----------
    url : str
        From :func:`checkpoint_url`.
    """
    import fsspec

    fs, fpath = fsspec.core.url_to_fs(url)
    try:
        fs.rm(fpath)
    except (FileNotFoundError, OSError):
        pass


def remove_all(folder: str) -> None:
    """Delete the checkpoints folder and everything in it; a missing one is no error.

    Parameters
    ----------
    folder : str
        URL or path of the checkpoints folder (``<results>/_checkpoints``).
    """
    import fsspec

    fs, path = fsspec.core.url_to_fs(folder)
    try:
        fs.rm(path, recursive=True)
    except (FileNotFoundError, OSError):
        pass
