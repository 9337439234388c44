"""The learner and the agents with a leader and N followers (SPEC §7), against loop-by-loop code.

The reference here is chain Algorithm 1 written with plain Python loops over samples, states and
joint actions (``np.linalg.inv`` for ``Λ^{-1}``); nothing of the library's math is used.
"""

import copy
import itertools
import math

import numpy as np
import pytest
from helpers import play_in_order

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig, make_agents, make_learner
from stackelberg_rl.games import random_linear
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB
from stackelberg_rl.planning import stackelberg_equilibrium


# ---------------------------------------------------------------------- chain Algorithm 1, by loops
def loop_softmax(z, alpha):
    top = max(z)
    if math.isinf(alpha):
        e = [1.0 if v == top else 0.0 for v in z]
    else:
        e = [math.exp(alpha * (v - top)) for v in z]
    return [v / sum(e) for v in e]


def loop_chain(Q, counts, alphas):
    """Soft-max chain at one state: ``Q[joint] = [Q_0, …, Q_N]``; policies by prefix, and ``V``."""
    n_players = len(counts)
    policies = {}

    def node(prefix):  # W^{(i)}(prefix) of every player, i = len(prefix)
        i = len(prefix)
        if i == n_players:
            return Q[prefix]
        below = [node((*prefix, a)) for a in range(counts[i])]
        p = loop_softmax([w[i] for w in below], alphas[i])
        policies[prefix] = p
        return [sum(p[a] * below[a][m] for a in range(counts[i])) for m in range(n_players)]

    return policies, node(())


def loop_algorithm_1(features, data, counts, d, H, beta, lam, alphas):
    """Chain Algorithm 1 (SPEC §7) by loops; returns ``Q_at(h, x) -> {joint: [Q_m]}``.

    ``data[h]``: a list of ``(x, actions, rewards, x_next)``.
    """
    n_players = len(counts)
    joints = list(itertools.product(*map(range, counts)))
    w, Lambda_inv = [None] * H, [None] * H

    def Q_at(h, x):
        out = {}
        for a in joints:
            phi = features[(x, *a)]
            bonus = beta * math.sqrt(max(float(phi @ Lambda_inv[h] @ phi), 0.0))
            out[a] = [min(float(w[h][m] @ phi) + bonus, H) for m in range(n_players)]
        return out

    for h in range(H - 1, -1, -1):
        Lam = lam * np.eye(d)
        for x, a, _, _ in data[h]:
            Lam = Lam + np.outer(features[(x, *a)], features[(x, *a)])
        Lambda_inv[h] = np.linalg.inv(Lam)
        target = [np.zeros(d) for _ in range(n_players)]
        for x, a, r, x_next in data[h]:
            V = (
                loop_chain(Q_at(h + 1, x_next), counts, alphas)[1]
                if h < H - 1
                else [0.0] * n_players
            )
            for m in range(n_players):
                target[m] = target[m] + features[(x, *a)] * (r[m] + V[m])
        w[h] = [Lambda_inv[h] @ t for t in target]
    return Q_at


# ---------------------------------------------------------------------- helpers
def tiny(n_followers, leader=2, follower=2, seed=0):
    return random_linear(4, leader, follower, 3, 3, seed=seed, n_followers=n_followers)


def random_steps(game, episodes, rng):
    """Uniform play: per episode, per step ``(x, actions, rewards, x_next)``."""
    out = []
    for _ in range(episodes):
        x, steps = int(game.sample_initial(rng)), []
        for h in range(game.horizon):
            a = tuple(int(rng.integers(n)) for n in game.action_counts)
            x_next = int(rng.choice(game.n_states, p=game.transition(h)[(x, *a)]))
            steps.append((x, a, tuple(rng.uniform(-1, 1, game.n_players)), x_next))
            x = x_next
        out.append(steps)
    return out


def learner(game, cls=SoftmaxLSVIUCB, alpha=2.0, **kw):
    args = (game.features, game.action_counts, game.dim, game.horizon)
    return cls(*args, beta=0.6, lam=1.0, alphas=[alpha] * game.n_players, **kw)


def feed(learners, steps):
    for h, (x, a, r, x_next) in enumerate(steps):
        for one in learners:
            one.record(h, x, a, r, x_next)


# ---------------------------------------------------------------------- (a) chain Algorithm 1
@pytest.mark.parametrize("alpha", [1.5, math.inf])
@pytest.mark.parametrize(
    ("n_followers", "leader", "follower"), [(2, 2, 2), (3, 2, 2), (2, 3, 1), (2, 2, 3)]
)
def test_the_learner_equals_loop_by_loop_chain_algorithm_1(n_followers, leader, follower, alpha):
    """``J = ∏|A_i|`` of 8, 16, 3 and 18: the products across joint actions and one by one."""
    game = tiny(n_followers, leader, follower, seed=n_followers)
    fast = learner(game, alpha=alpha, refresh_every=3)
    data = [[] for _ in range(game.horizon)]
    rng = np.random.default_rng(1)
    for k, steps in enumerate(random_steps(game, 7, rng)):
        feed([fast], steps)
        for h, step in enumerate(steps):
            data[h].append(step)
        fast.plan(k)
        if k % 3 != 2:
            continue
        Q_at = loop_algorithm_1(game.features, data, game.action_counts, game.dim,
                                game.horizon, 0.6, 1.0, fast.alphas.tolist())  # fmt: skip
        tables = fast.policy_tables()
        for h in range(game.horizon):
            for x in range(game.n_states):
                Q = Q_at(h, x)
                policies, _ = loop_chain(Q, game.action_counts, fast.alphas.tolist())
                got = fast.q_values(h, x)
                for a, values in Q.items():
                    np.testing.assert_allclose(got[(slice(None), *a)], values, rtol=0, atol=1e-8)
                for prefix, p in policies.items():
                    table = tables[len(prefix)][(h, x, *prefix)]
                    np.testing.assert_allclose(table, p, rtol=0, atol=1e-8)


# ---------------------------------------------------------------------- (b) the two learners
@pytest.mark.parametrize("schedule", ["every", "doubling"])
@pytest.mark.parametrize("bonus_reward", [False, True])
def test_the_fast_learner_equals_the_reference_one_with_two_followers(schedule, bonus_reward):
    game = games.make("random-linear", n_followers=2, n_states=6, seed=0)
    kw = {"schedule": schedule, "bonus_reward": bonus_reward}
    pair = [
        learner(game, SoftmaxLSVIUCB, refresh_every=4, **kw),
        learner(game, ReferenceLSVIUCB, **kw),
    ]
    for k, steps in enumerate(random_steps(game, 12, np.random.default_rng(2))):
        plans = {one.should_plan(k) for one in pair}
        assert len(plans) == 1
        if plans.pop():
            for one in pair:
                one.plan(k)
        feed(pair, steps)
    for one in pair:
        one.plan(12)
    fast, scratch = pair
    np.testing.assert_allclose(fast.w, scratch.w, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.Lambda, scratch.Lambda, rtol=0, atol=1e-12)
    for one, other in zip(fast.policy_tables(), scratch.policy_tables(), strict=True):
        np.testing.assert_allclose(one, other, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.q_values(2, 3), scratch.q_values(2, 3), rtol=0, atol=1e-10)


# ---------------------------------------------------------------------- (c) checkpoints
@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_a_state_dict_with_two_followers_continues_bit_for_bit(cls):
    game = games.make("random-linear", n_followers=2, n_states=6, seed=1)
    episodes = random_steps(game, 14, np.random.default_rng(3))
    kw = {"refresh_every": 3} if cls is SoftmaxLSVIUCB else {}
    first = learner(game, cls, schedule="doubling", **kw)
    for k, steps in enumerate(episodes[:6]):
        if first.should_plan(k):
            first.plan(k)
        feed([first], steps)
    second = learner(game, cls, schedule="doubling", **kw)
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    for k, steps in enumerate(episodes[6:], start=6):
        assert first.should_plan(k) == second.should_plan(k)
        if first.should_plan(k):
            first.plan(k)
            second.plan(k)
        feed([first, second], steps)
    first.plan(14)
    second.plan(14)
    assert np.array_equal(first.w, second.w)
    for one, other in zip(first.policy_tables(), second.policy_tables(), strict=True):
        assert np.array_equal(one, other)
    for key, value in first.state_dict().items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, second.state_dict()[key]), key


def test_a_state_of_another_number_of_players_is_refused_naming_it():
    two = learner(games.make("random-linear", n_followers=2, n_states=6, seed=1))
    one = learner(random_linear(6, 3, 3, 8, 5, seed=1))
    with pytest.raises(ValueError, match="the learner's state: w has shape"):
        one.load_state_dict(two.state_dict())


# ---------------------------------------------------------------------- (d) tables and acting
@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
@pytest.mark.parametrize("n_followers", [2, 3])
def test_the_tables_are_the_rows_acting_draws_from(cls, n_followers):
    game = tiny(n_followers, seed=5)
    one = learner(game, cls)
    for k, steps in enumerate(random_steps(game, 5, np.random.default_rng(4))):
        one.plan(k)
        feed([one], steps)
        tables = one.policy_tables()
        assert [t.shape for t in tables] == [
            (game.horizon, game.n_states, *game.action_counts[: i + 1])
            for i in range(game.n_players)
        ]
        for h, x in itertools.product(range(game.horizon), range(game.n_states)):
            assert one.q_values(h, x).shape == (game.n_players, *game.action_counts)
            for m in range(game.n_players):
                for earlier in itertools.product(*map(range, game.action_counts[:m])):
                    assert np.array_equal(one.policy(m, h, x, earlier), tables[m][(h, x, *earlier)])
        at = one.policies_at(1, game.features[[2, 0]])
        for pi, table in zip(at, tables, strict=True):
            assert np.array_equal(pi, table[1, [2, 0]])


def test_the_players_are_named_and_counted_in_errors():
    game = tiny(2)
    one = learner(game)
    with pytest.raises(ValueError, match=r"actions must hold 3 actions, one per player"):
        one.record(0, 1, (0, 1), (0.0, 0.0, 0.0), 2)
    with pytest.raises(ValueError, match=r"a1 must be an integer in \[0, 2\), got 2"):
        one.record(0, 1, (0, 2, 1), (0.0, 0.0, 0.0), 2)
    with pytest.raises(ValueError, match="rewards"):
        one.record(0, 1, (0, 1, 1), (0.0, 0.0), 2)
    with pytest.raises(ValueError, match=r"alphas must hold one value per player \(3 players\)"):
        SoftmaxLSVIUCB(game.features, (2, 2, 2), 3, 3, beta=0.5, alphas=(1.0, 1.0))
    with pytest.raises(ValueError, match="alpha_l and alpha_f name two players; give alphas"):
        SoftmaxLSVIUCB(game.features, (2, 2, 2), 3, 3, beta=0.5, alpha_l=1.0, alpha_f=1.0)
    with pytest.raises(
        ValueError, match=r"a feature table must have shape \(S, A_0, A_1, A_2, d\)"
    ):
        SoftmaxLSVIUCB(game.features[..., 0, :], (2, 2, 2), 3, 3, beta=0.5, alphas=(1, 1, 1))
    # Two action counts for a table of three players: the counts are named, not the α.
    with pytest.raises(ValueError, match=r"one action axis per player of action_counts, got "):
        SoftmaxLSVIUCB(game.features, (2, 2), 3, 3, beta=0.5, alphas=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="earlier must hold 2 actions"):
        one.policy(2, 0, 1, (0,))


# ---------------------------------------------------------------------- agents
def play(game, agents, episodes, rng):
    """Each agent acts in order seeing the earlier actions; every agent records."""
    return play_in_order(game, agents, episodes, rng)


@pytest.mark.parametrize("kind", ["softmax-lsvi-ucb", "greedy-lsvi-ucb", "random", "oracle"])
def test_every_agent_kind_plays_with_two_followers(kind):
    game = games.make("random-linear", n_followers=2, n_states=6, seed=0)
    config = AgentConfig(kind=kind, beta=0.3, alpha_l=2.0, alpha_f="fixed-K", schedule="every")
    agents = make_agents(game, config, 8, seed=11)
    assert [agent.player for agent in agents] == [0, 1, 2]
    assert [agent.role for agent in agents] == ["leader", "follower 1", "follower 2"]
    played = play(game, agents, 8, np.random.default_rng(0))
    again = play(game, make_agents(game, config, 8, seed=11), 8, np.random.default_rng(0))
    assert played == again
    for m, agent in enumerate(agents):
        table = agent.policy_table(game)
        assert table.shape == (game.horizon, game.n_states, *game.action_counts[: m + 1])
        np.testing.assert_allclose(table.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    if kind == "oracle":
        for agent, pi in zip(agents, stackelberg_equilibrium(game)[:-1], strict=True):
            assert np.array_equal(agent.policy_table(game), pi)
    if kind in ("softmax-lsvi-ucb", "greedy-lsvi-ucb"):
        alphas = agents[0].learner.alphas
        want = [2.0] + [math.log(3) * math.sqrt(8) / game.horizon] * 2
        assert alphas.tolist() == (want if kind == "softmax-lsvi-ucb" else [math.inf] * 3)


def test_decentralised_copies_agree_with_the_shared_learner_with_two_followers():
    game = games.make("random-linear", n_followers=2, n_states=6, seed=2)
    own = AgentConfig(beta=0.3, alpha_l=2.0, alpha_f=4.0, decentralised=True)
    shared = AgentConfig(beta=0.3, alpha_l=2.0, alpha_f=4.0, decentralised=False)
    agents = make_agents(game, own, 6, seed=5)
    assert len({id(agent.learner) for agent in agents}) == 3
    played = play(game, agents, 6, np.random.default_rng(1))
    assert played == play(game, make_agents(game, shared, 6, seed=5), 6, np.random.default_rng(1))
    for agent in agents[1:]:
        assert np.array_equal(agent.learner.w, agents[0].learner.w)


def test_the_first_two_streams_are_those_of_one_follower():
    """Each agent its own stream; the leader's and follower 1's are those of ``N = 1``."""
    config = AgentConfig(kind="random")
    one = make_agents(random_linear(6, 3, 3, 8, 5, seed=1), config, 5, seed=7)
    two = make_agents(games.make("random-linear", n_followers=2, n_states=6, seed=0), config, 5, 7)
    for a, b in zip(one, two[:2], strict=True):
        assert a.rng.bit_generator.state == b.rng.bit_generator.state
    draws = [agent.rng.integers(1 << 30, size=4).tolist() for agent in two]
    assert len({tuple(d) for d in draws}) == 3


def test_a_table_agent_reads_the_actions_of_the_players_before_it():
    game = tiny(3)
    tables = stackelberg_equilibrium(game)[:-1]
    agents = make_agents(game, AgentConfig(kind="oracle"), 3, seed=0)
    x, earlier = 1, []
    for agent, table in zip(agents, tables, strict=True):
        action = agent.act(0, x, *earlier)
        assert table[(0, x, *earlier)][action] > 0
        earlier.append(action)
    with pytest.raises(ValueError, match="the follower 3 acts after 3 earlier actions"):
        agents[3].act(0, x, 0, 1)
    with pytest.raises(ValueError, match=r"follower 1 acts after 1 earlier action, got \(0, 0\)"):
        agents[1].act(0, x, 0, 0)  # a later player's action is refused, not ignored
    with pytest.raises(ValueError, match=r"a1 must be an integer in \[0, 2\), got 5"):
        agents[2].act(0, x, 0, 5)


def test_make_learner_gives_one_alpha_per_player_and_refuses_theory_beta():
    game = games.make("random-linear", n_followers=3, n_states=6, seed=0)
    one = make_learner(AgentConfig(beta=0.5, alpha_l=1.0, alpha_f=3.0), game, 10)
    assert one.action_counts == game.action_counts and one.alphas.tolist() == [1.0, 3.0, 3.0, 3.0]
    with pytest.raises(ValueError, match="beta=theory is Theorem 3's, for one follower"):
        make_learner(AgentConfig(beta="theory"), game, 10)
