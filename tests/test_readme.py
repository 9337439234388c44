"""The README's Python examples run as written (as on a one-core machine: ``workers``'
default is one per core)."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write run folders write them here
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
