"""``demo`` (what ``make demo`` runs): the paper's headline, regret against K, on the demo game.

A small sweep (:func:`~stackelberg_rl.sweep.run_grid`) of three agents over ``K``; its help says
what it plays and why.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agents import AgentConfig
from ..experiments import ExecutionOptions, GameSpec, NewFolder, RunConfig
from ..report.analysis import slope_lines
from ..report.page import write_sweep_report
from ..sweep import Setting, run_grid
from .errors import INTERRUPTION, PROG, checked
from .options import SWEEP_OPTIONS, build, command, options, restated

AGENTS = {  # centralised, with the demo's beta
    "fixed-K": {},
    "anytime": {"alpha_l": "anytime", "alpha_f": "anytime"},
    "greedy": {"kind": "greedy-lsvi-ucb", "schedule": "doubling"},
}
FOLDER = NewFolder("runs", "demo")
"""A new folder each time (``runs/demo-YYYYmmdd-HHMMSS``): the demo never replaces one."""


@dataclass
class DemoOptions:
    """What the demo sweeps: the game, the K of each run, the seeds and β."""

    game: GameSpec = field(default_factory=lambda: GameSpec("random-linear", {}))
    """The game (the demo game: random-linear with its default sizes)."""
    episodes: str = "250,500,1000,2000,4000"
    """K of each run, comma-separated: each agent plays one run of every K."""
    seeds: int = 4
    """Independent runs per agent and K (seeds seed, seed + 1, ...)."""
    seed: int = 0
    """Base seed."""
    beta: float | str = 0.2
    """Bonus scale β of every agent: a number >= 0, or theory."""

    def __post_init__(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        self.settings()

    def grid(self) -> list[int]:
        """The ``K`` of each run, increasing (``ValueError`` unless distinct and positive)."""
        try:
            Ks = [int(k) for k in str(self.episodes).split(",") if k.strip()]
        except ValueError:
            Ks = []
        if len(Ks) < 2 or any(k < 1 for k in Ks) or len(set(Ks)) != len(Ks):
            raise ValueError(  # two K at least: the demo fits slopes of regret against K
                f"episodes must be two or more distinct positive integers separated by commas, "
                f"e.g. 250,500,1000, got {self.episodes!r}"
            )
        return sorted(Ks)

    def settings(self) -> list[Setting]:
        """One setting per agent and ``K``, named ``AGENT-KK`` (e.g. ``fixed-K-K250``)."""
        return [
            Setting(f"{name}-K{K}", RunConfig(
                game=self.game, episodes=K, seeds=self.seeds, seed=self.seed,
                agent=AgentConfig(beta=self.beta, decentralised=False, **agent),
            ))
            for name, agent in AGENTS.items()
            for K in self.grid()
        ]  # fmt: skip


DEMO = DemoOptions()
DEMO_OPTIONS = options(DEMO)
EXECUTION_OPTIONS = restated(
    SWEEP_OPTIONS,
    {
        "--out": "The sweep folder. Default: a new folder runs/demo-YYYYmmdd-HHMMSS each time. An "
        "existing one must be empty or hold a sweep: running the demo into it again skips the "
        "complete settings and continues the others (with the same options).",
        "--workers": "Worker processes, each playing one seed of a setting at a time, the longest "
        "first (default: every core); 1 plays in this process.",
    },
    ("--out", "--workers", "--quiet", "--checkpoint-every"),
)


def description() -> str:
    """What ``demo`` runs (its ``--help``)."""
    sizes = ", ".join(f"{k}={v}" for k, v in DEMO.game.resolved().items())
    Ks = ", ".join(str(k) for k in DEMO.grid())
    return (
        f"The demo (make demo): the paper's headline, regret against K.\n\n"
        f"On {DEMO.game.name} ({sizes}) with beta = {DEMO.beta}, three agents: soft-max LSVI-UCB "
        "with the paper's fixed-K alpha = log|A|·sqrt(K)/H, soft-max with the anytime alpha = "
        "log|A|·sqrt(k+1)/H at episode k (k+1 for K), both re-planning every episode, and greedy "
        "LSVI-UCB (alpha = inf), re-planning on doubling of det Lambda (measured to leave its "
        f"regret unchanged; it changes the soft-max ones). Each plays K = {Ks} episodes, "
        f"{DEMO.seeds} seeds each: "
        f"{len(AGENTS) * len(DEMO.grid())} runs, their seeds in parallel processes, a sweep "
        "folder of one run folder per setting (as stackelberg-rl sweep writes). It prints each "
        "player's log-log slope of total regret against K with its 95% interval over seeds, and "
        "the share of the regret that is soft-max bias (the regret of soft-max play with the same "
        "alpha on the true model), and writes report.html with the figures. It writes a new "
        f"folder {FOLDER.parent}/{FOLDER.stem}-YYYYmmdd-HHMMSS each time; with --out DIR, "
        "running it again goes on where it stopped."
    )


@command(DEMO_OPTIONS + EXECUTION_OPTIONS)
def demo(values: dict[str, Any]) -> int:
    """Run the demo's sweep, print the slopes and the bias shares, write the report."""
    chosen = checked(lambda: build(DEMO, DEMO_OPTIONS, values))
    execution = checked(lambda: build(ExecutionOptions(), EXECUTION_OPTIONS, values))
    settings = chosen.settings()  # checked when chosen was made

    def announce(folder: Path) -> None:
        print(f"sweep folder: {folder}", flush=True)
        INTERRUPTION["note"] = (
            f"workers stopped; what was played is kept in {folder}: to go on, run "
            f"{PROG} demo --out {folder} with the same options"
        )

    outcome = checked(lambda: run_grid(
        settings, Path(execution.out) if execution.out else FOLDER, workers=execution.workers,
        progress=not execution.quiet, on_folder=announce, same_settings=True,
        checkpoint_every=execution.checkpoint_every,
    ))  # fmt: skip
    folder = outcome.root
    INTERRUPTION["note"] = f"the finished sweep is in {folder}"
    if outcome.failed:
        print(outcome.summary(), file=sys.stderr, flush=True)
    report = checked(lambda: write_sweep_report(folder), writing=f"the report in {folder}")
    print("\n".join(slope_lines(report.k_curves)))  # each player's slope, the bias share
    print(f"report: {report.path}")
    return 1 if outcome.failed else 0


demo.__doc__ = description()
