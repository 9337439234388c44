"""Every command the README shows runs, in the README's order, as a newcomer would type it.

The commands are read from the README's ``bash`` blocks and from its inline code that starts
with ``stackelberg-rl`` or names an example script. Only their sizes are scaled down
(``--episodes``, ``--seeds``, the sweep files' ``episodes`` (at most two K) and ``seeds``, the
examples' budgets; the demo's, ``explore``'s and ``run``'s episodes are given when the README
leaves them at their defaults) so that the whole README plays in seconds; every other word is as
written.
Placeholders are filled (``runs/NAME``, ``DIR``, ``mine.npz``); what needs a cluster or installs
packages (``make``, ``pip``, ``ray``, ``--address HEAD:6379``) is left out, and so are the
benchmarks.
The ``stackelberg-rl`` commands are played by the command's ``main`` in this process (the
process itself, its signals and exit codes, is tested in ``test_processes.py``); the example
scripts, which start process pools of their own, in processes of their own.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from stackelberg_rl.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

SKIP = ("make ", "pip ", "ray ", "cd ", "stackelberg-rl bench")
"""Installs, clusters and benchmarks (minutes of timing by design: ``make bench``)."""
PLACEHOLDERS = {"runs/NAME": "runs/name", "DIR": "runs/explore-dir"}
SMALL = {"--episodes": 30, "--seeds": 2}
"""Options whose values are scaled down to at most these."""
EXAMPLE_SIZES = {
    "regret_vs_K.py": ["--episodes", "20", "40", "--seeds", "2", "--workers", "2"],
    "reward_free_gaps.py": ["--budgets", "10", "20", "--seeds", "2", "--workers", "2"],
    "ccse_vs_K.py": ["--points", "2", "--ratio", "2"],
    "supply_chain_learners.py": ["--episodes", "20", "--seeds", "1"],
}
"""Sizes given to the example scripts (appended: the last of a repeated option wins)."""


def block_commands() -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def inline_commands() -> list[str]:
    found = re.findall(
        r"`(stackelberg-rl [a-z-][^`]*|(?:\.venv/bin/python )?examples/\w+\.py[^`]*)`", README
    )
    # Inline code with a placeholder (DIR, FILE, K) or a syntax summary ([--x]) is prose.
    return [" ".join(c.split()) for c in found if not re.search(r"[\[…]|\b[A-Z][A-Z_]*\b", c)]


def commands() -> list[str]:
    out = []
    for command in block_commands() + inline_commands():
        if command.startswith(SKIP) or "HEAD:" in command or command in out:
            continue
        out.append(command)
    return out


def scaled(words: list[str]) -> list[str]:
    out = [re.sub(r"^n_eval_states=\d+$", "n_eval_states=20", w) for w in words]
    for i, word in enumerate(out[:-1]):
        if word in SMALL and out[i + 1].isdigit():
            out[i + 1] = str(min(int(out[i + 1]), SMALL[word]))
    if out[:1] == ["demo"]:
        out += ["--episodes", "20,40", "--seeds", "2"]
    # Their default: 1000 episodes (a bare `run`'s on 4 seeds, the most costly command here).
    if out[:1] in (["explore"], ["run"]) and not {"--episodes", "--resume", "--help"} & set(out):
        out += ["--episodes", str(SMALL["--episodes"])]
    for name, sizes in EXAMPLE_SIZES.items():
        if out and out[0].endswith(name):
            out += sizes
            if name == "regret_vs_K.py":  # its K are a list after --episodes
                i = out.index("--episodes")
                j = i + 1
                while j < len(out) and out[j].isdigit():
                    j += 1
                del out[i:j]
    return out


def argv(command: str) -> list[str]:
    for placeholder, value in PLACEHOLDERS.items():
        command = re.sub(rf"(?<![\w/-]){re.escape(placeholder)}(?![\w-])", value, command)
    words = shlex.split(command)
    if words[0] == "stackelberg-rl":
        return [sys.executable, "-m", "stackelberg_rl", *scaled(words[1:])]
    if words[0].endswith("python") and words[1].startswith("examples/"):
        words = words[1:]
    if words[0].startswith("examples/"):
        return [sys.executable, *scaled(words)]
    raise AssertionError(f"the README shows a command this test does not know: {command}")


def small_examples(folder: Path) -> None:
    """The sweep files of ``examples/`` with their sizes scaled down, everything else kept."""
    (folder / "examples").mkdir()
    for path in (ROOT / "examples").iterdir():
        target = folder / "examples" / path.name
        if path.suffix != ".yaml":
            target.symlink_to(path)
            continue
        data = yaml.safe_load(path.read_text())
        episodes = data.get("episodes")
        if isinstance(episodes, list):
            # Two K are enough for every slope (one per seed) and interval (over the seeds) the
            # reports print, and for a run cut from a longer one; each more K is settings more
            # to play and to draw.
            data["episodes"] = [min(int(k), 10 * (i + 2)) for i, k in enumerate(episodes[:2])]
        elif episodes is not None:
            data["episodes"] = min(int(episodes), 30)
        data["seeds"] = min(int(data.get("seeds", 2)), 2)
        target.write_text(yaml.safe_dump(data, sort_keys=False))


def test_the_readme_shows_the_commands_a_newcomer_needs():
    shown = " ".join(commands())
    for verb in ("run", "sweep", "report", "equilibrium", "explore", "plan", "demo", "solve"):
        assert f"stackelberg-rl {verb}" in shown


def chains(all_commands: list[str]) -> list[list[str]]:
    """The commands grouped by the folder they use (in README order within a group)."""
    groups: dict[str, list[str]] = {}
    for command in all_commands:
        folder = re.search(r"(?:runs|sweeps)/[\w.-]+|examples/\w+\.yaml|DIR|runs/NAME", command)
        key = folder.group(0) if folder else command
        if "ccse_vs_K" in command:
            key = "runs/ccse-security"
        if key.startswith("examples/"):
            key = "sweeps/" + Path(key).stem
        groups.setdefault(key, []).append(command)
    return list(groups.values())


def failure(command: str, code: int, out: str, err: str) -> str | None:
    if code != 0 or "Traceback" in err:
        last = (err.strip() or out.strip()).splitlines()[-1:]
        return f"{command}\n  -> exit {code}: {' '.join(last)}"
    return None


@pytest.mark.slow
def test_every_command_of_the_readme_runs_as_written(tmp_path, monkeypatch, capsys):
    """In README order within each folder's chain. A script starts once the commands before it in
    its chain are done and plays in its process while the next commands play in this one; the
    commands run as on a one-core machine (``--workers``' default: one per core)."""
    small_examples(tmp_path)
    from stackelberg_rl import games

    game = games.make("security")
    rewards = np.stack([game.reward(h) for h in range(game.horizon)], 1)
    np.savez(tmp_path / "mine.npz", rewards=rewards)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    failures, scripts = [], []

    def finish(command, proc):
        out, err = proc.communicate(timeout=600)
        failures.append(failure(command, proc.returncode, out, err))

    # Chains that start with a script first: they play in their processes beside the others.
    ordered = sorted(chains(commands()), key=lambda chain: argv(chain[0])[1] != "-m")
    try:
        for chain in ordered:
            for i, command in enumerate(chain):
                words = argv(command)
                if words[1:3] == ["-m", "stackelberg_rl"]:
                    code = main(words[3:])
                    failures.append(failure(command, code, *capsys.readouterr()))
                    continue
                proc = subprocess.Popen(
                    words, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL, text=True,
                )  # fmt: skip
                if i < len(chain) - 1:  # the chain's next commands may read what it writes
                    finish(command, proc)
                else:
                    scripts.append((command, proc))
        for command, proc in scripts:
            finish(command, proc)
    finally:
        for _, proc in scripts:
            if proc.poll() is None:
                proc.kill()
    failures = [f for f in failures if f]
    assert not failures, "\n".join(failures)
