"""The game registry: make, names, parameters from strings, provenance and fingerprints."""

import re
from dataclasses import dataclass

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl._fields import convert, field_docstrings
from stackelberg_rl.games import registry


def test_the_random_games_are_registered_with_their_parameters():
    assert {"random-linear", "random-tabular"} <= set(games.names())
    assert games.names() == sorted(games.names())
    fields = {f.name: f for f in games.info("random-linear").fields()}
    assert list(fields) == [
        "n_states",
        "n_leader_actions",
        "n_follower_actions",
        "dim",
        "horizon",
        "seed",
        "concentration",
        "reward_noise",
        "n_followers",
    ]
    assert fields["dim"].type is int and fields["dim"].default == 8
    assert "feature dimension" in fields["dim"].help
    assert "dim" not in {f.name for f in games.info("random-tabular").fields()}


def test_make_equals_the_generator_and_records_every_resolved_parameter():
    g = games.make("random-linear", n_states="7", dim=4, seed=3)
    direct = games.random_linear(7, 3, 3, 4, 5, seed=3)
    assert g.fingerprint() == direct.fingerprint()
    assert g.provenance == {
        "name": "random-linear",
        "params": {
            "n_states": 7,
            "n_leader_actions": 3,
            "n_follower_actions": 3,
            "dim": 4,
            "horizon": 5,
            "seed": 3,
            "concentration": 1.0,
            "reward_noise": 0.0,
            "n_followers": 1,
        },
    }
    assert direct.provenance is None  # built by hand: the registry did not make it


def test_reward_noise_is_a_parameter_of_both_random_games():
    for name in ("random-linear", "random-tabular"):
        g = games.make(name, reward_noise="0.25", n_states=4)
        assert g.reward_noise == 0.25


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("no-such-game", {}, r"unknown game 'no-such-game'; known games: .*supply-chain$"),
        ("mine.npz", {}, r"unknown game 'mine.npz'; .* a game file is given with --game-file"),
        ("random-tabular", {"dim": 3}, r"game 'random-tabular' has no parameter 'dim'; its param"),
        ("random-linear", {"n_states": "2.5"}, r"n_states must be an integer, got '2.5'"),
        ("random-linear", {"n_states": 2.5}, r"n_states must be an integer, got 2.5"),
        ("random-linear", {"n_states": True}, r"n_states must be an integer, got True"),
        ("random-linear", {"n_states": 0}, r"n_states must be an integer >= 1, got 0"),
        ("random-linear", {"dim": -1}, r"dim must be an integer >= 1, got -1"),
        ("random-linear", {"reward_noise": "lots"}, r"reward_noise must be a number, got 'lots'"),
        ("random-linear", {"reward_noise": "nan"}, r"reward_noise must be a number, not nan"),
        ("random-linear", {"reward_noise": 2}, r"reward_noise must be in \[0, 1\], got 2"),
        ("random-linear", {"concentration": 0}, r"concentration must be in \(0, inf\), got 0"),
        ("random-tabular", {"horizon": 0}, r"horizon must be an integer >= 1, got 0"),
        *(
            (name, {"seed": -1}, r"seed must be an integer >= 0, got -1")
            for name in ("random-linear", "random-tabular", "security", "electricity", "continuous")
        ),
    ],
)
def test_bad_parameters_are_refused_naming_them(name, params, match):
    with pytest.raises(ValueError, match=match):
        games.make(name, **params)


def test_same_parameters_same_fingerprint_and_any_change_changes_it():
    a = games.make("random-linear", n_states=6, seed=1)
    assert a.fingerprint() == games.make("random-linear", n_states=6, seed=1).fingerprint()
    assert len(a.fingerprint()) == 64
    others = [
        games.make("random-linear", n_states=6, seed=2),
        games.make("random-linear", n_states=6, seed=1, reward_noise=0.1),
        games.make("random-linear", n_states=7, seed=1),
    ]
    assert len({a.fingerprint(), *(g.fingerprint() for g in others)}) == 4
    # One entry of one array changed by one ulp.
    theta = a.theta.copy()
    theta[1, 0, 0] = np.nextafter(theta[1, 0, 0], 2.0)
    b = games.FiniteGame(a.features, a.initial_distribution, mu=a.mu, theta=theta)
    c = games.FiniteGame(a.features, a.initial_distribution, mu=a.mu, theta=a.theta)
    assert b.fingerprint() != c.fingerprint()
    described = a.describe()
    assert described["sha256"] == a.fingerprint() and described["registered"] == a.provenance
    assert (described["n_states"], described["dim"], described["form"]) == (6, 8, "factored")


def test_a_user_game_registers_with_a_decorator(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @dataclass(frozen=True)
    class CoinParams:
        horizon: int = 2
        """Steps per episode."""
        fair: bool = True
        """Whether the coin is fair."""

    @games.register("coin", CoinParams, nbytes=lambda p: 8 * p.horizon)
    def coin(horizon: int, fair: bool) -> games.FiniteGame:
        """Two states, one action each: the next state is a coin flip."""
        p = 0.5 if fair else 0.9
        P = np.broadcast_to([p, 1 - p], (horizon, 2, 1, 1, 2))
        return games.tabular(P, np.zeros((2, horizon, 2, 1, 1)))

    assert "coin" in games.names()
    info = games.info("coin")
    assert info.summary == "Two states, one action each: the next state is a coin flip."
    assert [(f.name, f.help) for f in info.fields()] == [
        ("horizon", "Steps per episode."),
        ("fair", "Whether the coin is fair."),
    ]
    assert info.estimate_bytes({"horizon": "3"}) == 24
    g = games.make("coin", fair="no", horizon="3")
    assert g.horizon == 3 and g.transition(0)[0, 0, 0, 0] == 0.9
    # a boolean as the command line (``0``, ``yes``), Python, a YAML file or numpy gives it
    for fair, p in (("0", 0.9), ("yes", 0.5), (0, 0.9), (1, 0.5), (np.False_, 0.9), (True, 0.5)):
        assert games.make("coin", fair=fair, horizon=3).transition(0)[0, 0, 0, 0] == p
    for fair in ("maybe", 2, 0.0, None):
        with pytest.raises(ValueError, match=f"fair must be true or false, got {fair!r}"):
            games.make("coin", fair=fair)
    with pytest.raises(ValueError, match="already registered"):
        games.register("coin", CoinParams)(lambda horizon, fair: None)
    with pytest.raises(TypeError, match="must be a dataclass"):
        games.register("other", dict)


def test_estimates_of_the_random_games_count_their_arrays():
    params = {"n_states": 1000, "dim": 4}
    built = games.make("random-linear", **params)
    estimate = games.info("random-linear").estimate_bytes(params)
    held = built.features.nbytes + built.mu.nbytes
    assert held <= estimate <= 3 * held
    tab = games.make("random-tabular", n_states=30)
    P_bytes = tab.horizon * 30 * 9 * 30 * 8
    assert (
        games.info("random-tabular").estimate_bytes({"n_states": 30})
        >= P_bytes + tab.features.nbytes
    )


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [("3", int, 3), (3.0, int, 3), ("1e-3", float, 1e-3), ("inf", float, float("inf")),
     ("Yes", bool, True), ("off", bool, False), (7, str, "7")],
)  # fmt: skip
def test_convert_parses_strings_by_type(value, kind, expected):
    out = convert(value, kind, "x")
    assert out == expected and type(out) is kind


def test_field_docstrings_read_the_string_under_each_field():
    @dataclass
    class Example:
        a: int = 1
        """First
        line."""
        b: int = 2
        c: int = 3
        """Third."""

    assert field_docstrings(Example) == {"a": "First line.", "c": "Third."}


def test_a_game_too_large_for_the_memory_is_refused_before_it_is_allocated():
    with pytest.raises(MemoryError) as err:
        games.make("random-linear", n_states=10**12)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("building game random-linear with {'n_states': 1000000000000} ")
    assert re.search(r"needs about [\d.]+ TiB of memory, but only [\d.]+ [GMKT]i?B", message)
