"""The games as the environments multi-agent researchers already use (optional extras).

Each module needs its own package, installed by ``pip install "stackelberg-rl[envs]"``; importing
:mod:`stackelberg_rl` or this package needs none of them, and importing a module without its
package raises an :class:`ImportError` that names the extra.

- :mod:`.pettingzoo`: an AEC environment (``env``, ``raw_env``) in which the leader and then each
  follower in order act at every step, each seeing the actions before it, and a parallel one
  (``parallel_env``) in which each follower answers every combination of the actions before it
  at once;
- :mod:`.gymnasium`: each player's single-agent problem with the others' policies fixed,
  ``PlayerEnv`` (any player), ``LeaderEnv`` and ``FollowerEnv``, registered for
  ``gymnasium.make``;
- :mod:`.openspiel`: the game as a Python OpenSpiel game (``make``), registered as
  ``python_stackelberg_rl``.

All of them play any :class:`~stackelberg_rl.games.FiniteGame` with ``N ≥ 1`` followers moving in
order (SPEC §7), given as an object or by its registered name and parameters, with the step ``h``
0-based as in math.md §1. The players are ``leader, follower``, or ``leader, follower_1, …,
follower_N``.
"""
