"""Numba's cache folder when the package's and the user's are read-only; arrays for kernels."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

KERNEL = {"cache": True, "error_model": "numpy", "no_cfunc_wrapper": True}
"""numba's options of every kernel: cached, numpy's arithmetic (``1/0 = inf``), and no wrapper to
pass it as a first-class function (none is; the wrapper is a third of a kernel's code)."""

CALLED_BY_KERNELS = {"no_cpython_wrapper": True}
"""Added for a kernel that only kernels call: no wrapper to call it from Python either. (Some that
one kernel alone calls are ``inline="always"``, compiled only as a part of it, cheaper.)"""


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (made if need be)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def ensure_cache_dir(module_file: str, user_cache: str | None = None) -> str | None:
    """Give numba a cache folder for the kernels of ``module_file`` if it has none.

    ``user_cache``: numba's user-wide cache folder (default: the one numba would use). Returns the
    folder set as ``numba.config.CACHE_DIR``, or ``None`` if numba can cache as it is.
    """
    from numba.core import config

    if config.CACHE_DIR or _writable(Path(module_file).parent / "__pycache__"):
        return None
    if user_cache is None:
        from numba.misc.appdirs import user_cache_dir

        user_cache = user_cache_dir(appname="numba", appauthor=False)
    if _writable(Path(user_cache)):
        return None
    folder = Path(tempfile.gettempdir()) / f"stackelberg-rl-numba-{os.getuid()}"
    config.CACHE_DIR = str(folder)
    return config.CACHE_DIR


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array``: a kernel is compiled once whatever its caller's flags."""
    view = array.view()
    view.flags.writeable = False
    return view
