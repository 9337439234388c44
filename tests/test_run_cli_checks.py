"""The run command's checks found by a newcomer: options the other options leave unused, and
the equilibrium command's advice on a sweep's folders."""

import json

import pytest
from helpers import call, one_line_error

TINY = ["--param", "n_states=4", "--param", "horizon=2", "--param", "dim=3"]


# ------------------------------------------- 1. an option the other options leave unused
@pytest.mark.parametrize(
    "option, missing",
    [(["--c1", "2"], "without --beta theory"), (["--p", "0.1"], "without --beta theory"),
     (["--beta", "0.3", "--p", "0.1"], "without --beta theory"),
     (["--schedule-n", "5"], "without --schedule every-n"),
     (["--schedule", "doubling", "--schedule-n", "5"], "without --schedule every-n"),
     (["--no-incremental", "--refresh-every", "8"], "with --no-incremental")],
)  # fmt: skip
def test_an_option_the_other_options_leave_unused_is_refused(tmp_path, capsys, option, missing):
    """``--c1 2`` with a numeric β had been taken: the manifest said C₁ = 2, shaping nothing."""
    argv = ["run", *TINY, "--episodes", "3", *option, "--out", str(tmp_path / "r")]
    code, _, err = call(argv, capsys)
    flag = [o for o in option if o.startswith("--") and o not in ("--beta", "--schedule")][-1]
    flag = "--refresh-every" if flag == "--no-incremental" else flag
    assert f"{flag} has no effect {missing}: leave it out" in one_line_error(code, err)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "option, recorded",
    [(["--beta", "theory", "--c1", "2", "--p", "0.1"], {"c1": 2.0, "p": 0.1}),
     (["--schedule", "every-n", "--schedule-n", "2"], {"schedule_n": 2}),
     (["--refresh-every", "8"], {"refresh_every": 8})],
)  # fmt: skip
def test_the_options_that_shape_what_is_given_are_taken(tmp_path, capsys, option, recorded):
    argv = ["run", *TINY, "--episodes", "3", "--seeds", "1", "--workers", "1", "--quiet",
            *option, "--out", str(tmp_path / "r")]  # fmt: skip
    code, _, err = call(argv, capsys)
    assert code == 0, err
    agent = json.loads((tmp_path / "r" / "manifest.json").read_text())["config"]["agent"]
    assert {name: agent[name] for name in recorded} == recorded


# ------------------------------------- 2. equilibrium's advice on a sweep's folders
def _sweep(tmp_path, capsys, save_plans: str):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "param: {n_states: 4, horizon: 2, dim: 3}\nepisodes: 3\nseeds: 1\n"
        f"save-plans: {save_plans}\n"
    )
    out = tmp_path / "sw"
    code, _, err = call(
        ["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"], capsys
    )
    assert code == 0, err
    return out


def test_a_sweep_folder_names_only_its_run_folders_with_plans(tmp_path, capsys):
    """It had listed every run folder as 'saved with --save-plans', none of which was."""
    out = _sweep(tmp_path, capsys, "[true, false]")
    code, _, err = call(["equilibrium", str(out)], capsys)
    line = one_line_error(code, err)
    assert "save-plans=true" in line and "save-plans=false" not in line, line
    assert "holding plans.npz" in line


def test_a_sweep_without_plans_says_to_set_save_plans_in_its_file(tmp_path, capsys):
    """It had advised run --save-plans, which run refuses for a sweep's folder."""
    out = _sweep(tmp_path, capsys, "false")
    code, _, err = call(["equilibrium", str(out)], capsys)
    line = one_line_error(code, err)
    assert "none of its run folders holds plans.npz" in line
    assert "save-plans: true to the sweep file" in line
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    code, _, err = call(["equilibrium", str(run)], capsys)
    line = one_line_error(code, err)
    assert "save-plans: true to the sweep file" in line and "--save-plans" not in line


def test_resume_of_a_file_says_it_is_a_file(tmp_path, capsys):
    path = tmp_path / "manifest.json"  # e.g. a run folder's manifest given for the folder
    path.write_text("{}")
    line = one_line_error(*call(["run", "--resume", str(path), "--quiet"], capsys)[::2])
    assert line.endswith(f"{path} is not a run folder: it is a file"), line


@pytest.mark.parametrize(
    "argv, line",
    [
        (["run", "--episodes", "0"], "--episodes must be an integer >= 1, got 0"),
        (["run", "--alpha-l", "-2"], "--alpha-l must be fixed-K, anytime, power:c,p"),
        (["run", "--workers", "0"], "--workers must be an integer >= 1, got 0"),
        (["explore", "--plan-lam", "0"], "--plan-lam must be in (0, inf), got 0.0"),
        (["bench", "--repeats", "0"], "--repeats must be an integer >= 1, got 0"),
    ],
)
def test_a_bad_value_is_named_by_its_option_as_typed(argv, line, capsys, tmp_path, monkeypatch):
    """The configuration's check had named the field ('episodes', 'alpha_l', 'plan_lam')."""
    monkeypatch.chdir(tmp_path)
    assert f"error: {line}" in one_line_error(*call(argv, capsys)[::2])
    assert list(tmp_path.iterdir()) == []
