"""What an experiment is: the game, the players and the seeds, as plain data.

A run folder's ``manifest.json`` holds a :class:`RunConfig` field for field. The command line
and its help are generated from these dataclasses (fields, types, defaults, docstrings); every
check of a value lives in their ``validate``, which construction runs too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import games as games_mod
from .._files import jsonable
from .._validate import integer, plain, real
from ..agents import AgentConfig

INT64_MAX = 2**63 - 1  # seeds are stored in an int64 column
BACKENDS = ("local", "ray")


def difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first path (``agent.beta``) at which two JSON values differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        found = (difference(a.get(k), b.get(k), f"{path}.{k}" if path else k) for k in keys)
        return next(filter(None, found), None)
    return None if a == b else (path, a, b)


DEFAULT_GAME = "random-linear"  # played when neither a game nor a game file is named


@dataclass
class GameSpec:
    """Which game to play: a registered name and its parameters, or a finite game's ``.npz`` file.

    ``GameSpec("random-linear", {"reward_noise": 0.1})`` or ``GameSpec(file="mine.npz")`` (any
    path-like, kept as text); values may be strings (``"50"``). A file is read on construction and
    its game's SHA-256 recorded (:meth:`make` refuses it changed). Bad values (an unknown
    parameter, one out of the range its game declares) raise :class:`ValueError` on construction.
    """

    name: str | None = field(
        default=None,
        metadata={
            "flags": "--game",
            "metavar": "NAME",
            "help_more": lambda: f"One of: {', '.join(games_mod.names())}.",
        },
    )
    """A registered game (stackelberg-rl games lists them with their parameters); random-linear
    unless a game file is given."""
    params: dict = field(default_factory=dict, metadata={"flags": "--param"})
    """The game's parameters as KEY=VALUE (repeatable); the others take their defaults."""
    file: str | None = field(
        default=None,
        metadata={
            "flags": "--game-file",
            "metavar": "PATH",
            "replaces": ("name", "params", "sha256"),
        },
    )
    """A finite game in an .npz file (features, transitions and rewards or mu and theta,
    initial_distribution) instead of a registered game: not with --game or --param. Recorded as
    an absolute path."""
    sha256: str | None = field(default=None, metadata={"cli": False})
    """The SHA-256 of the file's game (its fingerprint), recorded when the file is first read."""

    def __post_init__(self) -> None:
        vars(self).update({name: plain(value) for name, value in vars(self).items()})
        if self.name is None and self.file is None:
            self.name = DEFAULT_GAME
        if isinstance(self.file, os.PathLike):  # kept as text: a manifest's JSON holds it
            self.file = os.fspath(self.file)
        if self.file is not None and self.sha256 is None and isinstance(self.file, str):
            self.validate()
            # Recorded absolute: a run's manifest rebuilds the game from any working folder.
            self.file = os.path.abspath(Path(self.file).expanduser())
            self.sha256 = self._load().fingerprint()
        self.validate()
        if self.file is None:
            # Values given as text ("50", as from a command line) are kept as their typed value.
            parsed = games_mod.info(self.name).parse(self.params)
            self.params = {key: getattr(parsed, key) for key in self.params}

    def validate(self) -> None:
        """Raise :class:`ValueError` for a bad name, parameter, value or file path (not read)."""
        if not isinstance(self.params, dict):
            raise ValueError(f"game params must be a dict, got {self.params!r}")
        if self.file is not None:
            if not isinstance(self.file, str) or not self.file.strip():
                raise ValueError(f"game file must be a path, got {self.file!r}")
            if self.name is not None or self.params:
                given = [f"game {self.name!r} (--game)"] * (self.name is not None)
                given += [f"parameters {self.params} (--param)"] * bool(self.params)
                given = " and ".join(given)
                raise ValueError(
                    f"game file {self.file} (--game-file) and {given} are both given: a game "
                    "file is the whole game; give one or the other"
                )
            if self.sha256 is not None and not (
                isinstance(self.sha256, str) and len(self.sha256) == 64
            ):
                raise ValueError(f"game sha256 must be 64 hex digits, got {self.sha256!r}")
            return
        if not isinstance(self.name, str):
            raise ValueError(f"game name must be a string, got {self.name!r}")
        if self.sha256 is not None:
            raise ValueError("game sha256 is recorded for a game file only")
        games_mod.info(self.name).parse(self.params)

    @property
    def label(self) -> str:
        """A short name for folders and titles: the registered name, or the file's stem."""
        return self.name if self.file is None else Path(self.file).stem

    def resolved(self) -> dict:
        """Every parameter, defaults filled in, as a built game's ``provenance`` records them."""
        return {} if self.file is not None else asdict(games_mod.info(self.name).parse(self.params))

    def estimate_bytes(self) -> int | None:
        """What building the game takes, from its parameters or its file (``None``: unknown)."""
        if self.file is not None:
            return games_mod.npz.estimate_bytes(self.file)
        return games_mod.info(self.name).estimate_bytes(self.params)

    def _load(self) -> games_mod.FiniteGame:
        try:
            return games_mod.load(self.file)
        except games_mod.GameFileError as err:
            raise ValueError(f"game file {err}") from None

    def make(self) -> games_mod.Game:
        """Build the game (``ValueError``: bad values, or a file unreadable or changed since)."""
        self.validate()
        if self.file is None:
            return games_mod.make(self.name, **self.params)
        game = self._load()
        if self.sha256 is not None and game.fingerprint() != self.sha256:
            raise ValueError(
                f"game file {self.file}: its game has changed since it was recorded (SHA-256 "
                f"{game.fingerprint()[:12]}…, recorded {self.sha256[:12]}…)"
            )
        return game


@dataclass
class RunConfig:
    """One experiment: a game, how the players learn, how long, how many seeds.

    Experiments are data: a run folder's ``manifest.json`` holds this, field for field.
    """

    game: GameSpec = field(default_factory=GameSpec)
    """The game; a run records its name, parameters and the SHA-256 of its arrays."""
    episodes: int = 1000
    """K, episodes per seed (also the K of alpha fixed-K and beta theory)."""
    seeds: int = 1
    """Number of independent runs (seeds)."""
    seed: int = 0
    """Base seed: run i uses seed + i (the seed column of the results)."""
    eval_every: int = 1
    """Regret every n episodes (0, n, 2n, ...); the others hold NaN, each evaluated row
    weighted by the episodes it stands for (column eval_weight)."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    """How the leader and the follower learn (kind, beta, lambda, alpha_l, alpha_f, schedule)."""
    save_plans: bool = False
    """Also store what replays every episode's policies, in plans.npz in the run folder (per plan
    w, alpha, beta; the features played): the equilibrium command and equilibria.CCSE read it.
    LSVI-UCB players only, not with --reference."""

    def __post_init__(self) -> None:
        vars(self).update({name: plain(value) for name, value in vars(self).items()})
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        if not isinstance(self.game, GameSpec):
            raise ValueError(f"game must be a GameSpec, got {self.game!r}")
        if not isinstance(self.agent, AgentConfig):
            raise ValueError(f"agent must be an AgentConfig, got {self.agent!r}")
        self.game.validate()
        self.agent.validate()
        for name in ("episodes", "eval_every", "seeds"):
            integer(getattr(self, name), name, low=1)
        if not isinstance(self.save_plans, bool):
            raise ValueError(f"save_plans must be true or false, got {self.save_plans!r}")
        if self.save_plans and self.agent.kind not in ("softmax-lsvi-ucb", "greedy-lsvi-ucb"):
            raise ValueError(
                f"save_plans stores the plans of LSVI-UCB players; agent {self.agent.kind!r} "
                "makes none"
            )
        if self.save_plans and self.agent.reference:
            raise ValueError(
                "save_plans replays the plans of the fast learner; the from-scratch reference "
                "learner (reference=True) computes its policies another way: not both"
            )
        integer(self.seed, "seed", low=0)
        if self.seed + self.seeds - 1 > INT64_MAX:
            raise ValueError(
                f"seed + seeds - 1 = {self.seed + self.seeds - 1} does not fit a 64-bit integer "
                f"(at most {INT64_MAX})"
            )
        jsonable(self.to_dict(), "config")  # a value a manifest cannot hold fails now

    @property
    def run_seeds(self) -> list[int]:
        """The seed of every run: ``[seed, seed + 1, …]``."""
        return list(range(self.seed, self.seed + self.seeds))

    def to_dict(self) -> dict:
        """Plain data for the manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of :meth:`to_dict` (reads a manifest's ``config``)."""
        data = dict(data)  # a manifest's "inf" is spelled ∞ by AgentConfig
        game, agent = GameSpec(**data.pop("game", {})), AgentConfig(**data.pop("agent", {}))
        return cls(game=game, agent=agent, **data)


@dataclass
class ExecutionOptions:
    """Where a run is written, how it is executed, checkpointed and resumed: not its results."""

    out: str | None = field(default=None, metadata={"metavar": "DIR"})
    """Run folder to create. Default: a new folder runs/GAME-YYYYMMDD-HHMMSS (never an existing
    one). An existing folder is used only if it is empty, or with --overwrite if it holds a run
    and nothing else."""
    overwrite: bool = False
    """Replace the run in --out. Only a folder that holds a run of this program (finished or
    not: an interrupted run's checkpoints go too; --resume continues it instead) and nothing else
    is replaced, and only once the new run has finished."""
    workers: int | None = None
    """Worker processes for the seeds (default: min(seeds, cores)); 1 runs in this process."""
    quiet: bool = False
    """No progress bar."""
    checkpoint_every: float = field(default=60.0, metadata={"metavar": "SECONDS"})
    """Seconds between checkpoints of every seed's state in the run folder (checkpoints/), also
    taken at Ctrl-C or kill; inf: only then. An interrupted run continues from them with
    --resume."""
    resume: str | None = field(default=None, metadata={"metavar": "DIR"})
    """Continue the interrupted run in DIR from its checkpoints, to the results it would have
    had uninterrupted. Its configuration is the one its manifest records (options that would
    change it are refused); a complete run is left as it is."""
    backend: Literal["local", "ray"] = "local"
    """local: worker processes on this machine; ray: the seeds as tasks on a Ray cluster (pip
    install 'stackelberg-rl[ray]' on the driver and the workers)."""
    address: str | None = field(default=None, metadata={"metavar": "ADDR"})
    """The Ray cluster's address (HEAD:6379); default: a Ray started here for this run."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        if self.out is not None and (not isinstance(self.out, str) or not self.out.strip()):
            raise ValueError(f"out must be a folder path, got {self.out!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.workers is not None:
            integer(self.workers, "workers", low=1)
        check_checkpoint_every(self.checkpoint_every)
        if self.address is not None and self.backend != "ray":
            raise ValueError("--address is the address of a Ray cluster: give --backend ray too")
        for name in ("overwrite", "quiet"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.resume is not None:
            if not isinstance(self.resume, str) or not self.resume.strip():
                raise ValueError(f"resume must be a run folder, got {self.resume!r}")
            if self.overwrite:
                raise ValueError(
                    "resume continues the run in its folder and overwrite replaces it: not both"
                )
            if self.out is not None and Path(self.out) != Path(self.resume):
                raise ValueError(
                    f"out ({self.out}) and resume ({self.resume}) name different folders: a "
                    "resumed run stays in its folder"
                )


def check_checkpoint_every(every: Any) -> float:
    """``every`` as the seconds between a seed's checkpoints (``ValueError`` if not ``>= 0``)."""
    return real(every, "checkpoint_every", low=0.0, infinite=True)


def dumps(data: dict) -> str:
    """``data`` as the JSON text of a manifest (infinities as ``"inf"``, NaN refused)."""
    return json.dumps(jsonable(data, "manifest"), indent=2, allow_nan=False) + "\n"


def game_record(config: RunConfig, game: games_mod.Game, given: bool) -> dict:
    """What the manifest says about the game played (``ValueError``: not ``config.game``)."""
    record = game.describe()
    if config.game.file is not None:
        if game.fingerprint() != config.game.sha256:
            raise ValueError(
                f"the game given ({game.name}, SHA-256 {game.fingerprint()[:12]}…) is not the "
                f"game of config.game's file {config.game.file} (SHA-256 "
                f"{str(config.game.sha256)[:12]}…); make them agree, or leave out game="
            )
        record["file"] = str(Path(config.game.file).resolve())
        record["source"] = "given by the caller" if given else f"read from {config.game.file}"
        return record
    prov = game.provenance
    if prov is None:
        record["source"] = "given by the caller (config.game was not used)"
        return record
    spec = {"name": config.game.name, "params": config.game.resolved()}
    if prov != spec:
        raise ValueError(
            f"the game given ({prov['name']} with {prov['params']}) is not config.game "
            f"({spec['name']} with {spec['params']}); make them agree, or leave out game="
        )
    record["source"] = "given by the caller" if given else "built from config.game"
    return record
