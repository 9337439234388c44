"""Every random stream of the package, derived from ``(seed, purpose)`` in one place.

A run's seed is the root of a :class:`numpy.random.SeedSequence` tree; each stream is the child
at a fixed path named by its purpose, the same in every process, on every backend and on resume.

======================  ==========  ==================================================
purpose                 path        what draws from it
======================  ==========  ==================================================
``"game"``              ``(0,)``    the game's initial states, transitions, reward noise
``"agents"``            ``(1,)``    the players (spawned one per player, in order)
``"player", m``         ``(1, m)``  player ``m``'s own actions (0 the leader)
``"evaluation"``        ``(1,)``    a continuous game's evaluation sample (under its own seed)
======================  ==========  ==================================================

Example:
    >>> a = stream(7, "player", 1).random()
    >>> b = np.random.default_rng(np.random.SeedSequence(7).spawn(2)[1].spawn(2)[1]).random()
    >>> a == b
    True
"""

from __future__ import annotations

import numpy as np

from ._validate import integer

PURPOSES = {
    "game": (0,),
    "agents": (1,),
    "player": (1,),
    "evaluation": (1,),
    "mixture": (0,),
    "pair-player": (),
}
"""The path of each purpose under the seed (``"player"`` takes the player's index). ``"mixture"``
draws the episode a CCSE's players play; the players of one episode's pair use ``"pair-player"``.
"""


def seed_sequence(seed: int | np.random.SeedSequence, purpose: str, *index: int):
    """The :class:`~numpy.random.SeedSequence` of ``purpose`` (and ``index``) under ``seed``.

    ``seed``: a non-negative integer, or a ``SeedSequence`` to derive from; ``purpose``: a key
    of :data:`PURPOSES`; ``index``: the player's index for ``"player"``.

    Raises:
        ValueError: a negative or non-integer seed (named ``seed``), an unknown purpose.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    else:
        root = np.random.SeedSequence(integer(seed, "seed", low=0))
    key = tuple(root.spawn_key) + PURPOSES[purpose] + tuple(int(i) for i in index)
    return np.random.SeedSequence(root.entropy, spawn_key=key, pool_size=root.pool_size)


def stream(seed: int | np.random.SeedSequence, purpose: str, *index: int) -> np.random.Generator:
    """The :class:`~numpy.random.Generator` of ``purpose`` under ``seed`` (see :data:`PURPOSES`)."""
    return np.random.default_rng(seed_sequence(seed, purpose, *index))
