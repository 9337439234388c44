"""The package's layers: every import inside ``stackelberg_rl`` points down the stated order."""

import ast
import subprocess
import sys
from pathlib import Path

import stackelberg_rl

ROOT = Path(stackelberg_rl.__file__).parent
ORDER = [
    "games", "planning", "montecarlo", "learners", "agents", "experiments", "equilibria",
    "envs", "sweep", "report", "bench", "cli",
]  # fmt: skip
"""Each part may import those before it (and the private helpers ``_files``, ``_fields``,
``_signals``, ``_jit``, ``_validate``, ``_seeding``, ``_board``, which import only each other);
the package's ``__init__`` and ``__main__`` may import all."""
HELPERS = {"_files", "_fields", "_signals", "_jit", "_validate", "_seeding", "_board"}


def part_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return rel.parts[0]


def is_part(name: str) -> bool:
    return (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file()


def imported_parts(path: Path, text: str | None = None) -> set[str]:
    """The top-level parts of ``stackelberg_rl`` that ``path`` (or ``text`` as if it were
    ``path``) imports, anywhere in it; names the package's ``__init__`` defines (``__version__``)
    are not parts."""
    package = path.relative_to(ROOT).parent.parts
    out = set()
    source = path.read_text() if text is None else text
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module or ""]
            else:
                base = package[: len(package) - (node.level - 1)]
                if node.module:
                    names = [".".join((*base, node.module))]
                else:  # from . import a, b
                    names = [".".join((*base, a.name)) for a in node.names]
                names = ["stackelberg_rl." + n if n else "stackelberg_rl" for n in names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "stackelberg_rl" and len(parts) > 1 and is_part(parts[1]):
                out.add(parts[1])
    return out


def test_every_import_points_down():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        part = part_of(path)
        if part in ("__init__", "__main__"):
            continue
        allowed = set(HELPERS)
        if part in HELPERS:
            allowed = set(HELPERS)
        else:
            assert part in ORDER, f"{path}: part {part!r} is not in the stated order"
            allowed |= set(ORDER[: ORDER.index(part) + 1])
        for other in imported_parts(path) - allowed - {part}:
            wrong.append(f"{path.relative_to(ROOT)} ({part}) imports {other}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_every_form_of_import():
    here = ROOT / "games" / "fake.py"  # never written: the text is given
    assert imported_parts(here, "from ..cli import main") == {"cli"}
    assert imported_parts(here, "from . import base") == {"games"}
    assert imported_parts(here, "from .. import report, __version__") == {"report"}
    assert imported_parts(here, "def f():\n    import stackelberg_rl.sweep.runner") == {"sweep"}
    assert imported_parts(here, "from ...other import x\nimport numpy") == set()


def test_the_ray_boards_module_starts_its_actor_without_numba_or_pandas():
    """Ray's actor process imports the board's module alone: the driver's would bring both."""
    code = "import sys, stackelberg_rl._board; print(sorted({'numba', 'pandas'} & {*sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
