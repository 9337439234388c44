"""``report`` and ``run --resume`` say what is wrong: parts left out, the game, the resume hint."""

import json
import shutil

from helpers import call, one_line_error

from stackelberg_rl import games
from stackelberg_rl.games import random_linear

TINY = "param: {n_states: 5, n_leader_actions: 2, n_follower_actions: 2, dim: 3, horizon: 2}\n"
SECURITY = ["--game", "security", "--param", "horizon=3", "--seeds", "1", "--quiet"]


def test_a_damaged_plans_file_is_said_on_stderr_and_its_old_figure_removed(tmp_path, capsys):
    folder = tmp_path / "c"
    argv = ["run", *SECURITY, "--episodes", "20", "--save-plans", "--out", str(folder)]
    assert call(argv, capsys)[0] == 0
    assert call(["report", str(folder)], capsys)[0] == 0
    assert (folder / "report-ccse.png").is_file()
    plans = folder / "plans.npz"
    plans.write_bytes(plans.read_bytes()[:1000])
    code, out, err = call(["report", str(folder)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(
        f"stackelberg-rl report: the CCSE certificate of c is left out: {plans}"
    )
    assert "is damaged, truncated" in lines[0] and "Traceback" not in err
    assert f"report: {folder / 'report.html'}" in out  # the rest is written
    assert "could not be computed" in (folder / "report.html").read_text()
    assert not (folder / "report-ccse.png").exists()  # no stale figure beside the page
    assert (folder / "report-regret.png").is_file()


def test_a_game_file_moved_away_is_said_for_the_bias_and_the_certificate(tmp_path, capsys):
    path, folder = tmp_path / "mine.npz", tmp_path / "g"
    games.save(random_linear(6, 2, 2, 3, 3, seed=41), path)
    argv = ["run", "--game-file", str(path), "--episodes", "6", "--seeds", "1", "--quiet"]
    assert call([*argv, "--save-plans", "--out", str(folder)], capsys)[0] == 0
    assert call(["report", str(folder)], capsys)[0] == 0
    path.rename(tmp_path / "moved.npz")
    code, _, err = call(["report", str(folder)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2, err
    assert lines[0].startswith("stackelberg-rl report: the soft-max bias of g is left out: ")
    assert lines[1].startswith("stackelberg-rl report: the CCSE certificate of g is left out: ")
    assert all(f"{path}: no such file" in line for line in lines), err
    assert "game=" not in err  # no advice for the Python API
    assert (folder / "report.html").is_file() and not (folder / "report-ccse.png").exists()


def test_resume_with_another_game_names_the_game_not_a_recorded_parameter(tmp_path, capsys):
    folder = tmp_path / "r"
    argv = ["run", "--episodes", "6", "--seeds", "1", "--param", "n_states=10", "--quiet"]
    assert call([*argv, "--out", str(folder)], capsys)[0] == 0
    line = one_line_error(
        *call(["run", "--resume", str(folder), "--game", "security"], capsys)[::2]
    )
    assert f"--game security disagrees with the run in {folder}, which has random-linear" in line
    assert "n_states" not in line


def test_report_of_an_interrupted_exploration_says_how_to_continue_it(tmp_path, capsys):
    folder = tmp_path / "explore"
    argv = ["explore", "--game", "security", "--param", "horizon=2", "--episodes", "20"]
    assert call([*argv, "--out", str(folder), "--quiet"], capsys)[0] == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    line = one_line_error(*call(["report", str(folder)], capsys)[::2])
    assert "did not finish (status 'interrupted')" in line
    assert line.endswith(f"continue it with stackelberg-rl explore --resume {folder}"), line


def test_a_sweep_with_no_readable_setting_says_how_many_it_did_not_list(tmp_path, capsys):
    folder = tmp_path / "sweep"
    folder.mkdir()
    settings = [{"name": n, "folder": n} for n in "abcd"]
    data = {"format": "stackelberg-rl/sweep", "settings": settings}
    (folder / "sweep.json").write_text(json.dumps(data))
    line = one_line_error(*call(["report", str(folder)], capsys)[::2])
    assert "has no readable setting of its 4 (a: " in line and "; c: " in line, line
    assert line.endswith("; and 1 more)"), line


def test_a_setting_of_an_unfinished_sweep_left_out_exits_2_as_a_damaged_one(tmp_path, capsys):
    # An interrupted sweep, its last setting not played: left out as one with damaged results is.
    sweep_file, folder = tmp_path / "s.yaml", tmp_path / "sw"
    sweep_file.write_text(f"{TINY}seeds: 1\nepisodes: [6, 9]\n")
    sweep = ["sweep", str(sweep_file), "--out", str(folder), "--workers", "1", "--quiet"]
    assert call(sweep, capsys)[0] == 0  # in this process: no pool of workers to start
    data = json.loads((folder / "sweep.json").read_text())
    data["status"] = "interrupted"
    data["settings"][1].update(status="pending", seeds_done=[])
    (folder / "sweep.json").write_text(json.dumps(data))
    shutil.rmtree(folder / "episodes=9")
    code, out, err = call(["report", str(folder)], capsys)
    assert code == 2 and err.strip().splitlines() == [
        "stackelberg-rl report: setting episodes=9 left out: "
        "not finished (status pending, 0 seeds played)"
    ], err
    assert f"report: {folder / 'report.html'}" in out  # the played setting is still reported


def test_a_sweep_folder_without_its_sweep_json_is_named_with_how_to_rebuild_it(tmp_path, capsys):
    sweep_file, folder = tmp_path / "s.yaml", tmp_path / "sw"
    sweep_file.write_text(f"{TINY}seeds: 1\nepisodes: [6, 9]\n")
    sweep = ["sweep", str(sweep_file), "--out", str(folder), "--workers", "1", "--quiet"]
    assert call(sweep, capsys)[0] == 0  # in this process: no pool of workers to start
    (folder / "sweep.json").unlink()
    line = one_line_error(*call(["report", str(folder)], capsys)[::2])
    assert f"{folder} looks like a sweep folder without its sweep.json" in line, line
    assert f"stackelberg-rl sweep FILE --out {folder}" in line and "no manifest.json" not in line
    assert call(sweep, capsys)[0] == 0  # as it says: the sweep goes on from its run folders
    assert call(["report", str(folder)], capsys)[0] == 0


def test_report_of_a_file_or_a_foreign_folder_names_the_three_kinds_it_takes(tmp_path, capsys):
    afile, busy = tmp_path / "afile", tmp_path / "busy"
    afile.write_text("x")
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    for folder, why in ((afile, "it is a file"), (busy, "no manifest.json")):
        line = one_line_error(*call(["report", str(folder)], capsys)[::2])
        expected = f"{folder} is not a run, sweep or exploration folder of stackelberg-rl: {why}"
        assert line.endswith(expected), line


def test_a_manifest_with_an_unknown_status_is_damaged_not_to_be_resumed(tmp_path, capsys):
    folder = tmp_path / "r"
    argv = ["run", "--episodes", "4", "--seeds", "1", "--workers", "1", "--quiet"]
    assert call([*argv, "--param", "n_states=4", "--out", str(folder)], capsys)[0] == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "status": None}))
    damaged = f"{folder / 'manifest.json'} is damaged: status None is not one a run writes"
    for command in (["report", str(folder)], ["run", "--resume", str(folder), "--quiet"]):
        line = one_line_error(*call(command, capsys)[::2])
        assert line.endswith(damaged), line
