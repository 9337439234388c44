"""The games as the environments multi-agent researchers already use (optional extras).

Each module needs its own package, installed by ``pip install "stackelberg-rl[envs]"``; importing
:mod:`stackelberg_rl` or this package needs none of them, and importing a module without its
package raises an :class:`ImportError` that names the extra.

- :mod:`.pettingzoo`: an AEC environment (``env``, ``raw_env``) in which the leader and then the
  follower act at every step, and a parallel one (``parallel_env``) in which the follower answers
  every leader action at once;
- :mod:`.gymnasium`: each player's single-agent problem with the other's policy fixed,
  ``LeaderEnv`` and ``FollowerEnv``, registered for ``gymnasium.make``;
- :mod:`.openspiel`: the game as a Python OpenSpiel game (``make``), registered as
  ``python_stackelberg_rl``.

All of them play any :class:`~stackelberg_rl.games.FiniteGame`, given as an object or by its
registered name and parameters, with the step ``h`` 0-based as in math.md §1.
"""
