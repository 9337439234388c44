"""``record_episodes``: whole episodes in one call, the same state as ``record`` step by step."""

import numpy as np
import pytest

from stackelberg_rl.games import random_linear
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB


def random_episodes(game, n, rng):
    """``states (n, H+1)``, ``actions (n, H, P)``, ``rewards (n, H, P)`` of uniform play."""
    H, P = game.horizon, game.n_players
    states = rng.integers(game.n_states, size=(n, H + 1))
    actions = np.stack([rng.integers(c, size=(n, H)) for c in game.action_counts], axis=-1)
    rewards = rng.uniform(-1.0, 1.0, size=(n, H, P))
    return states, actions, rewards


def record_loop(learner, states, actions, rewards):
    for i in range(len(states)):
        for h in range(learner.horizon):
            learner.record(h, states[i, h], actions[i, h], rewards[i, h], states[i, h + 1])


def assert_same_state(one, other):
    a, b = one.state_dict(), other.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype, key
            assert np.array_equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def learners(game, cls=SoftmaxLSVIUCB, **kw):
    args = (game.features, game.action_counts, game.dim, game.horizon)
    return [cls(*args, beta=0.4, alphas=(2.0,) * game.n_players, **kw) for _ in range(2)]


# float32 with one follower only: recording compiles the same for any number of players (only the
# plan's soft-max chain depends on it), and a two-follower float32 plan would be compiled for
# this test alone.
@pytest.mark.parametrize("n_followers, dtype", [(1, "float64"), (1, "float32"), (2, "float64")])
def test_blocks_of_episodes_equal_step_by_step_records(dtype, n_followers):
    game = random_linear(7, 3, 2, 5, 4, seed=2, n_followers=n_followers)
    rng = np.random.default_rng(0)
    stepwise, blockwise = learners(game, dtype=dtype, refresh_every=3)
    # 0, 1, several, then a block past two doublings of the capacity (16 → 64).
    for k, n in enumerate([0, 1, 5, 40, 3]):
        block = random_episodes(game, n, rng)
        record_loop(stepwise, *block)
        blockwise.record_episodes(*block)
        assert_same_state(stepwise, blockwise)
        stepwise.plan(k)
        blockwise.plan(k)
        assert_same_state(stepwise, blockwise)
        for one, other in zip(stepwise.policy_tables(), blockwise.policy_tables(), strict=True):
            assert np.array_equal(one, other)


def test_after_single_records_of_part_of_an_episode():
    """Steps with different counts (a half episode recorded by hand) continue alike."""
    game = random_linear(6, 2, 3, 4, 3, seed=5)
    rng = np.random.default_rng(1)
    stepwise, blockwise = learners(game)
    for learner in (stepwise, blockwise):
        learner.record(0, 1, (1, 2), (0.5, -0.5), 3)
    block = random_episodes(game, 16, rng)  # step 0 then needs a 17th row: one doubling
    record_loop(stepwise, *block)
    blockwise.record_episodes(*block)
    assert_same_state(stepwise, blockwise)


def test_the_reference_learner_records_the_same_samples():
    game = random_linear(6, 2, 3, 4, 3, seed=5)
    block = random_episodes(game, 9, np.random.default_rng(2))
    fast, scratch = learners(game)[0], learners(game, ReferenceLSVIUCB)[0]
    fast.record_episodes(*block)
    scratch.record_episodes(*block)
    for h in range(game.horizon):
        for one, other in zip(fast.observations(h), scratch.observations(h), strict=True):
            assert np.array_equal(one, other)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s, a, r: (s[:, :-1], a, r),
            r"states has shape \(3, 3\), expected \(any, 4\): axis 1 \(h\)",
        ),
        (lambda s, a, r: (s, a[:2], r), "actions must hold 3 episodes like states"),
        (lambda s, a, r: (s * 1.0, a, r), "states must hold integers"),
        (lambda s, a, r: (s + 6, a, r), r"states at index \(0, 0\) is \d+, outside \[0, 6\)"),
        (
            lambda s, a, r: (s, a + [0, 3], r),
            r"actions at index \(0, 0, 1\) is \d, outside \[0, 3\)",
        ),
        (lambda s, a, r: (s, a, r * 2 + 3), "rewards"),
        (lambda s, a, r: (s, a, np.where(r > 0, np.nan, r)), "rewards"),
    ],
)
def test_bad_blocks_are_refused_in_one_line_and_nothing_is_stored(change, message):
    game = random_linear(6, 2, 3, 4, 3, seed=5)
    learner, untouched = learners(game)
    block = random_episodes(game, 3, np.random.default_rng(3))
    learner.record_episodes(*block)
    untouched.record_episodes(*block)
    with pytest.raises(ValueError, match=message) as err:
        learner.record_episodes(*change(*block))
    assert "\n" not in str(err.value)
    assert_same_state(learner, untouched)


def test_a_feature_map_learner_has_no_episodes_to_record():
    game = random_linear(6, 2, 3, 4, 3, seed=5)
    learner = SoftmaxLSVIUCB(game.feature_map, game.action_counts, game.dim, game.horizon,
                             beta=0.4, alphas=(1.0, 1.0))  # fmt: skip
    with pytest.raises(ValueError, match="record_episodes needs a learner with a feature table"):
        learner.record_episodes(*random_episodes(game, 1, np.random.default_rng(0)))
