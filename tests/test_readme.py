"""The README's Python examples run as written (as on a one-core machine: ``workers``'
default is one per core), only their numbers of episodes scaled down (``SMALL``)."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
SMALL = {
    "episodes=200,": "episodes=30,",
    "episodes=300,": "episodes=30,",
    "episodes=640,": "episodes=64,",
    "for K in (50, 100, 200)": "for K in (10, 20)",
}
"""Sizes scaled down, as written -> as played: what an example shows does not depend on them."""


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


def test_the_scaled_sizes_are_the_readmes():
    for written in SMALL:
        assert any(written in block for block in BLOCKS), written


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write run folders write them here
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    code = BLOCKS[index]
    for written, played in SMALL.items():
        code = code.replace(written, played)
    exec(compile(code, f"README.md block {index}", "exec"), {})
