"""The explore, plan and equilibrium commands with a leader and N followers."""

import json
import math
import re

import numpy as np
import pytest
from helpers import call
from test_ccse_followers import followers_game, play_recorded

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.cli.equilibrium import EquilibriumOptions, show
from stackelberg_rl.equilibria import CCSE
from stackelberg_rl.equilibria import reward_free as rf

GAME = ["--game", "random-tabular", "--param", "n_followers=2", "--param", "n_states=3",
        "--param", "n_leader_actions=2", "--param", "n_follower_actions=2",
        "--param", "horizon=3"]  # fmt: skip
PLAYERS = ("leader", "follower_1", "follower_2")


def test_explore_and_plan_with_two_followers_write_what_the_api_computes(tmp_path, capsys):
    folder = tmp_path / "ex"
    argv = ["explore", *GAME, "--episodes", "30", "--seed", "2", "--quiet", "--out", str(folder)]
    code, out, err = call(argv, capsys)
    assert code == 0, err
    for player in PLAYERS:
        assert re.search(rf"│ {player}:", out), out
    game = games.make("random-tabular", n_followers=2, n_states=3, n_leader_actions=2,
                      n_follower_actions=2, horizon=3)  # fmt: skip
    data = rf.explore(game, 30, seed=2)
    planned = rf.solve(data)
    with np.load(folder / "policies.npz") as saved:
        assert sorted(saved) == ["header", "pi_0", "pi_1", "pi_2", "w"]
        for i, pi in enumerate(planned):
            np.testing.assert_array_equal(saved[f"pi_{i}"], pi)
        assert saved["w"].shape == (3, 3, game.dim)
    gaps = json.loads((folder / "gaps.json").read_text())
    assert gaps == pytest.approx(rf.gaps(game, *planned), abs=1e-15)
    code, out, err = call(["plan", str(folder)], capsys)  # the game's own rewards, known
    assert code == 0, err
    record = json.loads((folder / "plan-random-tabular.json").read_text())
    assert record["gaps"] == pytest.approx(rf.gaps(game, *rf.solve(data, game)), abs=1e-15)
    table = np.stack([game.reward(h) for h in range(3)], axis=1)  # (3, H, S, A_0, A_1, A_2)
    np.savez(tmp_path / "rewards.npz", rewards=table)
    code, out, err = call(["plan", str(folder), "--rewards", str(tmp_path / "rewards.npz")], capsys)
    assert code == 0, err
    again = json.loads((folder / "plan-rewards.json").read_text())
    assert again["gaps"] == pytest.approx(record["gaps"], abs=1e-15)


def test_the_certificate_table_has_a_row_and_a_slope_per_player(capsys):
    game = followers_game(2)
    plans, _ = play_recorded(game, AgentConfig(beta=0.4, alpha_l=2.0, alpha_f=2.0), 12)
    ccse = CCSE(plans, game, {"seed": 0, "seeds": [0]})
    show(ccse, EquilibriumOptions(points=2, ratio=2.0))
    out = capsys.readouterr().out
    cert = ccse.certificate()
    for m, player in enumerate(("leader", "follower 1", "follower 2")):
        rows = re.findall(rf"│ {player}\s+│([^\n]*)", out)
        assert len(rows) == 2, out  # K = 6 and 12
        numbers = [float(v) for v in re.findall(r"[-+]?\d+\.\d+", rows[-1])]
        assert numbers[1] == pytest.approx(cert.upper_initial[m], abs=1e-4)
        assert re.search(rf"  {player}: at x0 ", out), out


def test_the_report_of_a_run_with_two_followers_and_its_plans_bounds_every_player(tmp_path, capsys):
    from stackelberg_rl.equilibria import curve_table

    folder = tmp_path / "run"
    argv = ["run", *GAME, "--episodes", "12", "--seeds", "2", "--alpha-f", "inf 2", "--quiet"]
    code, out, err = call([*argv, "--save-plans", "--workers", "1", "--out", str(folder)], capsys)
    assert code == 0, err
    code, out, err = call(["report", str(folder)], capsys)
    assert code == 0, err
    assert (folder / "report-ccse.png").is_file()
    page = (folder / "report.html").read_text()
    table = curve_table(folder)
    last = table[table.episodes == table.episodes.max()].mean(numeric_only=True)
    for player in PLAYERS:  # each player's ε bracket at the largest K, as the caption gives it
        low, high = last[f"{player}_lower_initial"], last[f"{player}_upper_initial"]
        bracket = f"[{low:.3g}, {high:.3g}] for the {player.replace('_', ' ')}"
        assert bracket in page, bracket


def test_explore_takes_one_alpha_per_follower_as_run_does(tmp_path, capsys):
    game = games.make("random-tabular", n_followers=2, n_states=3, n_leader_actions=2,
                      n_follower_actions=2, horizon=3)  # fmt: skip
    same = rf.explore(game, 20, seed=1, alpha_f=[1.5, 1.5])
    np.testing.assert_array_equal(same.actions, rf.explore(game, 20, seed=1, alpha_f=1.5).actions)
    each = rf.explore(game, 20, seed=1, alpha_f=[1.5, math.inf])
    assert not np.array_equal(each.actions, same.actions)
    folder = tmp_path / "ex"
    argv = ["explore", *GAME, "--episodes", "20", "--seed", "1", "--quiet", "--out", str(folder)]
    code, _, err = call([*argv, "--alpha-f", "1.5 inf"], capsys)
    assert code == 0, err
    with np.load(folder / "data.npz") as saved:
        np.testing.assert_array_equal(saved["actions"], each.actions)
    assert json.loads((folder / "manifest.json").read_text())["options"]["alpha_f"] == [1.5, "inf"]
    code, _, err = call([*argv[:-1], str(tmp_path / "other"), "--alpha-f", "1 2 3"], capsys)
    assert code == 2 and err.strip().endswith(
        "alpha_f gives 3 values, one per follower, but the game has 2 followers"
    ), err
    assert not (tmp_path / "other").exists()
    with pytest.raises(ValueError, match="alpha_f gives 1 values, one per follower"):
        rf.explore(game, 5, alpha_f=[1.0])
