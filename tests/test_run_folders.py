"""Run folders: nothing the program did not write is deleted, nothing done is lost, the game
played is the game given and the manifest says which, and a damaged folder is refused clearly."""

import json
import os
import re
import tempfile
import threading

import numpy as np
import pandas as pd
import pytest
from helpers import call, one_line_error

from stackelberg_rl import experiments, random_linear
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import (
    GameSpec,
    NewFolder,
    ResultsNotSavedError,
    RunConfig,
    RunFolderError,
    load_run,
    run,
    run_seeds,
)
from stackelberg_rl.experiments import resources as resources_mod
from stackelberg_rl.experiments.loop import play
from stackelberg_rl.experiments.store import Reservation

TINY = GameSpec(params=dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2))


def tiny_config(**kw) -> RunConfig:
    return RunConfig(game=TINY, episodes=kw.pop("episodes", 8), agent=AgentConfig(beta=0.3), **kw)


def without_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_time")


@pytest.fixture
def no_episodes(monkeypatch):
    """Fail the test if any episode is played (what must fail, fails before the work)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("an episode was played")

    monkeypatch.setattr(experiments.driver, "play", forbidden)


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# ---------------------------------------------------------------------- never delete user files
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_with_user_files_is_never_touched(tmp_path, overwrite, no_episodes):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(RunFolderError, match="never replaced"):
        run_seeds(tiny_config(), out, workers=1, progress=False, overwrite=overwrite)
    assert tree(tmp_path) == ["mine", "mine/thesis.tex"]
    assert (out / "thesis.tex").read_text() == "years of work"


def test_a_run_folder_with_a_user_file_added_is_never_replaced(tmp_path):
    out = tmp_path / "run"
    run_seeds(tiny_config(), out, workers=1, progress=False)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match=r"notes\.txt"):
        run_seeds(tiny_config(), out, workers=1, progress=False, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "results.parquet").is_file()


def test_a_run_folder_is_replaced_only_with_overwrite_and_only_once_the_new_run_is_done(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    first = run_seeds(tiny_config(seed=1), out, workers=1, progress=False)
    with pytest.raises(RunFolderError, match="--overwrite"):
        run_seeds(tiny_config(seed=2), out, workers=1, progress=False)

    # A replacement that fails leaves the old run as it was.
    def failing(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.driver, "play", failing)
    with pytest.raises(RuntimeError, match="boom"):
        run_seeds(tiny_config(seed=2), out, workers=1, progress=False, overwrite=True)
    pd.testing.assert_frame_equal(load_run(out)[0], first)
    assert tree(tmp_path) == ["run", "run/manifest.json", "run/results.parquet"]
    monkeypatch.undo()

    second = run_seeds(tiny_config(seed=2), out, workers=1, progress=False, overwrite=True)
    pd.testing.assert_frame_equal(load_run(out)[0], second)
    assert (second["seed"] == 2).all()
    assert tree(tmp_path) == ["run", "run/manifest.json", "run/results.parquet"]


def test_overwrite_through_a_symbolic_link_replaces_the_linked_folder_and_keeps_the_link(tmp_path):
    """The link had been renamed aside (left as ``.run.old-PID``) and a real folder put in its
    place, the old run deleted from the disk the link pointed to."""
    (tmp_path / "disk" / "myrun").mkdir(parents=True)
    link = tmp_path / "run"
    link.symlink_to(tmp_path / "disk" / "myrun")
    run_seeds(tiny_config(seed=1), link, workers=1, progress=False)
    second = run_seeds(tiny_config(seed=2), link, workers=1, progress=False, overwrite=True)
    assert link.is_symlink() and link.resolve() == (tmp_path / "disk" / "myrun").resolve()
    pd.testing.assert_frame_equal(load_run(link)[0], second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "run"]
    assert tree(tmp_path / "disk") == ["myrun", "myrun/manifest.json", "myrun/results.parquet"]


def test_a_folder_inside_a_run_folder_is_refused_before_anything_is_written(tmp_path, no_episodes):
    """A run written into another's ``checkpoints/`` (or beside its results) had been accepted,
    and the outer run could then be neither resumed nor replaced. A project folder that holds a
    ``manifest.json`` of its own is not one of ours."""
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "manifest.json").write_text(json.dumps({"format": "stackelberg-rl/run"}))
    before = tree(tmp_path)
    for inner in (outer / "checkpoints" / "sub", outer / "inner"):
        with pytest.raises(RunFolderError, match=r"is inside .*outer, a folder of stackelberg-rl"):
            run_seeds(tiny_config(), inner, workers=1, progress=False)
    assert tree(tmp_path) == before
    (tmp_path / "link").symlink_to(outer / "checkpoints", target_is_directory=True)
    with pytest.raises(RunFolderError, match=r"is inside .*outer, a folder of stackelberg-rl"):
        run_seeds(tiny_config(), tmp_path / "link" / "sub", workers=1, progress=False)
    sibling = outer / ".." / "sibling"  # beside it, written from inside it: not inside
    with pytest.raises(AssertionError, match="an episode was played"):  # checks passed
        run_seeds(tiny_config(), sibling, workers=1, progress=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text('{"name": "a web app"}')
    with pytest.raises(AssertionError, match="an episode was played"):  # checks passed
        run_seeds(tiny_config(), project / "runs" / "a", workers=1, progress=False)


def test_a_sweep_folder_holds_its_own_run_folders_alone(tmp_path, capsys):
    """`run --overwrite` into a setting's folder had replaced the sweep's results, and a run, an
    exploration or another sweep could be written inside a sweep's folder. Its own driver still
    adds the settings of a longer sweep file."""
    from stackelberg_rl.cli import main
    from stackelberg_rl.sweep import name_settings, run_grid

    def settings(*ks):
        return name_settings([tiny_config(episodes=k) for k in ks])

    sweep = tmp_path / "sw"
    run_grid(settings(4, 6), sweep, workers=1, progress=False)
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    with pytest.raises(RunFolderError, match=r"sw/episodes=6 is a run folder of the sweep in "):
        run_seeds(tiny_config(), sweep / "episodes=6", overwrite=True, workers=1, progress=False)
    inside = r"is inside .*sw, a sweep folder of stackelberg-rl: give a folder outside it"
    with pytest.raises(RunFolderError, match=inside):
        run_seeds(tiny_config(), sweep / "inner", workers=1, progress=False)
    assert (
        main(["explore", "--game", "security", "--episodes", "3", "--out", str(sweep / "e")]) == 2
    )
    assert re.search(inside, capsys.readouterr().err)
    with pytest.raises(ValueError, match=inside):
        run_grid(settings(4), sweep / "inner", workers=1, progress=False)
    assert before == {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    run_grid(settings(4, 6, 8), sweep, workers=1, progress=False)  # one setting more
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [
        "episodes=4", "episodes=6", "episodes=8"
    ]  # fmt: skip


def test_an_empty_folder_is_used_and_left_empty_if_the_run_fails(tmp_path, monkeypatch):
    out = tmp_path / "empty"
    out.mkdir()

    def failing(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.driver, "play", failing)
    with pytest.raises(RuntimeError):
        run_seeds(tiny_config(), out, workers=1, progress=False)
    assert tree(tmp_path) == ["empty"]
    monkeypatch.undo()
    run_seeds(tiny_config(), out, workers=1, progress=False)
    assert load_run(out)[1]["status"] == "complete"


# ---------------------------------------------------------------------- fail before the work
def test_a_folder_that_contains_the_current_directory_is_refused(
    tmp_path, monkeypatch, no_episodes
):
    inside = tmp_path / "project" / "src"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    for out in (".", "..", str(tmp_path)):
        with pytest.raises(RunFolderError, match="contains the current directory"):
            run_seeds(tiny_config(), out, workers=1, progress=False, overwrite=True)
    assert tree(tmp_path) == ["project", "project/src"]


def test_a_parent_that_is_a_file_is_refused_before_the_run(tmp_path, no_episodes):
    (tmp_path / "notes").write_text("a file")
    with pytest.raises(RunFolderError, match="is a file"):
        run_seeds(tiny_config(), tmp_path / "notes" / "run", workers=1, progress=False)
    with pytest.raises(RunFolderError, match="not a folder"):
        run_seeds(tiny_config(), tmp_path / "notes", workers=1, progress=False)
    assert (tmp_path / "notes").read_text() == "a file"


def test_an_unwritable_folder_is_refused_before_the_run(no_episodes):
    # /proc takes no new folders, even for root (chmod would not stop root).
    with pytest.raises(RunFolderError, match="cannot create"):
        run_seeds(tiny_config(), "/proc/stackelberg-rl-run", workers=1, progress=False)


def test_the_manifest_is_written_before_the_first_episode(tmp_path, monkeypatch):
    out = tmp_path / "run"
    seen = []

    def spy(game, config, seed, progress=None, **checkpoints):
        seen.append(json.loads((out / "manifest.json").read_text())["status"])
        return play(game, config, seed, progress, **checkpoints)

    monkeypatch.setattr(experiments.driver, "play", spy)
    run_seeds(tiny_config(seeds=2), out, workers=1, progress=False)
    assert seen == ["running", "running"]
    assert load_run(out)[1]["status"] == "complete"


def test_results_that_cannot_be_written_are_saved_elsewhere_and_the_error_says_where(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    rescue_root = tmp_path / "tmp"
    rescue_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(rescue_root))  # where the rescue goes
    real = pd.DataFrame.to_parquet

    def disk_full(self, path, *args, **kwargs):
        if str(path).startswith(str(out)):
            raise OSError(28, "No space left on device")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    with pytest.raises(ResultsNotSavedError, match="they are saved in") as info:
        run_seeds(tiny_config(seeds=2), out, workers=1, progress=False)
    where = str(info.value).split("they are saved in ")[1].strip()
    assert where.startswith(str(rescue_root))
    monkeypatch.undo()
    saved = pd.read_parquet(f"{where}/results.parquet")
    assert len(saved) == 16 and sorted(saved["seed"].unique()) == [0, 1]
    assert json.loads(open(f"{where}/manifest.json").read())["status"] == "complete"
    assert not out.exists()  # no unfinished run left that looks like one


def test_default_folder_names_never_collide(tmp_path):
    """Many runs reserving a default name in the same second each get their own folder."""
    got, errors = [], []

    def reserve():
        try:
            got.append(Reservation.make(NewFolder(str(tmp_path / "runs"), "demo")).target)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(got)) == 12
    assert all(p.is_dir() and p.name.startswith("demo-") for p in got)


def test_run_sweep_without_a_folder_writes_a_new_one_each_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = run_seeds(tiny_config(), workers=1, progress=False)
    b = run_seeds(tiny_config(), workers=1, progress=False)
    assert a.attrs["run_dir"] != b.attrs["run_dir"]
    for df in (a, b):
        assert load_run(df.attrs["run_dir"])[0].shape == df.shape


# ---------------------------------------------------------------------- memory
def test_a_run_that_cannot_fit_in_memory_is_refused_with_the_estimate(tmp_path, no_episodes):
    config = tiny_config(episodes=10**9)
    with pytest.raises(MemoryError, match=r"needs about .* GiB.*available"):
        run_seeds(config, tmp_path / "run", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_game_that_cannot_fit_in_memory_is_refused_before_it_is_built(tmp_path, no_episodes):
    config = RunConfig(game=GameSpec("random-linear", {"n_states": 10**9}))
    with pytest.raises(MemoryError, match="building game random-linear"):
        run_seeds(config, tmp_path / "run", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_the_memory_estimate_counts_workers_caches_and_tables(monkeypatch):
    game = TINY.make()
    small = resources_mod.run_bytes(tiny_config(episodes=100), game, workers=1)
    big = resources_mod.run_bytes(tiny_config(episodes=100_000), game, workers=1)
    two = resources_mod.run_bytes(tiny_config(episodes=100_000, seeds=2), game, workers=2)
    # Learner caches grow linearly in K: (H-1)·2K·|A||B|·(d·8 + 8) bytes per learner, two learners.
    cache = 2 * (2 - 1) * 2 * 100_000 * 4 * (3 * 8 + 8)
    assert big["total"] - small["total"] >= cache * 0.99
    assert two["total"] > 2 * big["per_worker"]
    monkeypatch.setattr(resources_mod, "available_bytes", lambda: big["total"] // 2)
    with pytest.raises(MemoryError, match="available: use fewer episodes or a smaller game"):
        resources_mod.check_run_fits(tiny_config(episodes=100_000), game, 1)
    many = tiny_config(episodes=10, seeds=10**6)  # the rows of every seed dominate
    monkeypatch.setattr(resources_mod, "available_bytes", lambda: 10**6 * 10 * 16 * 8)
    with pytest.raises(MemoryError, match=r"use fewer seeds \(1000000 now\) or fewer episodes"):
        resources_mod.check_run_fits(many, game, 2)


# ---------------------------------------------------------------------- the game played
def test_a_given_game_is_the_game_played_with_any_number_of_workers(tmp_path):
    """Serial and parallel runs write identical tables (the test of test_experiments.py, with
    it): three seeds on two workers, one of which plays two, with the progress bar on; the
    tables returned are the ones written, and no temporary folder is left beside them."""
    game = random_linear(5, 2, 2, 3, 2, seed=99)  # built by hand: not TINY (seed 0)
    config = tiny_config(seeds=3, seed=11)
    one = run_seeds(config, tmp_path / "one", workers=1, progress=False, game=game)
    two = run_seeds(config, tmp_path / "two", workers=2, progress=True, game=game)
    pd.testing.assert_frame_equal(without_time(one), without_time(two))
    written = {name: load_run(tmp_path / name)[0] for name in ("one", "two")}
    pd.testing.assert_frame_equal(without_time(one), without_time(written["one"]))
    pd.testing.assert_frame_equal(without_time(two), without_time(written["two"]))
    assert sorted(written["two"]["seed"].unique()) == [11, 12, 13]
    alone = run(game, config, seed=12)
    pd.testing.assert_frame_equal(
        without_time(two[two["seed"] == 12].reset_index(drop=True)), without_time(alone)
    )
    rebuilt = run(TINY.make(), config, seed=12)
    assert not without_time(alone).equals(without_time(rebuilt))
    for name in ("one", "two"):
        m = load_run(tmp_path / name)[1]
        assert m["game"]["sha256"] == game.fingerprint()
        assert "given" in m["game"]["source"] and m["game"]["registered"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no temporary folders


def test_a_registry_game_that_disagrees_with_the_config_is_refused(tmp_path, no_episodes):
    other = experiments.GameSpec(TINY.name, {**TINY.params, "seed": 5}).make()
    with pytest.raises(ValueError, match="is not config.game"):
        run_seeds(tiny_config(), tmp_path / "run", workers=1, progress=False, game=other)
    assert list(tmp_path.iterdir()) == []


def test_the_manifest_identifies_the_game_by_the_hash_of_its_arrays(tmp_path):
    noisy = GameSpec(TINY.name, {**TINY.params, "reward_noise": 0.1})
    run_seeds(tiny_config(), tmp_path / "a", workers=1, progress=False)
    run_seeds(RunConfig(game=noisy, episodes=8), tmp_path / "b", workers=1, progress=False)
    a, b = load_run(tmp_path / "a")[1]["game"], load_run(tmp_path / "b")[1]["game"]
    assert a["sha256"] != b["sha256"]
    assert b["registered"]["params"]["reward_noise"] == 0.1
    assert a["sha256"] == TINY.make().fingerprint()


# ---------------------------------------------------------------------- damaged folders
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    run_seeds(tiny_config(seeds=2), out, workers=1, progress=False)
    return out


def damaged(finished, tmp_path, damage):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished, out)
    damage(out)
    return out


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _flip_last_byte_of(column: str, path):
    """Flip a byte of ``column``'s data (the last of its chunk): a file as whole as before."""
    import pyarrow.parquet as pq

    chunk = pq.read_metadata(path).row_group(0).column(pq.read_schema(path).names.index(column))
    at = chunk.data_page_offset + chunk.total_compressed_size - 1
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


DAMAGES = {
    "manifest truncated": (lambda d: _truncate(d / "manifest.json"), "corrupt or truncated"),
    "manifest not JSON": (lambda d: (d / "manifest.json").write_bytes(b"\x00\xff"), "corrupt"),
    "manifest foreign": (
        lambda d: (d / "manifest.json").write_text('{"name": "something else"}'),
        "not a manifest of stackelberg-rl",
    ),
    "manifest from the future": (
        lambda d: (d / "manifest.json").write_text(
            json.dumps({"format": "stackelberg-rl/run", "format_version": 99})
        ),
        "format version 99",
    ),
    "no manifest": (lambda d: (d / "manifest.json").unlink(), "no manifest.json"),
    "results truncated": (lambda d: _truncate(d / "results.parquet"), "corrupt or truncated"),
    "results empty file": (lambda d: (d / "results.parquet").write_bytes(b""), "corrupt"),
    "results bit flipped": (  # read as other numbers before the pages had their checksums
        lambda d: _flip_last_byte_of("regret_follower", d / "results.parquet"),
        "results.parquet is corrupt or truncated: .*CRC checksum verification failed",
    ),
    "results foreign": (
        lambda d: pd.DataFrame({"x": [1, 2]}).to_parquet(d / "results.parquet"),
        "not a results table",
    ),
    "results rows missing": (
        lambda d: pd.read_parquet(d / "results.parquet").iloc[:5].to_parquet(d / "results.parquet"),
        "rows",
    ),
    "manifest episodes edited": (
        lambda d: _edit_manifest(d, lambda m: m["config"].update(episodes=999)),
        "manifest.json says episodes 8 but its configuration says 999",
    ),
    "manifest top-level episodes edited": (
        lambda d: _edit_manifest(d, lambda m: m.update(episodes=999)),
        "manifest.json says episodes 999 but its configuration says",
    ),
    "manifest config episodes and episodes edited": (
        lambda d: _edit_manifest(
            d, lambda m: (m.update(episodes=999), m["config"].update(episodes=999))
        ),
        "rows for seed 0, .*manifest.json says 999 episodes",
    ),
    "manifest seeds edited": (
        lambda d: _edit_manifest(
            d, lambda m: (m.update(seeds=[0, 1, 2]), m["config"].update(seeds=3))
        ),
        "rows of 2 seeds, .*manifest.json says 3",
    ),
    "manifest status missing": (
        lambda d: _edit_manifest(d, lambda m: m.pop("status")),
        "manifest.json is damaged: status None is not one a run writes",
    ),
    "manifest config missing": (
        lambda d: _edit_manifest(d, lambda m: m.pop("config")),
        "manifest.json is damaged: it has no configuration",
    ),
    "manifest config unreadable": (
        lambda d: _edit_manifest(d, lambda m: m["config"].update(episodes="many")),
        "configuration is unreadable",
    ),
    "results column dropped": (
        lambda d: (
            pd.read_parquet(d / "results.parquet")
            .drop(columns="wall_time")
            .to_parquet(d / "results.parquet")
        ),
        "columns that .*manifest.json does not list",
    ),
    "results text": (lambda d: (d / "results.parquet").write_text("seed,episode\n"), "corrupt"),
    "no results": (lambda d: (d / "results.parquet").unlink(), "no results.parquet"),
}


def _edit_manifest(d, edit) -> None:
    m = json.loads((d / "manifest.json").read_text())
    edit(m)
    (d / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("name", sorted(DAMAGES))
def test_a_damaged_run_folder_is_refused_naming_the_problem(finished, tmp_path, name):
    damage, message = DAMAGES[name]
    out = damaged(finished, tmp_path, damage)
    with pytest.raises(RunFolderError, match=message):
        load_run(out)


def test_an_unfinished_run_is_refused_by_load_run(finished, tmp_path):
    def unfinish(d):
        m = json.loads((d / "manifest.json").read_text())
        m["status"] = "running"
        (d / "manifest.json").write_text(json.dumps(m))

    out = damaged(finished, tmp_path, unfinish)
    with pytest.raises(RunFolderError, match="did not finish"):
        load_run(out)


def test_results_are_identical_after_a_round_trip(finished):
    df, m = load_run(finished)
    assert np.isfinite(df["regret_leader"]).all() and m["status"] == "complete"


def test_two_runs_that_want_one_empty_folder_do_not_share_it(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    first, second = Reservation.make(out), Reservation.make(out)  # both see an empty folder
    first.start('{"first": true}\n')
    (out / "results.parquet").write_text("the first run's")
    with pytest.raises(RunFolderError, match="taken by another run"):
        second.start('{"second": true}\n')
    second.abandon()
    assert json.loads((out / "manifest.json").read_text()) == {"first": True}
    assert (out / "results.parquet").read_text() == "the first run's"


def test_a_finished_run_that_cannot_replace_the_old_one_is_kept_and_the_error_says_where(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    run_seeds(tiny_config(seed=1), out, workers=1, progress=False)
    real_rename = os.rename

    def refuse(src, dst):
        if str(dst) == str(out) and ".new-" in str(src):  # the old run is moved aside first
            raise OSError(16, "Device or resource busy")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(ResultsNotSavedError, match="the finished run is in") as info:
        run_seeds(tiny_config(seed=2), out, workers=1, progress=False, overwrite=True)
    monkeypatch.undo()
    staging = str(info.value).split("the finished run is in ")[1].split(":")[0]
    new, manifest = load_run(staging)
    assert (new["seed"] == 2).all() and manifest["status"] == "complete"
    assert (load_run(out)[0]["seed"] == 1).all()  # the old run is untouched


def test_reading_back_a_folder_that_is_not_done_says_what_it_is(tmp_path):
    from stackelberg_rl.experiments import store

    (tmp_path / "afile").write_text("x")
    with pytest.raises(RunFolderError, match="afile is not a run folder: it is a file"):
        load_run(tmp_path / "afile")
    with pytest.raises(RunFolderError, match="nothing is not a run folder: no such folder"):
        load_run(tmp_path / "nothing")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        json.dumps(
            {"format": "stackelberg-rl/run", "format_version": 1, "status": "running", "pid": 4242}
        )  # fmt: skip
    )
    held = store.lock(folder)  # as the process that plays it holds it
    try:
        with pytest.raises(RunFolderError, match=r"holds a run that is still running \(pid 4242\)"):
            load_run(folder)
    finally:
        os.close(held)
    with pytest.raises(RunFolderError, match=r"did not finish \(status 'running'\); continue it"):
        load_run(folder)  # no process plays it: it can be continued


def test_overwrite_of_a_folder_with_a_truncated_manifest_says_it_is_corrupt(tmp_path, capsys):
    """It had said the folder 'holds no run manifest', where report says it is corrupt."""
    out = tmp_path / "run"
    run_seeds(tiny_config(), out, workers=1, progress=False)
    text = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(text[: len(text) // 2])
    before = tree(tmp_path)
    argv = ["run", "--param", "n_states=4", "--param", "horizon=2", "--param", "dim=3",
            "--episodes", "3", "--seeds", "1", "--workers", "1", "--quiet",
            "--out", str(out), "--overwrite"]  # fmt: skip
    code, _, err = call(argv, capsys)
    line = one_line_error(code, err)
    assert "manifest.json is corrupt or truncated" in line and "never replaced" in line, line
    assert tree(tmp_path) == before  # still refused: it is not known to be ours
