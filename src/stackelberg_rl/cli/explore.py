"""``explore`` and ``plan``: Stackelberg equilibria of general-sum games by reward-free exploration.

``explore`` runs Phase 1 (:func:`~stackelberg_rl.equilibria.reward_free.explore`) and plans for
the game's own rewards, observed while exploring; ``plan`` plans again from the same data for
other rewards (SPEC §4). An exploration folder holds::

    manifest.json     "format": "stackelberg-rl/exploration", "status" ("running", then
                      "complete"), the options, the game, versions, git commit, the gaps, and
                      one entry per plan made since
    data.npz          the data set (ExplorationData: features, rewards, next states, the game's
                      fingerprint and transition model)
    policies.npz      the plan for the observed rewards: pi_l (H, S, A), pi_f (H, S, A, B) of a
                      finite game, and w (2, H, d), the planned weights (any game)
    gaps.json         that plan's exact gaps (finite games)
    plan-NAME.npz     a plan of ``plan`` for other rewards, and plan-NAME.json its gaps and
                      what it was planned for; NAME from the rewards, never an existing file's

The folder is reserved and its manifest written before the first episode, finished atomically,
and replaced (``--overwrite``) only if it holds an exploration of this program and nothing else
(:mod:`stackelberg_rl.experiments.store`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import _files
from .. import games as games_mod
from .._files import read_npz
from .._validate import real
from ..equilibria import reward_free as rf
from ..equilibria.reward_free import (  # noqa: E402 - the folder's names, where they were
    DATA_FILE,
    EXPLORATION_FOLDER,
    GAPS_FILE,
    PLAN_FORMAT,
    PLAN_PREFIX,
    POLICIES_FILE,
)
from ..experiments import GameSpec, RunConfig, progress_bar
from ..experiments.checkpoint import (
    CHECKPOINTS_DIR,
    CheckpointError,
    CheckpointWriteError,
    checkpoint_name,
)
from ..experiments.config import check_checkpoint_every, dumps
from ..experiments.resources import check_game_fits
from ..experiments.store import (
    MANIFEST_FILE,
    NewFolder,
    Reservation,
    ResultsNotSavedError,
    RunFolderError,
    check_destination,
    git_state,
    host,
    now,
    read_manifest,
    versions,
    write_file,
)
from .errors import INTERRUPTION, PROG, UsageError, checked
from .options import argument, build, command, options


@dataclass
class ExploreOptions:
    """An exploration (Phase 1) and the plan for the game's own rewards (Phase 2)."""

    game: GameSpec = field(default_factory=GameSpec)
    """The game to explore."""
    episodes: int = 1000
    """K, exploration episodes."""
    beta: float = 1.0
    """β: the bonus β‖φ‖ in the optimistic Q, and min(β‖φ‖, H)/H the exploration reward."""
    lam: float = 1.0
    """λ, the ridge of the exploration's regressions."""
    alpha_l: float | str = field(default="anytime", metadata={"metavar": "anytime|fixed-K|NUMBER"})
    """The leader's soft-max parameter while exploring: anytime (log|A|·√(k+1)/H, so the first k
    episodes are an exploration of k episodes), fixed-K (log|A|·√K/H) or a number."""
    alpha_f: float | str = field(default="anytime", metadata={"metavar": "anytime|fixed-K|NUMBER"})
    """The follower's, likewise with |B|."""
    seed: int = 0
    """Seed of the game's and the players' random streams."""
    plan_lam: float = 1.0
    """λ, the ridge of the plan's regressions (Phase 2)."""
    out: str | None = field(default=None, metadata={"metavar": "DIR"})
    """Folder to create. Default: a new folder runs/explore-GAME-YYYYMMDD-HHMMSS. An existing
    folder is used only if it is empty, or with --overwrite if it holds an exploration and
    nothing else."""
    overwrite: bool = False
    """Replace the exploration in --out (only one of this program, and only once the new one is
    complete)."""
    quiet: bool = False
    """No progress bar."""
    checkpoint_every: float = field(default=60.0, metadata={"metavar": "SECONDS"})
    """Seconds between checkpoints of the exploration (0: after every episode): an interrupted
    one is kept and continues from its last checkpoint with --resume."""
    resume: str | None = field(default=None, metadata={"metavar": "DIR"})
    """Continue the interrupted exploration in DIR, with the options its manifest records, to
    what an uninterrupted one would have written."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        if not isinstance(self.game, GameSpec):
            raise ValueError(f"game must be a GameSpec, got {self.game!r}")
        self.game.validate()
        rf.check_exploration(self.episodes, self.beta, self.lam, self.alpha_l, self.alpha_f,
                             self.seed, 64)  # fmt: skip
        real(self.plan_lam, "plan_lam", low=0.0, low_open=True)
        check_checkpoint_every(self.checkpoint_every)
        if self.out is not None and (not isinstance(self.out, str) or not self.out.strip()):
            raise ValueError(f"out must be a folder path, got {self.out!r}")


EXPLORE_OPTIONS = options(ExploreOptions())


def print_gaps(title: str, gaps: dict[str, float]) -> None:
    """A rich table of :func:`~stackelberg_rl.equilibria.reward_free.gaps`."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("player", "gap at the initial distribution", "gap at the worst initial state"):
        table.add_column(column, justify="left" if column == "player" else "right")
    for player, what in (("leader", "V_l^SE - V_l(pi_l, worst BR_f)"),
                         ("follower", "best-response gap")):  # fmt: skip
        cells = (gaps[f"gap/{player}/{at}"] for at in ("initial", "worst"))
        table.add_row(
            f"{player}: {what}", *(f"{x:.4g}" if np.isfinite(x) else "nan" for x in cells)
        )
    Console().print(table)


def _save_npz(arrays: dict[str, np.ndarray]):
    """A writer of the plan's arrays in the package's container (``np.load`` reads them too)."""
    data = _files.pack(PLAN_FORMAT, 1, arrays)
    return lambda path: Path(path).write_bytes(data)


def _save_json(data: dict):
    text = dumps(data)  # refuses NaN, writes infinities as "inf"
    return lambda path: path.write_text(text)


def _planned(data: rf.ExplorationData, rewards: rf.Rewards, lam: float) -> dict[str, np.ndarray]:
    """The plan's arrays: ``w (2, H, d)`` and, for a finite game, the policy tables."""
    learned = rf.fit(data, rewards, lam=lam)
    arrays = {"w": learned.w}
    if data.is_finite:
        arrays["pi_l"], arrays["pi_f"] = learned.tables(data.features)
    return arrays


def cmd_explore(values: dict[str, Any]) -> int:
    """Explore, plan for the observed rewards, write the folder and print the gaps.

    With ``--resume DIR``, the interrupted exploration in DIR continues from its checkpoint, with
    the options its manifest records, to the folder an uninterrupted one would have written.
    """
    opts = checked(lambda: build(ExploreOptions(), EXPLORE_OPTIONS, values))
    if opts.resume is not None:
        reservation, manifest, opts = _resumed(Path(opts.resume), values, opts)
        if reservation is None:
            return 0
    game = checked(lambda: (check_game_fits(RunConfig(game=opts.game)), opts.game.make())[1])
    if opts.resume is None:
        manifest = {
            "format": EXPLORATION_FOLDER.format, "format_version": 1, "status": "running",
            "options": _recorded(opts), "game": game.describe(), "versions": versions(),
            **git_state(), "host": host(), "pid": os.getpid(), "started": now(), "plans": [],
        }  # fmt: skip
        checked(lambda: dumps(manifest))
        try:
            reservation = Reservation.make(
                opts.out or NewFolder("runs", f"explore-{opts.game.label}"),
                opts.overwrite, kind=EXPLORATION_FOLDER,
            )  # fmt: skip
        except RunFolderError as err:
            raise UsageError(str(err)) from None
        if reservation.mode == "replace":  # resumed there, it still replaces this folder
            manifest["replaces"] = str(reservation.target)
        try:
            reservation.start(dumps(manifest))
        except RunFolderError as err:
            raise UsageError(str(err)) from None
    INTERRUPTION["note"] = "nothing was kept"
    t0 = time.perf_counter() - float(manifest.get("elapsed_seconds") or 0.0)
    hint = f"checkpoint kept, resume with {PROG} explore --resume {reservation.work}"
    try:
        print(f"exploration folder: {reservation.target}", flush=True)
        data = _explore(game, opts, reservation)
        arrays = _planned(data, None, opts.plan_lam)
        gaps = rf.gaps(game, arrays["pi_l"], arrays["pi_f"]) if data.is_finite else None
        reservation.write_file(DATA_FILE, data.save)
        reservation.write_file(POLICIES_FILE, _save_npz(arrays))
        if gaps is not None:
            reservation.write_file(GAPS_FILE, _save_json(gaps))
        manifest.update(status="complete", finished=now(), gaps=gaps,
                        elapsed_seconds=time.perf_counter() - t0)  # fmt: skip
        for key in ("interrupted", "reason"):
            manifest.pop(key, None)
        reservation.write_file(MANIFEST_FILE, _save_json(manifest))
        shutil.rmtree(reservation.work / CHECKPOINTS_DIR, ignore_errors=True)
        folder = reservation.put_in_place()
    except ResultsNotSavedError as err:
        raise UsageError(str(err)) from None
    except BaseException as err:
        if isinstance(err, Exception) and not isinstance(err, CheckpointWriteError):
            if isinstance(err, CheckpointError):
                where = reservation.work / CHECKPOINTS_DIR
                err = UsageError(f"{err}; to explore again from the start, remove {where}")
            reservation.abandon()  # a new exploration that failed leaves nothing behind
            raise err from None
        # Interrupted, or its checkpoint could not be written: kept, to be resumed.
        signum = getattr(err, "signum", None)
        manifest.update(
            status="interrupted", interrupted=now(), elapsed_seconds=time.perf_counter() - t0,
            reason=f"signal {signal.Signals(signum).name}" if signum else type(err).__name__,
        )  # fmt: skip
        try:
            reservation.write_manifest(dumps(manifest))
        except OSError:
            pass  # still "running": resumes as well
        if isinstance(err, CheckpointWriteError):
            raise UsageError(f"{err.strerror}; the exploration stopped: {hint}") from None
        INTERRUPTION["note"] = hint
        raise
    INTERRUPTION["note"] = f"the finished exploration is in {folder}"
    if gaps is not None:
        print_gaps(f"Reward-free Stackelberg plan after K={opts.episodes} episodes", gaps)
    else:
        print("continuous game: the plan's weights w are in policies.npz (no exact gaps)")
    print(f"data: {folder / DATA_FILE}, policies: {folder / POLICIES_FILE}")
    return 0


_SESSION = ("resume", "quiet", "checkpoint_every")
"""Options of one session, not of the exploration: a resumed exploration may change them."""


def _recorded(opts: ExploreOptions) -> dict:
    return {k: v for k, v in asdict(opts).items() if k != "resume"}


def _resumed(
    folder: Path, values: dict[str, Any], given: ExploreOptions
) -> tuple[Reservation | None, dict, ExploreOptions]:
    """The interrupted exploration in ``folder`` taken back: its reservation, manifest, options.

    ``None`` for the reservation if it is complete (nothing to resume; said so).

    Raises:
        UsageError: not an exploration folder of this program, one still running or holding
            other files, or an option given that disagrees with the recorded one.
    """
    if given.overwrite:
        raise UsageError("--resume continues an exploration in its folder, --overwrite "
                         "replaces one: not both")  # fmt: skip
    try:
        if not folder.is_dir():
            raise RunFolderError(f"{folder} is not an exploration folder: no such folder")
        manifest = read_manifest(folder, EXPLORATION_FOLDER)
        if manifest.get("status") == "complete":
            print(f"nothing to resume: the exploration in {folder} is complete", flush=True)
            return None, manifest, given
        check_destination(folder, True, EXPLORATION_FOLDER)  # refuses other files, a live one
        recorded = dict(manifest.get("options") or {})
        recorded = ExploreOptions(**{**recorded, "game": GameSpec(**recorded.get("game", {})),
                                     "resume": str(folder)})  # fmt: skip
    except (RunFolderError, TypeError, ValueError) as err:
        raise UsageError(f"cannot resume {folder}: {err}") from None
    for option in EXPLORE_OPTIONS:
        name = option.path[0]
        if option.ident in values and name not in _SESSION:
            ours, theirs = asdict(given)[name], asdict(recorded)[name]
            if ours != theirs and not (name == "out" and Path(ours) == folder):
                raise UsageError(
                    f"{option.name} {ours} disagrees with the exploration in {folder}, which "
                    f"has {theirs}: a resumed exploration keeps its options; leave it out"
                )
    opts = replace(recorded, quiet=given.quiet, checkpoint_every=given.checkpoint_every)
    replaces = manifest.get("replaces")
    target = Path(replaces) if isinstance(replaces, str) and replaces else folder
    mode = "replace" if target != folder else "resume"
    reservation = Reservation(target, folder, mode, True, kind=EXPLORATION_FOLDER, resumed=True)
    manifest.update(status="running", versions=versions(), **git_state(), host=host(),
                    pid=os.getpid())  # fmt: skip
    manifest["resumed"] = [*manifest.get("resumed", []), now()]
    reservation.write_manifest(dumps(manifest))
    return reservation, manifest, opts


def _explore(
    game: games_mod.Game, opts: ExploreOptions, reservation: Reservation
) -> rf.ExplorationData:
    """Phase 1 under the package's progress bar (unless ``quiet``), checkpointed in the folder."""
    path = reservation.work / CHECKPOINTS_DIR / checkpoint_name(opts.seed)
    kwargs = dict(
        lam=opts.lam, alpha_l=opts.alpha_l, alpha_f=opts.alpha_f, seed=opts.seed,
        state=path.read_bytes() if path.is_file() else None,
        checkpoint=lambda data: reservation.write_checkpoint(opts.seed, data),
        checkpoint_every=opts.checkpoint_every,
    )  # fmt: skip
    if opts.quiet:
        return rf.explore(game, opts.episodes, opts.beta, **kwargs)
    with progress_bar() as bar:
        task = bar.add_task("exploring", total=opts.episodes)
        progress = lambda done: bar.update(task, completed=done)  # noqa: E731
        return rf.explore(game, opts.episodes, opts.beta, progress=progress, **kwargs)


# ---------------------------------------------------------------------- plan
def load_exploration(folder: Path) -> tuple[dict, rf.ExplorationData]:
    """The manifest and the data set of a complete exploration folder (:func:`rf.read_folder`).

    Raises:
        UsageError: naming what is wrong with the folder or its data file.
    """
    try:
        return rf.read_folder(folder)
    except RunFolderError as err:
        raise UsageError(str(err)) from None


@dataclass
class PlanOptions:
    """What to plan for: a game (``--game``, ``--param``, ``--game-file``) or ``--rewards``."""

    game: str | None = field(default=None, metadata={"metavar": "NAME"})
    """A registered game with the explored transitions (default: the explored game)."""
    param: dict = field(default_factory=dict)
    """Parameters of that game, over the explored ones (e.g. zero_sum=true); repeatable."""
    game_file: str | None = field(default=None, metadata={"metavar": "PATH"})
    """A finite game (.npz) with the explored transitions."""
    rewards: str | None = field(default=None, metadata={"metavar": "FILE.npz"})
    """An .npz with one array, rewards (2, H, S, A, B) of a finite game or theta (2, H, d)."""
    lam: float = 1.0
    """λ, the ridge of the plan's regressions."""
    name: str | None = None
    """Name of the plan's files plan-NAME.{npz,json} (default: from the rewards; never an
    existing file's)."""


PLAN_OPTIONS = options(PlanOptions())


def _rewards_from_file(path: Path) -> tuple[np.ndarray, str]:
    """The ``rewards`` or ``theta`` array of the ``.npz`` at ``path``.

    Raises:
        UsageError: naming the file and the problem.
    """
    try:
        arrays = read_npz(path, what="rewards file")
    except ValueError as err:
        raise UsageError(str(err)) from None
    names = sorted(arrays)
    keys = [k for k in ("rewards", "theta") if k in names]
    if len(keys) != 1 or len(names) != 1:
        raise UsageError(
            f"{path} must hold one array, rewards (2, H, S, A, B) or theta (2, H, d); "
            f"it holds {', '.join(names) or 'none'}"
        )
    key, array = keys[0], arrays[keys[0]]
    expected = {"rewards": "(2, H, S, A, B)", "theta": "(2, H, d)"}[key]
    if array.ndim != expected.count(",") + 1:
        raise UsageError(f"{path}: {key} has shape {array.shape}, expected {expected}")
    return array, key


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=,+-]+", "_", text).strip("_.") or "rewards"


def cmd_plan(values: dict[str, Any]) -> int:
    """Plan for other rewards from an exploration's data; write plan-NAME.{npz,json}."""
    folder = values.pop("folder")
    opts = checked(lambda: build(PlanOptions(), PLAN_OPTIONS, values))
    manifest, data = load_exploration(folder)
    rewards_file, game_file, params = opts.rewards, opts.game_file, opts.param
    if rewards_file is not None and (opts.game or params or game_file):
        raise UsageError("give --rewards, or a game (--game, --param, --game-file), not both")
    lam = checked(lambda: real(opts.lam, "lam", low=0.0, low_open=True))
    explored = (manifest.get("game") or {}).get("registered") or {}
    game = None
    if rewards_file is not None:
        array, kind = _rewards_from_file(Path(rewards_file))
        checked(lambda: rf.known_rewards(data, array))
        rewards: rf.Rewards = array
        description = {"rewards_file": str(rewards_file), "array": kind}
        label = f"{Path(rewards_file).stem}"
        game = _game_with(data, array)
    else:
        spec = checked(lambda: _game_spec(explored, opts.game, params, game_file))
        game = checked(spec.make)
        try:
            data.check_game(game)
        except rf.ExplorationDataError as err:
            raise UsageError(str(err)) from None
        rewards = game
        description = {"game": game.describe()}
        given = [f"{k}={v}" for k, v in params.items()]
        label = Path(game_file).stem if game_file else "-".join([spec.name, *given])
    arrays = checked(lambda: _planned(data, rewards, lam))
    gaps = None
    if isinstance(game, games_mod.FiniteGame):
        gaps = rf.gaps(game, arrays["pi_l"], arrays["pi_f"])
    stem = _free_stem(folder, PLAN_PREFIX + _label(opts.name or label))
    record = {"name": stem, "lam": lam, **description, "gaps": gaps, "planned": now()}
    try:
        write_file(folder, stem + ".npz", _save_npz(arrays), exclusive=True)
        write_file(folder, stem + ".json", _save_json(record), exclusive=True)
        manifest.setdefault("plans", []).append(
            {k: v for k, v in record.items() if k != "game"} | {"files": [f"{stem}.npz"]}
        )
        write_file(folder, MANIFEST_FILE, _save_json(manifest))
    except OSError as err:
        raise UsageError(f"cannot write to {folder}: {err.strerror or err}") from None
    if gaps is not None:
        print_gaps(f"Stackelberg plan for {label} from K={data.episodes} episodes", gaps)
    print(f"plan: {folder / (stem + '.npz')}, {folder / (stem + '.json')}")
    return 0


def _free_stem(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, … : the first whose files do not exist yet."""
    n = 1
    candidate = stem
    while (folder / f"{candidate}.npz").exists() or (folder / f"{candidate}.json").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _game_spec(
    explored: dict, game_name: str | None, given: dict, game_file: str | None
) -> GameSpec:
    """The game to plan for: ``--game-file``, or the explored game with ``--game``/``--param``."""
    if game_file is not None:
        return GameSpec(file=game_file, name=game_name, params=given or {})
    name = game_name or explored.get("name")
    if name is None:
        raise ValueError(
            "the explored game was not a registered one: give --game or --game-file, or --rewards"
        )
    base = dict(explored.get("params") or {}) if name == explored.get("name") else {}
    base.update(given)
    # Keep the explored parameters that the registry would not take back as given (None).
    base = {k: v for k, v in base.items() if v is not None}
    return GameSpec(name, base)


def _game_with(data: rf.ExplorationData, rewards: np.ndarray) -> games_mod.FiniteGame | None:
    """The explored finite game with these rewards, for exact gaps (``None`` if it cannot be)."""
    if not data.is_finite or data.transitions is None:
        return None
    table = rewards
    if rewards.ndim == 3:
        table = np.einsum("sabd,mhd->mhsab", data.features, rewards)
    try:
        return games_mod.FiniteGame(
            data.features,
            data.initial_distribution,
            transitions=data.transitions,
            rewards=table,
            name="explored game, given rewards",
        )
    except ValueError:
        return None


@command(EXPLORE_OPTIONS)
def explore(values: dict[str, Any]) -> int:
    """Reward-free exploration by both players, then the Stackelberg policies on the learned model.

    Both players explore with the bonus as their only reward and soft-max policies; then the
    Stackelberg policies are planned on the learned model for the game's observed rewards.
    Writes an exploration folder (data.npz, policies.npz, gaps.json with the exact gaps of a
    finite game, manifest.json); an interrupted one continues with --resume DIR. Plan other
    rewards from the same data with plan.
    """
    return cmd_explore(values)


@command(PLAN_OPTIONS, argument("folder", "An exploration folder written by explore.", "DIR"))
def plan(values: dict[str, Any]) -> int:
    """Plan the Stackelberg policies for other rewards from the data of an exploration folder.

    The same game with other parameters (--param zero_sum=true), another game with the same
    transitions, or given rewards (--rewards FILE.npz). Writes plan-NAME.npz (pi_l, pi_f, w) and
    plan-NAME.json (the exact gaps) into the folder.
    """
    return cmd_plan(values)


__all__ = ["EXPLORATION_FOLDER", "ExploreOptions", "cmd_explore", "cmd_plan", "explore", "plan"]
