"""Run folders on disk: the manifest, atomic writes, versions and commit, reading a run back.

A run folder holds::

    results.parquet   one row per (seed, episode), the columns of :data:`~.loop.COLUMNS`
    manifest.json     the configuration, every resolved α, β, λ, the game, versions, git commit
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_FILE = "results.parquet"
MANIFEST_FILE = "manifest.json"


def _json_number(x: float) -> float | str:
    """JSON has no infinities: ``inf`` is written as the string ``"inf"``."""
    return "inf" if x == math.inf else x


def _jsonable(obj):
    """``obj`` with every infinite float written as ``"inf"`` (recursively)."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return _json_number(obj)
    return obj


def _git(*args: str) -> str | None:
    """Output of ``git ARGS`` in the repository holding this package, or ``None``."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _git_state() -> dict:
    """``commit`` (``git rev-parse HEAD``) and ``dirty`` (uncommitted changes), or ``None``s."""
    commit = _git("rev-parse", "HEAD") or None
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def _versions() -> dict:
    import matplotlib
    import numba
    import pyarrow
    import scipy

    from .. import __version__

    return {
        "stackelberg_rl": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "pyarrow": pyarrow.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()) and not overwrite:
            raise FileExistsError(f"{out_dir} is not empty; pass overwrite=True (--overwrite)")


def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """The results table and the manifest of a run folder."""
    run_dir = Path(run_dir)
    results, manifest = run_dir / RESULTS_FILE, run_dir / MANIFEST_FILE
    if not results.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {RESULTS_FILE}")
    meta = json.loads(manifest.read_text()) if manifest.is_file() else {}
    return pd.read_parquet(results), meta
