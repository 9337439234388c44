"""How the suite starts: the kernels compiled once, then the files with slow tests first.

Before xdist starts its workers, two processes compile the learner's kernels into numba's cache
(one per cache dtype, ``_compile_kernels.py``). Otherwise the tests that start runs in their own
processes, which come first, each compile the same kernels on a cold cache at the same time.

xdist hands out whole files (``--dist loadfile``) in this order (``--no-loadscope-reorder``).
A long file handed out last keeps one core busy after the other has run out of work; started
first, it runs beside the many short files, which then fill the end of the run evenly.
"""

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


def pytest_configure(config):
    # Started in the background of a script (`make test &`), the suite inherits Ctrl-C ignored,
    # and so would every command it starts: the tests that interrupt one would wait for ever.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return  # a worker, or a run without workers: kernels compile where first used
    script = Path(__file__).with_name("_compile_kernels.py")
    compiles = [
        subprocess.Popen([sys.executable, str(script), dtype], stderr=subprocess.PIPE, text=True)
        for dtype in ("float64", "float32")
    ]
    for process in compiles:
        _, err = process.communicate()
        if process.returncode:  # the tests that use the kernels will fail and say why
            print(f"compiling the kernels failed:\n{err}", file=sys.stderr)


def pytest_collection_modifyitems(items):
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])  # stable: the order within a file is kept
