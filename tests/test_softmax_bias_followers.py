"""The soft-max bias of a leader and N followers (SPEC §7): soft-max play on the true model.

The soft-max chain and the expected regret of each player are checked against loop-by-loop
computations written here (one node, one initial state and one set of first actions at a time).
"""

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run_seeds
from stackelberg_rl.games import random_linear, random_tabular
from stackelberg_rl.planning import (
    evaluate,
    player_regrets,
    softmax_bias,
    softmax_bias_bound,
    softmax_solution,
)
from stackelberg_rl.report import episode_bias, page, run_bias


def games_with(n_followers):
    return [
        random_tabular(3, 2, 3, 2, seed=4, n_followers=n_followers),
        random_linear(3, 3, 2, 3, 2, seed=7, n_followers=n_followers),
    ]


def loop_softmax_chain(game, alphas):
    """Each player's soft-max policy, one node ``(h, x, a_0, …, a_{i-1})`` at a time."""
    n, H, S, counts = game.n_players, game.horizon, game.n_states, game.action_counts
    pis = [np.zeros((H, S, *counts[: i + 1])) for i in range(n)]
    V = np.zeros((n, H + 1, S))
    for h in range(H - 1, -1, -1):
        r, P = game.reward(h), game.transition(h)

        def node(x, prefix, h=h, r=r, P=P):
            i = len(prefix)
            if i == n:  # Q_m(x, a) of every player m
                return np.array(
                    [
                        r[(m, x, *prefix)]
                        + sum(P[(x, *prefix, y)] * V[m, h + 1, y] for y in range(S))
                        for m in range(n)
                    ]
                )
            children = [node(x, (*prefix, a)) for a in range(counts[i])]
            own = [c[i] for c in children]
            top = max(own)
            if math.isinf(alphas[i]):
                weights = [1.0 if v == top else 0.0 for v in own]
            else:
                weights = [math.exp(alphas[i] * (v - top)) for v in own]
            for a in range(counts[i]):
                pis[i][(h, x, *prefix, a)] = weights[a] / sum(weights)
            return sum(pis[i][(h, x, *prefix, a)] * children[a] for a in range(counts[i]))

        for x in range(S):
            V[:, h, x] = node(x, ())
    return pis


def loop_bias(game, pis):
    """Each player's regret, one ``(x_1, a_0, …, a_{N-1})`` at a time, weighted by its
    probability ``p0(x_1)·Π_i π_{i,0}(a_i | x_1, a_{<i})``."""
    N, p0 = game.n_followers, game.initial_distribution
    bias = np.zeros(N + 1)
    for x in range(game.n_states):
        for first in itertools.product(*map(range, game.action_counts[:N])):
            weight = p0[x]
            for i in range(N):
                weight *= pis[i][(0, x, *first[: i + 1])]
            bias += weight * player_regrets(game, pis, x, list(first))
    return bias


@pytest.mark.parametrize("n_followers", [2, 3])
@pytest.mark.parametrize("alphas", [(2.0, 0.3, 25.0, 1.0), (0.0, np.inf, 4.0, 0.5)])
def test_the_bias_of_n_followers_equals_the_loop_computation(n_followers, alphas):
    alphas = alphas[: n_followers + 1]
    for game in games_with(n_followers):
        *pis, values = softmax_solution(game, *alphas)
        ref = loop_softmax_chain(game, alphas)
        assert len(pis) == n_followers + 1
        for pi, pi_ref in zip(pis, ref, strict=True):
            np.testing.assert_allclose(pi, pi_ref, atol=1e-12)
        np.testing.assert_allclose(values.V, evaluate(game, *pis).V, atol=1e-12)
        bias = softmax_bias(game, *alphas)
        assert bias.shape == (n_followers + 1,)
        np.testing.assert_allclose(bias, loop_bias(game, ref), atol=1e-12)
        assert (bias >= -1e-12).all()


@pytest.mark.parametrize("alpha", [0.0, 0.5, 3.0, 40.0, np.inf])
def test_the_bias_of_n_followers_is_within_lemma_2s_bound(alpha):
    for n_followers in (2, 3):
        for game in games_with(n_followers):
            alphas = [alpha * (1 + i) for i in range(n_followers + 1)]
            bound = softmax_bias_bound(game, *alphas)
            H, counts = game.horizon, game.action_counts
            expected = [
                0.0 if math.isinf(a) else math.inf if a == 0 else H * math.log(n) / a
                for n, a in zip(counts, alphas, strict=True)
            ]
            np.testing.assert_array_equal(bound, expected)
            assert (softmax_bias(game, *alphas) <= bound + 1e-12).all()


def test_the_bias_of_n_followers_vanishes_as_alpha_grows():
    """On a random game (no ties at any node) soft-max play tends to the greedy chain, whose
    players each play their best response at every node: no regret."""
    game = random_linear(6, 2, 3, 4, 3, seed=11, n_followers=2)
    biases = [softmax_bias(game, a, a, a) for a in (1.0, 10.0, 100.0, 1e4)]
    assert (biases[0] > 1e-3).all()  # soft-max play at α = 1 does lose
    assert (biases[-1] < biases[0]).all()
    np.testing.assert_allclose(biases[-1], 0.0, atol=1e-6)
    np.testing.assert_allclose(softmax_bias(game, np.inf, np.inf, np.inf), 0.0, atol=1e-12)
    np.testing.assert_array_equal(softmax_bias_bound(game, np.inf, np.inf, np.inf), [0.0] * 3)


def test_one_follower_keeps_the_two_argument_call():
    game = games_with(1)[0]
    out = softmax_solution(game, 2.0, 0.5)
    assert len(out) == 3 and out[0].shape == (2, 3, 2) and out[1].shape == (2, 3, 2, 3)
    np.testing.assert_allclose(softmax_bias(game, 2.0, 0.5), loop_bias(game, out[:2]), atol=1e-12)


def test_a_wrong_count_or_value_of_alpha_is_one_line():
    game = games_with(2)[0]
    for call in (softmax_solution, softmax_bias, softmax_bias_bound):
        with pytest.raises(ValueError, match="^the game has 3 players: give 3 values of α, got 2$"):
            call(game, 1.0, 1.0)
        with pytest.raises(ValueError, match=r"^alphas\[2\]"):
            call(game, 1.0, 1.0, -1.0)
        with pytest.raises(ValueError, match="^alpha_f"):
            call(games_with(1)[0], 1.0, math.nan)


# ---------------------------------------------------------------------- the report
PLAYERS = ("leader", "follower_1", "follower_2")
COLUMNS = [f"{what}_{p}" for what in ("bias", "bound") for p in PLAYERS]


def test_run_bias_of_two_followers_sums_each_episodes_alphas():
    game = random_tabular(3, 2, 3, 2, seed=4, n_followers=2)
    alphas = [(0.5, 2.0, 1.0), (0.5, 2.0, 1.0), (4.0, 1.0, np.inf), (np.inf, 3.0, 0.3)]
    df = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1],
            "episode": [0, 1, 2, 0],
            "eval_weight": [2, 0, 1, 1],  # episode 1 stands in episode 0's block
            **{
                name: [a[i] for a in alphas]
                for i, name in enumerate(("alpha_l", "alpha_f_1", "alpha_f_2"))
            },
        }
    )
    per_episode = episode_bias(game, df)
    assert list(per_episode.columns) == ["seed", "episode", "eval_weight", *COLUMNS]
    totals = run_bias(game, df).set_index("seed")
    for seed in (0, 1):
        expected = np.zeros(6)
        for a, s, w in zip(alphas, df["seed"], df["eval_weight"], strict=True):
            if s == seed and w > 0:
                expected += w * np.concatenate(
                    [softmax_bias(game, *a), softmax_bias_bound(game, *a)]
                )
        np.testing.assert_allclose(totals.loc[seed, COLUMNS], expected, atol=1e-12)
    with pytest.raises(ValueError, match="no soft-max"):
        episode_bias(game, df.assign(alpha_f_2=np.nan))


def test_the_report_of_two_followers_shows_every_players_bias(tmp_path):
    out = tmp_path / "run"
    config = RunConfig(
        game=GameSpec("random-linear", {"n_followers": 2, "n_states": 6}),
        episodes=60,
        seeds=2,
        agent=AgentConfig(beta=0.2, alpha_l=2.0, alpha_f=2.0),
    )
    run_seeds(config, out, workers=1, progress=False)
    df, _ = load_run(out)
    report = page.write_report(out)
    (s,) = report.settings
    assert s.bias_note is None
    game = config.game.make()
    evaluated = df[df["eval_weight"] > 0].reset_index(drop=True)
    assert list(s.episode_bias.columns) == ["seed", "episode", "eval_weight", *COLUMNS]
    np.testing.assert_array_equal(
        s.episode_bias[["seed", "episode"]], evaluated[["seed", "episode"]]
    )
    for row, (_, episode) in zip(
        s.episode_bias[COLUMNS].to_numpy(), evaluated.iterrows(), strict=True
    ):
        a = episode[["alpha_l", "alpha_f_1", "alpha_f_2"]].to_numpy(dtype=float)
        np.testing.assert_allclose(
            row, np.concatenate([softmax_bias(game, *a), softmax_bias_bound(game, *a)]), atol=1e-12
        )
    assert (s.episode_bias[[f"bias_{p}" for p in PLAYERS]] > 0).all().all()  # α = 2 loses
    summary = s.summary().set_index("player")
    assert summary.index.tolist() == list(PLAYERS)
    for p in PLAYERS:
        total = s.episode_bias[f"bias_{p}"] * s.episode_bias["eval_weight"]
        assert summary.loc[p, "bias"] == pytest.approx(
            total.groupby(s.episode_bias["seed"]).sum().mean(), abs=1e-12
        )
    html = (out / "report.html").read_text()
    assert "only one follower" not in html and "No soft-max bias" not in html
    for p in PLAYERS:  # the bias table's row of each player: its regret, bias and bound
        bias, bound = summary.loc[p, "bias"], summary.loc[p, "bound"]
        row = rf'<td class="text">{p}</td><td>60</td><td>[^<]*</td><td>{bias:.4g}</td>'
        assert re.search(row + rf"<td>{bound:.4g}</td>", html), p
