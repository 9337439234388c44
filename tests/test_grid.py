"""Sweep folders (the demo's grid): the sweep.json contract, parallel settings, folder safety."""

import json

import pandas as pd
import pytest

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import GameSpec, RunConfig, RunFolderError, grid, load_run, run
from stackelberg_rl.experiments.grid import Setting, load_sweep, run_settings

TINY = GameSpec(
    "random-linear",
    {"n_states": 4, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 3, "horizon": 2},
)


def settings(n=3):
    return [
        Setting(f"s{K}", RunConfig(game=TINY, episodes=K, seeds=2, agent=AgentConfig(beta=0.3)))
        for K in (4, 6, 8)[:n]
    ]


def test_settings_run_in_parallel_into_run_folders_listed_in_sweep_json(tmp_path):
    folder = run_settings(settings(2), tmp_path / "sweep", workers=2, progress=False)
    data = json.loads((folder / "sweep.json").read_text())
    assert data["format"] == "stackelberg-rl/sweep" and data["status"] == "complete"
    assert [s["name"] for s in data["settings"]] == ["s4", "s6"]
    for s, expected in zip(data["settings"], settings(2), strict=True):
        assert s["folder"] == s["name"] and s["status"] == "complete"
        assert RunConfig.from_dict(s["config"]) == expected.config
        df, manifest = load_run(folder / s["folder"])
        # a setting played in a worker is the same as its seeds played here
        again = pd.concat([run(TINY.make(), expected.config, seed) for seed in (0, 1)])
        cols = ["seed", "episode", "regret_leader", "regret_follower"]
        pd.testing.assert_frame_equal(df[cols], again[cols].reset_index(drop=True))
    info, results = load_sweep(folder)
    assert info == data and [r.df is not None for r in results] == [True] * 2


def test_a_failed_setting_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    real = grid._run_setting

    def flaky(config, folder):
        if folder.endswith("s6"):
            raise RuntimeError("disk on fire")
        return real(config, folder)

    monkeypatch.setattr(grid, "_run_setting", flaky)
    folder = run_settings(settings(), tmp_path / "sweep", workers=1, progress=False)
    _, results = load_sweep(folder)
    assert [r.status for r in results] == ["complete", "failed", "complete"]
    assert "disk on fire" in results[1].error and results[1].df is None


def test_an_interrupted_sweep_removes_what_it_wrote_and_nothing_else(tmp_path, monkeypatch):
    calls, real = [], grid._run_setting

    def interrupted(config, folder):
        calls.append(folder)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, folder)

    monkeypatch.setattr(grid, "_run_setting", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_settings(settings(), tmp_path / "a" / "sweep", workers=1, progress=False)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []  # the sweep and the parent it made are gone
    mine = tmp_path / "mine"
    mine.mkdir()
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        run_settings(settings(), mine, workers=1, progress=False)
    assert mine.is_dir() and list(mine.iterdir()) == []  # an empty folder given stays


def test_a_folder_with_other_files_is_never_used_and_a_sweep_only_with_overwrite(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    for overwrite in (False, True):
        with pytest.raises(RunFolderError, match="never replaced"):
            run_settings(settings(1), mine, workers=1, progress=False, overwrite=overwrite)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    folder = run_settings(settings(2), tmp_path / "sweep", workers=1, progress=False)
    with pytest.raises(RunFolderError, match="--overwrite"):
        run_settings(settings(1), folder, workers=1, progress=False)
    (folder / "s4" / "mine.csv").write_text("1")  # a user's file inside a setting's folder
    with pytest.raises(RunFolderError, match="never replaced"):
        run_settings(settings(1), folder, workers=1, progress=False, overwrite=True)
    (folder / "s4" / "mine.csv").unlink()
    run_settings(settings(1), folder, workers=1, progress=False, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["s4", "sweep.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "sweep"]


@pytest.mark.parametrize(
    "names, message",
    [
        ([], "at least one"),
        (["a", "a"], "must differ"),
        (["../x"], "letters"),
        (["report-x"], "report"),
    ],
)
def test_bad_setting_names_are_refused_before_anything_is_written(tmp_path, names, message):
    config = RunConfig(game=TINY, episodes=2)
    with pytest.raises(ValueError, match=message):
        run_settings([Setting(n, config) for n in names], tmp_path / "s", progress=False)
    assert list(tmp_path.iterdir()) == []
