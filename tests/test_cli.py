"""The ``stackelberg-rl`` command line: ``run``, ``report``, ``demo``, ``solve``, bad arguments."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from stackelberg_rl.cli import main

TINY = [
    "--param", "n_states=5", "--param", "n_leader_actions=2", "--param", "n_follower_actions=2",
    "--param", "dim=3", "--param", "horizon=2",
]  # fmt: skip


def call(argv, capsys):
    """Exit code, stdout and stderr of ``main(argv)`` (argparse's errors raise SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--game", "no-such-game"],
        ["run", "--episodes", "0"],
        ["run", "--episodes", "-5"],
        ["run", "--episodes", "many"],
        ["run", "--beta", "large"],
        ["run", "--beta", "-1"],
        ["run", "--beta", "nan"],
        ["run", "--agent", "psychic"],
        ["run", "--alpha-l", "hot"],
        ["run", "--seeds", "0"],
        ["run", "--schedule", "sometimes"],
        ["run", "--no-such-option"],
        ["solve", "--game", "no-such-game"],
        ["report"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(argv, capsys, tmp_path):
    if argv[:1] == ["run"]:
        argv = [*argv, "--out", str(tmp_path / "r")]
    code, out, err = call(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "error" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_report_of_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    code, _, err = call(["report", str(tmp_path / "nothing")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a run folder" in err


def test_run_writes_the_run_folder_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "runs" / "tiny"
    argv = ["run", *TINY, "--episodes", "12", "--seeds", "2", "--workers", "1", "--quiet"]
    code, stdout, err = call(
        [*argv, "--beta", "0.3", "--alpha-f", "inf", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "regret.png",
        "results.parquet",
    ]
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 24 and sorted(df["seed"].unique()) == [0, 1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["agent"]["beta"] == 0.3
    assert manifest["resolved"]["alpha_f"] == "inf"
    assert "leader" in stdout and "follower" in stdout and "95%" in stdout

    # The same folder again is refused (exit 2, one line), then accepted with --overwrite.
    code, _, err = call([*argv, "--out", str(out)], capsys)
    assert code == 2 and "not empty" in err and len(err.strip().splitlines()) == 1
    code, _, _ = call([*argv, "--out", str(out), "--overwrite", "--agent", "random"], capsys)
    assert code == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["agent"]["kind"] == "random"

    # `report` re-makes the plot and the table from the folder alone.
    (out / "regret.png").unlink()
    code, stdout, _ = call(["report", str(out)], capsys)
    assert code == 0 and (out / "regret.png").is_file() and "cumulative regret" in stdout


def test_demo_says_whether_regret_falls(tmp_path, capsys):
    argv = ["demo", *TINY, "--episodes", "16", "--seeds", "1", "--quiet"]
    code, stdout, _ = call([*argv, "--out", str(tmp_path / "demo")], capsys)
    assert code == 0 and "first -> last quarter" in stdout
    assert (tmp_path / "demo" / "regret.png").is_file()


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


def test_solve_still_works(capsys):
    code, stdout, _ = call(["solve", *TINY], capsys)
    assert code == 0 and "Stackelberg equilibrium" in stdout
