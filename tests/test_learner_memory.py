"""A learner with a feature table keeps its next states as indices (issue 18): what it holds.

A state of the old form, which held the next states' features ``psi``, is refused in one line.
"""

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.games import random_linear
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB


def random_block(game, n, rng):
    H, P = game.horizon, game.n_players
    states = rng.integers(game.n_states, size=(n, H + 1))
    actions = np.stack([rng.integers(c, size=(n, H)) for c in game.action_counts], axis=-1)
    return states, actions, rng.uniform(-1.0, 1.0, size=(n, H, P))


def learner(game, features=None, **kw):
    features = game.features if features is None else features
    args = (features, game.action_counts, game.dim, game.horizon)
    return SoftmaxLSVIUCB(*args, beta=0.5, alphas=(2.0,) * game.n_players, refresh_every=3, **kw)


def learn(one, blocks, start=0):
    for k, block in enumerate(blocks, start=start):
        if one.should_plan(k):
            one.plan(k)
        one.record_episodes(*block)


def old_format(state, table, dtype):
    """The state as a learner saved it when it kept ``ψ``: ``psi (H-1, n, d, J)`` per sample."""
    state = dict(state)
    rows = state.pop("next_states")
    J, d = int(np.prod(table.shape[1:-1])), table.shape[-1]
    psi = table.reshape(len(table), J, d).transpose(0, 2, 1)[rows].astype(dtype)
    n = state["n"]
    for h in range(len(rows)):
        psi[h, n[h] :] = 0.0  # rows past those in use were zeros
    state["psi"] = psi
    return state


@pytest.mark.parametrize("n_followers", [1, 2])
def test_per_sample_the_learner_holds_indices_not_features(n_followers):
    game = games.make("random-linear", n_followers=n_followers, n_states=20, seed=0)
    one = learner(game)
    learn(one, [random_block(game, 1, np.random.default_rng(k)) for k in range(40)])
    H, P, d = game.horizon, game.n_players, game.dim
    J = int(np.prod(game.action_counts))
    capacity = one._data.features.shape[1]
    per_sample = [one._data.features, one._data.rewards, one._data.next_rows]
    # φ and r of every step; the next state's index for h < H-1.
    assert sum(a.nbytes for a in per_sample) == capacity * 8 * (H * d + H * P + (H - 1))
    assert one._data.next_features.shape == (1, game.n_states, d, J)  # the table, once
    # Per state, not per sample: the J cached forms of each next state and its place.
    S = game.n_states
    assert one._cache.forms.shape == (H - 1, S, J) and one._cache.place_of.shape == (H - 1, S)
    assert "psi" not in one.state_dict()
    assert one.state_dict()["next_states"].shape == (H - 1, 40)


def test_a_state_whose_psi_or_indices_do_not_fit_the_table_is_refused_in_one_line():
    game = random_linear(8, 2, 3, 4, 3, seed=1)
    one = learner(game)
    learn(one, [random_block(game, 2, np.random.default_rng(0)) for _ in range(3)])
    state = one.state_dict()
    old = old_format(state, game.features, np.float64)
    bad = dict(state, next_states=np.where(state["next_states"] == 0, 8, state["next_states"]))
    missing = {k: v for k, v in state.items() if k != "next_states"}
    too_many = state["n_quad"].copy()
    seen = len(set(state["next_states"][0].tolist()))
    assert seen < state["n"][0]  # some next state reached twice at step 0
    too_many[0] = state["n"][0]  # forms of more places than there are next states
    for given, message in [
        (old, "the learner's state has no next_states"),
        (bad, r"next_states at \(\d, \d+\) is not a state of the feature table \(S = 8\)"),
        (missing, "the learner's state has no next_states"),
        (dict(state, n_quad=too_many), rf"n_quad at step 0 is \d+, more than the {seen} next"),
        (
            dict(state, quad=state["quad"][:, :4]),
            r"quad has shape \(2, 4, 6\), expected \(2, 8, 6\)",
        ),
    ]:
        with pytest.raises(ValueError, match=message) as err:
            learner(game).load_state_dict(given)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_a_state_refuses_what_the_constructor_and_record_refuse(cls):
    """β < 0, α < 0, rewards outside [-1, 1] and non-finite arrays had loaded and played."""
    game = random_linear(8, 2, 3, 4, 3, seed=1)
    one = cls(game.features, (2, 3), 4, 3, beta=0.3, alphas=(2.0, 2.0))
    learn(one, [random_block(game, 2, np.random.default_rng(0)) for _ in range(3)])
    state = one.state_dict()
    rewards = "r_rows" if cls is SoftmaxLSVIUCB else "rewards"
    for given, message in [
        (dict(state, beta=-1.0), r"beta must be in \[0, inf\), got -1.0"),
        (dict(state, alphas=np.array([-1.0, 2.0])), r"alphas has -1 < 0 at index \(0,\)"),
        (dict(state, **{rewards: state[rewards] * 10}), rf"{rewards} has -?\d.* at index"),
        (dict(state, w=state["w"] * np.nan), r"w has a non-finite entry nan at index \(0, 0, 0\)"),
        (None, "the learner's state must be a dict, got NoneType"),
    ]:
        with pytest.raises(ValueError, match=message):
            cls(game.features, (2, 3), 4, 3, beta=0.3, alphas=(2.0, 2.0)).load_state_dict(given)
    again = cls(game.features, (2, 3), 4, 3, beta=0.3, alphas=(2.0, 2.0))
    again.load_state_dict(dict(state, alphas=np.array([np.inf, 2.0])))  # greedy is a soft-max α
    assert again.alphas[0] == np.inf


def test_a_feature_map_learner_keeps_each_next_states_features():
    """Without a table there are no indices: ``ψ`` is kept per sample and saved as ``psi``."""
    game = random_linear(8, 2, 3, 4, 3, seed=1)
    by_map, by_table = learner(game, game.feature_map), learner(game)
    rng = np.random.default_rng(5)
    for k in range(6):
        for one in (by_map, by_table):
            one.plan(k)
        states, actions, rewards = random_block(game, 1, rng)
        for h in range(game.horizon):
            for one in (by_map, by_table):
                one.record(h, states[0, h], actions[0, h], rewards[0, h], states[0, h + 1])
    by_map.plan(6)
    by_table.plan(6)
    # The same ψ, read from either; the table sums the samples by next state, so up to round-off.
    np.testing.assert_allclose(by_map.w, by_table.w, rtol=0, atol=1e-14)
    state = by_map.state_dict()
    assert "next_states" not in state and state["psi"].shape == (2, 6, 4, 6)
    J, d = 6, 4
    want = game.features.reshape(8, J, d).transpose(0, 2, 1)[by_table.state_dict()["next_states"]]
    np.testing.assert_array_equal(state["psi"], want)
