"""The policy whose regret is measured is the one played: over whole runs, bit for bit."""

import math

import numpy as np
import pytest

import stackelberg_rl.agents as agents_mod
import stackelberg_rl.experiments.loop as loop_mod
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import RunConfig, run
from stackelberg_rl.games import random_linear
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB


def played_and_evaluated(game, agent, episodes, monkeypatch):
    """Run the product's Python episode loop (the compiled one equals it: test_episode_loop.py);
    return every drawn distribution with its (h, x, a) and the tables regret was evaluated on,
    episode by episode."""
    draws, steps, tables = [], [], []
    real_draw, real_regret, real_step = agents_mod.draw, loop_mod.player_regrets, game.step

    def spy_draw(p, rng):
        draws.append(np.array(p, copy=True))
        return real_draw(p, rng)

    def spy_regret(g, policies, x1, first_actions):
        tables.append(tuple(pi.copy() for pi in policies))
        return real_regret(g, policies, x1, first_actions)

    def spy_step(h, x, a, b, rng):
        steps.append((len(tables), h, x, a))
        return real_step(h, x, a, b, rng)

    monkeypatch.setattr(agents_mod, "draw", spy_draw)
    monkeypatch.setattr(loop_mod, "player_regrets", spy_regret)
    monkeypatch.setattr(game, "step", spy_step)
    run(game, RunConfig(episodes=episodes, agent=agent, eval_every=1), seed=3, compiled=False)
    return draws, steps, tables


@pytest.mark.parametrize("decentralised", [False, True])
@pytest.mark.parametrize(
    "schedule",
    [dict(schedule="every"), dict(schedule="every-n", schedule_n=3), dict(schedule="doubling")],
)
@pytest.mark.parametrize("kind", ["greedy-lsvi-ucb", "softmax-lsvi-ucb"])
def test_every_draw_is_the_row_of_the_evaluated_table(decentralised, schedule, kind, monkeypatch):
    """Greedy play (α = ∞) turns one ulp of Q into a different argmax: a second implementation
    of the policy would show here. Coarse features make ties and near-ties common."""
    game = random_linear(8, 3, 2, 4, 4, seed=2, concentration=0.3)
    agent = AgentConfig(kind=kind, beta=0.4, decentralised=decentralised, **schedule)
    K = 25
    draws, steps, tables = played_and_evaluated(game, agent, K, monkeypatch)
    assert len(tables) == K and len(steps) == K * game.horizon and len(draws) == 2 * len(steps)
    for i, (k, h, x, a) in enumerate(steps):
        pi_l, pi_f = tables[k]
        np.testing.assert_array_equal(draws[2 * i], pi_l[h, x])
        np.testing.assert_array_equal(draws[2 * i + 1], pi_f[h, x, a])
    if kind == "greedy-lsvi-ucb":  # greedy rows are argmax indicators (with ties split)
        assert set(np.unique(np.concatenate([t[0].ravel() for t in tables]))) <= {
            0.0,
            0.5,
            1.0,
            1 / 3,
        }


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_acting_and_the_tables_agree_after_every_plan(cls):
    """The learners alone: a query for one state is that state's row, for every state."""
    game = random_linear(10, 3, 3, 5, 3, seed=4)
    learner = cls(game.features, (3, 3), 5, 3, beta=0.5, alphas=(math.inf, math.inf))
    rng = np.random.default_rng(0)
    for _ in range(8):
        for h in range(3):
            x, x_next = (int(v) for v in rng.integers(10, size=2))
            learner.record(h, x, rng.integers(3, size=2), (0.3, -0.1), x_next)
        learner.plan()
        pi_l, pi_f = learner.policy_tables()
        for h in range(3):
            for x in range(10):
                np.testing.assert_array_equal(learner.leader_policy(h, x), pi_l[h, x])
                for a in range(3):
                    np.testing.assert_array_equal(learner.follower_policy(h, x, a), pi_f[h, x, a])


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_policies_at_features_are_what_acting_draws_at_those_states(cls):
    """States that are points: ``policies_at(h, feature_map(X))`` row for row, to the bit."""
    A, B, d, H = 3, 2, 4, 3
    centres = np.random.default_rng(0).random((d, 2))

    def feature_map(states):  # (n, 2) -> (n, A, B, d): softmax of RBF logits, row by row
        states = np.asarray(states, dtype=float)
        sq = ((states[:, None, :] - centres) ** 2).sum(-1)  # (n, d)
        logits = np.arange(A * B * d).reshape(A, B, d) % 3 - 4.0 * sq[:, None, None, :]
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    learner = cls(feature_map, (A, B), d, H, beta=0.4, alphas=(math.inf, 7.0))
    rng = np.random.default_rng(1)
    for _ in range(6):
        for h in range(H):
            x, x_next = rng.random(2), rng.random(2)
            learner.record(h, x, rng.integers((A, B)), (0.2, -0.5), x_next)
        learner.plan()
        states = rng.random((7, 2))
        for h in range(H):
            pi_l, pi_f = learner.policies_at(h, feature_map(states))
            for s, x in enumerate(states):
                np.testing.assert_array_equal(learner.leader_policy(h, x), pi_l[s])
                for a in range(A):
                    np.testing.assert_array_equal(learner.follower_policy(h, x, a), pi_f[s, a])
    with pytest.raises(ValueError, match=r"phi must have shape \(n, 3, 2, 4\)"):
        learner.policies_at(0, np.ones((3, 2, 4)))
    with pytest.raises(ValueError, match="norm"):
        learner.policies_at(0, np.ones((1, 3, 2, 4)))
