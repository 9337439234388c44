"""What an experiment is: the game, the players and the seeds, as plain data (STYLE).

A run folder's ``manifest.json`` holds a :class:`RunConfig` field for field;
:meth:`RunConfig.from_dict` reads it back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .. import games as games_mod
from ..agents import AgentConfig


@dataclass
class GameSpec:
    """Which game to play: a registered name and its parameters (the game is rebuilt from this)."""

    name: str = "random-linear"
    """A registered game (``stackelberg-rl games`` lists them)."""
    params: dict = field(default_factory=dict)
    """The game's parameters; the others take their defaults."""

    def make(self) -> games_mod.FiniteGame:
        """Build the game (:func:`stackelberg_rl.games.make`).

        Raises:
            ValueError: for an unknown game, an unknown parameter or a bad value.
        """
        return games_mod.make(self.name, **self.params)


@dataclass
class RunConfig:
    """One experiment: a game, how the players learn, how long, how many seeds.

    Experiments are data (STYLE): a run folder's ``manifest.json`` holds this, field for field.
    """

    game: GameSpec = field(default_factory=GameSpec)
    """The game, rebuilt identically in every worker from its spec."""
    episodes: int = 1000
    """``K``, episodes per seed (also the ``K`` of ``α = "fixed-K"`` and ``β = "theory"``)."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    """How the leader and the follower learn (kind, ``β``, ``λ``, ``α_l``, ``α_f``, schedule)."""
    eval_every: int = 1
    """Exact regret every ``eval_every`` episodes (``0, n, 2n, …``); NaN in the other rows, each
    evaluated row weighted by the number of episodes it stands for (column ``eval_weight``)."""
    seeds: int = 1
    """Number of independent runs."""
    seed: int = 0
    """Base seed: run ``i`` uses ``seed + i`` (the ``seed`` column of the results)."""

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field (the game is checked on build)."""
        self.agent.validate()
        for name in ("episodes", "eval_every", "seeds"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    @property
    def run_seeds(self) -> list[int]:
        """The seed of every run: ``[seed, seed + 1, …]``."""
        return [self.seed + i for i in range(self.seeds)]

    def to_dict(self) -> dict:
        """Plain data for the manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of :meth:`to_dict` (reads a manifest's ``config``)."""
        data = dict(data)
        game = GameSpec(**data.pop("game", {}))
        agent = dict(data.pop("agent", {}))
        for name in ("alpha_l", "alpha_f"):
            if agent.get(name) == "inf":  # how a manifest writes ∞
                agent[name] = math.inf
        agent = AgentConfig(**agent)
        return cls(game=game, agent=agent, **data)
