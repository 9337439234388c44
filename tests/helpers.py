"""Small builders shared by the test modules (pytest puts ``tests/`` on the import path)."""

import os
import signal
import subprocess
from contextlib import contextmanager

import numpy as np

from stackelberg_rl.cli import main
from stackelberg_rl.games import FiniteGame


def dense_model(game: FiniteGame) -> tuple[np.ndarray, np.ndarray]:
    """``P (H, S, A, B, S)`` and ``R (2, H, S, A, B)``: the game's dense model, step by step."""
    H = game.horizon
    P = np.stack([game.transition(h) for h in range(H)])
    R = np.stack([game.reward(h) for h in range(H)], axis=1)
    return P, R


def declared_linear(game: FiniteGame) -> FiniteGame:
    """The factored ``game`` given in both forms: its dense model and its ``mu``, ``theta``."""
    P, R = dense_model(game)
    return FiniteGame(
        game.features,
        game.initial_distribution,
        transitions=P,
        rewards=R,
        mu=game.mu,
        theta=game.theta,
    )


def call(argv, capsys):
    """Exit code, stdout and stderr of the command ``stackelberg-rl ARGV`` (in this process)."""
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, expected_code=2):
    """The one line of a failed command's stderr, checked: its exit code, no traceback."""
    assert code == expected_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err
    return lines[0]


@contextmanager
def killed_if_left(proc: subprocess.Popen):
    """Kill ``proc``'s process group if it still runs when the block ends (a failed wait)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def interrupt(proc: subprocess.Popen, signum: int, to_group: bool = True) -> str:
    """Send ``signum`` to ``proc`` (its process group with ``to_group``); its stderr once ended."""
    (os.killpg if to_group else os.kill)(proc.pid, signum)
    return proc.communicate(timeout=60)[1]


# What PettingZoo's api_test says about choices made on purpose: MultiDiscrete observations
# (integers, not a Box), the agents named "leader", "follower…" (not "player_0"), and the
# legitimate observation [0, 0, 0, …] (step 0, state 0, action 0).
EXPECTED_API_WARNINGS = ("should be gymnasium.spaces.box", "named in the format", "all zeros")


def unexpected_api_warnings(env, num_cycles: int = 200) -> list[str]:
    """PettingZoo's ``api_test`` on ``env``: the warnings it gave beyond the expected ones."""
    import warnings

    from pettingzoo.test import api_test

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(env, num_cycles=num_cycles)
    return [
        str(w.message)
        for w in caught
        if not any(text in str(w.message) for text in EXPECTED_API_WARNINGS)
    ]


def play_in_order(game, agents, episodes, rng, after_plans=None) -> list[tuple[int, ...]]:
    """Episodes of a finite ``game``: each agent acts in order seeing the earlier actions, the
    next state drawn from ``transition`` with ``rng``, every agent records; ``after_plans(k)``
    is called once the agents have begun episode ``k``. Returns each step's actions."""
    played = []
    for k in range(episodes):
        for agent in agents:
            agent.begin_episode(k)
        if after_plans is not None:
            after_plans(k)
        x = int(game.sample_initial(rng))
        for h in range(game.horizon):
            actions = []
            for agent in agents:
                actions.append(agent.act(h, x, *actions))
            x_next = int(rng.choice(game.n_states, p=game.transition(h)[(x, *actions)]))
            rewards = game.reward(h)[(slice(None), x, *actions)]
            for agent in agents:
                agent.record(h, x, tuple(actions), rewards, x_next)
            played.append(tuple(actions))
            x = x_next
    return played
