"""What a sweep gains from the local cores, and what Ray costs over local processes.

A sweep of ``settings`` runs of about 5 s on the demo game is played, interleaved, by one worker,
a pool of all local cores (started inside the timing) and a local Ray of as many CPUs (started
before, its start reported apart). Goals: all cores ≥ 0.9× their number faster than one; Ray at
most 15% slower than the pool. The load average, which the speed-up suffers from first, is shown.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from ..agents import AgentConfig
from ..experiments import GameSpec, RunConfig, load_run
from ..sweep import name_settings, run_grid
from . import interleaved, median, table

ALPHAS = ("fixed-K", "anytime", "power:1,0.25", "power:1,0.75")


def grid(episodes: int, settings: int) -> list:
    """The benchmark's sweep: ``settings`` settings (α schedules, then seeds), one seed each."""
    configs = [
        RunConfig(
            game=GameSpec("random-linear", {}),
            episodes=episodes,
            seeds=1,
            seed=i // len(ALPHAS),
            eval_every=10,
            agent=AgentConfig(beta=0.2, alpha_l=ALPHAS[i % len(ALPHAS)]),
        )
        for i in range(settings)
    ]
    return name_settings(configs)


def _start_ray(cores: int):
    """A local Ray of ``cores`` CPUs and the seconds it took to start, or ``(None, None)``."""
    try:
        import ray

        t0 = time.perf_counter()
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False}
            ray.init(num_cpus=cores, logging_level=logging.ERROR, **options)
        return ray, time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001 - the other figures stand without Ray
        print(f"(Ray left out: {type(err).__name__}: {err})")
        return None, None


def run_benchmarks(
    episodes: int = 4000,
    settings: int = 4,
    repeats: int = 3,
    use_ray: bool = True,
    cores: int | None = None,
) -> list[dict]:
    """Rows ``{"case", "median_s", "runs_s", "ratio", "note"}`` of the sweep's variants."""
    cores = cores or os.cpu_count() or 1
    tasks = grid(episodes, settings)
    load_before = os.getloadavg()[0]
    ray, ray_start = _start_ray(cores) if use_ray else (None, None)
    variants = {"one": {"workers": 1}, "all": {"workers": cores}}
    if ray is not None:
        variants["ray"] = {"backend": "ray"}
    playing: dict[str, list[float]] = {"one": [], "all": []}
    try:
        with tempfile.TemporaryDirectory(prefix="stackelberg-rl-bench-sweep-") as tmp:
            root = Path(tmp)

            def play(key: str, i: int) -> None:
                outcome = run_grid(tasks, root / f"{key}-{i}", progress=False, **variants[key])
                if outcome.failed:
                    raise RuntimeError(f"the benchmark sweep failed: {outcome.summary()}")

            # Untimed: compiled kernels loaded in this process and (for Ray) in its workers.
            warm = grid(20, min(settings, cores))
            run_grid(warm, root / "warm-local", workers=1, progress=False)
            if ray is not None:
                run_grid(warm, root / "warm-ray", backend="ray", progress=False)
            times = interleaved({key: lambda i, k=key: play(k, i) for key in variants}, repeats)
            for key in playing:  # the seconds the seeds spent playing (their wall_time)
                for i in range(repeats):
                    tables = [load_run(root / f"{key}-{i}" / s.name)[0] for s in tasks]
                    played = sum(df.groupby("seed")["wall_time"].max().sum() for df in tables)
                    playing[key].append(float(played))
    finally:
        if ray is not None:
            ray.shutdown()
    load = f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    one, every = median(times["one"]), median(times["all"])
    # The seeds' own playing time, side by side against alone: what sharing the machine costs
    # them, whatever the sweep does around them.
    slowdown = median(playing["all"]) / median(playing["one"])

    def row(case: str, key: str, ratio: float | None, note: str, **more) -> dict:
        seconds = {"median_s": median(times[key]), "runs_s": times[key]}
        return {"case": case, **seconds, "ratio": ratio, "note": note, **more}

    rows = [
        row(
            f"local, 1 worker ({settings} settings × 1 seed, K = {episodes})", "one", None,
            f"{one / settings:.2f} s per run; {load}",
        ),
        row(
            f"local, {cores} workers", "all", one / every,
            f"speed-up over 1 worker (goal >= {0.9 * cores:.1f}); "
            + (f"the runs side by side took {slowdown:.2f}x their time alone (the cores share "
               f"caches and memory), so at most {cores / slowdown:.2f}x is possible here"
               if one / settings >= 1.0 else f"runs of {one / settings:.2f} s are too short "
               "to measure it: the workers' start-up is most of the time (give more episodes)"),
            slowdown=slowdown,
        ),
    ]  # fmt: skip
    if ray is not None:
        rows.append(
            row(
                f"ray, local cluster of {cores} CPUs", "ray", median(times["ray"]) / every,
                f"time over local {cores} workers (goal <= 1.15); cluster start "
                f"{ray_start:.1f} s, not included",
            )
        )  # fmt: skip
    return rows


def format_rows(rows: list[dict]) -> str:
    """The rows as a plain table."""
    columns = [
        ("case", "<52", "case"),
        ("median", ">9", lambda r: f"{r['median_s']:.2f}s"),
        ("ratio", ">7", lambda r: None if r["ratio"] is None else f"{r['ratio']:.2f}x"),
        ("note", "", "note"),
    ]
    return "\n".join(table(rows, columns))
