"""No input can hurt a user: the learners, the players and draw check what they are given."""

import math

import numpy as np
import pytest

from stackelberg_rl.agents import AgentConfig, TableAgent, make_agents
from stackelberg_rl.games import draw, random_linear
from stackelberg_rl.learners import NonFiniteError, ReferenceLSVIUCB, SoftmaxLSVIUCB, theory_beta

GAME = random_linear(6, 2, 3, 4, 3, seed=0)
LEARNERS = [SoftmaxLSVIUCB, ReferenceLSVIUCB]


def table_learner(cls, **kw):
    return cls(GAME.features, (2, 3), 4, 3, **(dict(beta=0.5, alphas=(1.0, 1.0)) | kw))


def map_learner(cls, feature_map=None):
    return cls(feature_map or GAME.feature_map, (2, 3), 4, 3, beta=0.5, alphas=(1.0, 1.0))


# ---------------------------------------------------------------------- the constructor
@pytest.mark.parametrize("cls", LEARNERS)
@pytest.mark.parametrize(
    "name, value",
    [
        ("lam", 0.0), ("lam", -1.0), ("lam", math.nan), ("lam", math.inf), ("lam", "1"),
        ("beta", -0.1), ("beta", math.nan), ("beta", math.inf),
        ("n_leader_actions", 0), ("dim", 2.0), ("horizon", True), ("schedule_n", 0),
        ("alpha_l", -1.0), ("alpha_f", math.nan), ("alpha_l", "fixed-K"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused_by_name(cls, name, value):
    kw = dict(n_leader_actions=2, n_follower_actions=3, dim=4, horizon=3, beta=0.5)
    kw |= dict(alpha_l=1.0, alpha_f=1.0) | {name: value}
    with pytest.raises(ValueError, match=f"^{name}"):
        cls(GAME.features if name != "dim" else GAME.features[..., :2], **kw)


def test_a_feature_table_is_checked_when_the_learner_is_made():
    bad = GAME.features.copy()
    bad[4, 1, 2] = [1.0, 1.0, 0.0, 0.0]  # ‖φ‖ = √2
    with pytest.raises(ValueError, match=r"feature table.*index \(4, 1, 2\) has norm"):
        SoftmaxLSVIUCB(bad, (2, 3), 4, 3, beta=0.5, alphas=(1.0, 1.0))
    bad[4, 1, 2] = [np.nan, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"non-finite entry nan at index \(4, 1, 2, 0\)"):
        ReferenceLSVIUCB(bad, (2, 3), 4, 3, beta=0.5, alphas=(1.0, 1.0))
    with pytest.raises(ValueError, match=r"feature table must have shape \(S, A, B, d\)"):
        SoftmaxLSVIUCB(GAME.features[0], (2, 3), 4, 3, beta=0.5, alphas=(1.0, 1.0))


# ---------------------------------------------------------------------- record and the queries
GOOD = dict(h=0, x=1, a=1, b=2, r_l=0.1, r_f=-0.2, x_next=2)


def record(learner, h, x, a, b, r_l, r_f, x_next):
    """``GOOD``'s fields on the learner's player axis."""
    learner.record(h, x, (a, b), (r_l, r_f), x_next)


BAD_RECORDS = [
    (dict(h=3), r"h must be an integer in \[0, 3\), got 3"),
    (dict(h=-1), r"h must be an integer in \[0, 3\), got -1"),
    (dict(h=1.0), "h must be an integer"),
    (dict(h=True), "h must be an integer"),
    (dict(x=-1), r"x must be an integer in \[0, 6\), got -1"),  # numpy would read S-1
    (dict(x=6), r"x must be an integer in \[0, 6\)"),
    (dict(x=1.5), "x must be an integer"),
    (dict(x_next=-1), "x_next must be an integer"),
    (dict(h=2, x_next=-1), "x_next must be an integer"),  # unused at the last step, still checked
    (dict(a=-1), r"a must be an integer in \[0, 2\), got -1"),
    (dict(a=2), r"a must be an integer in \[0, 2\)"),
    (dict(a=np.float64(0)), "a must be an integer"),
    (dict(b=-1), r"b must be an integer in \[0, 3\)"),
    (dict(r_l=math.nan), r"rewards has a non-finite entry nan at index \(0,\) \(player\)"),
    (dict(r_f=math.inf), r"rewards has a non-finite entry inf at index \(1,\)"),
    (dict(r_l=-math.inf), "rewards has a non-finite entry -inf"),
    (dict(r_l=1.5), r"rewards has 1.5 > 1 at index \(0,\)"),
    (dict(r_f="0.1x"), "rewards must be an array of numbers"),
]


@pytest.mark.parametrize("cls", LEARNERS)
@pytest.mark.parametrize("change, message", BAD_RECORDS)
def test_record_refuses_bad_input_and_stores_nothing(cls, change, message):
    learner = table_learner(cls)
    with pytest.raises(ValueError, match=message):
        record(learner, **(GOOD | change))
    assert learner.n_samples.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(learner.Lambda, np.broadcast_to(np.eye(4), (3, 4, 4)))
    record(learner, **GOOD)  # and the good one still goes in
    record(learner, **(GOOD | dict(r_l=1.0 + 1e-12)))  # round-off above 1 is not an error
    assert learner.n_samples.tolist() == [2, 0, 0]


def nan_map(states):
    phi = GAME.feature_map(np.asarray(states, dtype=int) % 6)
    phi[np.asarray(states) == 3] = np.nan
    return phi


def long_map(states):
    return 2.0 * GAME.feature_map(np.asarray(states, dtype=int) % 6)


def transposed_map(states):
    return GAME.feature_map(np.asarray(states, dtype=int)).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("cls", LEARNERS)
@pytest.mark.parametrize(
    "feature_map, change, message",
    [
        (nan_map, dict(x=3), r"feature_map\(x\) has a non-finite entry"),
        (nan_map, dict(x_next=3), r"feature_map\(x_next\) has a non-finite entry"),
        (long_map, {}, r"feature_map\(x\) at index \(0, 0\) has norm"),
        (transposed_map, {}, r"feature_map\(x\) must have shape \(2, 3, 4\), got \(3, 2, 4\)"),
    ],
)
def test_features_from_a_feature_map_are_checked(cls, feature_map, change, message):
    learner = map_learner(cls, feature_map)
    with pytest.raises(ValueError, match=message):
        record(learner, **(GOOD | change))
    assert learner.n_samples.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match=message.replace("x_next", "x")):
        learner.leader_policy(0, change.get("x", change.get("x_next", 1)))


@pytest.mark.parametrize("cls", LEARNERS)
def test_policy_queries_refuse_bad_indices(cls):
    learner = table_learner(cls)
    learner.plan()
    for call, message in [
        (lambda: learner.leader_policy(-1, 0), "h must be"),
        (lambda: learner.leader_policy(3, 0), "h must be"),
        (lambda: learner.leader_policy(0, -1), "x must be"),
        (lambda: learner.q_values(0, 2.0), "x must be"),
        (lambda: learner.follower_policy(0, 0, -1), "a must be"),
        (lambda: learner.follower_policy(0, 0, 2), "a must be"),
        (lambda: learner.follower_policy(0, 6, 0), "x must be"),
        (lambda: learner.observations(3), "h must be"),
        (lambda: learner.should_plan(-1), "k must be"),
        (lambda: learner.plan(episode=1.5), "episode must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


def test_one_nan_reward_used_to_turn_every_later_policy_into_nan():
    """The defect as a user met it: now the NaN is refused where it enters, and play goes on."""
    L, F = make_agents(GAME, AgentConfig(beta=0.3, decentralised=False), 10, seed=0)
    L.begin_episode(0)
    with pytest.raises(ValueError, match="rewards has a non-finite entry"):
        L.record(0, 1, 0, 0, np.array([np.nan, 0.0]), 2)
    for r in (np.array([0.1]), 0.1, [[0.1, 0.2]]):
        with pytest.raises(ValueError, match=r"rewards has shape .*, expected \(2,\)"):
            L.record(0, 1, 0, 0, r, 2)
    L.record(0, 1, 0, 0, np.array([0.1, 0.2]), 2)
    L.begin_episode(1)
    assert np.isfinite(L.learner.policy_tables(GAME)[0]).all()


def test_table_agents_check_their_indices():
    rng = np.random.default_rng(0)
    leader = TableAgent(np.full((3, 6, 2), 0.5), rng, 0)
    follower = TableAgent(np.full((3, 6, 2, 3), 1 / 3), rng, 1)
    with pytest.raises(ValueError, match="x must be"):
        leader.act(0, -1)
    with pytest.raises(ValueError, match="h must be"):
        leader.act(3, 0)
    with pytest.raises(ValueError, match="a must be"):
        follower.act(0, 0, -1)
    assert follower.act(0, 0, 1) in (0, 1, 2)


@pytest.mark.parametrize("episodes", [0, -5, 2.5, True, None])
@pytest.mark.parametrize("kind", ["softmax-lsvi-ucb", "random"])
def test_make_agents_refuses_a_bad_number_of_episodes_by_name(kind, episodes):
    game = random_linear(6, 2, 3, 4, 3, seed=0)
    with pytest.raises(ValueError, match=f"episodes must be an integer >= 1, got {episodes}"):
        make_agents(game, AgentConfig(kind=kind), episodes=episodes, seed=0)


def test_make_agents_checks_a_config_changed_after_it_was_made():
    config = AgentConfig()
    config.kind = "bogus"  # a dataclass is mutable: its checks at construction have passed
    with pytest.raises(ValueError, match="kind must be one of"):
        make_agents(random_linear(6, 2, 3, 4, 3, seed=0), config, episodes=5, seed=0)


# ---------------------------------------------------------------------- non-finite results
@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_non_finite_plan_names_the_episode_step_and_player():
    # λ = 1e-310 is finite and positive, but 1/λ overflows: Λ⁻¹ = inf, w = inf·0 = NaN.
    L, F = make_agents(GAME, AgentConfig(lam=1e-310, decentralised=False), 10, seed=0)
    with pytest.raises(NonFiniteError, match="plan of episode 0: w of the leader at step 2"):
        L.begin_episode(0)


def test_a_ridge_too_small_for_double_precision_is_a_non_finite_plan_naming_lam(
    capsys, tmp_path, monkeypatch
):
    """λ = 1e-30 with two samples: ``Λ_h`` is singular to machine precision (numba's LinAlgError
    had reached the user, naming nothing); the command line says what to change, exit 2."""
    game = random_linear(5, 3, 3, 4, 3, seed=0)
    learner = SoftmaxLSVIUCB(game.features, (3, 3), 4, 3, beta=0.2, lam=1e-30, alphas=(2.0, 2.0))
    learner.record(0, 1, (0, 2), (0.5, -0.5), 3)
    learner.record(1, 3, (1, 1), (0.2, 0.1), 4)
    with pytest.raises(NonFiniteError, match=r"plan 0: Lambda is singular .*\(lam=1e-30, beta"):
        learner.plan()
    from stackelberg_rl.cli import main

    monkeypatch.chdir(tmp_path)  # a new run that failed leaves nothing behind
    argv = ["run", "--game", "security", "--param", "horizon=2", "--episodes", "5", "--seeds", "1"]
    assert main([*argv, "--workers", "1", "--lam", "1e-30", "--quiet", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("is not finite (lam=1e-30, beta=0.5): choose a larger --lam or a smaller "
                        "--beta") and "\n" not in err, err  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("decentralised", [False, True])
def test_a_non_finite_policy_names_the_episode_step_and_player(decentralised):
    L, F = make_agents(GAME, AgentConfig(beta=0.3, decentralised=decentralised), 10, seed=0)
    for k in range(3):
        L.begin_episode(k)
        F.begin_episode(k)
    L.learner.w[0, 1, 2] = np.nan  # what a bug in the plan would leave behind
    assert L.act(0, 1) in (0, 1)  # step 0 is fine
    with pytest.raises(NonFiniteError, match=r"episode 2: the leader's policy and Q at step 1"):
        L.act(1, 1)
    F.learner.w[1, 1, 0] = np.nan  # (an infinite w would be capped at H)
    with pytest.raises(NonFiniteError, match=r"episode 2: the follower's policy and Q at step 1"):
        F.act(1, 1, 0)
    with pytest.raises(NonFiniteError, match="the leader's policy at step 1, state 0 is not fin"):
        L.policy_table(GAME)


# ---------------------------------------------------------------------- draw
@pytest.mark.parametrize(
    "p, message",
    [
        ([0.5, np.nan, 0.5], r"weight 1 is nan \(not finite\)"),
        ([0.5, np.inf], r"weight 1 is inf \(not finite\)"),
        ([np.nan, np.nan], r"weight 0 is nan"),
        ([0.7, -0.2, 0.5], r"weight 1 is negative"),
        ([0.0, 0.0, 0.0], "the weights sum to zero"),
        ([-1e-12, 0.0], "the weights sum to zero"),
    ],
)
def test_draw_refuses_what_is_not_a_distribution(p, message):
    """It used to return the last action for NaN or all-zero weights."""
    with pytest.raises(ValueError, match=message):
        draw(np.array(p), np.random.default_rng(0))


def test_draw_takes_round_off_below_zero_as_zero():
    rng = np.random.default_rng(0)
    assert {draw(np.array([-1e-10, 1.0, -5e-10]), rng) for _ in range(50)} == {1}
    assert {draw(np.array([0.3, 0.7, 0.0]), rng) for _ in range(200)} == {0, 1}


# ---------------------------------------------------------------------- theory_beta
def test_theory_beta_keeps_a_factor_below_one():
    # |A| = 2, |B| = 1: the factor is log 2 ≈ 0.693, not 1. By hand (d = 4, H = 3, K = 100,
    # p = 0.05, T = 300): ι = log(log 2 · 4·4·300 / 0.05) = log(66542.1) = 11.1056, and
    # β = 4·3·√ι = 39.99; raising the factor to 1 gave 12·√log(96000) = 40.64.
    iota = math.log(math.log(2) * 4 * 4 * 300 / 0.05)
    assert iota == pytest.approx(11.1056, abs=1e-4)
    assert theory_beta(4, 3, 100, 2, 1) == pytest.approx(12 * math.sqrt(iota), rel=1e-15)
    assert round(theory_beta(4, 3, 100, 2, 1), 2) == 39.99
    assert round(theory_beta(4, 3, 100, 1, 2), 2) == 39.99  # symmetric in the two players


def test_theory_beta_with_one_action_each_drops_the_factor():
    # log|A||B| + 2 log|A| log|B| = 0: nothing to choose, ι = log(4dT/p).
    assert theory_beta(4, 3, 100, 1, 1) == pytest.approx(12 * math.sqrt(math.log(96000)))


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(dim=0), "dim"), (dict(episodes=-1), "episodes"), (dict(p=1.0), "p"),
        (dict(c1=math.nan), "c1"), (dict(n_follower_actions=0), "n_follower_actions"),
    ],
)  # fmt: skip
def test_theory_beta_refuses_bad_arguments(kw, name):
    args = dict(dim=4, horizon=3, episodes=100, n_leader_actions=2, n_follower_actions=1)
    with pytest.raises(ValueError, match=name):
        theory_beta(**(args | kw))
