"""The environments are optional: the package works without their packages, and each module
imported without its package says which extra to install."""

import json
import subprocess
import sys

# In a fresh interpreter with the optional packages made unimportable (a None entry in
# sys.modules is what Python's import system treats as "not installed"): the package and
# stackelberg_rl.envs import and work; each environment module raises an ImportError.
SCRIPT = """
import importlib, json, sys
for name in ("pettingzoo", "gymnasium", "pyspiel", "open_spiel"):
    sys.modules[name] = None
import stackelberg_rl, stackelberg_rl.envs
from stackelberg_rl import games, planning
game = games.make("matrix")
planning.stackelberg_equilibrium(game)
errors = {}
for module in ("pettingzoo", "gymnasium", "openspiel"):
    try:
        importlib.import_module("stackelberg_rl.envs." + module)
    except ImportError as err:
        errors[module] = str(err)
print(json.dumps(errors))
"""


def test_the_package_works_without_the_extras_and_each_module_names_it():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    errors = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(errors) == {"pettingzoo", "gymnasium", "openspiel"}
    for module, package in [
        ("pettingzoo", "pettingzoo"),
        ("gymnasium", "gymnasium"),
        ("openspiel", "open_spiel"),
    ]:
        assert errors[module] == (
            f"stackelberg_rl.envs.{module} needs the {package!r} package, which is not "
            'installed; install the optional extra: pip install "stackelberg-rl[envs]"'
        )


def test_importing_the_package_imports_none_of_them():
    code = (
        "import sys, stackelberg_rl, stackelberg_rl.envs; "
        "print([m for m in ('pettingzoo', 'gymnasium', 'pyspiel', 'open_spiel') "
        "if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
