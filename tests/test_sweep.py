"""Sweeps: the YAML file (expansion, zip, every kind of error with its line), folder names, the
sweep folder's contract, idempotent re-runs, --dry-run, failures that stop nothing else, the
local backend with one and two workers, and signals."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
from helpers import interrupt, killed_if_left
from test_processes import alive, children, wait_for, workers_of

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.cli import main
from stackelberg_rl.cli.sweep_file import SweepFileError, parse
from stackelberg_rl.experiments import GameSpec, NewFolder, RunConfig, load_run
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments import driver as driver_mod
from stackelberg_rl.experiments.loop import play
from stackelberg_rl.experiments.store import lock
from stackelberg_rl.sweep import (
    SWEEP_FORMAT,
    Setting,
    SettingError,
    SweepFolderError,
    is_sweep_folder,
    load_sweep,
    name_settings,
    preview,
    preview_lines,
    run_grid,
)
from stackelberg_rl.sweep import grid as grid_mod
from stackelberg_rl.sweep.grid import SWEEP_FOLDER

TINY = "param: {n_states: 5, n_leader_actions: 2, n_follower_actions: 2, dim: 3, horizon: 2}\n"
SPEC = GameSpec(params=dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2))


def settings_of(text: str) -> list[Setting]:
    return name_settings([p.config for p in parse(text)])


def without_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_time")


# ---------------------------------------------------------------------- the file
def test_lists_expand_as_a_product_first_key_slowest_and_scalars_everywhere():
    points = parse(TINY + "episodes: [10, 20]\nbeta: 0.3\nalpha_l: [fixed-K, anytime, 2.5]\n")
    got = [(p.config.episodes, p.config.agent.alpha_l) for p in points]
    assert got == [(e, a) for e in (10, 20) for a in ("fixed-K", "anytime", 2.5)]
    assert all(p.config.agent.beta == 0.3 and p.config.game == SPEC for p in points)
    assert all(p.config.seeds == 4 for p in points)  # run's defaults


def test_zip_pairs_lists_and_several_groups_cross_each_other():
    text = TINY.replace("n_states: 5, ", "") + (
        "seeds: 1\n"
        "zip:\n"
        "  - alpha-l: [fixed-K, anytime]\n"
        "    alpha-f: [fixed-K, anytime]\n"
        "  - episodes: [10, 40]\n"
        "    param: {n_states: [5, 7]}\n"
    )
    got = [
        (c.agent.alpha_l, c.agent.alpha_f, c.episodes, c.game.params["n_states"])
        for c in (p.config for p in parse(text))
    ]
    assert got == [
        ("fixed-K", "fixed-K", 10, 5),
        ("fixed-K", "fixed-K", 40, 7),
        ("anytime", "anytime", 10, 5),
        ("anytime", "anytime", 40, 7),
    ]
    one_group = parse(TINY + "zip: {beta: [0.1, 0.2], lam: [1, 2]}\n")
    assert [(p.config.agent.beta, p.config.agent.lam) for p in one_group] == [
        (0.1, 1.0),
        (0.2, 2.0),
    ]


def test_keys_take_dashes_or_underscores_and_values_the_command_line_types():
    (point,) = parse(
        TINY + "eval_every: 2\nsave-plans: yes\ndecentralised: false\nalpha-f: inf\n"
        "game: random-linear\nschedule: every-n\nschedule_n: 3\n"
    )
    c = point.config
    assert (c.eval_every, c.save_plans, c.agent.decentralised) == (2, True, False)
    assert c.agent.alpha_f == float("inf") and c.agent.schedule_n == 3


BAD = [
    # (file, line, key, words of the message)
    ("episodes: 10\nepsiodes: 3\n", 2, "epsiodes", "did you mean episodes"),
    ("out: somewhere\n", 1, "out", "option of the sweep command"),
    ("overwrite: true\n", 1, "overwrite", "an option of run (--overwrite), not of a sweep"),
    ("resume: x\n", 1, "resume", "an option of run (--resume), not of a sweep: running a"),
    ("beta: .nan\n", 1, "beta", "beta must be a number, not nan"),
    ("episodes: [10, x]\n", 1, "episodes", "must be an integer"),
    ("seeds: 0\n", 1, "seeds", "an integer >= 1"),
    ("\n\nbeta: -1\n", 3, "beta", "allowed: NUMBER|theory"),
    ("alpha-l: fast\n", 1, "alpha-l", "power:C,P"),
    ("alpha-l: [fixed-K,\n  power:1, 0.5]\n", 2, "alpha-l", "quote it"),
    ("alpha-f: 'power:0,0.5'\n", 1, "alpha-f", "c of power:c,p"),
    ("agent: foo\n", 1, "agent", "one of softmax-lsvi-ucb, greedy-lsvi-ucb"),
    ("dtype: float16\n", 1, "dtype", "one of float64, float32"),
    ("decentralised: maybe\n", 1, "decentralised", "true or false"),
    ("game: nope\n", 1, "game", "known games"),
    ("param: {n_states: 5, foo: 1}\n", 1, "param.foo", "its parameters are"),
    ("game: security\nparam:\n  n_targets: x\n", 3, "param.n_targets", "must be an integer"),
    ("agent: random\nsave-plans: true\n", "1,2", "agent, save-plans", "makes none"),
    ("param: 3\n", 1, "param", "mapping of game parameters"),
    ("lam: []\n", 1, "lam", "empty list"),
    ("beta: [[1, 2]]\n", 1, "beta", "not a list"),
    ("zip:\n  beta: 1\n", 2, "beta", "every value is a list"),
    ("zip:\n  beta: [1, 2]\n  lam: [1]\n", 2, "zip", "one length"),
    ("beta: 1\nlam: 2\nbeta: 3\n", 3, "beta", "given twice (also on line 1)"),
    ("alpha-l: 1\nalpha_l: 2\n", 2, "alpha-l", "given twice"),
    ("beta: [0.5, 0.5]\n", 1, "beta", "same run"),
    ("beta: [\n", 2, None, "not valid YAML"),
    ("", 1, None, "empty"),
    ("- 1\n- 2\n", 1, None, "mapping"),
    ("game-file: missing.npz\n", 1, "game-file", "no such file"),
]


@pytest.mark.parametrize("text, line, key, words", BAD)
def test_every_bad_file_is_one_line_with_its_line_key_and_allowed_values(text, line, key, words):
    with pytest.raises(SweepFileError) as info:
        parse(text, "grid.yaml")
    message = str(info.value)
    assert "\n" not in message
    prefix = f"grid.yaml:{line}: " + (f"{key}: " if key else "")
    assert message.startswith(prefix), message
    assert words in message, message


def test_the_command_prints_the_error_in_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + "episodes: 10\nbeta: [0.1, lots]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:3: beta:" in err
    assert not (tmp_path / "out").exists()


def test_a_game_that_cannot_be_built_is_refused_before_anything_runs(tmp_path, capsys):
    # n_targets = -3 parses as an integer; only building the game refuses it.
    path = tmp_path / "grid.yaml"
    path.write_text("game: security\nepisodes: 5\nparam:\n  n_targets: [2, -3]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:4: param.n_targets:" in err, err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------- names
def test_names_come_from_what_varies_in_run_option_order_and_are_safe():
    names = [s.name for s in settings_of(TINY + 'alpha-l: [anytime, "power:1,0.25"]\n'
                                          "episodes: [10, 20]\nbeta: 0.2\n")]  # fmt: skip
    assert names == [  # in the file's order (alpha-l slowest), named in run's (episodes first)
        "episodes=10,alpha-l=anytime",
        "episodes=20,alpha-l=anytime",
        "episodes=10,alpha-l=power-1-0.25",
        "episodes=20,alpha-l=power-1-0.25",
    ]
    assert [s.name for s in settings_of(TINY)] == ["run"]
    game = [s.name for s in settings_of("param: {n_states: [5, 6], horizon: 2}\n")]
    assert game == ["param.n_states=5", "param.n_states=6"]


def test_names_are_unique_stable_and_short():
    configs = [RunConfig(game=SPEC, seed=s) for s in (1, 2)]
    assert [s.name for s in name_settings(configs)] == ["seed=1", "seed=2"]
    long = [RunConfig(game=GameSpec(params={**SPEC.params, "seed": 10**40 + i})) for i in (0, 1)]
    names = [s.name for s in name_settings(long)]
    assert len(set(names)) == 2 and all(len(n) <= 120 for n in names)
    assert names == [s.name for s in name_settings(long)]
    power = settings_of(TINY + "alpha-l: ['power:1,0.5', anytime, inf]\n")
    for name in names + [s.name for s in power]:
        assert all(c.isalnum() or c in "._+=-," for c in name), name


def test_settings_that_nothing_named_tells_apart_get_a_stable_hash():
    # agent.extra is no option of run: the two settings differ only there.
    configs = [RunConfig(game=SPEC, agent=AgentConfig(extra={"label": v})) for v in "ab"]
    names = [s.name for s in name_settings(configs)]
    assert len(set(names)) == 2 and all(n.startswith("run-") and len(n) == 12 for n in names)
    assert names == [s.name for s in name_settings(configs)]


# ---------------------------------------------------------------------- the sweep folder
def small(text: str = "") -> list[Setting]:
    return settings_of(TINY + "seeds: 2\nbeta: 0.3\n" + (text or "episodes: [6, 9]\n"))


def started(out: Path) -> None:
    """A sweep folder as a sweep leaves it once it has started."""
    (out / "sweep.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(
        json.dumps({"format": SWEEP_FORMAT, "format_version": 1, "settings": []})
    )


def test_the_sweep_folder_contract(tmp_path):
    settings = small()
    out = tmp_path / "sw"
    outcome = run_grid(settings, out, workers=1, text="the file's text", progress=False)
    assert not outcome.failed and outcome.tasks == 4
    record = json.loads((out / "sweep.json").read_text())
    assert record["format"] == SWEEP_FORMAT == "stackelberg-rl/sweep"
    assert record["text"] == "the file's text" and record["status"] == "complete"
    assert [s["name"] for s in record["settings"]] == [s.name for s in settings]
    for entry, setting in zip(record["settings"], settings, strict=True):
        assert set(entry) >= {"name", "folder", "config", "status"}
        assert entry["status"] == "complete" and entry["config"] == setting.config.to_dict()
        df, manifest = load_run(out / entry["folder"])
        assert RunConfig.from_dict(manifest["config"]) == setting.config
        assert manifest["status"] == "complete" and manifest["sweep"]["setting"] == entry["name"]
        assert sorted(df["seed"].unique()) == [0, 1]
        assert len(df) == 2 * setting.config.episodes
    log = (out / "sweep.log").read_text()
    assert "sweep started" in log and "4 seeds played" in log
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["sweep.json", "sweep.log", *(s.name for s in settings)]
    )


def test_each_setting_equals_a_run_of_its_own(tmp_path):
    from stackelberg_rl.experiments import run_seeds

    (setting, _) = small()
    run_grid(small(), tmp_path / "sw", workers=1, progress=False)
    alone = run_seeds(setting.config, tmp_path / "alone", workers=1, progress=False)
    df, _ = load_run(tmp_path / "sw" / setting.name)
    pd.testing.assert_frame_equal(without_time(df), without_time(alone))


def test_a_rerun_skips_what_is_complete_and_dry_run_says_so(tmp_path, capsys):
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + "seeds: 2\nbeta: 0.3\nepisodes: [6, 9]\n")
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*")}
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["episodes=6  skip: complete", "episodes=9  skip: complete"]
    assert "0 to run (0 seeds), 2 complete and skipped" in lines[2]
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "0 seeds played" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("*/*")}
    # A new value in the grid: only its setting runs.
    path.write_text(TINY + "seeds: 2\nbeta: 0.3\nepisodes: [6, 9, 12]\n")
    assert main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "episodes=12  run 2 seeds (0, 1)"  # first


def test_a_complete_sweep_asks_no_backend_for_anything(tmp_path):
    run_grid(small(), tmp_path / "sw", workers=1, progress=False)
    # No Ray is running and none answers at this address: it is not even asked.
    again = run_grid(small(), tmp_path / "sw", backend="ray", address="127.0.0.1:9", progress=False)
    assert again.tasks == 0 and not again.failed
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["status"] == "complete"


def test_a_dry_run_writes_nothing(tmp_path, capsys):
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + "seeds: 3\nepisodes: 5\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "sw"), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "run  run 3 seeds (0, 1, 2)",
        f"1 setting in {tmp_path / 'sw'}: 1 to run (3 seeds), 0 complete and skipped",
    ]
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize(
    "grid, message",
    [
        (  # one α per follower, and a setting with one follower
            'param: {n_followers: [1, 2]}\nalpha-f: "inf 2"\n',
            r"grid.yaml:2: alpha-f: alpha_f gives 2 values, one per follower, but the game has "
            r"1 follower \(setting param.n_followers=1\)",
        ),
        ("param: {n_states: [0, 5]}\n", r"grid.yaml:1: param.n_states: .*n_states"),
    ],
)
def test_a_dry_run_refuses_what_the_sweep_would_refuse_before_playing(
    tmp_path, capsys, grid, message
):
    path = tmp_path / "grid.yaml"
    path.write_text(grid + "episodes: 5\n")
    for dry_run in (["--dry-run"], []):
        code = main(["sweep", str(path), "--out", str(tmp_path / "sw"), "--quiet", *dry_run])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and re.search(message, err), err
        assert not (tmp_path / "sw").exists()


def test_a_complete_setting_whose_results_are_damaged_is_played_again(tmp_path):
    out = tmp_path / "sw"
    settings = small("episodes: 6\nalpha-l: [fixed-K, 2.0]\n")
    run_grid(settings, out, workers=1, progress=False)
    damaged = out / settings[1].name / "results.parquet"
    whole = damaged.read_bytes()
    damaged.write_bytes(whole[:200])
    first, second = preview(settings, out)
    assert (first.action, second.action) == ("skip", "run")
    assert second.why.startswith("a complete run whose files are damaged, played again (")
    outcome = run_grid(settings, out, workers=1, progress=False)
    assert outcome.tasks == 2 and not outcome.failed
    again = pd.read_parquet(damaged)
    pd.testing.assert_frame_equal(
        without_time(again), without_time(pd.read_parquet(BytesIO(whole)))
    )
    again.iloc[:5].to_parquet(damaged, index=False)  # a whole file, of fewer rows: played again
    assert "does not hold the 12 rows" in preview(settings, out)[1].why
    (damaged.parent / "manifest.json").write_text('{"garbled')  # what it held is unknown: asked
    with pytest.raises(
        SweepFolderError, match=rf"corrupt or truncated.*; remove .*{settings[1].name}"
    ):
        preview(settings, out)


def test_a_sweep_whose_sweep_json_is_lost_goes_on_from_its_run_folders(tmp_path):
    """Also once moved: its run folders name the folder they were played in (a moved sweep
    folder without its sweep.json had been called foreign, against the error's advice)."""
    settings = small()
    run_grid(settings, tmp_path / "played", workers=1, progress=False)
    out = (tmp_path / "played").rename(tmp_path / "sw")
    (out / "sweep.json").write_text('{"format": "stackelberg-rl/sweep", "sett')
    with pytest.raises(
        SweepFolderError, match=r"sweep.json is corrupt or truncated.*; if it is a sweep"
    ):
        preview(settings, out)
    (out / "sweep.json").unlink()  # as the error says
    assert [s.action for s in preview(settings, out)] == ["skip", "skip"]
    assert run_grid(settings, out, workers=1, progress=False).tasks == 0
    assert json.loads((out / "sweep.json").read_text())["status"] == "complete"
    (out / "sweep.json").unlink()
    (out / "mine.txt").write_text("a user's file: not a folder a sweep left")
    with pytest.raises(SweepFolderError, match="holds no sweep.json: it is not a sweep folder"):
        preview(settings, out)


def test_a_sweep_file_without_a_folders_settings_says_what_it_drops_from_its_record(
    tmp_path, capsys
):
    """Another file's sweep in the folder: its settings leave ``sweep.json`` (silently before),
    their run folders stay."""
    first, second, out = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "sw"
    first.write_text(TINY + "seeds: 1\nepisodes: [4, 5]\n")
    second.write_text(TINY + "seeds: 1\nepisodes: [3, 6]\n")
    assert main(["sweep", str(first), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    for dry in (["--dry-run"], ["--workers", "1", "--quiet"]):
        assert main(["sweep", str(second), "--out", str(out), *dry]) == 0
        assert (
            f"note: {out} holds a sweep with 2 settings that {second} does not have "
            "(episodes=4, episodes=5): their run folders stay" in capsys.readouterr().out
        )
    names = [s["name"] for s in json.loads((out / "sweep.json").read_text())["settings"]]
    assert (
        names == ["episodes=3", "episodes=6"] and (out / "episodes=4" / "results.parquet").is_file()
    )


@pytest.mark.parametrize("command", ["sweep", "demo"])
def test_a_sweep_folder_that_cannot_be_created_is_one_line(tmp_path, capsys, command):
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + "episodes: 5\n")
    argv = [str(path)] if command == "sweep" else ["--episodes", "5,6"]
    code = main([command, *argv, "--out", "/proc/1/no-such/sw", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith("cannot create /proc/1/no-such/sw: No such file or directory")


def test_a_killed_sweep_continues_its_unfinished_run_folder_to_the_results_of_a_whole_run(
    tmp_path, monkeypatch
):
    out = tmp_path / "sw"
    first, second = small()
    real = driver_mod.play

    def killed(game, config, seed, **kwargs):
        if config.episodes == first.config.episodes and seed == 1:
            # Once the driver has kept what was played: the other setting, and seed 0's rows.
            kept = out / first.name / "checkpoints" / "seed-0.npz"
            wait_for(lambda: complete(out / second.name) and kept.is_file(), 60, "seed 0 kept")
            ctrl_c_and_wait_for_the_stop(kwargs["stop"])
        return real(game, config, seed, **kwargs)

    # As a killed sweep leaves it: seed 0 of the first setting kept, a "running" run folder.
    monkeypatch.setattr(driver_mod, "play", killed)
    with pytest.raises(KeyboardInterrupt):
        run_grid([first, second], out, workers=1, progress=False)
    monkeypatch.setattr(driver_mod, "play", real)
    manifest = json.loads((out / first.name / "manifest.json").read_text())
    (out / first.name / "manifest.json").write_text(
        json.dumps({**manifest, "status": "running", "pid": 999999999, "host": "elsewhere"})
    )
    states = preview([first, second], out)
    assert states[0].action == "resume" and states[0].done == [0] and states[0].to_run == [1], (
        states[0].why
    )
    assert "seed 0 kept" in states[0].why
    outcome = run_grid([first, second], out, workers=1, progress=False)
    assert outcome.tasks == 1 + len(states[1].to_run) and not outcome.failed
    df, manifest = load_run(out / first.name)
    assert len(manifest["resumed"]) == 1
    whole = RunConfig.from_dict(first.config.to_dict())
    from stackelberg_rl.experiments import run_seeds

    alone = run_seeds(whole, tmp_path / "alone", workers=1, progress=False)
    pd.testing.assert_frame_equal(without_time(df), without_time(alone))
    assert not (out / first.name / "checkpoints").exists()


def test_user_files_are_never_replaced(tmp_path):
    out = tmp_path / "sw"
    (first, _) = settings = small()
    started(out)
    (out / first.name).mkdir(parents=True)
    (out / first.name / "notes.txt").write_text("mine")
    with pytest.raises(SweepFolderError, match="never replaced"):
        run_grid(settings, out, workers=1, progress=False)
    assert (out / first.name / "notes.txt").read_text() == "mine"
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("1")
    with pytest.raises(SweepFolderError, match="not a sweep folder"):
        run_grid(settings, other, workers=1, progress=False)


def test_a_complete_run_of_another_configuration_is_refused(tmp_path):
    out = tmp_path / "sw"
    run_grid(small(), out, workers=1, progress=False)
    changed = small("episodes: [6, 9]\nlam: 2\n")
    with pytest.raises(SweepFolderError, match=r"another configuration \(agent.lam: 1.0 there"):
        preview(changed, out)


def complete(folder: Path) -> bool:
    """Whether ``folder`` holds a complete run (its manifest says so)."""
    try:
        return json.loads((folder / "manifest.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def ctrl_c_and_wait_for_the_stop(stop) -> None:
    """Ctrl-C from a seed's thread, then wait until the driver, in the main thread, asks it to stop.

    The seed then stops before its first episode, whenever the main thread gets to the signal.
    """
    signal.raise_signal(signal.SIGINT)
    for _ in range(60_000):
        if stop():
            return
        time.sleep(0.001)
    raise AssertionError("the driver never asked the seeds to stop")


def failing(monkeypatch, error: Exception):
    """Seed 1 of the setting of 6 episodes raises ``error``; the real ``play`` is returned."""
    real = driver_mod.play

    def flaky(game, config, seed, **kwargs):
        if config.episodes == 6 and seed == 1:
            raise error
        return real(game, config, seed, **kwargs)

    monkeypatch.setattr(driver_mod, "play", flaky)
    return real


def test_a_failing_setting_stops_nothing_else_and_runs_again_next_time(tmp_path, monkeypatch):
    real = failing(monkeypatch, FloatingPointError("a deliberate failure"))
    out = tmp_path / "sw"
    outcome = run_grid(small(), out, workers=1, progress=False)
    assert [s.setting.name for s in outcome.failed] == ["episodes=6"]
    assert "failed: episodes=6" in outcome.summary()
    record = json.loads((out / "sweep.json").read_text())
    assert record["status"] == "failed"
    failed, ok = record["settings"]
    assert failed["status"] == "failed" and failed["seeds_done"] == [0]
    assert "FloatingPointError: a deliberate failure" in failed["seeds_failed"]["1"]
    assert ok["status"] == "complete" and load_run(out / ok["folder"])
    log = (out / "sweep.log").read_text()
    assert "setting episodes=6 seed 1: failed" in log and "Traceback" in log
    # Its run folder stays unfinished, seed 0 kept in it: resumable like an interrupted run.
    manifest = json.loads((out / "episodes=6" / "manifest.json").read_text())
    assert (
        manifest["status"] == "interrupted" and "seed 1: FloatingPointError" in manifest["reason"]
    )
    assert ckpt.peek((out / "episodes=6" / "checkpoints" / "seed-0.npz").read_bytes())["finished"]
    # Next time: only the failed seed is played, and the setting is complete.
    monkeypatch.setattr(driver_mod, "play", real)
    states = preview(small(), out)
    assert [s.to_run for s in states] == [[1], []] and "failed last time" in states[0].why
    again = run_grid(small(), out, workers=1, progress=False)
    assert again.tasks == 1 and not again.failed
    assert load_run(out / "episodes=6")[0]["seed"].nunique() == 2


def test_sweep_json_is_written_when_a_setting_ends_not_after_every_seed(tmp_path, monkeypatch):
    out, writes = tmp_path / "sw", []
    real = grid_mod.write_file

    def counted(folder, name, write, exclusive=False):
        writes.append(name)
        return real(folder, name, write, exclusive)

    monkeypatch.setattr(grid_mod, "write_file", counted)
    settings = settings_of(TINY + "seeds: 3\nbeta: 0.3\nepisodes: [4, 5]\n")
    assert run_grid(settings, out, workers=1, progress=False).tasks == 6
    # Once as it starts, once as each setting is complete, once as it ends: not per seed.
    assert writes == ["sweep.json"] * 4


def test_the_command_exits_1_with_a_summary_when_a_setting_failed(tmp_path, capsys, monkeypatch):
    def broken(game, config, seed, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(driver_mod, "play", broken)
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + "seeds: 1\nepisodes: 3\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "sw"), "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "sweep.log" in out


# ---------------------------------------------------------------------- named settings, read back
def test_settings_named_by_the_caller_run_into_run_folders_that_load_sweep_reads(tmp_path):
    # The demo names its own settings; each gives what its seeds give played alone. In this
    # process: that two local workers give the same is test_two_local_workers_give_the_results_of_
    # one_and_a_failure_stops_nothing (test_sweep_ray.py) and, for a run, test_a_given_game_is_
    # the_game_played_with_any_number_of_workers (test_run_folders.py).
    configs = [
        RunConfig(game=SPEC, episodes=K, seeds=2, agent=AgentConfig(beta=0.3)) for K in (4, 6)
    ]
    settings = [Setting(f"fixed-K{c.episodes}", c) for c in configs]
    seen = []
    outcome = run_grid(settings, tmp_path / "sw", workers=1, progress=False, on_folder=seen.append)
    assert seen == [tmp_path / "sw"] and outcome.root == tmp_path / "sw" and not outcome.failed
    data, results = load_sweep(tmp_path / "sw")
    assert data == json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert [(r.name, r.status, r.folder.name) for r in results] == [
        ("fixed-K4", "complete", "fixed-K4"),
        ("fixed-K6", "complete", "fixed-K6"),
    ]
    game = SPEC.make()
    for r, config in zip(results, configs, strict=True):
        alone = pd.concat([play(game, config, seed)[0] for seed in (0, 1)], ignore_index=True)
        pd.testing.assert_frame_equal(without_time(r.df), without_time(alone))
        assert RunConfig.from_dict(r.manifest["config"]) == config and r.error is None


def test_load_sweep_says_why_a_setting_has_no_table(tmp_path, monkeypatch):
    failing(monkeypatch, RuntimeError("disk on fire"))
    run_grid(small(), tmp_path / "sw", workers=1, progress=False)
    _, results = load_sweep(tmp_path / "sw")
    assert [r.status for r in results] == ["failed", "complete"]
    assert results[0].df is None and results[0].error == "seed 1 failed: RuntimeError: disk on fire"
    assert results[1].df is not None


def test_load_sweep_marks_a_complete_setting_whose_files_were_damaged_or_edited(tmp_path):
    # Not skipped in silence: ``damaged`` tells the reader to say so on the terminal.
    run_grid(small(), tmp_path / "sw", workers=1, progress=False)
    results_file = tmp_path / "sw" / "episodes=6" / "results.parquet"
    results_file.write_bytes(results_file.read_bytes()[:100])
    data = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    data["settings"][1]["config"]["episodes"] = 99  # sweep.json edited
    (tmp_path / "sw" / "sweep.json").write_text(json.dumps(data))
    _, results = load_sweep(tmp_path / "sw")
    assert [r.damaged for r in results] == [True, True]
    assert all(r.df is None for r in results)
    assert str(results_file) in results[0].error and "corrupt or truncated" in results[0].error
    assert "sweep.json says setting episodes=9 has episodes = 99" in results[1].error
    del data["settings"][1]["config"]  # a record without its config: the run folder tells it
    (tmp_path / "sw" / "sweep.json").write_text(json.dumps(data))
    _, results = load_sweep(tmp_path / "sw")  # a KeyError before
    assert not results[1].damaged and results[1].df is not None


def test_report_of_a_sweep_with_a_damaged_setting_says_so_on_the_terminal(tmp_path, capsys):
    run_grid(small(), tmp_path / "sw", workers=1, progress=False)
    results_file = tmp_path / "sw" / "episodes=6" / "results.parquet"
    results_file.write_bytes(results_file.read_bytes()[:100])
    assert main(["report", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "setting episodes=6 left out" in err[0] and "truncated" in err[0]
    assert (tmp_path / "sw" / "report.html").is_file()  # the readable setting is still reported


def test_a_dry_run_of_a_setting_whose_results_cannot_fit_is_refused_with_the_estimate(tmp_path):
    settings = [Setting("huge", RunConfig(game=SPEC, episodes=200, seeds=10**8))]
    with pytest.raises(
        SettingError, match=r"setting huge: the run needs about .*GiB.*100000000 seeds"
    ):
        preview(settings, tmp_path / "sw")
    with pytest.raises(SettingError, match="use fewer seeds"):
        run_grid(settings, tmp_path / "sw", workers=1, progress=False)
    assert not (tmp_path / "sw").exists()


def test_a_dry_run_costs_nothing_per_seed_and_says_a_large_grid_in_a_few_lines(
    tmp_path, monkeypatch
):
    run_grid(small(), tmp_path / "sw", workers=1, progress=False)
    many = [
        Setting(f"s{i}", RunConfig(game=SPEC, episodes=2, seeds=10**6, seed=i)) for i in range(50)
    ]
    settings = [*small(), *many]

    def no_listing(self):
        raise AssertionError("a dry run lists no seeds")

    monkeypatch.setattr(RunConfig, "run_seeds", property(no_listing))
    states = preview(settings, tmp_path / "sw")
    lines = preview_lines(states, tmp_path / "sw", most=5)
    assert len(lines) == 7 and lines[-2] == "… and 47 more settings"
    assert lines[0] == "s0  run 1000000 seeds (0, 1, 2, 3, 4, 5, … (1000000 in all))"
    assert (
        lines[-1]
        == f"52 settings in {tmp_path / 'sw'}: 50 to run (50000000 seeds), 2 complete and skipped"
    )
    assert preview_lines(states, tmp_path / "sw", most=60)[-3:-1] == [
        "episodes=6  skip: complete",
        "episodes=9  skip: complete",
    ]


@pytest.mark.parametrize(
    "names, message",
    [
        ([], "at least one"),
        (["a", "a"], "must differ"),
        (["../x"], "letters"),
        (["report-x"], "not starting with sweep. or report"),
        (["report.html"], "not starting with sweep. or report"),
        (["sweep.log"], "not starting with sweep. or report"),
        ([".parts"], "letters"),
    ],
)
def test_bad_setting_names_are_refused_before_anything_is_written(tmp_path, names, message):
    config = RunConfig(game=SPEC, episodes=2)
    with pytest.raises(ValueError, match=message):
        run_grid([Setting(n, config) for n in names], tmp_path / "s", progress=False)
    with pytest.raises(ValueError, match=message):
        run_grid([Setting(n, config) for n in names], NewFolder(str(tmp_path / "runs"), "x"))
    assert list(tmp_path.iterdir()) == []


def test_a_new_folder_is_made_only_once_every_setting_checks(tmp_path):
    # in range (GameSpec checks that), but the game refuses it when it is built
    bad = RunConfig(game=GameSpec("security", {"defender_covered": "1,2"}), episodes=2)
    with pytest.raises(SettingError, match="defender_covered has 2 values, expected n_targets=4"):
        run_grid([Setting("bad", bad)], NewFolder(str(tmp_path / "runs"), "demo"), progress=False)
    assert list(tmp_path.iterdir()) == []
    outcome = run_grid(
        small(), NewFolder(str(tmp_path / "runs"), "demo"), workers=1, progress=False
    )
    assert outcome.root.parent == tmp_path / "runs" and outcome.root.name.startswith("demo-")
    assert not outcome.failed and is_sweep_folder(outcome.root)


def test_a_report_and_a_users_files_in_a_sweep_folder_stay_and_it_stays_a_sweep(tmp_path, capsys):
    out = tmp_path / "sw"
    run_grid(small(), out, workers=1, progress=False)
    (out / "notes.txt").write_text("mine")
    assert main(["report", str(out)]) == 0
    report = {p.name: p.read_bytes() for p in out.glob("report*")}
    assert "report.html" in report and any(n.endswith(".png") for n in report)
    # Running the sweep again, with a new setting: the report's files are the sweep's own.
    again = run_grid(small("episodes: [6, 9, 12]\n"), out, workers=1, progress=False)
    assert again.tasks == 2 and not again.failed
    assert main(["report", str(out)]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("report")) == sorted(
        ["notes.txt", "sweep.json", "sweep.log", "episodes=6", "episodes=9", "episodes=12"]
    )


def test_an_interrupted_sweep_keeps_what_it_played_and_deletes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "sw"
    real, calls = driver_mod.play, []

    def interrupted(game, config, seed, **kwargs):
        calls.append((config.episodes, seed))
        if len(calls) == 3:  # Ctrl-C as the third seed starts, once the longest setting is done
            wait_for(lambda: complete(out / "episodes=9"), 60, "the longest setting's folder")
            ctrl_c_and_wait_for_the_stop(kwargs["stop"])
        return real(game, config, seed, **kwargs)

    monkeypatch.setattr(driver_mod, "play", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_grid(small(), out, workers=1, progress=False)
    assert calls[:3] == [(9, 0), (9, 1), (6, 0)]
    assert json.loads((out / "sweep.json").read_text())["status"] == "interrupted"
    (out / "notes.txt").write_text("mine")  # a user's file in the sweep folder
    assert preview(small(), out)[1].action == "skip"
    monkeypatch.setattr(driver_mod, "play", real)
    assert not run_grid(small(), out, workers=1, progress=False).failed
    run_grid(small(), tmp_path / "whole", workers=1, progress=False)
    for setting in small():
        pd.testing.assert_frame_equal(
            without_time(load_run(out / setting.name)[0]),
            without_time(load_run(tmp_path / "whole" / setting.name)[0]),
        )
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["notes.txt", "sweep.json", "sweep.log", *(s.name for s in small())]
    )


def test_a_sweep_folder_is_driven_by_one_sweep_at_a_time(tmp_path, capsys):
    out = tmp_path / "sw"
    out.mkdir()
    held = lock(out, SWEEP_FOLDER)  # as a sweep that is playing holds it
    try:
        with pytest.raises(SweepFolderError, match="holds a sweep that is still running"):
            run_grid(small(), out, workers=1, progress=False)
    finally:
        os.close(held)
    assert list(out.iterdir()) == []  # nothing reserved, nothing written
    assert not run_grid(small(), out, workers=1, progress=False).failed


@pytest.mark.slow
def test_a_second_sweep_command_on_a_folder_being_played_is_refused(tmp_path, capsys):
    proc = start_sweep(tmp_path)
    out = tmp_path / "sw"
    try:
        wait_for(
            lambda: (
                (out / "sweep.json").is_file()
                and json.loads((out / "sweep.json").read_text()).get("pid") == proc.pid
            ),
            60,
            "the first sweep to start",
        )
        code = main(["sweep", str(tmp_path / "grid.yaml"), "--out", str(out), "--quiet"])
        _, err = capsys.readouterr()
        assert code == 2 and f"holds a sweep that is still running (pid {proc.pid})" in err
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert (out / "sweep.log").read_text().count("sweep started") == 1


# ---------------------------------------------------------------------- signals
def start_sweep(tmp_path: Path) -> subprocess.Popen:
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + "seeds: 2\nepisodes: [200000, 200001]\n")
    argv = [sys.executable, "-m", "stackelberg_rl", "sweep", str(path), "--out",
            str(tmp_path / "sw"), "--workers", "2", "--quiet",
            "--checkpoint-every", "0.05"]  # fmt: skip
    return subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(  # SIGTERM to the command alone: sent to a run (tests/test_processes.py)
    "signum, code, to_group", [(signal.SIGINT, 130, True)]
)
def test_a_signal_stops_the_sweep_cleanly_and_leaves_it_resumable(tmp_path, signum, code, to_group):
    proc = start_sweep(tmp_path)
    with killed_if_left(proc):
        workers = wait_for(lambda: len(found := workers_of(proc.pid)) == 2 and found, 60, "workers")
        # Both workers play (their start-up, when a signal to the group would reach them, is
        # over) once both seeds they took have checkpoints.
        wait_for(lambda: len(list((tmp_path / "sw").glob("*/checkpoints/seed-*.npz"))) >= 2,
                 60, "both workers' checkpoints")  # fmt: skip
        everyone = children(proc.pid)
        err = interrupt(proc, signum, to_group)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "run the same command" in lines[0]
    wait_for(lambda: not any(alive(p) for p in everyone + workers), 30, "every child to exit")
    record = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert record["status"] == "interrupted"
    assert {s["status"] for s in record["settings"]} == {"pending"}
    assert "sweep interrupted" in (tmp_path / "sw" / "sweep.log").read_text()
    states = preview(settings_of(TINY + "seeds: 2\nepisodes: [200000, 200001]\n"), tmp_path / "sw")
    assert [s.to_run for s in states] == [[0, 1], [0, 1]]


def test_the_example_sweep_file_lists_its_nine_settings(tmp_path, capsys):
    example = Path(__file__).resolve().parents[1] / "examples" / "sweep.yaml"
    assert main(["sweep", str(example), "--out", str(tmp_path / "sw"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        len(lines) == 10
        and lines[0] == "episodes=250,alpha-l=fixed-K,alpha-f=fixed-K  run 4 seeds (0, 1, 2, 3)"
    )
    assert lines[-1].endswith(
        "7 to run (28 seeds), 2 cut from the first episodes of longer runs, 0 complete and skipped"
    )  # anytime at K = 250 and 1000: the first episodes of its runs of K = 4000
    cut = "cut 4 seeds (0, 1, 2, 3) from the runs of episodes=4000,alpha-l=anytime,alpha-f=anytime"
    assert [line for line in lines if "  cut " in line] == [
        f"episodes=250,alpha-l=anytime,alpha-f=anytime  {cut}",
        f"episodes=1000,alpha-l=anytime,alpha-f=anytime  {cut}",
    ]
