"""The ``stackelberg-rl`` command line: generated options, one-line errors, run folders."""

import io
import json
import re
import shutil
import typing
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
from helpers import call, one_line_error

from stackelberg_rl import __version__
from stackelberg_rl.cli import games as games_command
from stackelberg_rl.cli import main, options
from stackelberg_rl.experiments import GameSpec, RunConfig

TINY = [
    "--param", "n_states=5", "--param", "n_leader_actions=2", "--param", "n_follower_actions=2",
    "--param", "dim=3", "--param", "horizon=2",
]  # fmt: skip


def flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------- generated options
def wrong_values(option) -> list[str]:
    """Values the option (or the dataclass behind it) must refuse."""
    kind = option.kind
    if option.name == "--param":
        return ["n_states", "=3", "no_such_parameter=1", "n_states=many"]
    if option.name == "--game":
        return ["no-such-game"]
    if option.name == "--out":
        return ["."]
    if option.name == "--game-file":  # with TINY's --param: both given; tests/test_game_file.py
        return ["/no/such/game.npz"]
    if option.name == "--resume":  # no run there; "." is not the --out given
        return ["/no/such/run", "."]
    if option.name == "--address":  # a Ray cluster's, without --backend ray
        return ["127.0.0.1:6379"]
    if kind is int or kind == (int | None):
        return ["many", "1.5", "0" if option.name != "--seed" else "-1"]
    if kind is float:
        return ["hot", "nan", "-1"]
    if typing.get_origin(kind) is typing.Literal:
        return ["bogus"]
    if option.name == "--beta":
        return ["large", "-1", "nan", "inf"]
    if option.name in ("--alpha-l", "--alpha-f"):
        return ["hot", "-2", "nan"]
    raise AssertionError(f"no wrong value for {option.name}")


VALUED = [o for o in options.RUN_OPTIONS + options.EXECUTION_OPTIONS if o.kind is not bool]
CASES = [(o.name, v) for o in VALUED for v in wrong_values(o)]


def test_every_valued_option_of_run_is_tested():
    names = {o.name for o in VALUED}
    assert names >= {"--game", "--param", "--episodes", "--beta", "--alpha-l", "--workers"}
    assert {name for name, _ in CASES} == names


@pytest.mark.parametrize("option, value", CASES)
def test_every_option_with_a_wrong_value_gives_one_line_and_exit_code_2(
    option, value, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = ["run", *TINY, "--episodes", "3", "--quiet", option, value]
    if option != "--out":
        argv += ["--out", str(tmp_path / "r")]
    line = one_line_error(*call(argv, capsys)[::2])
    assert line.startswith("stackelberg-rl run: error:")
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing run


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--no-such-option"],
        ["run", "--episodes"],
        ["run", "--param", "dim=3", "--game", "random-tabular"],  # tabular: d = |S||A||B|
        ["run", "--seed", str(2**63 - 1), "--seeds", "2"],  # seeds beyond int64
        ["run", "--episodes", "1000000000"],  # cannot be allocated
        ["run", "--param", "n_states=1000000000"],  # the game cannot be allocated
        ["demo", "--beta", "theory-ish"],
        ["demo", "--episodes", "250"],  # one K has no slope (it had printed an empty summary)
        ["solve", "--game", "no-such-game"],
        ["solve", "--tie-break", "coin"],
        ["solve", "--param", "n_states=0"],
        ["report"],
        ["report", "/no/such/folder"],
        ["games", "--extra"],
        ["bench", "--repeats", "0"],
        ["bench", "--episodes", "x"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(*call(argv, capsys)[::2])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["solve", "--tie-break", "coin"],
            "--tie-break must be one of leader, follower, got 'coin'",
        ),
        (["run", "--dtype", "float16"], "--dtype must be one of float64, float32, got 'float16'"),
    ],
)
def test_a_choice_is_refused_in_the_words_of_every_other_option(argv, line, capsys, tmp_path):
    code, _, err = call([*argv, "--out", str(tmp_path / "r")] if argv[0] == "run" else argv, capsys)
    assert one_line_error(code, err).endswith(f"error: {line}")  # not typer's "Value error, "


def test_sizes_that_cannot_be_allocated_are_refused_with_the_estimate(capsys, tmp_path):
    code, _, err = call(["run", "--episodes", "1000000000", "--out", str(tmp_path / "r")], capsys)
    line = one_line_error(code, err)
    assert re.search(r"needs about [\d.]+ GiB of memory .*K=1000000000.* available", line), line
    code, _, err = call(["solve", "--param", "n_states=1000000000"], capsys)
    assert "needs about" in one_line_error(code, err)


def test_random_tabular_refuses_a_dimension(capsys, tmp_path):
    code, _, err = call(["run", "--game", "random-tabular", "--param", "dim=3"], capsys)
    assert "no parameter 'dim'" in one_line_error(code, err)


def test_help_shows_every_option_with_its_meaning_and_default(capsys):
    code, out, _ = call(["run", "--help"], capsys)
    assert code == 0
    text = flat(out)
    for o in options.RUN_OPTIONS + options.EXECUTION_OPTIONS:
        assert o.name in text, o.name
        assert flat(o.help)[:30] in text, o.name  # the field's docstring is the help
        default = o.cli_default()
        if default not in (None, False, True):
            assert f"[default: {default}]" in text, (o.name, default)
    assert "[default: 4]" in text  # run's four seeds
    assert "--decentralised / --centralised" in text


def test_demo_help_says_what_the_demo_runs(capsys):
    code, out, _ = call(["demo", "--help"], capsys)
    assert code == 0
    text = flat(out).replace("- ", "-")  # the help wraps at hyphens
    for words in (
        "random-linear",
        "n_states=20",
        "dim=8",
        "horizon=5",
        "beta = 0.2",
        "fixed-K",
        "anytime",
        "greedy",
        "doubling",
        "K = 250, 500, 1000, 2000, 4000",
        "4 seeds",
        "slope",
        "soft-max bias",
        "report.html",
        "runs/demo-YYYYmmdd-HHMMSS",
    ):
        assert words in text, words
    assert "[default: 250,500,1000,2000,4000]" in text and "[default: 0.2]" in text


def test_version(capsys):
    code, out, _ = call(["--version"], capsys)
    assert code == 0 and out.strip() == f"stackelberg-rl {__version__}"


def test_games_lists_every_parameter_with_type_default_and_help(capsys):
    code, out, _ = call(["games"], capsys)
    assert code == 0
    assert "random-linear:" in out and "random-tabular:" in out
    assert re.search(r"--param n_states=INT\s+\|S\|, the number of states\. \(default 20\)", out)
    assert re.search(r"--param reward_noise=FLOAT .*\(default 0\.0\)", out)
    tabular = out.split("random-tabular:")[1]
    assert "dim=" not in tabular


def test_unexpected_errors_are_one_line_with_a_hint_and_exit_code_1(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something odd")

    monkeypatch.setattr(games_command, "games_listing", broken)
    code, _, err = call(["games"], capsys)
    line = one_line_error(code, err, expected_code=1)
    assert "something odd" in line and "STACKELBERG_RL_TRACEBACK=1" in line
    monkeypatch.setenv("STACKELBERG_RL_TRACEBACK", "1")
    with pytest.raises(RuntimeError):
        main(["games"])


# ---------------------------------------------------------------------- run, demo, report
RUN_ARGV = ["run", *TINY, "--episodes", "12", "--seeds", "2", "--workers", "1", "--quiet"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """``run`` into a new folder: its exit code, stdout, stderr and folder. Played once for the
    module: the tests that damage or replace the folder do so on copies."""
    out = tmp_path_factory.mktemp("cli") / "runs" / "tiny"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main([*RUN_ARGV, "--beta", "0.3", "--alpha-f", "inf", "--out", str(out)])
    return code, stdout.getvalue(), stderr.getvalue(), out


def test_run_writes_the_run_folder_and_prints_a_summary(run_folder, tmp_path, capsys):
    code, stdout, err, played = run_folder
    assert code == 0, err
    assert sorted(p.name for p in played.iterdir()) == [
        "manifest.json",
        "regret.png",
        "results.parquet",
    ]
    df = pd.read_parquet(played / "results.parquet")
    assert len(df) == 24 and sorted(df["seed"].unique()) == [0, 1]
    manifest = json.loads((played / "manifest.json").read_text())
    assert manifest["config"]["agent"]["beta"] == 0.3
    assert manifest["resolved"]["alpha_f"] == "inf"
    assert manifest["status"] == "complete" and manifest["format"] == "stackelberg-rl/run"
    assert "leader" in stdout and "follower" in stdout and "95%" in stdout

    # The same folder again is refused (exit 2, one line), then replaced with --overwrite.
    out = tmp_path / "runs" / "tiny"
    shutil.copytree(played, out)
    argv = RUN_ARGV
    code, _, err = call([*argv, "--out", str(out)], capsys)
    assert "--overwrite" in one_line_error(code, err)
    code, _, _ = call([*argv, "--out", str(out), "--overwrite", "--agent", "random"], capsys)
    assert code == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["agent"]["kind"] == "random"

    # `report` re-makes the plot and the table from the folder alone.
    (out / "regret.png").unlink()
    code, stdout, _ = call(["report", str(out)], capsys)
    assert code == 0 and (out / "regret.png").is_file() and "cumulative regret" in stdout


def test_run_maps_every_option_onto_the_configuration(tmp_path, capsys):
    out = tmp_path / "r"
    argv = [
        "run", *TINY, "--param", "reward_noise=0.1", "--episodes", "6", "--seeds", "1",
        "--seed", "7", "--eval-every", "2", "--agent", "softmax-lsvi-ucb", "--beta", "theory",
        "--c1", "0.01", "--p", "0.1", "--lam", "2", "--alpha-l", "anytime", "--alpha-f", "3",
        "--schedule", "every-n", "--schedule-n", "3", "--centralised", "--no-incremental",
        "--dtype", "float32", "--workers", "1", "--quiet",
        "--out", str(out),
    ]  # fmt: skip
    code, _, err = call(argv, capsys)
    assert code == 0, err
    m = json.loads((out / "manifest.json").read_text())
    config = RunConfig.from_dict(m["config"])
    assert config.game == GameSpec(
        "random-linear",
        {
            "n_states": 5,
            "n_leader_actions": 2,
            "n_follower_actions": 2,
            "dim": 3,
            "horizon": 2,
            "reward_noise": 0.1,
        },
    )
    assert m["game"]["registered"]["params"]["reward_noise"] == 0.1
    assert (config.episodes, config.seeds, config.seed, config.eval_every) == (6, 1, 7, 2)
    a = config.agent
    assert (a.kind, a.beta, a.c1, a.p, a.lam) == ("softmax-lsvi-ucb", "theory", 0.01, 0.1, 2.0)
    assert (a.alpha_l, a.alpha_f, a.schedule, a.schedule_n) == ("anytime", 3.0, "every-n", 3)
    # --refresh-every, unused with --no-incremental, is refused: test_run_cli_checks maps it
    assert (a.decentralised, a.incremental, a.dtype) == (False, False, "float32")


@pytest.mark.parametrize(
    "agent, option",
    [("greedy-lsvi-ucb", ["--alpha-l", "2"]), ("greedy-lsvi-ucb", ["--alpha-f", "inf"]),
     ("random", ["--beta", "0.3"]), ("oracle", ["--centralised"]),
     ("random", ["--schedule", "doubling"])],
)  # fmt: skip
def test_an_option_the_agent_does_not_use_is_refused(tmp_path, capsys, agent, option):
    """``--agent greedy-lsvi-ucb --alpha-l 2`` had been taken: the manifest said α_l = 2, the
    players played α = ∞."""
    argv = [
        "run",
        *TINY,
        "--episodes",
        "3",
        "--agent",
        agent,
        *option,
        "--out",
        str(tmp_path / "r"),
    ]
    code, _, err = call(argv, capsys)
    assert f"has no effect with --agent {agent}: leave it out" in one_line_error(code, err)
    assert option[0] in err and not (tmp_path / "r").exists()


def test_a_folder_with_user_files_is_never_deleted(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("1,2,3")
    for command, extra, message in (
        ("run", ["--episodes", "3"], "never replaced"),
        ("run", ["--episodes", "3", "--overwrite"], "never replaced"),
        ("demo", ["--episodes", "3,4"], "not a sweep folder of stackelberg-rl and is never used"),
    ):
        argv = [command, *TINY, "--seeds", "1", "--quiet", *extra]
        code, _, err = call([*argv, "--out", str(mine)], capsys)
        assert message in one_line_error(code, err)
    assert [p.name for p in mine.iterdir()] == ["data.csv"]
    assert (mine / "data.csv").read_text() == "1,2,3"


@pytest.mark.slow
def test_demo_writes_a_new_sweep_folder_each_time_and_goes_on_in_one_given(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = ["demo", *TINY, "--episodes", "6,12", "--seeds", "2", "--workers", "1", "--quiet"]
    folders = []
    for _ in range(2):
        code, stdout, err = call(argv, capsys)
        assert code == 0, err
        assert "log-log slope" in stdout and "bias share" in stdout
        assert re.search(r"leader +slope -?\d\.\d\d", stdout), stdout
        for agent in ("soft-max, fixed-K α", "soft-max, anytime α", "greedy (LSVI-UCB, α = ∞)"):
            assert agent in flat(stdout), agent
        folders.append(re.search(r"sweep folder: (\S+)", stdout).group(1))
    assert folders[0] != folders[1]
    assert all(re.fullmatch(r"runs/demo-\d{8}-\d{6}(-\d+)?", f) for f in folders), folders
    sweep = json.loads((tmp_path / folders[0] / "sweep.json").read_text())
    assert sweep["format"] == "stackelberg-rl/sweep" and sweep["status"] == "complete"
    names = [s["name"] for s in sweep["settings"]]
    assert names == [f"{a}-K{K}" for a in ("fixed-K", "anytime", "greedy") for K in (6, 12)]
    assert all(s["status"] == "complete" for s in sweep["settings"])
    assert (tmp_path / folders[0] / "report.html").is_file()
    # --out DIR that holds the demo's sweep: nothing left to play, the report written again.
    first = tmp_path / folders[0]
    stamps = {p: p.stat().st_mtime_ns for p in first.glob("*/results.parquet")}
    (first / "report.html").unlink()
    code, stdout, err = call([*argv, "--out", folders[0]], capsys)
    assert code == 0, err
    assert f"sweep folder: {folders[0]}" in stdout and (first / "report.html").is_file()
    assert stamps == {p: p.stat().st_mtime_ns for p in first.glob("*/results.parquet")}
    # Other options are other runs: never replaced, one line naming the difference.
    code, _, err = call([*argv, "--out", folders[0], "--seeds", "1"], capsys)
    assert "another configuration (seeds: 2 there, 1 here)" in one_line_error(code, err)
    before = {p: p.read_bytes() for p in (first / "sweep.json", first / "report.html")}
    code, _, err = call([*argv, "--out", folders[0], "--episodes", "6,9"], capsys)
    assert "holds a sweep of other settings (fixed-K-K12, " in one_line_error(code, err)
    assert before == {p: p.read_bytes() for p in before}  # nothing rewritten
    code, _, err = call([*argv, "--out", folders[0], "--overwrite"], capsys)
    assert "--overwrite" in one_line_error(code, err)  # no such option: nothing is replaced
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(
        Path(f).name for f in folders
    )


def test_run_refuses_folders_that_would_lose_work(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    inside = tmp_path / "here"
    inside.mkdir()
    monkeypatch.chdir(inside)
    for out, message in (
        (".", "contains the current directory"),
        (str(tmp_path), "contains the current directory"),
        (str(tmp_path / "file" / "run"), "is a file"),
        ("/proc/no-run-here", "cannot create"),
    ):
        argv = ["run", *TINY, "--episodes", "3", "--quiet", "--overwrite", "--out", out]
        code, _, err = call(argv, capsys)
        assert message in one_line_error(code, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "here"]
    assert list(inside.iterdir()) == []


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "results.parquet").write_bytes(b"PAR1 not really"), "corrupt"),
        (
            lambda d: (d / "results.parquet").write_bytes(
                (d / "results.parquet").read_bytes()[:300]
            ),
            "corrupt or truncated",
        ),
        (
            lambda d: pd.DataFrame({"a": [1]}).to_parquet(d / "results.parquet"),
            "not a results table",
        ),
        (lambda d: (d / "manifest.json").write_text('{"format": "stackelberg'), "corrupt"),
        (lambda d: (d / "manifest.json").write_text("[1, 2]"), "not a manifest"),
        (lambda d: (d / "manifest.json").unlink(), "not a run, sweep or exploration folder"),
    ],
)
def test_report_of_a_damaged_folder_is_one_line_and_exit_code_2(
    run_folder, tmp_path, capsys, damage, message
):
    out = tmp_path / "copy"
    shutil.copytree(run_folder[-1], out)
    damage(out)
    code, _, err = call(["report", str(out)], capsys)
    assert message in one_line_error(code, err)


def test_report_of_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    code, _, err = call(["report", str(tmp_path / "nothing")], capsys)
    line = one_line_error(code, err)
    assert "not a run, sweep or exploration folder of stackelberg-rl: no such folder" in line


def test_bench_checks_its_json_path_before_running(tmp_path, capsys, monkeypatch):
    from stackelberg_rl.bench import learner

    def forbidden(*args, **kwargs):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(learner, "memory_bandwidth", forbidden)
    (tmp_path / "file").write_text("x")
    for path, message in (
        (tmp_path / "file", "is never replaced"),  # a user's file, not figures of bench
        (tmp_path / "no" / "such" / "dir.json", "such does not exist"),
        (tmp_path, "is a folder"),
        (tmp_path / "file" / "x.json", "is not a folder"),
        ("/proc/bench.json", "cannot write"),
    ):
        code, _, err = call(["bench", "--json", str(path)], capsys)
        assert message in one_line_error(code, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert (tmp_path / "file").read_text() == "x"


def test_solve_still_works(capsys):
    code, stdout, _ = call(["solve", *TINY], capsys)
    assert code == 0 and "Stackelberg equilibrium" in stdout


def test_main_names_every_command_and_the_command_modules_import_no_cycle():
    import ast
    import graphlib

    import stackelberg_rl.cli

    folder = Path(stackelberg_rl.cli.__file__).parent
    imports = {}  # module -> the modules of the cli it imports
    for path in folder.glob("*.py"):
        imports[path.stem] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                imports[path.stem].update(names)
    graphlib.TopologicalSorter(imports).prepare()  # raises CycleError on a cycle
    assert not any("main" in imports[m] for m in imports if m not in ("main", "__init__"))
    import sys

    import typer

    app = sys.modules["stackelberg_rl.cli.main"].build_app()
    commands = {"run", "demo", "sweep", "report", "solve", "games", "equilibrium", "bench"}
    assert set(typer.main.get_command(app).commands) == commands | {"explore", "plan"}


def test_the_command_loads_its_commands_after_its_signal_handlers():
    """Importing the entry point is light: Ctrl-C during the second the commands take to load
    reaches the command's handler (one line, 130), not Python's traceback."""
    import subprocess
    import sys

    heavy = ("numba", "pandas", "typer", "stackelberg_rl.experiments", "stackelberg_rl.cli.run")
    code = f"import sys, stackelberg_rl.cli; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


def test_ctrl_c_while_the_commands_load_is_one_line_and_130(capsys, monkeypatch):
    import sys

    module = sys.modules["stackelberg_rl.cli.main"]

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "build_app", interrupted)
    code, out, err = call(["run", "--episodes", "5"], capsys)
    assert code == 130 and err == "stackelberg-rl run: interrupted by Ctrl-C\n", err


def test_a_signal_while_the_commands_load_is_not_lost_in_an_import(capsys, monkeypatch):
    """Compiled modules (numpy's random generators) can swallow an exception raised while they
    load: the signal is held until the commands are loaded, then stops the command."""
    import os
    import signal
    import sys

    module = sys.modules["stackelberg_rl.cli.main"]
    real = module.build_app

    def swallowing_import():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # the handler runs here, between two bytecodes
        except BaseException:
            pass
        return real()

    monkeypatch.setattr(module, "build_app", swallowing_import)
    code, out, err = call(["games"], capsys)
    assert code == 143 and err == "stackelberg-rl games: interrupted by SIGTERM\n", (code, err)
    assert out == ""


def test_a_grid_of_a_million_settings_is_refused_at_once(tmp_path, capsys):
    """Issue 16: a 1000 × 1000 grid's --dry-run took 441 s and printed a million lines."""
    grid = tmp_path / "huge.yaml"
    grid.write_text(
        f"game: random-linear\nseed: {list(range(1000))}\nepisodes: {list(range(1, 1001))}\n"
    )
    assert main(["sweep", str(grid), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "the grid has 1,000,000 settings (1000 × 1000)" in err
    assert "at most 10,000" in err and not (tmp_path / "sweeps").exists()
