"""Real processes: ``python -m stackelberg_rl`` with worker processes, stopped by signals, and the
README's Python example run as a plain file (no ``__main__`` guard)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = [
    "--param", "n_states=5", "--param", "n_leader_actions=2", "--param", "n_follower_actions=2",
    "--param", "dim=3", "--param", "horizon=2",
]  # fmt: skip


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def workers_of(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"popen_loky_posix" in cmdline:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_run(tmp_path: Path, *extra: str) -> subprocess.Popen:
    argv = [
        sys.executable, "-m", "stackelberg_rl", "run", *TINY, "--episodes", "200000",
        "--seeds", "2", "--workers", "2", "--out", str(tmp_path / "runs" / "long"), *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job would have
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, to_group",
    [
        (signal.SIGTERM, 143, False),  # kill PID
        (signal.SIGINT, 130, True),  # Ctrl-C: the terminal signals the whole process group
    ],
)
def test_a_signal_stops_the_workers_cleans_up_and_exits_with_one_line(
    tmp_path, signum, code, to_group
):
    proc = start_run(tmp_path, "--quiet")
    try:
        workers = wait_for(
            lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid), 60, "workers"
        )
        manifest = tmp_path / "runs" / "long" / "manifest.json"
        wait_for(manifest.is_file, 30, "the manifest")
        time.sleep(0.5)  # mid-run
        everyone = children(proc.pid)  # the workers and loky's resource trackers
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], err
    assert "Traceback" not in err
    wait_for(lambda: not any(alive(w) for w in workers), 30, "the workers to exit")
    wait_for(lambda: not any(alive(p) for p in everyone), 30, "every child to exit")
    # Nothing half-written, no temporary folder, no empty parent left.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_workers_die_with_their_parent_even_on_sigkill(tmp_path):
    proc = start_run(tmp_path, "--quiet")
    try:
        workers = wait_for(
            lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid), 60, "workers"
        )
        everyone = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    wait_for(lambda: not any(alive(w) for w in workers), 30, "the workers to die with their parent")
    wait_for(lambda: not any(alive(p) for p in everyone), 30, "every child to exit")
    # The folder left by a killed run does not look finished, and may be replaced.
    out = tmp_path / "runs" / "long"
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    report = subprocess.run(
        [sys.executable, "-m", "stackelberg_rl", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 2 and "did not finish" in report.stderr
    assert len(report.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_python_dash_m_runs_seeds_in_parallel_processes(tmp_path):
    out = tmp_path / "par"
    argv = ["run", *TINY, "--episodes", "10", "--seeds", "2", "--workers", "2", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "stackelberg_rl", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "regret.png").is_file()
    assert json.loads((out / "manifest.json").read_text())["workers"] == 2

    proc = subprocess.run(
        [sys.executable, "-m", "stackelberg_rl", "run", "--game", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "unknown game 'nope'" in proc.stderr


def readme_run_sweep_examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if "run_sweep(" in b]


def test_the_readme_has_run_sweep_examples():
    assert any("summary(df)" in b for b in readme_run_sweep_examples())


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(readme_run_sweep_examples())))
def test_the_readme_run_sweep_examples_run_as_plain_files(tmp_path, index):
    """No ``if __name__ == "__main__":`` guard: the workers must not re-run the script."""
    code = readme_run_sweep_examples()[index]
    assert "__main__" not in code
    script = tmp_path / "example.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    if "summary(df)" not in code:
        return
    assert "leader" in proc.stdout and "follower" in proc.stdout
    manifest = json.loads((tmp_path / "runs" / "example" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["workers"] == min(2, os.cpu_count())
