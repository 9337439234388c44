"""numba's cache folder when the package's folder and the user's cache cannot be written."""

from pathlib import Path

from numba import njit
from numba.core import config

from stackelberg_rl import _jit


def test_a_writable_package_folder_keeps_numbas_own_cache(tmp_path):
    module = tmp_path / "kernels.py"
    assert _jit.ensure_cache_dir(str(module), user_cache="/proc/no-such-cache") is None
    assert (tmp_path / "__pycache__").is_dir()
    assert not config.CACHE_DIR


def test_a_writable_user_cache_is_numbas_fallback(tmp_path):
    # /proc cannot be written, even by root: the package folder is read-only there.
    assert _jit.ensure_cache_dir("/proc/pkg/kernels.py", user_cache=str(tmp_path)) is None
    assert not config.CACHE_DIR


def test_nowhere_writable_points_numba_at_the_temporary_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CACHE_DIR", "")
    monkeypatch.setattr(_jit.tempfile, "gettempdir", lambda: str(tmp_path))
    folder = _jit.ensure_cache_dir("/proc/pkg/kernels.py", user_cache="/proc/no-such-cache")
    assert folder == config.CACHE_DIR
    assert Path(folder).parent == tmp_path and Path(folder).name.startswith("stackelberg-rl-numba-")

    @njit(cache=True)
    def twice(x):  # cached through the folder set: defining and calling it works
        return 2 * x

    assert twice(21) == 42
    assert any(Path(folder).rglob("*.nbi"))  # the kernel's cache index went there


def test_every_finite_game_hands_the_compiled_step_arrays_of_one_numba_type():
    """Read-only views, whatever the game holds (a matrix game's rewards are read-only, a random
    game's are not): the step and the episode loop are compiled once per number of players."""
    import numba

    from stackelberg_rl import games

    kinds = {
        numba.typeof(tuple(games.make(name).step_arrays())) for name in games.names()
        if name != "continuous"
    }  # fmt: skip
    assert len(kinds) == 1
