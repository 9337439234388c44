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
from helpers import call

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
        # Ctrl-C, the terminal signalling the whole process group: the same driver stops a run
        # and a sweep, so it is sent to a sweep (tests/test_sweep.py) and only SIGTERM to a run.
    ],
)
def test_a_signal_stops_the_workers_keeps_the_run_and_exits_with_one_line(
    tmp_path, signum, code, to_group
):
    proc = start_run(tmp_path, "--quiet", "--checkpoint-every", "0.2")
    out = tmp_path / "runs" / "long"
    try:
        workers = wait_for(lambda: len(found := workers_of(proc.pid)) == 2 and found, 60, "workers")
        seeds = [out / "checkpoints" / f"seed-{s}.npz" for s in (0, 1)]
        wait_for(lambda: all(p.is_file() for p in seeds), 60, "both seeds' checkpoints")
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
    out = tmp_path / "runs" / "long"
    assert f"checkpoints kept, resume with stackelberg-rl run --resume {out}" in lines[0]
    assert "Traceback" not in err
    wait_for(lambda: not any(alive(w) for w in workers), 30, "the workers to exit")
    wait_for(lambda: not any(alive(p) for p in everyone), 30, "every child to exit")
    # The run is kept to be resumed (tests/test_resume.py resumes one): its manifest says so;
    # nothing half-written, no temporary file or folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["long"]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "manifest.json"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["seed-0.npz", "seed-1.npz"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["reason"] == f"signal {signal.Signals(signum).name}"


@pytest.mark.slow
def test_workers_die_with_their_parent_even_on_sigkill(tmp_path, capsys):
    proc = start_run(tmp_path, "--quiet")
    try:
        workers = wait_for(lambda: len(found := workers_of(proc.pid)) == 2 and found, 60, "workers")
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
    code, _, err = call(["report", str(out)], capsys)
    assert code == 2 and "did not finish" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_run_killed_at_random_points_resumes_to_the_uninterrupted_results(tmp_path):
    """SIGKILL (nothing can be saved then), then SIGTERM to the resumed session, each after a
    seeded random delay once the session is under way; the last session finishes the run."""
    import numpy as np
    import pandas as pd

    from stackelberg_rl.agents import AgentConfig
    from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run_seeds

    params = dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2)
    # Long enough that no session ends before its signal: the compiled loop plays this game's
    # episodes in microseconds.
    config = RunConfig(
        game=GameSpec(params=params), episodes=60000, seeds=2, save_plans=True,
        agent=AgentConfig(beta=0.3, schedule="doubling"),
    )  # fmt: skip
    whole = run_seeds(config, tmp_path / "whole", workers=1, progress=False)
    out = tmp_path / "run"
    first = [
        "run", *TINY, "--episodes", "60000", "--seeds", "2", "--beta", "0.3", "--schedule",
        "doubling", "--save-plans", "--out", str(out),
    ]  # fmt: skip
    again = ["run", "--resume", str(out)]
    delays = np.random.default_rng(np.random.SeedSequence(2024)).uniform(0.1, 0.8, size=2)
    manifest = out / "manifest.json"
    for session, (signum, delay) in enumerate(
        zip([signal.SIGKILL, signal.SIGTERM], delays, strict=True)
    ):
        argv = [*(first if session == 0 else again), "--workers", "1", "--quiet"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "stackelberg_rl", *argv, "--checkpoint-every", "0.2"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            # Under way: this session's manifest is written, then a random while.
            wait_for(
                lambda pid=proc.pid: (
                    manifest.is_file() and json.loads(manifest.read_text()).get("pid") == pid
                ),
                60,
                "the session to start",
            )
            time.sleep(delay)
            os.kill(proc.pid, signum)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        status = json.loads(manifest.read_text())["status"]
        if proc.returncode == 0 and session > 0:  # a fast machine finished before the signal
            assert status == "complete"
            break
        if signum == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL and status == "running"
        else:
            assert proc.returncode == 143 and status == "interrupted", err
            assert f"resume with stackelberg-rl run --resume {out}" in err
    # The last session: here, by the function `run --resume` calls (its figure is not looked
    # at; `run --resume` to the end: tests/test_resume.py, tests/test_readme_commands.py).
    run_seeds(None, out, resume=True, workers=1, progress=False)
    df, manifest_data = load_run(out)
    assert 1 <= len(manifest_data["resumed"]) <= 2
    pd.testing.assert_frame_equal(whole.drop(columns="wall_time"), df.drop(columns="wall_time"))
    a, b = np.load(tmp_path / "whole" / "plans.npz"), np.load(out / "plans.npz")
    assert a.files == b.files and all(a[k].tobytes() == b[k].tobytes() for k in a.files)


def readme_run_sweep_examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if "run_seeds(" in b]


def test_the_readme_has_run_sweep_examples():
    assert any("summary(df)" in b for b in readme_run_sweep_examples())


@pytest.mark.slow
def test_the_readme_run_sweep_examples_run_as_plain_files(tmp_path):
    """No ``if __name__ == "__main__":`` guard: the workers must not re-run the script. Only the
    number of episodes is scaled down (``tests/test_readme.py`` plays the examples as written,
    each alone). The examples play one after the other in one plain file: one interpreter
    started, each example's workers started by its own ``run_seeds``."""
    blocks = readme_run_sweep_examples()
    assert all("__main__" not in code for code in blocks)
    code = "\n".join(re.sub(r"\bepisodes=\d+", "episodes=20", b) for b in blocks)
    script = tmp_path / "example.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "summary(df)" in code  # as test_the_readme_has_run_sweep_examples says
    assert "leader" in proc.stdout and "follower" in proc.stdout
    manifest = json.loads((tmp_path / "runs" / "example" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["workers"] == min(2, os.cpu_count())


def test_an_interruption_while_the_workers_start_leaves_no_worker_traceback(capfd, monkeypatch):
    """Ctrl-C between a loky worker's start and its start-up data: held until every worker has
    its data, then the usual interruption (the worker would otherwise die printing loky's
    'failed with traceback ... EOFError')."""
    import importlib

    from stackelberg_rl.experiments import GameSpec, RunConfig
    from stackelberg_rl.experiments.driver import Task, _Local, _run

    module = importlib.import_module("loky.backend.fork_exec")
    real, started = module.fork_exec, []

    def start_then_interrupt(cmd, *args, **kwargs):
        pid = real(cmd, *args, **kwargs)
        if "loky.backend.popen_loky_posix" in cmd:
            started.append(pid)
            if len(started) == 1:
                os.kill(os.getpid(), signal.SIGINT)  # before loky sends the worker its data
        return pid

    monkeypatch.setattr(module, "fork_exec", start_then_interrupt)
    params = dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2)
    # Long enough to outlast the start-up; short enough that a lost signal fails, not hangs.
    config = RunConfig(game=GameSpec("random-linear", params), episodes=20_000, seeds=2)
    game = config.game.make()
    tasks = [Task(s, 0, "run", config, s, game.fingerprint()) for s in config.run_seeds]
    handler = signal.getsignal(signal.SIGINT)
    try:
        _run(
            tasks, _Local({game.fingerprint(): game}, 2, float("inf")), on_result=lambda i, r: None,
            on_error=None, on_progress=lambda i, n: None, on_checkpoint=lambda i, d: None,
        )  # fmt: skip
    except KeyboardInterrupt:
        pass
    else:
        pytest.fail(f"no KeyboardInterrupt ({len(started)} workers started, SIGINT: {handler})")
    wait_for(lambda: not any(alive(p) for p in started), 30, "the workers to exit")
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, out + err


@pytest.mark.slow
def test_a_command_started_with_ctrl_c_ignored_keeps_ignoring_it_and_runs_seeds_in_workers(
    tmp_path, capsys
):
    """`cmd &` in a script starts the command with SIGINT ignored: a Ctrl-C meant for the
    script's foreground job must not stop it (SIGTERM still does, as usual). The same command
    is ``python -m stackelberg_rl`` playing its seeds in two worker processes: one process
    started for both (each costs a second of imports and the figure)."""

    def ignore_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    out = tmp_path / "par"
    argv = [sys.executable, "-m", "stackelberg_rl", "run", *TINY, "--episodes", "300"]
    argv += ["--seeds", "2", "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_sigint
    )
    try:
        wait_for(lambda: (out / "manifest.json").exists(), 60, "the run to start")
        for _ in range(3):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.05)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted" not in err
    assert (out / "regret.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["workers"] == 2

    # A usage error: one line, exit code 2. Exit codes and a fresh process's one-line stderr
    # reach the shell as above and as in the signal tests; the message needs no process.
    code, _, err = call(["run", "--game", "nope"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "unknown game 'nope'" in err


@pytest.mark.slow
def test_a_worker_killed_mid_run_keeps_the_run_resumable_with_one_line(tmp_path):
    """A worker the system kills (out of memory) stops the run; nothing played is deleted."""
    import pandas as pd

    from stackelberg_rl.experiments import (
        BackendUnavailableError,
        GameSpec,
        RunConfig,
        load_run,
        run_seeds,
    )
    from stackelberg_rl.experiments.loop import play

    params = dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2)
    config = RunConfig(game=GameSpec(params=params), episodes=300, seeds=2)
    out = tmp_path / "run"

    def kill_one(folder, pids):
        os.kill(pids[0], signal.SIGKILL)

    with pytest.raises(BackendUnavailableError, match=r"a worker process died \(.*SIGKILL") as err:
        run_seeds(config, out, workers=2, progress=False, on_start=kill_one)
    assert "\n" not in str(err.value) and err.value.run_dir == str(out)
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    df = run_seeds(None, out, resume=True, workers=1, progress=False)
    game = config.game.make()
    whole = pd.concat([play(game, config, s)[0] for s in (0, 1)], ignore_index=True)
    pd.testing.assert_frame_equal(df.drop(columns="wall_time"), whole.drop(columns="wall_time"))
    assert load_run(out)[1]["status"] == "complete"


def test_a_second_interruption_exits_at_once_saying_what_is_kept():
    """A hung clean-up is cut short by a second Ctrl-C, which still says how to go on."""
    code = (
        "import importlib\n"
        "m = importlib.import_module('stackelberg_rl.cli.main')\n"
        "m.INTERRUPTION['note'] = 'the run folder is kept: continue it with --resume runs/x'\n"
        "m._interrupted['first'] = False\n"
        "m._raise_interrupted(2, None)\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and done.stdout == ""
    assert done.stderr == (
        "stackelberg-rl: interrupted again; exiting now; the run folder is kept: continue it "
        "with --resume runs/x\n"
    )


def test_lokys_resource_tracker_is_started_quiet():
    """After an interruption a worker may have removed a semaphore loky's resource tracker
    still lists; the tracker then warns on the command's stderr, under its one-line answer
    (seen under load). The tracker takes its environment when the driver's queue starts it."""
    code = (
        "from loky.backend import resource_tracker\n"
        "from stackelberg_rl.experiments.driver import _Local\n"
        "_Local({}, 2, 1.0)\n"
        "resource_tracker.register('/loky-test-removed', 'semlock')  # as a removed one stays\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
