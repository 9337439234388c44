"""``power:c,p``: ``α = c·log|A|·K^p/H``, beyond the paper's fixed-K (``c = 1, p = 1/2``)."""

import json
import math

import pandas as pd
import pytest

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.cli import main
from stackelberg_rl.experiments import GameSpec, RunConfig
from stackelberg_rl.learners import alpha_value, parse_power_alpha

TINY = GameSpec(params=dict(n_states=5, n_leader_actions=2, n_follower_actions=3, dim=3, horizon=2))


def test_power_alpha_against_a_hand_computation():
    # c = 2, p = 0.25, |A| = 3, H = 5, K = 16: 2 · log 3 · 16^0.25 / 5 = 2 · 1.0986123 · 2 / 5.
    assert alpha_value("power:2,0.25", 3, 5, 16, 0) == pytest.approx(0.87889, abs=1e-5)
    # It does not depend on the episode (a fixed-K-like schedule).
    assert alpha_value("power:2,0.25", 3, 5, 16, 15) == alpha_value("power:2,0.25", 3, 5, 16, 0)
    # p = 0: c·log|A|/H; p = 1: c·log|A|·K/H; a negative p is allowed (finite).
    assert alpha_value("power:3,0", 2, 4, 1000, 0) == pytest.approx(3 * math.log(2) / 4)
    assert alpha_value("power:0.5,1", 2, 4, 1000, 0) == pytest.approx(0.5 * math.log(2) * 250)
    assert alpha_value("power:1,-0.5", 2, 1, 4, 0) == pytest.approx(math.log(2) / 2)


@pytest.mark.parametrize("K", [1, 7, 400, 10**6])
def test_power_one_half_is_fixed_K(K):
    assert alpha_value("power:1,0.5", 4, 3, K, 5) == pytest.approx(
        alpha_value("fixed-K", 4, 3, K, 5), rel=1e-15
    )


@pytest.mark.parametrize(
    "spec, what",
    [
        ("power:0,0.5", "c of"),
        ("power:-1,0.5", "c of"),
        ("power:inf,0.5", "c of"),
        ("power:nan,0.5", "c of"),
        ("power:1,inf", "p of"),
        ("power:1,nan", "p of"),
        ("power:1", "power:c,p"),
        ("power:1,2,3", "power:c,p"),
        ("power:", "power:c,p"),
        ("power:a,b", "must be numbers"),
    ],
)
def test_bad_power_specs_are_refused_naming_the_part(spec, what):
    with pytest.raises(ValueError, match=what):
        parse_power_alpha(spec)
    with pytest.raises(ValueError, match=f"alpha_f: .*{what}"):
        AgentConfig(alpha_f=spec)


def test_the_spelling_is_made_canonical_and_survives_the_manifest():
    a = AgentConfig(alpha_l="power: 1.0, 0.50", alpha_f="power:0.3,0.1234567890123")
    assert (a.alpha_l, a.alpha_f) == ("power:1,0.5", "power:0.3,0.1234567890123")
    config = RunConfig(game=TINY, agent=a)
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_a_run_records_the_resolved_power_alpha(tmp_path, capsys):
    out = tmp_path / "r"
    argv = [
        "run", "--game", "random-linear", *[f"--param={k}={v}" for k, v in TINY.params.items()],
        "--episodes", "9", "--seeds", "1", "--alpha-l", "power:2,0.25", "--alpha-f",
        "power:1,0.5", "--workers", "1", "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["agent"]["alpha_l"] == "power:2,0.25"
    assert m["resolved"]["alpha_l"] == pytest.approx(2 * math.log(2) * 9**0.25 / 2)
    assert m["resolved"]["alpha_f"] == pytest.approx(math.log(3) * 3 / 2)  # fixed-K's value
    df = pd.read_parquet(out / "results.parquet")
    assert (df["alpha_l"] == m["resolved"]["alpha_l"]).all()


def test_a_bad_power_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["run", "--alpha-l", "power:0,1", "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "c of power:c,p" in err
    assert not (tmp_path / "x").exists()
