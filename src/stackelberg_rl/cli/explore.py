"""``explore`` and ``plan``: Stackelberg equilibria of general-sum games by reward-free exploration.

``explore`` runs Phase 1 and plans for the game's own rewards into an exploration folder (a run
folder's life cycle, ``store.Reservation``); ``plan`` plans from its data for other rewards.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import _files
from .. import games as games_mod
from .._signals import signals_held
from .._validate import real
from ..agents import ALPHA_METAVAR, follower_alphas, per_follower
from ..equilibria import reward_free as rf
from ..experiments import GameSpec, RunConfig, checkpoint, store
from ..experiments.config import check_checkpoint_every, dumps
from ..planning import policy_names
from .errors import INTERRUPTION, UsageError, checked, print_table, progress, resume_hint
from .options import argument, build, check_unchanged, command, make_game, options


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
    alpha_l: float | str = field(default="anytime", metadata={"metavar": ALPHA_METAVAR})
    """The leader's soft-max parameter while exploring: anytime (log|A|·√(k+1)/H, so the first k
    episodes are an exploration of k episodes), fixed-K (log|A|·√K/H), power:c,p
    (c·log|A|·K^p/H) or a number >= 0 (inf: greedy)."""
    alpha_f: float | str = field(default="anytime", metadata={"metavar": ALPHA_METAVAR})
    """The follower's, likewise with |B| (N followers: every follower's, with its |A_i|, or one
    each separated by spaces)."""
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
        """Raise :class:`ValueError` naming the first bad field."""
        self.game.validate()
        self.alpha_f = per_follower(self.alpha_f)
        rf.check_exploration(self.episodes, self.beta, self.lam, self.alpha_l, self.alpha_f,
                             self.seed, 64)  # fmt: skip
        real(self.plan_lam, "plan_lam", low=0.0, low_open=True)
        check_checkpoint_every(self.checkpoint_every)
        if self.out is not None and (not isinstance(self.out, str) or not self.out.strip()):
            raise ValueError(f"out must be a folder path, got {self.out!r}")


EXPLORE_OPTIONS = options(ExploreOptions())


def print_gaps(title: str, gaps: dict[str, float]) -> None:
    """A table of :func:`~stackelberg_rl.equilibria.reward_free.gaps`."""
    players = [key.split("/")[1] for key in gaps if key.startswith("gap/") and "/initial" in key]
    rows = [
        [f"{p}: " + ("V_l^SE - V_l(pi_l, worst BR_f)" if p == "leader" else "best-response gap")]
        + [f"{gaps[f'gap/{p}/{where}']:.4g}" for where in ("initial", "worst")]
        for p in players
    ]
    columns = ["player", "gap at the initial distribution", "gap at the worst initial state"]
    print_table(title, columns, rows)


def _planned(data: rf.ExplorationData, rewards: rf.Rewards, lam: float, game) -> tuple:
    """A writer of the plan's ``.npz`` (``w``, a finite game's tables), its exact gaps if finite."""
    learned, tables = rf.fit_with_tables(data, rewards, lam=lam)
    names = policy_names(data.n_players) if tables else ()
    arrays = {"w": learned.w, **dict(zip(names, tables or (), strict=True))}
    gaps = rf.gaps(game, *tables) if isinstance(game, games_mod.FiniteGame) else None
    return _writer(_files.pack(rf.PLAN_FORMAT, 1, arrays)), gaps


def _writer(data: dict | bytes):
    """A writer of a JSON record (NaN refused) or of bytes, for :func:`store.write_file`."""
    content = data if isinstance(data, bytes) else dumps(data).encode()
    return lambda path: Path(path).write_bytes(content)


@command(EXPLORE_OPTIONS)
def explore(values: dict[str, Any]) -> int:
    """Reward-free exploration by every player, then the Stackelberg policies on the learned model.

    The leader and its followers explore with the bonus as their only reward and soft-max
    policies; then the Stackelberg policies are planned on the learned model for the game's
    observed rewards, each follower answering the players before it.
    Writes an exploration folder (data.npz, policies.npz, gaps.json with the exact gaps of a
    finite game, manifest.json); an interrupted one continues with --resume DIR. Plan other
    rewards from the same data with plan.
    """
    opts = checked(lambda: build(ExploreOptions(), EXPLORE_OPTIONS, values))
    resumed = opts.resume is not None
    if resumed:
        reservation, manifest, opts = _resumed(Path(opts.resume), values, opts)
        if reservation is None:
            return 0
    game = make_game(RunConfig(game=opts.game))
    checked(lambda: follower_alphas(opts.alpha_f, game.n_players))
    if not resumed:
        recorded = {k: v for k, v in asdict(opts).items() if k != "resume"}
        manifest = {"format": rf.EXPLORATION_FOLDER.format, "format_version": 1,
                    "status": "running", "options": recorded, "game": game.describe(),
                    **store.provenance(), "started": store.now(), "plans": []}  # fmt: skip
        if opts.overwrite and opts.out is not None:
            _refuse_plans(Path(opts.out))
        where = opts.out or store.NewFolder("runs", f"explore-{opts.game.label}")
        reservation = checked(lambda: store.Reservation.begin(
            where, manifest, opts.overwrite, rf.EXPLORATION_FOLDER))  # fmt: skip
    INTERRUPTION["note"] = "nothing was kept"
    t0 = time.perf_counter() - float(manifest.get("elapsed_seconds") or 0.0)
    folder = None
    try:
        checked(reservation.hold)  # one process plays a folder
        if resumed:
            reservation.restart(manifest)
        print(f"exploration folder: {reservation.target}", flush=True)
        saved = (
            reservation.work / checkpoint.CHECKPOINTS_DIR / checkpoint.checkpoint_name(opts.seed)
        )
        state = saved.read_bytes() if saved.is_file() else None
        if state is not None:  # a damaged one is refused before the progress bar is drawn
            checkpoint.unpack(state, "the exploration's checkpoint")
        with progress(opts.episodes, "exploring", not opts.quiet) as advance:
            data = rf.explore(
                game, opts.episodes, opts.beta, lam=opts.lam, alpha_l=opts.alpha_l,
                alpha_f=opts.alpha_f, seed=opts.seed, progress=advance, state=state,
                checkpoint=lambda state: reservation.write_checkpoint(opts.seed, state),
                checkpoint_every=opts.checkpoint_every,
            )  # fmt: skip
        plan_file, gaps = _planned(data, None, opts.plan_lam, game)
        # Each writes a scratch file of its own that finish renames (overwrite: one left by a
        # killed process of the same id, resumed, is replaced).
        files = {rf.DATA_FILE: lambda path: data.save(path, overwrite=True),
                 rf.POLICIES_FILE: plan_file}  # fmt: skip
        files |= {} if gaps is None else {rf.GAPS_FILE: _writer(gaps)}
        manifest.update(status="complete", finished=store.now(), gaps=gaps,
                        elapsed_seconds=time.perf_counter() - t0)  # fmt: skip
        with signals_held():  # finished whole; a signal meanwhile lands once it is in place
            folder = reservation.finish(files, dumps(manifest), keep=_plans_written)
    except store.ResultsNotSavedError as err:
        raise UsageError(str(err)) from None
    except BaseException as err:
        if folder is not None:  # interrupted as it was put in place: it is complete
            INTERRUPTION["note"] = f"the finished exploration is in {folder}"
            raise
        if isinstance(err, Exception) and not isinstance(err, checkpoint.CheckpointWriteError):
            if isinstance(err, checkpoint.CheckpointError):
                where = reservation.work / checkpoint.CHECKPOINTS_DIR
                err = UsageError(f"{err}; to explore again from the start, remove {where}")
            reservation.abandon()  # a new exploration that failed leaves nothing behind
            raise err from None
        # Interrupted, or its checkpoint could not be written: kept, to be resumed.
        signum = getattr(err, "signum", None)
        reason = f"signal {signal.Signals(signum).name}" if signum else type(err).__name__
        reservation.stop(manifest, reason, elapsed_seconds=time.perf_counter() - t0)
        hint = resume_hint(reservation.work, "explore")
        if isinstance(err, checkpoint.CheckpointWriteError):
            raise UsageError(f"{err.strerror}; the exploration stopped: {hint}") from None
        INTERRUPTION["note"] = hint
        raise
    finally:
        reservation.release()
    INTERRUPTION["note"] = f"the finished exploration is in {folder}"
    if gaps is not None:
        print_gaps(f"Reward-free Stackelberg plan after K={opts.episodes} episodes", gaps)
    else:
        print("continuous game: the plan's weights w are in policies.npz (no exact gaps)")
    print(f"data: {folder / rf.DATA_FILE}, policies: {folder / rf.POLICIES_FILE}")
    return 0


def _resumed(
    folder: Path, values: dict[str, Any], given: ExploreOptions
) -> tuple[store.Reservation | None, dict, ExploreOptions]:
    """The exploration in ``folder``: reservation (None if complete), manifest, options."""
    if given.overwrite:
        raise UsageError("--resume continues an exploration in its folder, --overwrite "
                         "replaces one: not both")  # fmt: skip
    try:
        reservation, manifest = store.Reservation.resume(folder, False, rf.EXPLORATION_FOLDER)
        recorded = dict(manifest.get("options") or {})
        recorded = ExploreOptions(**{**recorded, "game": GameSpec(**recorded.get("game", {})),
                                     "resume": str(folder)})  # fmt: skip
    except (TypeError, ValueError) as err:
        raise UsageError(f"cannot resume {folder}: {err}") from None
    same_out = given.out is not None and Path(given.out) == folder
    skip = ("resume", "quiet", "checkpoint_every") + ("out",) * same_out  # a session's own
    check_unchanged(given, recorded, EXPLORE_OPTIONS, values, f"exploration in {folder}", skip)
    if manifest.get("status") == "complete":
        checked(lambda: rf.read_folder(folder, plans=True))  # whole, or refused in one line
        print(f"nothing to resume: the exploration in {folder} is complete", flush=True)
        return None, manifest, given
    if reservation.mode == "replace":  # it replaces its target once complete
        _refuse_plans(reservation.target)
    opts = replace(recorded, quiet=given.quiet, checkpoint_every=given.checkpoint_every)
    return reservation, manifest, opts


def _plans(folder: Path) -> list[str]:
    """The plans' files in ``folder`` (none if it is not a folder)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob(rf.PLAN_PREFIX + "*") if p.is_file())


def _plans_written(folder: Path) -> str | None:
    """Why not to replace ``folder`` after all: plans ``plan`` wrote into it meanwhile."""
    plans = _plans(folder)
    return f"it now holds plans ({store.shown(plans, 3)})" if plans else None


def _refuse_plans(folder: Path) -> None:
    """Refuse to replace an exploration whose folder holds plans: ``--overwrite`` deletes them."""
    plans = _plans(folder)
    if plans:
        raise UsageError(
            f"{folder} holds plans ({store.shown(plans, 3)}) that --overwrite would delete: "
            "move them or choose another --out"
        )


# ---------------------------------------------------------------------- plan
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
    """An .npz with one array, rewards (2, H, S, A, B) of a finite game or theta (2, H, d) (with N
    followers 1+N players and the action axes A_0 … A_N)."""
    lam: float = 1.0
    """λ, the ridge of the plan's regressions."""
    name: str | None = None
    """Name of the plan's files plan-NAME.{npz,json}: letters, digits and _.=,+- (default: from
    the rewards; never an existing file's)."""

    def __post_init__(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        if self.rewards is not None and (self.game or self.param or self.game_file):
            raise ValueError("give --rewards, or a game (--game, --param, --game-file), not both")
        real(self.lam, "lam", low=0.0, low_open=True)


PLAN_OPTIONS = options(PlanOptions())
PLAN_WAIT = 60.0  # seconds a plan waits for another process using its folder to end


def _given_rewards(path: Path, data: rf.ExplorationData) -> tuple:
    """The checked array ``rewards`` or ``theta`` at ``path``, its name, the game with it."""
    arrays = checked(lambda: _files.read_npz(path, what="rewards file"))
    names = sorted(arrays)
    if names not in (["rewards"], ["theta"]):
        raise UsageError(
            f"{path} must hold one array, rewards (2, H, S, A, B) or theta (2, H, d); "
            f"it holds {', '.join(names) or 'none'}"
        )
    key, rewards = names[0], arrays[names[0]]
    expected = "(2, H, S, A, B)" if key == "rewards" else "(2, H, d)"
    if rewards.ndim != expected.count(",") + 1 and not (key == "rewards" and rewards.ndim > 5):
        raise UsageError(f"{path}: {key} has shape {rewards.shape}, expected {expected}")
    checked(lambda: rf.known_rewards(data, rewards))
    if not data.is_finite or data.transitions is None:
        return rewards, key, None
    table = np.einsum("...d,mhd->mh...", data.features, rewards) if rewards.ndim == 3 else rewards
    try:
        return rewards, key, games_mod.FiniteGame(
            data.features, data.initial_distribution, transitions=data.transitions,
            rewards=table, name="explored game, given rewards",
        )  # fmt: skip
    except ValueError:
        return rewards, key, None


@command(PLAN_OPTIONS, argument("folder", "An exploration folder written by explore.", "DIR"))
def plan(values: dict[str, Any]) -> int:
    """Plan the Stackelberg policies for other rewards from the data of an exploration folder.

    The same game with other parameters (--param zero_sum=true), another game with the same
    transitions, or given rewards (--rewards FILE.npz). Writes plan-NAME.npz (pi_l, pi_f and w;
    with N followers pi_0 … pi_N and w) and plan-NAME.json (the exact gaps) into the folder.
    """
    folder = values.pop("folder")
    opts = checked(lambda: build(PlanOptions(), PLAN_OPTIONS, values))
    manifest, data = checked(lambda: rf.read_folder(folder, plans=True))
    # One plan at a time: each picks a free name and adds its record to the manifest.
    held = checked(lambda: store.lock(folder, rf.EXPLORATION_FOLDER, wait=PLAN_WAIT))
    try:
        manifest = checked(lambda: store.read_complete(folder, rf.EXPLORATION_FOLDER))
        return _plan(folder, opts, manifest, data)
    finally:
        os.close(held)


def _plan(folder: Path, opts: PlanOptions, manifest: dict, data: rf.ExplorationData) -> int:
    if opts.rewards is not None:
        rewards, kind, game = _given_rewards(Path(opts.rewards), data)
        description = {"rewards_file": str(opts.rewards), "array": kind}
        label = Path(opts.rewards).stem
    else:
        spec = checked(lambda: _game_spec(manifest, opts.game, opts.param, opts.game_file))
        game = checked(spec.make)  # its transitions checked with the plan
        rewards, description = game, {"game": game.describe()}
        given = [f"{k}={v}" for k, v in opts.param.items()]
        label = Path(spec.file).stem if spec.file else "-".join([spec.name, *given])
    name = _plan_name(folder, opts.name, label)  # checked before the plan is computed
    plan_file, gaps = checked(lambda: _planned(data, rewards, opts.lam, game))
    stems = (rf.PLAN_PREFIX + name + f"-{n}" * (n > 1) for n in itertools.count(1))
    stem = next(s for s in stems if not any((folder / (s + e)).exists() for e in (".npz", ".json")))
    record = {"name": stem, "lam": opts.lam, **description, "gaps": gaps, "planned": store.now()}
    manifest.setdefault("plans", []).append(
        {k: v for k, v in record.items() if k != "game"} | {"files": [f"{stem}.npz"]}
    )
    try:
        store.write_file(folder, stem + ".npz", plan_file, exclusive=True)
        store.write_file(folder, stem + ".json", _writer(record), exclusive=True)
        store.write_file(folder, store.MANIFEST_FILE, _writer(manifest))
    except OSError as err:
        raise UsageError(f"cannot write to {folder}: {err.strerror or err}") from None
    if gaps is not None:
        print_gaps(f"Stackelberg plan for {label} from K={data.episodes} episodes", gaps)
    print(f"plan: {folder / (stem + '.npz')}, {folder / (stem + '.json')}")
    return 0


def _plan_name(folder: Path, given: str | None, label: str) -> str:
    """The plan's NAME in plan-NAME.{npz,json}, its files' names fitting the file system.

    ``given`` (``--name``) is refused if it is not such a name as it is, or too long, before the
    plan is computed; ``label`` (the default) is made one and shortened to fit.
    """
    name = re.sub(r"[^A-Za-z0-9_.=,+-]+", "_", given or label).strip("_.") or "rewards"
    if given is not None and name != given:
        raise UsageError(
            f"--name must be letters, digits and _.=,+- (neither _ nor . first or last), got "
            f"{given!r}"
        )
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    # The longest name written: its scratch .tmp-plan-NAME-N.json-PID (N: a free number).
    longest = f"{_files.TMP_PREFIX}{rf.PLAN_PREFIX}{name}-9999.json-4194304"
    room = len(name) - (len(longest.encode()) - name_max)
    if room >= len(name):
        return name
    if given is not None:
        raise UsageError(
            f"--name is too long: {len(name)} characters, at most {max(room, 0)} in {folder} "
            f"(its file system's names are at most {name_max} bytes)"
        )
    return name[: max(room, 1)].strip("_.") or "rewards"


def _game_spec(manifest: dict, name: str | None, given: dict, game_file: str | None) -> GameSpec:
    """The game to plan for: ``--game-file``, or the explored game with ``--game``/``--param``."""
    if game_file is not None:
        return GameSpec(file=game_file, name=name, params=given or {})
    explored = (manifest.get("game") or {}).get("registered") or {}
    recorded = (manifest.get("options") or {}).get("game") or {}
    if name is None and not explored and recorded.get("file"):  # that file, if still that game
        if given:
            raise ValueError(
                f"the explored game is the file {recorded['file']}: --param needs --game NAME "
                "(a registered game with the explored transitions), or give --game-file"
            )
        return GameSpec(file=recorded["file"], sha256=recorded.get("sha256"))
    name = name or explored.get("name")
    if name is None:
        raise ValueError(
            "the explored game was not a registered one: give --game or --game-file, or --rewards"
        )
    base = dict(explored.get("params") or {}) if name == explored.get("name") else {}
    # Keep the explored parameters that the registry would not take back as given (None).
    return GameSpec(name, {k: v for k, v in {**base, **given}.items() if v is not None})
