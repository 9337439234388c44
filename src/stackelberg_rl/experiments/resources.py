"""How much memory a run needs, estimated before anything is allocated, and how much there is.

A size that cannot be allocated is refused, before the game is built and before the first episode.
"""

from __future__ import annotations

import math

import numpy as np

from .. import games as games_mod
from ..games.registry import available_bytes
from ..games.registry import gib as _gib
from .config import GameSpec, RunConfig
from .loop import column_dtype, columns
from .plan_history import plans_bytes

PROCESS_BYTES = 200 * 2**20  # a worker process's own footprint (interpreter, libraries, kernels)
PLANNING_TABLES = 12  # arrays of H·S·A·B floats alive at once while a regret is evaluated


def gib(n: float) -> str:
    """``n`` bytes in a short human form, GiB at most (``1.5 GiB``, ``300 MiB``)."""
    return _gib(n, largest="GiB")


def n_players(spec: GameSpec) -> int:
    """``1+N`` of the game ``spec`` names, before it is built (nothing but a file's header read).

    From a registered game's ``n_followers`` (default 1), or a game file's ``features`` axes; 2 if
    the file cannot tell (building the game then names what is wrong with it).
    """
    if spec.file is None:
        return 1 + getattr(games_mod.info(spec.name).parse(spec.params), "n_followers", 1)
    return max(games_mod.npz.n_players(spec.file) or 2, 2)


def row_bytes(n_players: int) -> int:
    """The bytes of one row of a run's results table (:func:`~.loop.columns`) in memory."""
    return sum(np.dtype(column_dtype(name)).itemsize for name in columns(n_players))


def learner_bytes(config: RunConfig, game: games_mod.Game) -> int:
    """One learner's statistics after ``K`` episodes (buffers doubling: up to ``2K`` rows).

    Per episode ``8·(H·d + H·(1+N) + (H−1)·(1+J))`` bytes, ``J = ∏|A_i|``; the feature table
    transposed, ``S·d·J`` entries (a feature map: ``(H−1)·d·J`` per episode); ``Λ⁻¹`` and ``w``.
    """
    agent = config.agent
    if agent.kind in ("random", "oracle"):
        return 0
    rows = 2 * config.episodes
    itemsize = 4 if agent.dtype == "float32" else 8
    H, d, J = game.horizon, game.dim, math.prod(game.action_counts)
    samples = rows * 8 * (H * d + H * game.n_players + (H - 1) * (1 + J))
    if isinstance(game, games_mod.FiniteGame):
        table = game.n_states * d * J * itemsize
    else:
        table = rows * (H - 1) * d * J * itemsize
    return samples + table + H * d * d * 8 * 3


def planning_bytes(game: games_mod.Game) -> int:
    """The work arrays of one episode's regret or plan: ``H·S·J`` or two steps' ``R·d·N`` states."""
    J = math.prod(game.action_counts)
    if isinstance(game, games_mod.ContinuousGame):
        sample = game.evaluation
        states = sample.n_replications * game.dim * sample.n_points
        states = max(states, sample.initial_weights.size)
        return 2 * PLANNING_TABLES * states * J * 8
    players = game.n_players / 2  # PLANNING_TABLES counts two players' arrays
    return int(PLANNING_TABLES * players * game.horizon * game.n_states * J * 8)


def sizes(game: games_mod.Game) -> str:
    """The sizes that drive memory, for messages: ``H=…, |S|=…, |A|=…, |B|=…`` (``|A_i|``)."""
    if isinstance(game, games_mod.ContinuousGame):
        sample = game.evaluation
        where = f"states in [0,1]^2, N={sample.n_points}, R={sample.n_replications}"
    else:
        where = f"|S|={game.n_states}"
    names = ("A", "B") if game.n_players == 2 else [f"A_{i}" for i in range(game.n_players)]
    counts = ", ".join(f"|{n}|={k}" for n, k in zip(names, game.action_counts, strict=True))
    return f"H={game.horizon}, {where}, {counts}"


def run_bytes(config: RunConfig, game: games_mod.Game, workers: int) -> dict[str, int]:
    """Estimated peak memory of the run, by part: ``total``, ``per_worker``, ``main``.

    A worker holds the game, one seed's learners, the work arrays of regret, its rows (and plans)
    and a checkpoint; the main process the game, every seed's rows and plans, and a checkpoint
    per worker.
    """
    learners = game.n_players if config.agent.decentralised else 1
    rows = config.episodes * row_bytes(game.n_players)
    if config.save_plans:  # kept as they are made, sent back, written from the main process
        rows += plans_bytes(config.episodes, game.horizon, game.dim, game.n_players)
    if isinstance(game, games_mod.ContinuousGame):  # each worker holds a copy of the game
        the_game = game.nbytes
    else:
        names = ("features", "initial_distribution", "_transitions", "_rewards", "mu", "theta")
        the_game = sum(int(getattr(getattr(game, name, None), "nbytes", 0)) for name in names)
    learner = learner_bytes(config, game)
    checkpoint = learner // 2 + rows
    per_worker = PROCESS_BYTES + the_game + learners * learner + planning_bytes(game) + rows
    per_worker += checkpoint
    main = the_game + rows * config.seeds + max(workers, 1) * checkpoint
    total = main + (workers * per_worker if workers > 1 else per_worker - PROCESS_BYTES - the_game)
    return {"total": total, "per_worker": per_worker, "main": main}


def refuse_memory(need: int | None, subject: str, detail: str = "", advice: str = "") -> None:
    """``MemoryError`` if ``subject`` needs more than the memory available (both known)."""
    have = available_bytes()
    if need is not None and have is not None and need > have:
        raise MemoryError(
            f"{subject} needs about {gib(need)} of memory{detail}, but only {gib(have)} is "
            f"available{advice}"
        )


def check_game_fits(config: RunConfig) -> None:
    """Refuse (``MemoryError``) a game whose construction alone would not fit in memory."""
    spec = config.game
    what = f"game file {spec.file}" if spec.file else f"game {spec.name} with {spec.params}"
    refuse_memory(spec.estimate_bytes(), f"building {what}")


def check_results_fit(config: RunConfig) -> None:
    """Refuse (``MemoryError``) a run whose rows alone (``1+N`` players') would not fit."""
    need = config.seeds * config.episodes * row_bytes(n_players(config.game))
    seeds = f"{config.seeds} seed{'s' * (config.seeds != 1)}"
    alone = f" (its results alone: {seeds} × K={config.episodes} episodes)"
    fewer = "fewer seeds or fewer episodes" if config.seeds > 1 else "fewer episodes"
    refuse_memory(need, "the run", alone, ": use " + fewer)


def check_run_fits(config: RunConfig, game: games_mod.Game, workers: int) -> dict[str, int]:
    """Refuse (``MemoryError``) a run whose peak memory exceeds what there is; the estimate."""
    need = run_bytes(config, game, workers)
    per = f"{gib(need['per_worker'])} per worker × {workers}" if workers > 1 else "one process"
    if need["main"] >= need["total"] / 2:  # the rows dominate
        advice = f": use fewer seeds ({config.seeds} now) or fewer episodes"
    else:
        advice = f": use fewer episodes{', fewer workers,' * (workers > 1)} or a smaller game"
    detail = f" ({per}; K={config.episodes}, d={game.dim}, {sizes(game)})"
    refuse_memory(need["total"], "the run", detail, advice)
    return need
