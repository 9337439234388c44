"""A seed's state as bytes: saved between any two episodes and restored, the run continues to the
very table and plans of a run never stopped; a checkpoint of another seed, game, configuration or
version, or a damaged one, is refused by name."""

import io
import itertools
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from stackelberg_rl import experiments
from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.experiments import CheckpointError, GameSpec, RunConfig
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments.loop import SeedRun, play
from stackelberg_rl.experiments.plan_history import PlansFileError, read_plans
from stackelberg_rl.games import random_linear
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB

TINY = GameSpec(params=dict(n_states=5, n_leader_actions=2, n_follower_actions=3, dim=3, horizon=3))


def config_of(episodes=40, save_plans=True, game=TINY, eval_every=1, **agent) -> RunConfig:
    return RunConfig(
        game=game, episodes=episodes, save_plans=save_plans, eval_every=eval_every,
        agent=AgentConfig(**{"beta": 0.3, **agent}),
    )  # fmt: skip


def roundtrip(tree: dict) -> dict:
    """``tree`` through the checkpoint format."""
    header = {"format": ckpt.CHECKPOINT_FORMAT, "version": ckpt.CHECKPOINT_VERSION}
    return ckpt.unpack(ckpt.pack(tree, header))[1]


def assert_same_result(a, b):
    (df_a, plans_a), (df_b, plans_b) = a, b
    pd.testing.assert_frame_equal(df_a.drop(columns="wall_time"), df_b.drop(columns="wall_time"))
    assert (plans_a is None) == (plans_b is None)
    if plans_a is not None:
        for name in plans_a.ARRAYS:
            x, y = np.asarray(getattr(plans_a, name)), np.asarray(getattr(plans_b, name))
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name


def resumed_everywhere(game, config, seed=3, at=None):
    """The uninterrupted result, and the results resumed from the state after the episodes
    ``at`` (default: each)."""
    states = []
    whole = play(game, config, seed, checkpoint=states.append, checkpoint_every=0)
    assert [ckpt.peek(s)["episodes_done"] for s in states] == list(range(1, config.episodes))
    picks = range(len(states)) if at is None else at
    return whole, [play(game, config, seed, state=states[i]) for i in picks]


# ---------------------------------------------------------------------- bit for bit
@pytest.mark.parametrize(
    "decentralised, schedule",
    list(itertools.product([True, False], ["every", "every-n", "doubling"])),
)
def test_a_seed_resumed_after_any_episode_ends_as_if_never_stopped(decentralised, schedule):
    # refresh_every=3: exact refreshes, downdates and their counters all cross checkpoints.
    config = config_of(
        decentralised=decentralised, schedule=schedule, schedule_n=3, refresh_every=3
    )
    game = config.game.make()
    whole, resumed = resumed_everywhere(game, config, at=range(0, 39, 3))
    assert whole[0]["replanned"].sum() > 1
    for result in resumed:
        assert_same_result(whole, result)


@pytest.mark.parametrize(
    "agent",
    [
        dict(reference=True),
        dict(incremental=False, dtype="float32", alpha_l="anytime", alpha_f=5.0),
        dict(kind="greedy-lsvi-ucb", lam=1e-3),
        dict(kind="random"),
        dict(kind="oracle"),
    ],
)
def test_every_kind_of_player_resumes_bit_for_bit(agent):
    save_plans = agent.get("kind") not in ("random", "oracle") and not agent.get("reference")
    config = config_of(episodes=25, save_plans=save_plans, eval_every=3, **agent)
    game = config.game.make()
    whole, resumed = resumed_everywhere(game, config, at=[0, 11, 23])
    for result in resumed:
        assert_same_result(whole, result)


def test_a_continuous_game_resumes_bit_for_bit():
    spec = GameSpec("continuous", {"n_eval_states": 6, "n_replications": 2})
    for reference in (False, True):
        config = RunConfig(
            game=spec, episodes=12, eval_every=4, save_plans=not reference,
            agent=AgentConfig(beta=0.3, reference=reference, schedule="every-n", schedule_n=2),
        )  # fmt: skip
        whole, resumed = resumed_everywhere(spec.make(), config, at=[0, 5, 10])
        for result in resumed:
            assert_same_result(whole, result)


def test_a_finished_seed_gives_its_table_without_playing():
    config = config_of(episodes=10)
    game = config.game.make()
    whole = play(game, config, 0)
    data = experiments.loop.finished(config, game.fingerprint(), 0, *whole)
    assert ckpt.peek(data)["finished"] is True
    assert_same_result(whole, play(game, config, 0, state=data))
    seed_run = SeedRun(game, config, 0)
    while not seed_run.done:
        seed_run.play_episode()
    assert ckpt.peek(seed_run.checkpoint())["finished"] is True
    assert_same_result(whole, play(game, config, 0, state=seed_run.checkpoint()))


def test_wall_time_continues_from_the_checkpoint():
    config = config_of(episodes=6, save_plans=False)
    game = config.game.make()
    states = []
    df = play(game, config, 0, checkpoint=states.append, checkpoint_every=0)[0]
    header = ckpt.peek(states[2])
    resumed = play(game, config, 0, state=states[2])[0]
    # The rows before the checkpoint keep their times; the later ones count on from its time.
    assert resumed["wall_time"][:3].tolist() == df["wall_time"][:3].tolist()
    assert (resumed["wall_time"][3:] >= header["elapsed"]).all()
    assert resumed["wall_time"].is_monotonic_increasing


def test_stop_hands_in_the_state_between_episodes():
    config = config_of(episodes=20)
    game = config.game.make()
    polls = []

    def stop() -> bool:
        polls.append(1)
        return len(polls) > 7  # polled before the first episode and after each one

    with pytest.raises(ckpt.SeedStopped) as stopped:
        play(game, config, 1, stop=stop)
    assert stopped.value.seed == 1 and ckpt.peek(stopped.value.state)["episodes_done"] == 7
    assert_same_result(play(game, config, 1), play(game, config, 1, state=stopped.value.state))
    with pytest.raises(ckpt.SeedStopped) as at_once:
        play(game, config, 1, stop=lambda: True)
    assert at_once.value.state is None  # nothing played, nothing to save


# ---------------------------------------------------------------------- the parts
def feed(learners, game, rng, n):
    for _ in range(n):
        h, x, a, b = (int(rng.integers(m)) for m in (game.horizon, game.n_states, 2, 3))
        r = rng.uniform(-1, 1, 2)
        x_next = int(rng.integers(game.n_states))
        for learner in learners:
            learner.record(h, x, (a, b), r, x_next)


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_a_learner_restored_from_its_state_plans_and_acts_as_the_original(cls):
    game = random_linear(6, 2, 3, 4, 3, seed=2)
    make = lambda: cls(game.features, (2, 3), 4, 3, beta=0.4, alphas=(3.0, 7.0))  # noqa: E731
    original, rng = make(), np.random.default_rng(0)
    for _ in range(5):
        feed([original], game, rng, 20)
        original.plan()
    tree = roundtrip({"learner": original.state_dict()})
    copy = make()
    copy.load_state_dict(tree["learner"])
    for _ in range(4):
        feed([original, copy], game, np.random.default_rng(rng.integers(2**32)), 20)
        original.plan()
        copy.plan()
        assert original.w.tobytes() == copy.w.tobytes()
        assert original.Lambda_inv.tobytes() == copy.Lambda_inv.tobytes()
        for a, b in zip(original.policy_tables(), copy.policy_tables(), strict=True):
            assert a.tobytes() == b.tobytes()


def test_a_state_that_does_not_fit_the_learner_is_refused_by_name():
    small = SoftmaxLSVIUCB(np.full((2, 2, 2, 3), 0.1), (2, 2), 3, 2, beta=0.1, alphas=(1.0, 1.0))
    other = SoftmaxLSVIUCB(np.full((2, 2, 2, 4), 0.1), (2, 2), 4, 2, beta=0.1, alphas=(1.0, 1.0))
    with pytest.raises(ValueError, match=r"w has shape \(2, 2, 3\), expected \(2, 2, 4\)"):
        other.load_state_dict(small.state_dict())
    state = dict(small.state_dict(), n_plans=-1)
    with pytest.raises(ValueError, match="n_plans must be an integer >= 0"):
        small.load_state_dict(state)
    state["n_plans"] = 0
    del state["next_states"]
    with pytest.raises(ValueError, match="has no next_states"):
        small.load_state_dict(state)


def test_the_random_streams_continue_exactly():
    config = AgentConfig(beta=0.2)
    game = TINY.make()
    leader, follower = make_agents(game, config, 10, np.random.SeedSequence(5))
    leader.rng.random(7)
    follower.rng.integers(9, size=3)
    tree = roundtrip({"l": leader.state_dict(), "f": follower.state_dict()})
    leader2, follower2 = make_agents(game, config, 10, np.random.SeedSequence(6))
    leader2.load_state_dict(tree["l"])
    follower2.load_state_dict(tree["f"])
    assert leader.rng.random(4).tolist() == leader2.rng.random(4).tolist()
    assert (
        follower.rng.integers(2**62, size=4).tolist()
        == follower2.rng.integers(2**62, size=4).tolist()
    )
    tree["l"]["rng"]["bit_generator"] = "MT19937"
    with pytest.raises(ValueError, match="of 'MT19937', expected 'PCG64'"):
        leader2.load_state_dict(tree["l"])


def test_the_format_stores_equal_arrays_once_and_tells_signed_zeros_apart():
    a = np.arange(1000.0)
    data = ckpt.pack(
        {"x": {"a": a, "b": a.copy(), "z": np.zeros(3)}, "y": {"z": -np.zeros(3)}, "n": 2**100},
        {"format": ckpt.CHECKPOINT_FORMAT, "version": ckpt.CHECKPOINT_VERSION},
    )
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sorted(names) == ["header.npy", "x/a.npy", "x/z.npy", "y/z.npy"]
    _, tree = ckpt.unpack(data)
    assert tree["x"]["b"].tobytes() == a.tobytes() and tree["n"] == 2**100
    assert np.signbit(tree["y"]["z"]).all() and not np.signbit(tree["x"]["z"]).any()
    with pytest.raises(ValueError, match="without '/'"):
        ckpt.pack({"a/b": 1}, {})


# ---------------------------------------------------------------------- refused
@pytest.fixture(scope="module")
def saved():
    config = config_of(episodes=8)
    game = config.game.make()
    states = []
    play(game, config, 0, checkpoint=states.append, checkpoint_every=0)
    return config, game, states[3]


def damaged(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "flipped":  # a byte inside an array: zip's CRC-32 catches it
        raw = bytearray(data)
        member = zipfile.ZipFile(io.BytesIO(data)).getinfo("leader/learner/Lambda.npy")
        raw[member.header_offset + 200] ^= 0xFF
        return bytes(raw)
    if how == "foreign":
        buffer = io.BytesIO()
        np.savez(buffer, weights=np.ones(3))
        return buffer.getvalue()
    return b"not a zip file at all"


@pytest.mark.parametrize("how", ["truncated", "flipped", "foreign", "text"])
def test_a_damaged_or_foreign_checkpoint_is_refused(saved, how):
    config, game, data = saved
    with pytest.raises(CheckpointError, match="damaged|not a checkpoint"):
        play(game, config, 0, state=damaged(data, how))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(seed=1), "is of seed 0, not seed 1"),
        (dict(episodes=9), r"another configuration: episodes is 8 there, 9 in this run"),
        (dict(beta=0.4), r"another configuration: agent.beta is 0.3 there, 0.4 in this run"),
        (dict(game="other"), "of another game"),
    ],
)
def test_a_checkpoint_of_another_seed_game_or_configuration_is_refused(saved, change, message):
    config, game, data = saved
    seed = change.get("seed", 0)
    if "episodes" in change:
        config = config_of(episodes=change["episodes"])
    if "beta" in change:
        config = config_of(episodes=8, beta=change["beta"])
    if "game" in change:
        game = GameSpec(params=dict(TINY.params, n_states=6)).make()
    with pytest.raises(CheckpointError, match=message):
        play(game, config, seed, state=data)


def test_a_checkpoint_of_another_version_is_refused(saved, monkeypatch):
    config, game, data = saved
    monkeypatch.setattr(ckpt, "__version__", "9.9.9")
    with pytest.raises(CheckpointError, match="written by stackelberg-rl '0.1.0', this is 9.9.9"):
        play(game, config, 0, state=data)
    now = ckpt.CHECKPOINT_VERSION
    monkeypatch.setattr(ckpt, "CHECKPOINT_VERSION", now + 1)
    with pytest.raises(CheckpointError, match=f"format version {now}; .* format version {now + 1}"):
        play(game, config, 0, state=data)


def test_a_state_cut_from_its_rows_is_refused(saved):
    config, game, data = saved
    header, tree = ckpt.unpack(data)
    tree["rows"]["regret_leader"] = tree["rows"]["regret_leader"][:-1]
    with pytest.raises(CheckpointError, match="column regret_leader is missing or not 4 long"):
        SeedRun.restore(game, config, 0, ckpt.pack(tree, header))


def test_checkpoints_and_plans_files_of_earlier_versions_are_refused_in_one_line(saved, tmp_path):
    """0.1's checkpoints named their version ``version`` and held learner states before the
    player axis; version 1 checkpoints held next states' features, version 2 a table learner's
    forms per sample. All are refused in one line naming the version found and the one read; so
    are 0.1's plans files (header in ``format``)."""
    config, game, data = saved
    with np.load(io.BytesIO(data)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    written = json.loads(arrays["header"].tobytes())
    for key, version in (("version", 1), ("format_version", 2)):
        header = dict(written)
        header.pop("format_version")
        header[key] = version
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        old = io.BytesIO()
        np.savez(old, **arrays)
        with pytest.raises(
            CheckpointError, match=f"format version {version}; .* reads format version 3$"
        ):
            play(game, config, 0, state=old.getvalue())
    plans = play(game, RunConfig(**{**vars(config), "save_plans": True}), 0)[1]
    legacy = {f"seed0/{k}": v for k, v in plans.to_arrays().items()}
    text = json.dumps({"format": "stackelberg-rl/plans", "version": 1, "seeds": [0]})
    legacy["format"] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez(tmp_path / "plans.npz", **legacy)
    with pytest.raises(PlansFileError, match=r"format version '1 \(stackelberg-rl 0\.1\)'.* 2$"):
        read_plans(tmp_path / "plans.npz", 0)


def test_a_signal_while_a_periodic_checkpoint_is_made_lands_after_it():
    """A SIGINT that arrives while the state is packed (inside ``np.savez``'s ZipFile, say) waits
    for the state to be whole; then the interruption's own checkpoint is written and it goes on up.
    Before, it was raised inside the packing: that state was lost half-made, and a ZipFile cut in
    its constructor printed "Exception ignored … AttributeError" on the way out."""
    import signal

    from stackelberg_rl.experiments.loop import play_episodes

    class Seed:
        seed, episodes, episodes_done, made = 0, 10, 0, 0

        def play_episode(self):
            self.episodes_done += 1

        def checkpoint(self):
            if self.made == 0:
                signal.raise_signal(signal.SIGINT)  # arrives while the state is being made
            self.made += 1
            return f"state after {self.episodes_done}".encode()

    written = []
    with pytest.raises(KeyboardInterrupt):
        play_episodes(Seed(), checkpoint=written.append, checkpoint_every=0.0)
    assert written == [b"state after 1", b"state after 1"]
