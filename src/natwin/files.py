"""Writing files safely, and values made ready for JSON.

Every file natwin writes (results.json, workbooks, the HTML report, CSV exports, study
documents) goes through :func:`atomic_write`: the content is written to a temporary file in the
target directory and renamed into place, so an interrupted run never leaves a half-written file
over an earlier good one.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, writer: Callable[[Path], object]) -> Path:
    """Write ``path`` by calling ``writer(tmp)`` on a temporary file, then renaming it into place.

    Missing parent directories are created. The file gets the usual mode (0666 less the
    umask; ``mkstemp`` alone would leave it 0600). If ``writer`` raises, the temporary file is
    removed and the previous file at ``path``, if any, is left untouched.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a.txt", lambda tmp: tmp.write_text("done")).read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as Python values, dates as ISO strings and
    non-finite floats as None.

    >>> import numpy as np
    >>> jsonable({"a": np.array([1.0, np.nan]), "b": (np.float64(2.5),)})
    {'a': [1.0, None], 'b': [2.5]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
