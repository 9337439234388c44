"""The command line's checks found by a newcomer: an overflowing ``power:c,p``, YAML tags in a
sweep file, every changed setting folder named at once, singular counts, ``reward_noise``'s
bounds on a GameSpec, and ``run --help``'s anytime α."""

import math
import shutil

import pytest

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.cli import main
from stackelberg_rl.cli.sweep_file import SweepFileError, parse
from stackelberg_rl.experiments import GameSpec, RunConfig
from stackelberg_rl.experiments.resources import check_results_fit
from stackelberg_rl.learners import alpha_value
from stackelberg_rl.sweep import SweepFolderError, name_settings, preview, preview_lines, run_grid

TINY = "param: {n_states: 5, n_leader_actions: 2, n_follower_actions: 2, dim: 3, horizon: 2}\n"


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "unexpected" not in err, err
    return err


# ------------------------------------------------------------- 1. an overflowing power:c,p
@pytest.mark.parametrize("spec", ["power:1,200", "power:1,1e300", "power:1,-11"])
def test_an_exponent_past_the_bound_is_refused_by_the_config(spec):
    with pytest.raises(
        ValueError, match=r"alpha_l: p of power:c,p must be a number in \[-10, 10\]"
    ):
        AgentConfig(alpha_l=spec)
    with pytest.raises(ValueError, match=r"alpha_f: p of power:c,p"):
        AgentConfig(alpha_f=spec)


def test_the_bound_itself_is_taken():
    assert AgentConfig(alpha_l="power:1,10", alpha_f="power:1,-10").alpha_l == "power:1,10"


@pytest.mark.parametrize("alpha", ["power:1,200", "power:1,1e300"])
def test_run_refuses_an_overflowing_exponent_in_one_line_and_writes_nothing(
    alpha, tmp_path, capsys
):
    out = tmp_path / "b"
    argv = ["run", "--game", "security", "--episodes", "1000", "--seeds", "1"]
    assert main([*argv, "--alpha-l", alpha, "--out", str(out), "--quiet"]) == 2
    assert "p of power:c,p must be a number in [-10, 10]" in one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_a_sweep_refuses_an_overflowing_exponent_before_making_its_folder(
    dry_run, tmp_path, capsys
):
    path = tmp_path / "p.yaml"
    path.write_text('game: security\nseeds: 1\nepisodes: 10\nalpha-l: "power:1,1e300"\n')
    out = tmp_path / "sweeps" / "p"
    assert main(["sweep", str(path), "--out", str(out), "--quiet", *dry_run]) == 2
    assert f"{path}:4: alpha-l:" in one_line(capsys)
    assert not out.exists()


def test_alpha_value_is_greedy_where_K_to_the_p_overflows():
    assert alpha_value("power:1,10", 2, 1, 10**40, 0) == math.inf
    assert alpha_value("power:1,10", 1, 1, 10**40, 0) == 0.0  # one action: α = 0
    assert alpha_value("power:1,-10", 2, 1, 10**40, 0) == 0.0  # underflow is uniform play


# ------------------------------------------------------------- 2. YAML tags
@pytest.mark.parametrize(
    "text, words",
    [
        ("game: !include other.yaml\n", "could not determine a constructor for the tag '!include'"),
        ("seeds: 1\nepisodes: [10, !x 20]\n", "the tag '!x'"),
        ("seeds: 1\nepisodes: !!int abc\n", "tag:yaml.org,2002:int cannot read 'abc'"),
        ("seeds: 1\nepisodes: !!timestamp abc\n", "tag:yaml.org,2002:timestamp cannot read"),
        ("!foo game: security\n", "the tag '!foo'"),
    ],
)
def test_a_yaml_tag_is_not_valid_yaml_with_its_line(text, words, tmp_path, capsys):
    line = text.count("\n", 0, text.index("!")) + 1
    with pytest.raises(SweepFileError) as info:
        parse(text, "t.yaml")
    assert str(info.value).startswith(f"t.yaml:{line}: not valid YAML: ") and words in str(
        info.value
    )
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "sw"), "--dry-run"]) == 2
    assert f"{path}:{line}: not valid YAML: " in one_line(capsys)


# ------------------------------------------------------------- 3. every changed folder at once
def settings(text: str):
    return name_settings([p.config for p in parse(TINY + "seeds: 1\n" + text)])


def test_every_folder_of_another_configuration_is_named_in_one_error(tmp_path):
    out = tmp_path / "sw"
    episodes = "episodes: [3, 4, 5, 6, 7, 8, 9]\n"
    run_grid(settings("beta: 0.2\n" + episodes), out, workers=1, progress=False)
    with pytest.raises(SweepFolderError) as info:
        preview(settings("beta: 0.3\n" + episodes), out)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"{out} holds complete runs of another configuration (agent.beta: 0.2 there, 0.3 here) "
        "in 7 setting folders: episodes=3, episodes=4, episodes=5, episodes=6, episodes=7, …; "
    )
    assert "episodes=8" not in message
    assert "remove them yourself or choose another --out" in message


def test_the_command_names_every_changed_folder_at_once(tmp_path, capsys):
    path, out = tmp_path / "g.yaml", tmp_path / "sw"
    path.write_text(TINY + "seeds: 1\nbeta: 0.2\nepisodes: [3, 4, 5]\n")
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    path.write_text(TINY + "seeds: 1\nbeta: 0.3\nepisodes: [3, 4, 5]\n")
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = one_line(capsys)
    assert "in 3 setting folders: episodes=3, episodes=4, episodes=5; " in err


def test_one_folder_of_another_configuration_is_named_as_before(tmp_path):
    out = tmp_path / "sw"
    run_grid(settings("beta: 0.2\nepisodes: [3, 4]\n"), out, workers=1, progress=False)
    shutil.rmtree(out / "episodes=3")
    with pytest.raises(SweepFolderError, match=r"episodes=4 holds a complete run of another"):
        preview(settings("beta: 0.3\nepisodes: [3, 4]\n"), out)


# ------------------------------------------------------------- 4. small ones
def test_counts_of_one_are_singular(tmp_path):
    lines = preview_lines(preview(settings("episodes: 3\n"), tmp_path / "sw"), tmp_path / "sw")
    assert lines[-1].startswith(f"1 setting in {tmp_path / 'sw'}: 1 to run (1 seed), ")
    config = RunConfig(game=GameSpec("security"), episodes=10**12, seeds=1)
    with pytest.raises(MemoryError, match=r"its results alone: 1 seed × K="):
        check_results_fit(config)


@pytest.mark.parametrize("name", ["random-linear", "random-tabular"])
@pytest.mark.parametrize("noise", [5, -0.1])
def test_game_spec_refuses_reward_noise_out_of_range_with_makes_message(name, noise):
    with pytest.raises(ValueError, match=r"reward_noise must be in \[0, 1\], got"):
        GameSpec(name, {"reward_noise": noise})
    assert GameSpec(name, {"reward_noise": 1.0}).params == {"reward_noise": 1.0}


def test_run_help_gives_anytime_alpha_as_the_code_does(capsys):
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "√(k+1)" in text and "√k for √K" not in text


# --------------------------------------------- an agent option that shapes no setting of the file
@pytest.mark.parametrize(
    "lines, message",
    [("agent: greedy-lsvi-ucb\nalpha-l: 2\n",
      "g.yaml:2: alpha-l: --alpha-l has no effect with --agent greedy-lsvi-ucb in any setting"),
     ("agent: random\nbeta: 0.3\n", "g.yaml:2: beta: --beta has no effect with --agent random"),
     ("c1: [1, 2]\n", "g.yaml:1: c1: --c1 has no effect without --beta theory in any setting"),
     ("schedule-n: 5\n", "g.yaml:1: schedule-n: --schedule-n has no effect without --schedule")],
)  # fmt: skip
def test_a_sweep_file_refuses_an_agent_option_that_shapes_no_setting(lines, message):
    """``agent: greedy-lsvi-ucb`` with ``alpha-l: 2`` had been played greedily, its manifest
    saying ``α_l = 2``; ``run`` refused the same options."""
    with pytest.raises(SweepFileError, match=f"^{message}"):
        parse(lines + "episodes: 5\n" + TINY, "g.yaml")


def test_a_sweep_file_takes_an_agent_option_that_shapes_some_of_its_settings():
    """A grid may cross agent kinds with an option some of them use: it is recorded as given."""
    points = parse("agent: [softmax-lsvi-ucb, random]\nbeta: 0.3\nepisodes: 5\n" + TINY, "g.yaml")
    assert [p.config.agent.beta for p in points] == [0.3, 0.3]
