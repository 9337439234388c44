"""The continuous game (math.md §6) and its Monte-Carlo planner, against independent checks."""

import numpy as np
import pytest
from scipy import stats

from stackelberg_rl import games, montecarlo, planning
from stackelberg_rl.games import AtomDensities, BetaDensities, ContinuousGame, FiniteGame

A, B = 2, 3
SMALL = dict(dim=4, n_leader_actions=A, n_follower_actions=B, horizon=3, seed=2)


def soft_policies(seed: int, H: int, d: int):
    """A fixed pair of soft-max policies of the features: ``(policy_l, policy_f)``."""
    rng = np.random.default_rng(seed)
    u_l, u_f = rng.standard_normal((H, d)), rng.standard_normal((H, d))

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def policy_l(h, phi):  # (n, A, B, d) -> (n, A)
        return softmax(3 * np.einsum("nabk,k->na", phi, u_l[h]) / phi.shape[2])

    def policy_f(h, phi):  # (n, A, B, d) -> (n, A, B)
        return softmax(3 * np.einsum("nabk,k->nab", phi, u_f[h]))

    return policy_l, policy_f


# ---------------------------------------------------------------------- the game
def test_registered_with_documented_parameters_and_a_small_default():
    info = games.info("continuous")
    assert info.summary and all(f.help for f in info.fields())
    game = games.make("continuous")
    assert isinstance(game, ContinuousGame) and game.n_states is None
    assert (game.horizon, game.n_leader_actions, game.n_follower_actions, game.dim) == (3, 2, 2, 4)
    assert game.provenance == {"name": "continuous", "params": game.provenance["params"]}
    assert game.nbytes <= info.estimate_bytes({}) <= 5 * game.nbytes
    assert game.describe()["evaluation"] == {
        "method": "monte-carlo",
        "n_eval_states": 100,
        "n_replications": 8,
    }


def test_same_parameters_same_game_and_each_parameter_changes_it():
    game = games.make("continuous", **SMALL, n_eval_states=20)
    assert game.fingerprint() == games.make("continuous", **SMALL, n_eval_states=20).fingerprint()
    for change in (
        dict(seed=3),
        dict(bandwidth=0.2),
        dict(tilt=1.0),
        dict(concentration=5.0),
        dict(n_eval_states=21),
        dict(n_replications=3),
    ):
        other = games.make("continuous", **{**SMALL, "n_eval_states": 20, **change})
        assert other.fingerprint() != game.fingerprint(), change


def test_features_are_probability_vectors_and_rows_do_not_depend_on_the_batch():
    game = games.make("continuous", **SMALL, n_eval_states=10)
    states = np.random.default_rng(0).random((50, 2))
    phi = game.feature_map(states)
    assert phi.shape == (50, A, B, 4) and (phi >= 0).all()
    np.testing.assert_allclose(phi.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert (np.linalg.norm(phi, axis=-1) <= 1.0).all()
    for s in (0, 17, 49):  # one state alone gives its row of the batch, to the bit
        np.testing.assert_array_equal(game.feature_map(states[s : s + 1])[0], phi[s])
    r = np.stack([game.reward_at(h, states[0], 1, 2) for h in range(3)])
    assert r.shape == (3, 2) and (np.abs(r) <= 1).all()
    np.testing.assert_allclose(r, np.einsum("mhk,k->hm", game.theta, phi[0, 1, 2]))


def test_features_are_the_radial_bases_normalised():
    """φ by hand at one state, from the definition of math.md §6."""
    game = games.make("continuous", **SMALL, n_eval_states=10)
    x = np.array([0.2, 0.7])
    sq = ((x - game.centres) ** 2).sum(-1)
    g = np.exp(game.log_weights) * np.exp(-sq / (2 * game.bandwidth**2))  # (A, B, d)
    np.testing.assert_allclose(game.feature_map(x[None])[0], g / g.sum(-1, keepdims=True))


def test_a_step_draws_from_the_mixture_of_the_densities():
    """``E[x'] = Σ_i φ_i(x, a, b) m_{h,i}`` (the Beta means), and the Beta laws' spread."""
    game = games.make("continuous", **SMALL, n_eval_states=10)
    rng = np.random.default_rng(4)
    x, h, a, b, n = np.array([0.4, 0.5]), 1, 1, 0, 4000
    draws = np.array([game.step(h, x, a, b, rng)[1] for _ in range(n)])
    assert ((draws >= 0) & (draws <= 1)).all()
    dens = game.densities
    phi = game.feature_map(x[None])[0, a, b]
    mean_i = dens.alpha[h] / (dens.alpha[h] + dens.beta[h])  # (d, 2)
    expected = phi @ mean_i
    se = draws.std(axis=0) / np.sqrt(n)
    assert (np.abs(draws.mean(axis=0) - expected) < 5 * se).all()  # 5σ: false alarm < 1e-6

    # The first coordinate's law is the mixture Σ φ_i Beta(α_i, β_i): a KS test against it.
    def cdf(t):
        return phi @ stats.beta.cdf(t[None, :], dens.alpha[h, :, :1], dens.beta[h, :, :1])

    assert stats.kstest(draws[:, 0], cdf).pvalue > 1e-4
    r, _ = game.step(h, x, a, b, rng)
    np.testing.assert_allclose(r, game.theta[:, h] @ phi)


def test_the_same_seed_plays_the_same_episode():
    game = games.make("continuous", **SMALL, n_eval_states=10)

    def episode(seed):
        rng = np.random.default_rng(seed)
        x, out = game.sample_initial(rng), []
        for h in range(3):
            r, x = game.step(h, x, h % A, h % B, rng)
            out.append(np.concatenate([r, x]))
        return np.array(out)

    np.testing.assert_array_equal(episode(1), episode(1))
    assert not np.array_equal(episode(1), episode(2))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(bandwidth=0.0), "bandwidth"),
        (dict(tilt=-1.0), "tilt"),
        (dict(concentration=0.0), "concentration"),
        (dict(n_replications=1), "n_replications must be an integer >= 2"),
        (dict(n_eval_states=0), "n_eval_states"),
        (dict(dim=0), "dim"),
        (dict(horizon=-1), "horizon"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, match):
    with pytest.raises(ValueError, match=match):
        games.make("continuous", **params)


def test_a_game_checks_itself_naming_the_field_and_the_index():
    game = games.make("continuous", **SMALL, n_eval_states=5)
    parts = dict(
        centres=game.centres,
        bandwidth=game.bandwidth,
        log_weights=game.log_weights,
        theta=game.theta,
        densities=game.densities,
    )
    theta = game.theta.copy()
    theta[1, 2, 3] = 1.5
    with pytest.raises(ValueError, match=r"theta has 1.5 > 1 at index \(1, 2, 3\)"):
        ContinuousGame(**{**parts, "theta": theta})
    with pytest.raises(ValueError, match="log_weights has shape"):
        ContinuousGame(**{**parts, "log_weights": game.log_weights[:, :, :3]})
    with pytest.raises(ValueError, match="densities have H=3, d=4; the game has H=2"):
        ContinuousGame(**{**parts, "theta": game.theta[:, :2]})
    alpha = game.densities.alpha.copy()
    alpha[0, 1, 0] = -2.0
    with pytest.raises(ValueError, match=r"alpha is -2 at index \(0, 1, 0\); it must be > 0"):
        BetaDensities(alpha, game.densities.beta)
    with pytest.raises(ValueError, match="not in"):
        game.feature_map(np.array([[0.5, 1.5]]))
    with pytest.raises(ValueError, match=r"states must have shape \(n, 2\)"):
        game.feature_map(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="exact_evaluation needs AtomDensities"):
        ContinuousGame(**parts, exact_evaluation=True)


# ---------------------------------------------------------------------- Monte-Carlo planning
def atoms_game(seed: int = 0, M: int = 12, exact: bool = True, **kw) -> ContinuousGame:
    """A continuous game whose densities live on ``M`` points: a finite game in disguise."""
    rng = np.random.default_rng(seed)
    H, d = 3, 4
    points = rng.random((M, 2))
    densities = AtomDensities(
        points, rng.dirichlet(np.full(M, 0.5), size=(H, d)), rng.dirichlet(np.ones(M))
    )
    return ContinuousGame(
        rng.random((d, 2)),
        0.3,
        2 * rng.standard_normal((A, B, d)),
        rng.uniform(-1, 1, (2, H, d)),
        densities,
        exact_evaluation=exact,
        **kw,
    )


def as_finite(game: ContinuousGame) -> FiniteGame:
    """The finite game on the atoms: features at the points, ``mu`` the atoms' weights."""
    dens = game.densities
    return FiniteGame(game.feature_map(dens.points), dens.initial, mu=dens.mu, theta=game.theta)


def test_on_finitely_many_states_the_sampled_planner_is_the_exact_finite_planner():
    """Regret at every (x1, a1) and the Stackelberg values, against :mod:`planning` (1e-12)."""
    game = atoms_game()
    finite = as_finite(game)
    policy_l, policy_f = soft_policies(1, game.horizon, game.dim)
    pi_l = np.stack([policy_l(h, finite.features) for h in range(game.horizon)])
    pi_f = np.stack([policy_f(h, finite.features) for h in range(game.horizon)])
    for s, x1 in enumerate(game.densities.points):
        for a1 in range(A):
            estimate = montecarlo.sampled_regrets(game, policy_l, policy_f, x1, a1)
            exact = planning.regret(finite, pi_l, pi_f, s, a1)
            np.testing.assert_allclose(estimate.mean, exact, rtol=0, atol=1e-12)
            assert (estimate.half_width == 0).all()  # an exact quadrature has no error
    for tie_break in ("leader", "follower"):
        _, values = montecarlo.sampled_stackelberg(game, tie_break=tie_break)
        _, _, exact = planning.stackelberg_equilibrium(finite, tie_break=tie_break)
        expected = exact.V[:, 0] @ finite.initial_distribution
        np.testing.assert_allclose(values.mean, expected, rtol=0, atol=1e-12)


def test_on_finitely_many_states_monte_carlo_agrees_with_the_exact_value():
    """Sampling the atoms instead of summing over them: within twice the 95% half-width."""
    exact_game, sampled = atoms_game(), atoms_game(exact=False, n_eval_states=2000)
    policy_l, policy_f = soft_policies(2, 3, 4)
    x1 = exact_game.densities.points[3]
    exact = montecarlo.sampled_regrets(exact_game, policy_l, policy_f, x1, 1).mean
    estimate = montecarlo.sampled_regrets(sampled, policy_l, policy_f, x1, 1)
    assert (np.abs(estimate.mean - exact) <= 2 * estimate.half_width).all()
    exact = montecarlo.sampled_stackelberg(exact_game)[1].mean
    estimate = montecarlo.sampled_stackelberg(sampled)[1]
    assert (np.abs(estimate.mean - exact) <= 2 * estimate.half_width).all()


def test_the_estimate_converges_and_its_interval_covers_a_very_large_sample():
    """N = 100, R = 8 on 20 independent samples: the interval covers the value planned on
    50,000 states per density at least 17 times in 20 for each player (95% nominal; 16 or fewer
    has probability 1.6% under 95%). Measured: 19 and 20. The half-width shrinks like 1/√N:
    from N = 50 to N = 400 by √8 ≈ 2.8 (measured 3.0)."""
    game = games.make("continuous", **SMALL, n_eval_states=10, n_replications=2)
    policy_l, policy_f = soft_policies(5, 3, 4)
    x1 = np.array([0.3, 0.6])

    def estimate(N, R, seed):
        sample = game.draw_evaluation(N, R, seed)
        return montecarlo.sampled_regrets(game, policy_l, policy_f, x1, 1, sample)

    reference = estimate(50_000, 1, 99).mean
    covered = np.zeros(2, dtype=int)
    for seed in range(20):
        e = estimate(100, 8, seed)
        covered += np.abs(e.mean - reference) <= e.half_width
    assert (covered >= 17).all(), covered
    small = [estimate(50, 8, 100 + s) for s in range(10)]
    large = [estimate(400, 8, 200 + s) for s in range(10)]
    ratio = np.mean([e.half_width for e in small], 0) / np.mean([e.half_width for e in large], 0)
    assert ((2.0 < ratio) & (ratio < 4.0)).all(), ratio
    error_small = np.mean([np.abs(e.mean - reference) for e in small], 0)
    error_large = np.mean([np.abs(e.mean - reference) for e in large], 0)
    assert (error_large < error_small).all()


def test_the_sampled_regret_is_never_negative_and_zero_for_the_planned_stackelberg_policies():
    game = games.make("continuous", **SMALL, n_eval_states=30)
    rng = np.random.default_rng(3)
    for seed in range(5):
        policy_l, policy_f = soft_policies(seed, 3, 4)
        e = montecarlo.sampled_regrets(game, policy_l, policy_f, rng.random(2), seed % A)
        assert (e.replications >= -1e-12).all()
    # Greedy play of one replication's own plan is a best response in that replication.
    w, _ = montecarlo.sampled_stackelberg(game)
    for r in (0, 5):
        sample = games.EvaluationSample(
            *(a[r : r + 1] for a in _arrays(game.evaluation)), exact=False
        )

        def policy(role, w_r=w[r]):
            def pi(h, phi):
                Q = np.einsum("nabk,mk->mnab", phi, w_r[:, h])
                a_star, b_star = montecarlo.stackelberg_actions(Q)
                return np.eye(A)[a_star] if role == "leader" else np.eye(B)[b_star]

            return pi

        e = montecarlo.sampled_regrets(
            game, policy("leader"), policy("follower"), rng.random(2), 0, sample
        )
        assert np.abs(e.replications).max() <= 1e-12


def _arrays(sample):
    return (
        sample.states,
        sample.weights,
        sample.features,
        sample.initial_states,
        sample.initial_weights,
        sample.initial_features,
    )


def test_the_pooled_sample_holds_every_state_of_every_replication():
    game = games.make("continuous", **SMALL, n_eval_states=7, n_replications=3)
    sample, pooled = game.evaluation, game.evaluation.pooled()
    assert pooled.n_replications == 1 and pooled.n_points == 21
    for h, i in ((0, 0), (1, 3)):
        np.testing.assert_array_equal(
            pooled.states[0, h, i], np.concatenate(sample.states[:, h, i])
        )
        np.testing.assert_allclose(pooled.weights[0, h, i], 1 / 21)
    np.testing.assert_array_equal(
        pooled.features[0],
        game.feature_map(pooled.states[0].reshape(-1, 2)).reshape(2, 4 * 21, A, B, 4),
    )
    np.testing.assert_array_equal(pooled.initial_states[0], np.concatenate(sample.initial_states))


def test_the_planner_refuses_what_is_not_an_action_or_a_policy():
    game = games.make("continuous", **SMALL, n_eval_states=5)
    policy_l, policy_f = soft_policies(0, 3, 4)
    x1 = np.array([0.5, 0.5])
    for a1 in (-1, A, 1.0, True):
        with pytest.raises(ValueError, match=r"a1 must be an integer in \[0, 2\)"):
            montecarlo.sampled_regrets(game, policy_l, policy_f, x1, a1)
    with pytest.raises(ValueError, match=r"pi_l has shape \(160, 3\), expected \(160, 2\)"):
        montecarlo.sampled_regrets(game, lambda h, phi: np.ones((len(phi), 3)) / 3, policy_f, x1, 0)
    with pytest.raises(ValueError, match="pi_f does not sum to 1"):
        montecarlo.sampled_regrets(game, policy_l, lambda h, phi: policy_f(h, phi) * 2, x1, 0)
