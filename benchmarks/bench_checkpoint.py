"""Checkpoint benchmark: ``.venv/bin/python benchmarks/bench_checkpoint.py``.

On the benchmark game ``random_linear(200, 4, 4, 16, 10)`` (β = 0.2, K = 1000, exact regret only
at episode 0, as ``stackelberg-rl bench``), shared and decentralised learners:

- a seed's checkpoint after k = 250, 500, 999 episodes: its size, the time to make it
  (``SeedRun.checkpoint``), to write it durably (temporary file, fsync, rename) and to restore
  it (``SeedRun.restore``, which hashes the game to check the checkpoint against it), medians
  of ``--repeats``;
- whole runs without checkpoints, with ``checkpoint_every = 60`` (the default: a run this short
  takes none) and with ``checkpoint_every = 0.25`` (several), interleaved, medians and ratios; and
  the steady-state cost at the default, a checkpoint at K = 1000 (make + write) per 60 s.

Options: --repeats 9 --episodes 1000 --json FILE
"""

import argparse
import json
import tempfile
from pathlib import Path

from stackelberg_rl._files import write_atomic
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.bench import median, seconds
from stackelberg_rl.experiments import RunConfig
from stackelberg_rl.experiments.loop import SeedRun, play
from stackelberg_rl.games import random_linear


def median_time(fn, repeats: int) -> float:
    return median([seconds(fn) for _ in range(repeats)])


def states(game, config, marks, repeats, folder: Path) -> list[dict]:
    rows = []
    seed_run = SeedRun(game, config, 0)
    for k in marks:
        while seed_run.episodes_done < k:
            seed_run.play_episode()
        data = seed_run.checkpoint()
        rows.append(
            {
                "episodes_done": k,
                "bytes": len(data),
                "make_s": median_time(seed_run.checkpoint, repeats),
                "write_s": median_time(lambda d=data: write_atomic(folder / "c.npz", d), repeats),
                "restore_s": median_time(
                    lambda d=data: SeedRun.restore(game, config, 0, d), repeats
                ),
            }
        )
    return rows


def whole_runs(game, config, repeats, folder: Path) -> dict:
    def save(data: bytes) -> None:
        write_atomic(folder / "run.npz", data)

    variants = {
        "none": dict(),
        "every_60s": dict(checkpoint=save, checkpoint_every=60.0),
        "every_0.25s": dict(checkpoint=save, checkpoint_every=0.25),
    }
    times = {name: [] for name in variants}
    counts = {name: 0 for name in variants}
    play(game, RunConfig(episodes=3, agent=config.agent, eval_every=3), 0)  # numba's cache
    for i in range(repeats):
        order = list(variants)[i % 3 :] + list(variants)[: i % 3]  # interleaved, rotated
        for name in order:
            kw = variants[name]
            made = []
            if "checkpoint" in kw:
                kw = dict(kw, checkpoint=lambda d, made=made: (made.append(1), save(d)))
            times[name].append(seconds(lambda kw=kw: play(game, config, 0, **kw)))
            counts[name] = len(made)  # the same in every repeat, up to the clock
    medians = {name: median(t) for name, t in times.items()}
    return {
        "median_s": medians,
        "checkpoints_per_run": counts,
        "ratio_60s": medians["every_60s"] / medians["none"],
        "ratio_0.25s": medians["every_0.25s"] / medians["none"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    K = args.episodes
    game = random_linear(200, 4, 4, 16, 10, seed=0)
    marks = sorted({K // 4, K // 2, K - 1})  # after the last one only the rows are kept
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-checkpoint-", dir=".") as tmp:
        folder = Path(tmp)
        for decentralised in (False, True):
            name = "decentralised" if decentralised else "shared"
            agent = AgentConfig(beta=0.2, decentralised=decentralised)
            config = RunConfig(episodes=K, agent=agent, eval_every=K)
            rows = states(game, config, marks, args.repeats, folder)
            runs = whole_runs(game, config, args.repeats, folder)
            last = rows[-1]
            runs["steady_state_at_60s"] = (last["make_s"] + last["write_s"]) / 60.0
            out[name] = {"checkpoints": rows, "runs": runs}
            print(f"{name} learner, random_linear(200, 4, 4, 16, 10), K={K}:")
            for r in rows:
                print(
                    f"  k={r['episodes_done']:5d}: {r['bytes'] / 2**20:7.2f} MiB, make "
                    f"{r['make_s'] * 1e3:7.1f} ms, write+fsync {r['write_s'] * 1e3:7.1f} ms, "
                    f"restore {r['restore_s'] * 1e3:7.1f} ms"
                )
            m = runs["median_s"]
            n = runs["checkpoints_per_run"]
            print(
                f"  whole run: none {m['none']:.3f} s, every 60 s {m['every_60s']:.3f} s "
                f"({n['every_60s']} taken, ×{runs['ratio_60s']:.3f}), every 0.25 s "
                f"{m['every_0.25s']:.3f} s ({n['every_0.25s']} taken, "
                f"×{runs['ratio_0.25s']:.3f})"
            )
            print(
                f"  steady state at the default: one K={K} checkpoint per 60 s = "
                f"{100 * runs['steady_state_at_60s']:.3f}% of the time"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
