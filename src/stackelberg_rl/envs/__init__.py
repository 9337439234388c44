"""The games as the environments multi-agent researchers already use (optional extras).

:mod:`.pettingzoo` (AEC ``env``/``raw_env`` and ``parallel_env``), :mod:`.gymnasium` (one
player's problem, the others' policies fixed: ``PlayerEnv``, ``LeaderEnv``, ``FollowerEnv``) and
:mod:`.openspiel` (``make``, registered as ``python_stackelberg_rl``) play any
:class:`~stackelberg_rl.games.FiniteGame` with ``N ≥ 1`` followers moving in order (SPEC §7),
given as an object or by its registered name and parameters; ``h`` is 0-based (math.md §1) and
the players are ``leader, follower`` or ``leader, follower_1, …, follower_N``. Each module needs
its package (``pip install "stackelberg-rl[envs]"``) and raises an :class:`ImportError` naming
the extra without it; importing this package needs none.
"""
