"""Your own Python code: estimator classes and factories in modules beside the configuration.

A model key such as ``my_models.churn_pipeline`` is imported from the configuration's folder when
``my_models.py`` (or a package ``my_models/``) is there; more modules or packages can be listed
under the top-level key ``code:`` (paths relative to the configuration). Each of them is shipped to
the workers through Dask (:meth:`distributed.Client.upload_file`, which also reaches workers that
join later), so a cluster whose workers lack them -- a Kubernetes pool started from the stock
image -- imports them all the same.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError


@contextlib.contextmanager
def importable(folders: Sequence[Path]) -> Iterator[None]:
    """``folders`` on ``sys.path`` for the imports inside the block (and only for them)."""
    added = [str(f) for f in folders if str(f) not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for folder in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


def code_paths(values: Any, base_dir: Path | None, key: str = "code") -> tuple[str, ...]:
    """The ``code:`` list: Python modules (``.py``) and package folders, as absolute paths."""
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(key, values, "a list of paths to Python modules (.py) or package folders")
    out = []
    for value in values:
        path = Path(value)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if path.is_file() and path.suffix == ".py":
            out.append(str(path.resolve()))
        elif path.is_dir() and (path / "__init__.py").is_file():
            out.append(str(path.resolve()))
        else:
            raise ConfigError(key, value, "a Python module (.py) or a package folder (with __init__.py)",
                              "no such module or package")
    return tuple(out)


def search_folders(code: Sequence[str], base_dir: Path | None) -> list[Path]:
    """Folders to import from: the configuration's, and those holding the ``code:`` entries."""
    folders = [base_dir] if base_dir is not None else []
    folders += [Path(p).parent for p in code]
    return list(dict.fromkeys(folders))


def module_source(name: str, folders: Sequence[Path]) -> str | None:
    """The file or package folder that model ``name``'s top-level module was imported from, when
    it is one of ``folders`` (what must be shipped to the workers); None for installed packages."""
    module = sys.modules.get(name.split(".")[0])
    origin = getattr(module, "__file__", None)
    if origin is None:
        return None
    origin_path = Path(origin).resolve()
    source = origin_path.parent if origin_path.name == "__init__.py" else origin_path
    for folder in folders:
        if source.parent == Path(folder).resolve():
            return str(source)
    return None


def ship(client: Any, paths: Sequence[str]) -> None:
    """Send modules and packages to every worker, present and future (packages as a zip)."""
    for path in paths:
        if os.path.isdir(path):
            with tempfile.TemporaryDirectory(prefix="tuner-code-") as tmp:
                name = os.path.basename(path.rstrip("/"))
                archive = shutil.make_archive(os.path.join(tmp, name), "zip", root_dir=os.path.dirname(path),
                                              base_dir=name)
                client.upload_file(archive, load=False)
        else:
            client.upload_file(path, load=False)
