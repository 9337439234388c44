"""Prefixes instead of reruns: a sweep over K plays the longest run of a setting whose players do
not depend on K and writes the shorter ones from its first episodes, each as its own run would
have written it (every column but wall_time, its plans, its manifest's configuration) — through
resumes, interruptions, failures and re-runs."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from test_processes import wait_for
from test_sweep import SPEC, TINY, ctrl_c_and_wait_for_the_stop, settings_of, without_time

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run_seeds
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments import driver as driver_mod
from stackelberg_rl.experiments.loop import SeedRun
from stackelberg_rl.experiments.plan_history import PLANS_FILE, read_plans
from stackelberg_rl.experiments.runs import new_play
from stackelberg_rl.sweep import name_settings, preview, preview_lines, run_grid

GRID = TINY + (
    "seeds: 2\nbeta: 0.3\neval_every: 3\nsave_plans: true\nepisodes: [7, 12, 20]\n"
    "zip:\n"
    "  agent: [softmax-lsvi-ucb, greedy-lsvi-ucb, softmax-lsvi-ucb]\n"
    "  alpha-l: [anytime, fixed-K, fixed-K]\n"  # greedy plays α = ∞ whatever α says
    "  alpha-f: [anytime, fixed-K, fixed-K]\n"
)
ANYTIME = "seeds: 2\nbeta: 0.3\nalpha-l: anytime\nalpha-f: anytime\n"


def named(settings):
    return {s.name: s for s in settings}


def assert_same_run(folder, alone_folder, seeds=(0, 1)):
    """The run folders hold the same run: table (wall_time aside), plans, configuration."""
    (df, manifest), (df_alone, manifest_alone) = load_run(folder), load_run(alone_folder)
    pd.testing.assert_frame_equal(without_time(df), without_time(df_alone))
    for key in ("config", "resolved", "seeds", "episodes", "columns"):
        assert manifest[key] == manifest_alone[key], key
    if manifest["config"]["save_plans"]:
        for seed in seeds:
            ours, theirs = (
                read_plans(folder / PLANS_FILE, seed),
                read_plans(alone_folder / PLANS_FILE, seed),
            )
            for name, array in ours.to_arrays().items():
                np.testing.assert_array_equal(array, theirs.to_arrays()[name], err_msg=name)


def assert_one_seed_left_then_as_alone(settings, out, tmp_path):
    """Running the sweep again plays the one seed left, then each setting is its run alone."""
    again = run_grid(settings, out, workers=1, progress=False)
    assert again.tasks == 1 and not again.failed
    for s in settings:
        run_seeds(s.config, tmp_path / "alone" / s.name, workers=1, progress=False)
        assert_same_run(out / s.name, tmp_path / "alone" / s.name)


def test_a_prefix_is_the_run_of_its_K_and_a_fixed_K_setting_is_played(tmp_path):
    settings = settings_of(GRID)
    out = tmp_path / "sw"
    states = {s.setting.name: s for s in preview(settings, out)}
    sources = {name: s.source for name, s in states.items() if s.source is not None}
    anytime = "episodes={},agent=softmax-lsvi-ucb,alpha-l=anytime,alpha-f=anytime"
    greedy = "episodes={},agent=greedy-lsvi-ucb,alpha-l=fixed-K,alpha-f=fixed-K"
    assert sources == {
        anytime.format(7): anytime.format(20),
        anytime.format(12): anytime.format(20),
        greedy.format(7): greedy.format(20),
        greedy.format(12): greedy.format(20),
    }  # the soft-max fixed-K settings (α depends on K) are played, each
    lines = preview_lines(list(states.values()), out)
    assert f"{anytime.format(7)}  cut 2 seeds (0, 1) from the runs of {anytime.format(20)}" in lines
    assert lines[-1].endswith("5 to run (10 seeds), 4 cut from the first episodes of longer runs, "
                              "0 complete and skipped")  # fmt: skip

    outcome = run_grid(settings, out, workers=1, progress=False)
    assert outcome.tasks == 10 and not outcome.failed  # 2 + 2 + 3 × 2 seeds, not 18
    record = json.loads((out / "sweep.json").read_text())
    assert {s["status"] for s in record["settings"]} == {"complete"}
    for name in sources:
        assert load_run(out / name)[1]["sweep"]["prefix_of"] == sources[name]
        config = named(settings)[name].config
        run_seeds(config, tmp_path / "alone" / name, workers=1, progress=False)
        assert_same_run(out / name, tmp_path / "alone" / name)
    # The last evaluated row of K = 7 stands for 1 episode; in the run of 20 it stood for 3.
    assert "prefix_of" not in load_run(out / anytime.format(20))[1]["sweep"]
    df = load_run(out / anytime.format(7))[0]
    assert df.loc[df.episode == 6, "eval_weight"].tolist() == [1, 1]
    assert not (out / anytime.format(7) / ckpt.CHECKPOINTS_DIR).exists()

    # Run again: nothing to do. A prefix's folder lost: cut again from the complete source.
    assert run_grid(settings, out, workers=1, progress=False).tasks == 0
    shutil.rmtree(out / greedy.format(12))
    states = preview(settings, out)
    assert [s.setting.name for s in states if s.action != "skip"] == [greedy.format(12)]
    again = run_grid(settings, out, workers=1, progress=False)
    assert again.tasks == 0 and not again.failed
    run_seeds(named(settings)[greedy.format(12)].config, tmp_path / "g12", workers=1,
              progress=False)  # fmt: skip
    assert_same_run(out / greedy.format(12), tmp_path / "g12")


def test_without_prefixes_every_setting_is_played_to_the_same_results(tmp_path):
    settings = settings_of(TINY + ANYTIME + "episodes: [4, 9]\n")
    cut = run_grid(settings, tmp_path / "cut", workers=2, progress=False)  # processes
    played = run_grid(settings, tmp_path / "played", workers=1, progress=False, prefixes=False)
    assert (cut.tasks, played.tasks) == (2, 4)
    for s in settings:
        assert_same_run(tmp_path / "cut" / s.name, tmp_path / "played" / s.name)


def test_an_interrupted_sweep_keeps_the_prefixes_of_the_seeds_played(tmp_path, monkeypatch):
    settings = settings_of(TINY + ANYTIME + "episodes: [5, 9]\n")
    short, long = (s.name for s in settings)
    out, real, calls = tmp_path / "sw", driver_mod.play, []

    def interrupted(game, config, seed, **kwargs):
        calls.append((config.episodes, seed))
        if seed == 1:  # Ctrl-C as seed 1 starts, once seed 0 and its prefix are kept
            kept = out / short / ckpt.CHECKPOINTS_DIR / "seed-0.npz"
            wait_for(kept.is_file, 60, "the prefix of seed 0 kept")
            ctrl_c_and_wait_for_the_stop(kwargs["stop"])
        return real(game, config, seed, **kwargs)

    monkeypatch.setattr(driver_mod, "play", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_grid(settings, out, workers=1, progress=False)
    assert calls == [(9, 0), (9, 1)]
    record = json.loads((out / "sweep.json").read_text())
    assert [(s["status"], s["seeds_done"]) for s in record["settings"]] == [
        ("pending", [0]), ("pending", [0]),
    ]  # fmt: skip
    kept = (out / short / ckpt.CHECKPOINTS_DIR / "seed-0.npz").read_bytes()
    assert ckpt.peek(kept)["finished"] and ckpt.peek(kept)["episodes_done"] == 5
    states = preview(settings, out)
    assert [(s.action, s.done, s.source) for s in states] == [
        ("resume", [0], long), ("resume", [0], None),
    ]  # fmt: skip
    monkeypatch.setattr(driver_mod, "play", real)
    assert_one_seed_left_then_as_alone(settings, out, tmp_path)


def test_a_failed_seed_of_the_source_fails_its_prefixes_until_played_again(tmp_path, monkeypatch):
    settings = settings_of(TINY + ANYTIME + "episodes: [5, 9]\n")
    short, long = (s.name for s in settings)
    out, real = tmp_path / "sw", driver_mod.play

    def flaky(game, config, seed, **kwargs):
        if seed == 1:
            raise FloatingPointError("a deliberate failure")
        return real(game, config, seed, **kwargs)

    monkeypatch.setattr(driver_mod, "play", flaky)
    outcome = run_grid(settings, out, workers=1, progress=False)
    assert [s.setting.name for s in outcome.failed] == [short, long]
    record = {s["name"]: s for s in json.loads((out / "sweep.json").read_text())["settings"]}
    assert record[short]["seeds_done"] == [0]
    assert record[short]["seeds_failed"] == {"1": f"seed 1 of setting {long}, its source, failed"}
    monkeypatch.setattr(driver_mod, "play", real)
    assert_one_seed_left_then_as_alone(settings, out, tmp_path)


def test_a_setting_played_before_without_prefixes_is_cut_and_its_own_state_not_continued(
    tmp_path, monkeypatch
):
    settings = settings_of(TINY + ANYTIME + "episodes: [5, 9]\n")
    short, long = (s.name for s in settings)
    out, real = tmp_path / "sw", driver_mod.play

    def interrupted(game, config, seed, **kwargs):
        if config.episodes == 5:  # the longest is complete; Ctrl-C as the shorter starts
            ctrl_c_and_wait_for_the_stop(kwargs["stop"])
        return real(game, config, seed, **kwargs)

    monkeypatch.setattr(driver_mod, "play", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_grid(settings, out, workers=1, progress=False, prefixes=False)
    monkeypatch.setattr(driver_mod, "play", real)
    # Seed 1 of the shorter had played 2 episodes of its own run.
    config = settings[0].config
    seed_run = SeedRun(config.game.make(), config, 1)
    for _ in range(2):
        seed_run.play_episode()
    (out / short / ckpt.CHECKPOINTS_DIR).mkdir(exist_ok=True)
    (out / short / ckpt.CHECKPOINTS_DIR / "seed-1.npz").write_bytes(seed_run.checkpoint())
    played = preview(settings, out, prefixes=False)[0]
    assert played.checkpoints == {1: 2} and "seed 1 continues from episode 2" in played.why
    state = preview(settings, out)[0]
    assert (state.action, state.source, state.checkpoints) == ("resume", long, {})
    assert "continues" not in state.why
    again = run_grid(settings, out, workers=1, progress=False)
    assert again.tasks == 0 and not again.failed
    run_seeds(config, tmp_path / "alone", workers=1, progress=False)
    assert_same_run(out / short, tmp_path / "alone")


def test_the_driver_refuses_a_prefix_whose_source_it_does_not_play(tmp_path):
    short, long = settings_of(TINY + ANYTIME + "episodes: [5, 9]\n")
    game = short.config.game.make()
    plays = [new_play(s.name, s.config, game, tmp_path / s.name, 1) for s in (short, long)]
    plays[0].source = plays[1]
    with pytest.raises(ValueError, match=f"setting {short.name}: its source is not a play"):
        driver_mod.drive(plays[:1], progress=False)
    for p in plays:
        p.reservation.abandon()
    assert not any(tmp_path.iterdir())


def test_prefixes_of_a_continuous_game_and_of_random_play_are_their_runs(tmp_path):
    continuous = GameSpec("continuous", {"n_eval_states": 20, "n_replications": 4})
    settings = name_settings([
        RunConfig(game=game, episodes=K, seeds=2, eval_every=2, agent=agent)
        for K in (4, 9)
        for game, agent in (
            (continuous, AgentConfig(beta=0.3, alpha_l="anytime", alpha_f=2.0)),
            (SPEC, AgentConfig(kind="random")),
        )
    ])  # fmt: skip
    outcome = run_grid(settings, tmp_path / "sw", workers=1, progress=False)
    assert outcome.tasks == 4  # the runs of K = 9 only
    for s in settings[:2]:  # K = 4: Monte-Carlo regret with its intervals; uniform play
        run_seeds(s.config, tmp_path / "alone" / s.name, workers=1, progress=False)
        assert_same_run(tmp_path / "sw" / s.name, tmp_path / "alone" / s.name)
