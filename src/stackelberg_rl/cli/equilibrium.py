"""``equilibrium``: the CCSE of a run saved with ``--save-plans``, its certificate per K, export.

The mixture of one seed's episodes (Corollary 1; math.md §4), certified on prefixes of the run;
``--export`` writes it first, so that an interrupted certificate never loses it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validate, equilibria
from ..equilibria import CCSE, slope_interval
from ..experiments.config import GameSpec
from ..experiments.plan_history import PLANS_FILE, bytes_per_episode
from ..experiments.store import refuse_sweep
from ..games import FiniteGame
from ..learners.base import player_name
from .errors import UsageError, check_writable_file, checked, print_table, progress, say
from .options import argument, build, command, options


@dataclass
class EquilibriumOptions:
    """What ``equilibrium`` shows of a run's mixture, and where it writes it."""

    seed: int = 0
    """The run's seed whose mixture is shown (and exported)."""
    export: str | None = field(default=None, metadata={"metavar": "FILE"})
    """Write the mixture to this file (an .npz of its plans with a JSON header; CCSE.load reads
    it)."""
    overwrite: bool = False
    """Replace the --export file if it holds a mixture already (any other file is never
    replaced)."""
    points: int = 5
    """Prefixes of the run at which the certificate is computed, geometric up to K."""
    ratio: float = 16.0
    """The smallest prefix has K/ratio episodes."""
    single_episodes: int = 8
    """Single episodes whose opponent policy each player best-responds to, for the lower bound."""
    all_seeds: bool = True
    """Also compute the upper bound of every seed of the run: the 95% interval of its log-log
    slope is over seeds."""
    game_file: str | None = field(default=None, metadata={"metavar": "PATH"})
    """The run's game file (.npz), if it was moved since the run: its game must be the one the
    run played (the manifest's SHA-256)."""

    def __post_init__(self) -> None:
        """Raise :class:`ValueError` naming the first bad field (an unwritable ``export`` too)."""
        for name, low in (("seed", 0), ("points", 1), ("single_episodes", 0)):
            _validate.integer(getattr(self, name), name, low=low)
        _validate.real(self.ratio, "ratio", low=1.0)
        if self.export is not None:
            check_writable_file(
                Path(self.export), "--export", "mixture", equilibria.is_mixture_file,
                asks=None if self.overwrite else "--overwrite",
            )  # fmt: skip


EQUILIBRIUM_OPTIONS = options(EquilibriumOptions())


def _slope_text(value: float, over_seeds: np.ndarray | None) -> str:
    text = "nan" if not math.isfinite(value) else f"{value:+.2f}"
    mean, half = (math.nan, math.nan) if over_seeds is None else slope_interval(over_seeds)
    return text + (f" ({mean:+.2f} ± {half:.2f})" if math.isfinite(half) else "")


def show(ccse: equilibria.CCSE, opts: EquilibriumOptions) -> None:
    """Print the certificate per K of ``ccse`` (a finite game), and the upper bound's slopes."""
    game, seed, seeds = ccse.game, ccse.info.get("seed"), ccse.info.get("seeds") or []
    players = [player_name(m, game.n_players) for m in range(game.n_players)]
    sizes = equilibria.prefix_sizes(ccse.episodes, opts.points, opts.ratio)
    others = seeds if opts.all_seeds and len(seeds) > 1 else []
    slope = lambda y: equilibria.loglog_slope(sizes, y)  # noqa: E731
    total, shown = len(sizes) + len(others), sys.stdout.isatty()
    with progress(total, "[bold]certificates[/bold]", shown) as advance:
        curve = equilibria.certificate_curve(
            ccse, sizes, single_episodes=opts.single_episodes, progress=advance
        )
        per_seed = []  # the upper bound's slopes (seeds, player, where)
        for i, s in enumerate(others):
            other = ccse if s == seed else CCSE.from_run(ccse.info["run_dir"], s, game=game)
            up = equilibria.upper_bound_curve(other, sizes)  # (n, 1+N, 2): (initial, worst)
            per_seed.append(np.apply_along_axis(slope, 0, up))
            advance(len(sizes) + i + 1)
    bounds = ("lower_initial", "upper_initial", "lower_worst", "upper_worst")
    print_table(
        f"ε of the mixture of the first K episodes of seed {seed}: lower and upper bounds "
        "(math.md §4)",
        ["K", "player", "lower at x0", "upper at x0", "lower, worst x", "upper, worst x"],
        [[p.episodes if m == 0 else "", who] + [f"{getattr(p.certificate, b)[m]:.4f}"
                                                  for b in bounds]
         for p in curve for m, who in enumerate(players)],
        left=(1,),
        group=len(players),
    )  # fmt: skip
    zero_sum = curve[0].zero_sum is not None
    if zero_sum:
        print_table(
            "zero-sum: the mixture's distance to the Stackelberg value (math.md §2) and its "
            "exploitability, the sum of both players' ε",
            ["K", "|V_l^mix - V_l^SE| at x0", "same, worst x", "exploitability at x0"],
            [[p.episodes, f"{z['value_gap_initial']:.4f}", f"{z['value_gap_worst']:.4f}",
              f"[{z['exploitability_lower']:.4f}, {z['exploitability_upper']:.4f}]"]
             for p in curve for z in [p.zero_sum]],
            left=(),
        )  # fmt: skip
    if len(sizes) < 2:
        say(
            f"no slope against K: it needs two prefixes or more, and --points {opts.points} "
            f"--ratio {opts.ratio:g} give the one of K = {sizes[0]} (--points 2 or more, --ratio "
            "above 1)"
        )
        return
    uppers = np.array([[p.certificate.upper_initial, p.certificate.upper_worst] for p in curve])
    mine = np.apply_along_axis(slope, 0, uppers)  # (where, player)
    over = np.array(per_seed)
    lines = [
        "log-log slope of the upper bound against K (-0.5: 1/√K), least squares over the "
        f"{len(sizes)} prefixes, for this seed"
        + (f" (in brackets: mean ± 95% t-interval over the run's {len(seeds)} seeds)"
           if per_seed else " (one seed: no interval)")
    ]  # fmt: skip
    for m, who in enumerate(players):
        texts = [_slope_text(mine[w, m], over[:, m, w] if per_seed else None) for w in (0, 1)]
        lines.append(f"  {who}: at x0 {texts[0]}, worst x {texts[1]}")
    if zero_sum:
        lines.append(
            f"zero-sum game: Stackelberg value of the leader at x0 "
            f"{curve[-1].certificate.mixture_value[0] @ game.initial_distribution:+.4f} "
            "(mixture) against the exact solution of math.md §2 (gap in the table)"
        )
    say("\n".join(lines))


def _mixture(run_dir: Path, opts: EquilibriumOptions) -> CCSE:
    """The run's mixture of ``opts.seed``, its game from ``--game-file`` if given."""
    game = None
    if opts.game_file is not None:
        game = checked(lambda: GameSpec(file=opts.game_file).make())
    try:
        return equilibria.CCSE.from_run(run_dir, opts.seed, game=game)
    except equilibria.GameMismatchError as err:
        text = str(err).replace(  # the API's advice, as the command line takes it
            "pass the game the run played as game=",
            "put the file back at that path, or give it with --game-file PATH",
        )
        raise UsageError(f"--game-file {opts.game_file}: {text}" if game else text) from None
    except (ValueError, MemoryError) as err:
        raise UsageError(str(err)) from None


@command(
    EQUILIBRIUM_OPTIONS,
    argument("run_dir", "A run folder written by run --save-plans.", "RUN_DIR"),
)
def equilibrium(values: dict[str, Any]) -> int:
    """The coarse correlated Stackelberg equilibrium of a run saved with --save-plans.

    The CCSE is the uniform mixture of its episodes' policies (Corollary 1): its certificate
    [lower, upper] per K for every player (the leader and its followers), the upper bound's
    log-log slope, the distance to the Stackelberg value in a zero-sum game; --export writes the
    mixture.
    """
    run_dir = values.pop("run_dir")
    opts = checked(lambda: build(EquilibriumOptions(), EQUILIBRIUM_OPTIONS, values))
    checked(lambda: refuse_sweep(Path(run_dir), hint=" holding plans.npz", needs=PLANS_FILE))
    ccse = _mixture(Path(run_dir), opts)
    plans = ccse.plans
    schedule = (ccse.info.get("config") or {}).get("agent", {}).get("schedule")
    print(
        f"{ccse.game.name}: the mixture of seed {opts.seed}'s K={ccse.episodes} episodes, "
        f"{plans.n_plans} plans (schedule {schedule}), stored in {bytes_per_episode(plans):.0f} "
        "bytes per episode"
    )
    if opts.export is not None:  # first: a long certificate interrupted never loses it
        path = checked(
            lambda: ccse.save(opts.export, overwrite=opts.overwrite),
            writing=f"--export {opts.export}",
        )
        print(f"mixture written to {path} (stackelberg_rl.equilibria.CCSE.load reads it)")
    if isinstance(ccse.game, FiniteGame):
        checked(lambda: show(ccse, opts))
    else:
        print(
            "the exact certificate needs a finite game; this one has continuous states (the "
            "mixture can still be exported and played: CCSE.policy(k).policies_at)"
        )
    return 0
