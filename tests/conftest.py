"""The order in which the suite's files reach the workers: those with slow tests first.

xdist hands out whole files (``--dist loadfile``) in this order (``--no-loadscope-reorder``).
A long file handed out last keeps one core busy after the other has run out of work; started
first, it runs beside the many short files, which then fill the end of the run evenly.
"""

from collections import Counter


def pytest_collection_modifyitems(items):
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])  # stable: the order within a file is kept
