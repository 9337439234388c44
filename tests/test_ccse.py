"""The CCSE of a run: plans saved with the run, replayed bit for bit, saved, loaded, refused."""

import json
import math
import re
import shutil
import zipfile

import numpy as np
import pytest

import stackelberg_rl.agents as agents_mod
import stackelberg_rl.experiments.loop as loop_mod
from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.equilibria import (
    CCSE,
    GameMismatchError,
    NoPlansError,
    SeedNotInRunError,
    certificate,
    certificate_curve,
    episode_gaps,
    is_mixture_file,
    is_zero_sum,
    loglog_slope,
    prefix_sizes,
    slope_interval,
    upper_bound_curve,
)
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run_seeds
from stackelberg_rl.experiments.plan_history import (
    PLANS_FILE,
    Plans,
    PlansFileError,
    read_plans,
    write_plans,
)
from stackelberg_rl.learners.lsvi_ucb import add_episodes, initial_gram
from stackelberg_rl.planning import regret

SMALL = GameSpec(
    "random-linear",
    dict(n_states=8, n_leader_actions=3, n_follower_actions=2, dim=4, horizon=4,
         concentration=0.3, seed=2),
)  # fmt: skip
SCHEDULES = [
    dict(schedule="every"),
    dict(schedule="every-n", schedule_n=3),
    dict(schedule="doubling"),
]


def saved_run(tmp_path, game=SMALL, episodes=30, seeds=1, name="r", workers=1, **agent):
    config = RunConfig(
        game=game,
        episodes=episodes,
        seeds=seeds,
        agent=AgentConfig(**{"beta": 0.4, **agent}),
        save_plans=True,
    )
    run_seeds(config, tmp_path / name, workers=workers, progress=False)
    return tmp_path / name


@pytest.fixture(scope="module")
def security_run(tmp_path_factory):
    """Two seeds of the general-sum security game in two worker processes, with their plans."""
    path = tmp_path_factory.mktemp("security")
    spec = GameSpec("security", {"horizon": 3})
    return saved_run(
        path, game=spec, episodes=40, seeds=2, workers=2, alpha_l="anytime", alpha_f="anytime"
    )


# ---------------------------------------------------------------------- replay, bit for bit
@pytest.mark.parametrize("decentralised", [False, True])
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", ["greedy-lsvi-ucb", "softmax-lsvi-ucb"])
def test_every_episode_replays_the_policies_played_bit_for_bit(
    kind, schedule, decentralised, tmp_path, monkeypatch
):
    """The tables the loop played (the compiled blocks': tests/test_episode_loop.py holds them
    to the Python loop's) against the replay: all episodes at once, one episode alone, and the
    rows acting drew from. Greedy play turns one ulp of Q into another argmax; numpy's inverse
    instead of the learner's differs by ulps in most episodes (measured: 39 of 40), so anything
    but the learner's arithmetic fails. Odd episodes are not evaluated: their blocks hold the
    rows of the states visited alone (the rows compared)."""
    played, draws, steps = [], [], []
    real_block = loop_mod.play_block

    def spy_block(arrays, initial, tables, rngs, env_rng, episodes, lazy, *doubling):
        out = real_block(arrays, initial, tables, rngs, env_rng, episodes, lazy, *doubling)
        pi_l, pi_f = tables[0][:, :, 0].copy(), tables[1].copy()
        made = [np.ones(t.shape[:2], bool) for t in tables] if lazy is None else [
            lazy.filled[s].copy() for s in lazy.sources
        ]  # fmt: skip
        states, actions = out[:2]
        for i in range(len(states)):
            for h in range(actions.shape[1]):
                x, a = states[i, h], actions[i, h, 0]
                steps.append((len(played), h, x, a))
                draws.extend([pi_l[h, x], pi_f[h, x, a]])
            played.append((pi_l, pi_f, made))
        return out

    monkeypatch.setattr(loop_mod, "play_block", spy_block)
    game = SMALL.make()
    K = 30
    config = RunConfig(
        game=SMALL, episodes=K, save_plans=True, eval_every=2,
        agent=AgentConfig(kind=kind, beta=0.4, decentralised=decentralised, **schedule),
    )  # fmt: skip
    run_seeds(config, tmp_path / "r", workers=1, progress=False, game=game)
    ccse = CCSE.from_run(tmp_path / "r")
    assert ccse.episodes == K and len(played) == K
    pi_l, pi_f = ccse.tables()
    for k in range(K):
        made_l, made_f = played[k][2]
        np.testing.assert_array_equal(pi_l[k][made_l], played[k][0][made_l])
        np.testing.assert_array_equal(pi_f[k][made_f], played[k][1][made_f])
    for k in (0, 13, K - 1):  # one episode alone: from a checkpoint, not from the pass above
        fresh = CCSE.from_run(tmp_path / "r")
        table_l, table_f = fresh.policy(k).tables()
        made_l, made_f = played[k][2]
        np.testing.assert_array_equal(table_l[made_l], played[k][0][made_l])
        np.testing.assert_array_equal(table_f[made_f], played[k][1][made_f])
    assert all(made.all() for _, _, rows in played[::2] for made in rows)  # evaluated: whole
    if schedule["schedule"] == "every":
        assert not any(made.all() for _, _, rows in played[1::2] for made in rows)
    for i, (k, h, x, a) in enumerate(steps):
        policy = ccse.policy(k)
        np.testing.assert_array_equal(policy.leader_policy(h, x), draws[2 * i])
        np.testing.assert_array_equal(policy.follower_policy(h, x, a), draws[2 * i + 1])
    if schedule["schedule"] != "every":
        assert ccse.plans.n_plans < K


def test_continuous_states_replay_what_was_played_at_the_states_visited(tmp_path, monkeypatch):
    """States that are points: ``policy(k)`` through the feature map at every visited state."""
    draws, steps = [], []
    real_draw = agents_mod.draw

    def spy_draw(p, rng):
        draws.append(np.array(p, copy=True))
        return real_draw(p, rng)

    monkeypatch.setattr(agents_mod, "draw", spy_draw)
    spec = GameSpec("continuous", {"n_eval_states": 8, "n_replications": 2})
    game = spec.make()
    real_step, episode = game.step, {"k": -1}

    def spy_step(h, x, a, b, rng):
        episode["k"] += h == 0
        steps.append((episode["k"], h, np.array(x, copy=True), a))
        return real_step(h, x, a, b, rng)

    monkeypatch.setattr(game, "step", spy_step)
    K = 12
    config = RunConfig(
        game=spec, episodes=K, eval_every=K, save_plans=True,
        agent=AgentConfig(beta=0.3, alpha_l=20.0, alpha_f="anytime", schedule="every-n",
                          schedule_n=2),
    )  # fmt: skip
    run_seeds(config, tmp_path / "r", workers=1, progress=False, game=game)
    ccse = CCSE.from_run(tmp_path / "r", game=game)
    assert len(steps) == K * game.horizon
    for i, (k, h, x, a) in enumerate(steps):
        policy = ccse.policy(k)
        np.testing.assert_array_equal(policy.leader_policy(h, x), draws[2 * i])
        np.testing.assert_array_equal(policy.follower_policy(h, x, a), draws[2 * i + 1])
        pi_l, pi_f = policy.policies_at(h, game.feature_map(x[None]))
        np.testing.assert_array_equal(pi_l[0], draws[2 * i])
    with pytest.raises(ValueError, match="finite game"):
        ccse.tables()
    with pytest.raises(ValueError, match="finite game"):
        ccse.certificate()


def test_seeds_played_in_worker_processes_replay_their_own_runs(security_run):
    """The plans travel back from the workers: each seed's replayed tables give that seed's
    exact regret, as the run measured it, to the bit."""
    df, _ = load_run(security_run)
    for seed in (0, 1):
        ccse = CCSE.from_run(security_run, seed)
        pi_l, pi_f = ccse.tables()
        rows = df[df.seed == seed]
        for k in (0, 7, 39):
            row = rows[rows.episode == k].iloc[0]
            r_l, r_f = regret(ccse.game, pi_l[k], pi_f[k], int(row.x1), int(row.a1))
            assert r_l == row.regret_leader and r_f == row.regret_follower


# ---------------------------------------------------------------------- the plans file
def test_plans_are_compact_and_a_prefix_sum_rebuilds_lambda(tmp_path):
    path = saved_run(tmp_path, episodes=25, schedule="every-n", schedule_n=5)
    manifest = json.loads((path / "manifest.json").read_text())
    plans = read_plans(path / PLANS_FILE, 0)
    K, H, d = 25, 4, 4
    assert plans.phi.shape == (K, H, d) and plans.n_plans == 5
    assert list(plans.plan_episode) == [0, 5, 10, 15, 20]
    assert list(plans.episode_plan()) == [k // 5 for k in range(K)]
    # 8·H·d per episode, 8·(2Hd + 3) + 8 per plan: no d×d matrix is stored.
    assert plans.nbytes == 8 * (K * H * d + 5 * (2 * H * d + 3) + 5) + 8
    assert manifest["plans"]["bytes"] == plans.nbytes
    assert manifest["config"]["save_plans"] is True
    Lambda = initial_gram(plans.lam, H, d)
    add_episodes(Lambda, plans.phi, 0, K)
    expected = np.broadcast_to(np.eye(d), (H, d, d)).copy()
    for k in range(K):
        for h in range(H):
            expected[h] += np.outer(plans.phi[k, h], plans.phi[k, h])
    np.testing.assert_array_equal(Lambda, expected)


def test_the_plans_file_is_the_programs_own(tmp_path):
    """A run with plans can be replaced with --overwrite, and a failed run leaves none."""
    path = saved_run(tmp_path, episodes=5)
    config = RunConfig(game=SMALL, episodes=4, agent=AgentConfig(beta=0.4), save_plans=True)
    run_seeds(config, path, workers=1, progress=False, overwrite=True)
    assert read_plans(path / PLANS_FILE, 0).episodes == 4
    config = RunConfig(game=SMALL, episodes=4, agent=AgentConfig(beta=0.4))
    run_seeds(config, path, workers=1, progress=False, overwrite=True)
    assert not (path / PLANS_FILE).exists()


# ---------------------------------------------------------------------- save and load
def test_save_and_load_round_trip(security_run, tmp_path):
    ccse = CCSE.from_run(security_run, seed=1)
    path = ccse.save(tmp_path / "mixture.npz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    loaded = CCSE.load(path)  # the game rebuilt from the file's record, checked
    assert loaded.info == ccse.info and loaded.episodes == ccse.episodes
    for a, b in zip(loaded.tables(), ccse.tables(), strict=True):
        np.testing.assert_array_equal(a, b)
    again = CCSE.load(path, game=ccse.game)
    np.testing.assert_array_equal(again.policy(17).tables()[1], ccse.tables()[1][17])


def test_bad_inputs_are_named(security_run, tmp_path):
    plain = RunConfig(game=SMALL, episodes=3, agent=AgentConfig(beta=0.4))
    run_seeds(plain, tmp_path / "plain", workers=1, progress=False)
    with pytest.raises(NoPlansError, match="without its plans.*--save-plans"):
        CCSE.from_run(tmp_path / "plain")
    with pytest.raises(SeedNotInRunError, match=r"seed 5 is not a seed of the run .*\[0, 1\]"):
        CCSE.from_run(security_run, seed=5)
    other = games.make("security", horizon=3, seed=1)
    with pytest.raises(GameMismatchError, match="is not the game the run played"):
        CCSE.from_run(security_run, game=other)
    with pytest.raises(ValueError, match="not a run folder"):
        CCSE.from_run(tmp_path / "nowhere")

    ccse = CCSE.from_run(security_run)
    good = ccse.save(tmp_path / "good.npz")
    with pytest.raises(GameMismatchError, match="is not the game the run played"):
        CCSE.load(good, game=other)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(PlansFileError, match="truncated"):
        CCSE.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, features=np.ones(3))
    with pytest.raises(PlansFileError, match="is not a mixture file of stackelberg-rl"):
        CCSE.load(foreign)
    with pytest.raises(PlansFileError, match="no such file"):
        CCSE.load(tmp_path / "missing.npz")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(PlansFileError, match=r"not a mixture file \(\.npz\)"):
        CCSE.load(text)
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(PlansFileError) as err:
        CCSE.load(noise)
    assert "pickle" not in str(err.value) and "\n" not in str(err.value)
    # save never replaces a file of the user's, and leaves it as it was
    with pytest.raises(PlansFileError, match="is not a mixture file of stackelberg-rl"):
        ccse.save(foreign)
    assert set(np.load(foreign)) == {"features"}
    # a mixture is replaced only with overwrite=True (as the CLI's --overwrite)
    other_seed = CCSE.from_run(security_run, seed=1)
    with pytest.raises(PlansFileError, match="is already a mixture file: give overwrite=True"):
        other_seed.save(good)
    assert CCSE.load(good).info["seed"] == 0
    assert other_seed.save(good, overwrite=True) == good
    assert CCSE.load(good).info["seed"] == 1
    # the objects the API takes are named when they are something else
    with pytest.raises(TypeError, match="game must be a game .*, got 'security'"):
        CCSE.from_run(security_run, game="security")
    for rng in (None, 3):
        with pytest.raises(TypeError, match=f"rng must be a np.random.Generator .*, got {rng}"):
            ccse.sample(rng)
    for episodes in (True, 5.0, 0, ccse.episodes + 1):
        with pytest.raises(
            ValueError, match=rf"episodes must be an integer in \[1, {ccse.episodes}\]"
        ):
            ccse.prefix(episodes)
    assert ccse.prefix(5).episodes == 5


def test_a_mixture_of_version_1_fails_with_one_line_naming_both_versions(security_run, tmp_path):
    """The layout of stackelberg-rl 0.1: the plans' arrays and a JSON header named format."""
    ccse = CCSE.from_run(security_run)
    header = {"format": "stackelberg-rl/plans", "version": 1, "seeds": [0],
              "kind": "stackelberg-rl/ccse", "ccse_version": 1, "info": ccse.info}  # fmt: skip
    old = tmp_path / "old.npz"
    text = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(old, format=text, **ccse.plans.to_arrays())
    with pytest.raises(PlansFileError) as err:
        CCSE.load(old)
    message = str(err.value)
    assert "\n" not in message and "format version '1 (stackelberg-rl 0.1)'" in message
    assert "reads format version 2" in message
    assert is_mixture_file(old)  # so that --export may replace it

    # A run folder whose plans file is damaged, or holds another seed's, or lies about sizes.
    plans_path = security_run / PLANS_FILE
    saved = plans_path.read_bytes()
    try:
        plans_path.write_bytes(saved[: len(saved) // 3])
        with pytest.raises(PlansFileError, match="truncated"):
            CCSE.from_run(security_run)
        plans = read_plans_from(saved, tmp_path)
        write_plans(plans_path, {0: plans[0]})  # seed 1 gone
        with pytest.raises(PlansFileError, match="holds no plans of seed 1"):
            CCSE.from_run(security_run, seed=1)
        bad = Plans(plans[0].phi, plans[0].plan_episode, plans[0].w[:, :, :2],
                    plans[0].alpha, plans[0].beta, plans[0].lam)  # fmt: skip
        write_plans(plans_path, {0: bad, 1: plans[1]})
        with pytest.raises(PlansFileError, match=r"seed 0\): w has shape"):
            CCSE.from_run(security_run, seed=0)
        short = plans[0].prefix(10)
        write_plans(plans_path, {0: short, 1: plans[1]})
        with pytest.raises(PlansFileError, match="seed 0 has 10 episodes, the manifest says 40"):
            CCSE.from_run(security_run, seed=0)
    finally:
        plans_path.write_bytes(saved)
    assert CCSE.from_run(security_run).episodes == 40


def read_plans_from(data: bytes, tmp_path):
    path = tmp_path / "copy.npz"
    path.write_bytes(data)
    return {s: read_plans(path, s) for s in (0, 1)}


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(plan_episode=np.array([1, 2])), "must start with a plan at episode 0"),
        (dict(plan_episode=np.array([0, 0])), "must increase strictly"),
        (dict(beta=np.array([0.1, np.nan])), "beta has a non-finite entry at index \\(1,\\)"),
        (dict(alpha=np.array([[1.0, -1.0], [1.0, 1.0]])), "alpha must be >= 0"),
        (dict(lam=np.float64(0.0)), "lam must be > 0"),
        (dict(phi=np.full((3, 2, 2), 0.9)), "phi at episode 0, step 0 has norm"),
        (dict(w=np.zeros((2, 2, 2))), "w has 3 axes"),
        (dict(phi=np.zeros((3, 2, 2), dtype=np.float32)), "phi has dtype float32"),
    ],
)
def test_inconsistent_plans_are_refused_naming_the_array(change, message):
    good = dict(
        phi=np.zeros((3, 2, 2)), plan_episode=np.array([0, 2]), w=np.zeros((2, 2, 2, 2)),
        alpha=np.ones((2, 2)), beta=np.ones(2), lam=np.float64(1.0),
    )  # fmt: skip
    Plans.from_arrays(good)
    with pytest.raises(PlansFileError, match=message):
        Plans.from_arrays({**good, **change})


def test_save_plans_needs_learning_players():
    with pytest.raises(ValueError, match="agent 'random' makes none"):
        RunConfig(agent=AgentConfig(kind="random"), save_plans=True)
    with pytest.raises(ValueError, match="reference"):
        RunConfig(agent=AgentConfig(reference=True), save_plans=True)


# ---------------------------------------------------------------------- players
def test_players_coordinate_on_one_episode_and_act_in_the_environments(security_run):
    """The mixture's players draw one k per episode for both; they serve as the fixed player of
    the Gymnasium environments, and their play follows the replayed policies."""
    gymnasium = pytest.importorskip("gymnasium")
    import stackelberg_rl.envs.gymnasium  # noqa: F401

    ccse = CCSE.from_run(security_run)
    leader, follower = ccse.players(seed=3)
    seen = set()
    for j in range(30):
        leader.begin_episode(j)
        follower.begin_episode(j)
        assert leader.episode_policy is follower.episode_policy or (
            leader.episode_policy.episode == follower.episode_policy.episode
        )
        seen.add(leader.episode_policy.episode)
        b = follower.act(0, 0, leader.act(0, 0))
        assert 0 <= b < ccse.game.n_follower_actions
    assert len(seen) > 10  # k is drawn afresh each episode
    env = gymnasium.make("stackelberg_rl/FollowerEnv-v0", game=ccse.game, leader_policy=leader)
    (h, x, a), _ = env.reset(seed=0)
    done = False
    while not done:
        (h, x, a), reward, done, _, info = env.step(0)
    # The PettingZoo AEC game driven by the mixture's two players: observations [h, x, a].
    from stackelberg_rl.envs.pettingzoo import env as aec_env

    aec = aec_env(ccse.game)
    aec.reset(seed=0)
    players = {"leader": leader, "follower": follower}
    leader.begin_episode(100)
    follower.begin_episode(100)
    for agent in aec.agent_iter():
        (h, x, a), _, terminated, truncated, _ = aec.last()
        if terminated or truncated:
            aec.step(None)
        elif agent == "leader":
            aec.step(players[agent].act(int(h), int(x)))
        else:
            aec.step(players[agent].act(int(h), int(x), int(a)))
    # One episode's pair, as players: acting draws from the replayed rows.
    pl, pf = ccse.policy(5).players(seed=0)
    counts = np.bincount([pl.act(1, 2) for _ in range(4000)], minlength=ccse.game.n_leader_actions)
    expected = ccse.policy(5).leader_policy(1, 2)
    assert np.abs(counts / 4000 - expected).max() < 5 * math.sqrt(0.25 / 4000)
    with pytest.raises(
        ValueError, match=re.escape("the follower acts after 1 earlier action, got ()")
    ):
        pf.act(0, 0)
    with pytest.raises(ValueError, match="k must be an integer in \\[0, 40\\)"):
        ccse.policy(40)


# ---------------------------------------------------------------------- the certificate per K
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_never_exceeds_upper_on_random_runs(seed, tmp_path):
    spec = GameSpec("random-linear", dict(n_states=4, n_leader_actions=2, n_follower_actions=3,
                                          dim=3, horizon=3, seed=seed))  # fmt: skip
    path = saved_run(tmp_path, game=spec, episodes=24, beta=0.3 * (seed + 1))
    ccse = CCSE.from_run(path)
    for point in certificate_curve(ccse, [3, 6, 12, 24], single_episodes=4):
        c = point.certificate
        assert (c.lower <= c.upper + 1e-12).all() and (
            c.lower_initial <= c.upper_initial + 1e-12
        ).all()
        assert (c.upper >= -1e-12).all()


def test_the_curve_is_the_certificate_of_each_prefix(security_run):
    ccse = CCSE.from_run(security_run)
    sizes = [5, 10, 20, 40]
    curve = certificate_curve(ccse, sizes, single_episodes=3)
    pi_l, pi_f = ccse.tables()
    for point in curve:
        K = point.episodes
        direct = certificate(ccse.game, pi_l[:K], pi_f[:K], single_episodes=3)
        np.testing.assert_allclose(point.certificate.upper, direct.upper, atol=1e-14)
        np.testing.assert_allclose(point.certificate.lower, direct.lower, atol=1e-14)
        prefix = ccse.prefix(K).certificate(single_episodes=3)
        np.testing.assert_allclose(prefix.upper, direct.upper, atol=1e-14)
        assert point.zero_sum is None  # the general-sum game
    uppers = upper_bound_curve(ccse, sizes)
    for j, point in enumerate(curve):
        np.testing.assert_allclose(uppers[j, :, 0], point.certificate.upper_initial, atol=1e-12)
        np.testing.assert_allclose(uppers[j, :, 1], point.certificate.upper_worst, atol=1e-12)
    gaps = episode_gaps(ccse.game, pi_l, pi_f)
    np.testing.assert_allclose(gaps.mean(axis=0), curve[-1].certificate.upper, atol=1e-12)


def test_zero_sum_games_get_the_distance_to_the_stackelberg_value(tmp_path):
    spec = GameSpec("security", {"horizon": 2, "zero_sum": True})
    assert is_zero_sum(spec.make()) and not is_zero_sum(games.make("security"))
    ccse = CCSE.from_run(saved_run(tmp_path, game=spec, episodes=12))
    (point,) = certificate_curve(ccse, [12])
    z = point.zero_sum
    assert z["value_gap_initial"] >= 0 and z["exploitability_lower"] <= z["exploitability_upper"]


def test_prefix_sizes_and_slopes():
    assert prefix_sizes(16000) == [1000, 2000, 4000, 8000, 16000]
    assert prefix_sizes(5, points=3, ratio=4) == [1, 2, 5]
    assert prefix_sizes(1) == [1]
    assert prefix_sizes(200, points=1) == prefix_sizes(200, ratio=1) == [200]  # as many as asked
    assert prefix_sizes(200, points=2) == [12, 200]
    with pytest.raises(ValueError, match="ratio"):
        prefix_sizes(10, ratio=0.5)
    K = np.array([100, 200, 400, 800])
    assert loglog_slope(K, 3 / np.sqrt(K)) == pytest.approx(-0.5)
    assert math.isnan(loglog_slope(K, [1, 0, 1, 1])) and math.isnan(loglog_slope([5], [1]))
    mean, half = slope_interval([-0.5, -0.6, -0.4])
    assert mean == pytest.approx(-0.5) and half == pytest.approx(4.303 * 0.1 / math.sqrt(3), 1e-3)
    assert math.isnan(slope_interval([-0.5])[1])


def test_tables_that_do_not_fit_are_refused_with_the_estimate(security_run, monkeypatch):
    import stackelberg_rl.experiments.resources as resources

    ccse = CCSE.from_run(security_run)
    monkeypatch.setattr(resources, "available_bytes", lambda: 1000)
    with pytest.raises(MemoryError, match=r"tables of 40 episodes needs about .* only 1000 B"):
        ccse.tables()


def test_a_zip_that_is_not_an_npz_member_is_named(tmp_path):
    path = tmp_path / "plans.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("format.npy", b"not an array")
    with pytest.raises(PlansFileError):
        read_plans(path, 0)


# ---------------------------------------------------------------------- the command line
def cli(argv, capsys):
    from stackelberg_rl.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_equilibrium_command_shows_the_certificate_and_exports(security_run, tmp_path, capsys):
    export = tmp_path / "mixture.npz"
    code, out, err = cli(
        ["equilibrium", str(security_run), "--seed", "1", "--export", str(export),
         "--points", "3", "--ratio", "4"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    flat = " ".join(out.split())
    assert "K=40 episodes, 40 plans (schedule every)" in flat
    assert "lower at x0" in flat and "upper, worst x" in flat
    for K in (10, 20, 40):
        assert re.search(rf"│\s+{K} │ leader", out), out
    assert "mean ± 95% t-interval over the run's 2 seeds" in flat
    assert "zero-sum" not in flat
    assert f"mixture written to {export}" in flat
    loaded = CCSE.load(export)
    assert loaded.info["seed"] == 1
    np.testing.assert_array_equal(loaded.tables()[0], CCSE.from_run(security_run, 1).tables()[0])
    # another seed's mixture into that file: refused, the file kept; --overwrite replaces it
    again = ["equilibrium", str(security_run), "--seed", "0", "--export", str(export)]
    code, out, err = cli([*again, "--points", "1"], capsys)
    assert code == 2 and "already holds a mixture: give --overwrite to replace it" in err, err
    assert CCSE.load(export).info["seed"] == 1
    code, out, err = cli([*again, "--points", "1", "--overwrite"], capsys)
    assert code == 0 and CCSE.load(export).info["seed"] == 0, err
    for option in (["--points", "1"], ["--ratio", "1"]):  # one prefix: the table, no slope
        code, out, err = cli(["equilibrium", str(security_run), *option], capsys)
        flat = " ".join(out.split())
        assert code == 0 and "no slope against K: it needs two prefixes or more" in flat, err
        assert "nan" not in flat and len(re.findall(r"│\s+40 │ leader", out)) == 1


def test_equilibrium_command_exports_before_the_certificate_and_shows_progress(
    security_run, tmp_path, capsys, monkeypatch
):
    import sys

    import stackelberg_rl.cli.equilibrium as command

    def interrupted(ccse, opts):
        raise KeyboardInterrupt

    export = tmp_path / "early.npz"
    monkeypatch.setattr(command, "show", interrupted)
    code, out, err = cli(["equilibrium", str(security_run), "--export", str(export)], capsys)
    assert code == 130  # 128 + SIGINT
    assert CCSE.load(export).episodes == 40  # Ctrl-C during the certificate keeps the mixture
    monkeypatch.undo()

    class Bar:  # the progress bar's calls, recorded
        tasks: dict = {}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def add_task(self, what, total):
            self.tasks[what] = [total]
            return what

        def update(self, task, completed):
            self.tasks[task].append(completed)

    monkeypatch.setattr("stackelberg_rl.experiments.progress_bar", Bar)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    code, out, err = cli(["equilibrium", str(security_run), "--points", "2"], capsys)
    assert code == 0, err
    # 2 prefixes' certificates, then the 2 seeds' upper bounds, counted as they are done
    assert list(Bar.tasks.values()) == [[4, 0, 1, 2, 3, 4]]


def test_equilibrium_command_in_a_zero_sum_game_gives_the_gap(tmp_path, capsys):
    code, out, err = cli(
        ["run", "--game", "security", "--param", "zero_sum=true", "--param", "horizon=2",
         "--episodes", "16", "--seeds", "1", "--save-plans", "--quiet", "--workers", "1",
         "--out", str(tmp_path / "zs")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(["equilibrium", str(tmp_path / "zs")], capsys)
    assert code == 0, err
    flat = " ".join(out.split())
    assert "zero-sum: the mixture's distance to the Stackelberg value" in flat
    assert "exploitability at x0" in flat and "one seed: no interval" in flat


def test_equilibrium_command_bad_inputs_are_one_line_and_exit_code_2(
    security_run, tmp_path, capsys
):
    plain = tmp_path / "plain"
    run_seeds(RunConfig(game=SMALL, episodes=3, agent=AgentConfig(beta=0.4)), plain,
              workers=1, progress=False)  # fmt: skip
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    sweep = tmp_path / "sweep"  # a sweep folder: its sweep.json and one run folder
    shutil.copytree(plain, sweep / "beta=0.4")
    (sweep / "sweep.json").write_text("{}")
    cases = [
        (
            [str(sweep)],  # its one run folder has no plans: it is not offered
            "is a sweep folder and none of its run folders holds plans.npz: add save-plans: "
            "true to the sweep file",
        ),
        ([str(security_run), "--export", str(foreign / "notes.txt")], "is never replaced"),
        ([str(plain)], "without its plans"),
        ([str(security_run), "--seed", "7"], "seed 7 is not a seed of the run"),
        ([str(tmp_path / "nowhere")], "not a run folder"),
        ([str(foreign)], "not a run folder"),
        ([str(security_run), "--points", "0"], "points must be an integer >= 1"),
        ([str(security_run), "--ratio", "0.5"], "ratio must be in [1, inf)"),
        ([str(security_run), "--export", str(tmp_path)], "is a folder"),
        ([str(security_run), "--export", "/no/such/dir/m.npz"], "cannot write --export"),
        ([], "Missing argument"),
    ]
    for args, message in cases:
        code, out, err = cli(["equilibrium", *args], capsys)
        assert code == 2, (args, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("stackelberg-rl equilibrium: error:"), err
        assert message in lines[0], (message, lines[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "plain", "sweep"]
    assert (foreign / "notes.txt").read_text() == "mine"


def drawn(ax, x, y) -> bool:
    """Whether ``ax`` holds a line through the points ``(x, y)``."""
    return any(
        len(line.get_xdata()) == len(x)
        and np.allclose(np.asarray(line.get_xdata(), float), x)
        and np.allclose(np.asarray(line.get_ydata(), float), y, rtol=1e-12, atol=0)
        for line in ax.get_lines()
    )


def test_curve_table_and_its_figures(security_run, tmp_path):
    """The table is each seed's certificate per prefix; each figure draws the table's values per
    seed and their geometric mean over the seeds, on log-log axes ticked at the prefixes."""
    from stackelberg_rl.equilibria import curve_table
    from stackelberg_rl.report import plot_certificate_curve, plot_zero_sum_gap

    sizes = [10, 20, 40]
    table = curve_table(security_run, sizes, single_episodes=2)
    assert list(table.seed) == [0, 0, 0, 1, 1, 1] and list(table.episodes[:3]) == sizes
    first = CCSE.from_run(security_run, 1).certificate(20, single_episodes=2)
    row = table[(table.seed == 1) & (table.episodes == 20)].iloc[0]
    assert row.follower_upper_worst == pytest.approx(first.upper_worst[1], abs=1e-14)

    def check(ax, columns):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        np.testing.assert_array_equal(ax.get_xticks(), sizes)
        for column in columns:
            wide = table.pivot(index="episodes", columns="seed", values=column).to_numpy()
            assert (wide > 0).all() and not np.allclose(wide[:, 0], wide[:, 1])
            for s in (0, 1):
                assert drawn(ax, sizes, wide[:, s]), (column, s)
            assert drawn(ax, sizes, np.exp(np.log(wide).mean(axis=1))), column
            assert not drawn(ax, sizes, wide[::-1, 0])

    fig = plot_certificate_curve(table, tmp_path / "curve.png", title="test")
    axes = [ax for ax in fig.axes if ax.get_lines()]
    assert len(axes) == 2 and (tmp_path / "curve.png").stat().st_size > 0
    for ax, player in zip(axes, ("leader", "follower"), strict=True):
        assert player in ax.get_title()
        check(ax, [f"{player}_upper_initial", f"{player}_lower_initial"])
    zero_sum = table.assign(
        value_gap_initial=table.leader_upper_initial / 3,
        exploitability_upper=table.leader_upper_initial + table.follower_upper_initial,
        exploitability_lower=table.leader_lower_initial + table.follower_lower_initial,
    )
    fig = plot_zero_sum_gap(zero_sum, tmp_path / "gap.png", title="test")
    (ax,) = [ax for ax in fig.axes if ax.get_lines()]
    table = zero_sum
    check(ax, ["value_gap_initial", "exploitability_upper", "exploitability_lower"])
    assert (tmp_path / "gap.png").stat().st_size > 0


def test_decentralised_players_whose_plans_differ_are_caught():
    """One plan is stored for both decentralised players because they are one (math.md §3); the
    recorder checks it at every plan rather than store a plan the follower did not play."""
    from stackelberg_rl.agents import make_agents
    from stackelberg_rl.experiments.plan_history import PlanRecorder

    game = SMALL.make()
    leader, follower = make_agents(game, AgentConfig(beta=0.4), episodes=3, seed=0)
    recorder = PlanRecorder(leader, follower)
    leader.begin_episode(0)
    follower.begin_episode(0)
    recorder.after_plans(0)
    leader.begin_episode(1)
    follower.begin_episode(1)
    follower.learner.w[1, 0, 0] += 1e-16 + abs(follower.learner.w[1, 0, 0]) * 1e-15
    with pytest.raises(RuntimeError, match="episode 1: the decentralised players' plans differ"):
        recorder.after_plans(1)
    random_players = make_agents(game, AgentConfig(kind="random"), episodes=3, seed=0)
    with pytest.raises(ValueError, match="LSVI-UCB players"):
        PlanRecorder(*random_players)
