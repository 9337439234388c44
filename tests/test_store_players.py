"""Run folders and their memory estimates along the player axis: one follower or N (SPEC §7)."""

import json
import re
import shutil

import pytest

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.equilibria import reward_free
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, resources, run_seeds
from stackelberg_rl.experiments.loop import columns
from stackelberg_rl.experiments.store import RunFolderError
from stackelberg_rl.games.base import player_names

SMALL = {"n_states": 4, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 3, "horizon": 2}


def config_of(n_followers, episodes=5, seeds=2):
    game = GameSpec("random-linear", {**SMALL, "n_followers": n_followers})
    return RunConfig(game=game, episodes=episodes, seeds=seeds, agent=AgentConfig(beta=0.3))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A complete run folder of one follower and one of two."""
    root = tmp_path_factory.mktemp("runs")
    for n in (1, 2):
        run_seeds(config_of(n), root / f"followers-{n}", workers=1, progress=False)
    return root


@pytest.mark.parametrize("n_followers", [1, 2])
def test_the_results_check_sizes_the_rows_of_every_player(runs, monkeypatch, n_followers):
    # The estimate is the table's own bytes in memory, exactly (fixed dtypes, no index).
    df, _ = load_run(runs / f"followers-{n_followers}")
    config = config_of(n_followers)
    actual = int(df.memory_usage(index=False, deep=True).sum())
    assert len(df) == config.seeds * config.episodes
    monkeypatch.setattr(resources, "available_bytes", lambda: actual - 1)
    with pytest.raises(MemoryError, match=r"2 seeds × K=5 episodes"):
        resources.check_results_fit(config)
    monkeypatch.setattr(resources, "available_bytes", lambda: actual)
    resources.check_results_fit(config)
    assert resources.n_players(config.game) == 1 + n_followers
    assert config.seeds * config.episodes * resources.row_bytes(1 + n_followers) == actual


def test_the_players_of_a_game_file_come_from_its_features_header(tmp_path):
    for n in (1, 2):
        path = tmp_path / f"game-{n}.npz"
        games.save(games.make("random-linear", **SMALL, n_followers=n), path)
        assert resources.n_players(GameSpec(file=str(path))) == 1 + n
    # four columns a player, nine shared, and the first actions of the followers but the last
    assert len(columns(3)) == 9 + 4 * 3 + 1 and len(columns(4)) == 9 + 4 * 4 + 2


@pytest.mark.parametrize("n_followers", [1, 2])
def test_a_run_table_without_a_players_regret_is_refused_naming_the_column(
    runs, tmp_path, n_followers
):
    folder = tmp_path / "run"
    shutil.copytree(runs / f"followers-{n_followers}", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["columns"]  # the list of columns would name the missing one by itself
    (folder / "manifest.json").write_text(json.dumps(manifest))
    df, _ = load_run(folder)
    for name in player_names(1 + n_followers):
        df.drop(columns=f"regret_{name}").to_parquet(folder / "results.parquet", index=False)
        with pytest.raises(RunFolderError, match=rf"no column regret_{name}$"):
            load_run(folder)


def test_a_sweep_folder_given_for_a_run_folder_is_told_naming_its_run_folders(runs, tmp_path):
    sweep = tmp_path / "sweep"
    for name in ("setting-a", "setting-b"):
        shutil.copytree(runs / "followers-1", sweep / name)
    (sweep / "sweep.json").write_text("{}")
    a, b = (re.escape(str(sweep / name)) for name in ("setting-a", "setting-b"))
    told = rf"^{re.escape(str(sweep))} is a sweep folder; give one of its run folders \({a}, "
    with pytest.raises(RunFolderError, match=told + rf"{b}\)$"):
        load_run(sweep)
    with pytest.raises(RunFolderError, match=told):
        run_seeds(None, sweep, resume=True, progress=False)
    with pytest.raises(RunFolderError, match=r"is a sweep folder, not an exploration folder$"):
        reward_free.read_folder(sweep)
