"""Time rlberry-scool's LSVI-UCB agent on the single-agent benchmark problem.

Run with the peers environment only (``make bench-peers`` creates it); rlberry-scool is never a
dependency of ``stackelberg_rl``::

    .venv-peers/bin/python benchmarks/peers/rlberry_lsvi.py --episodes 400 --json out.json

Problem: a random tabular MDP with S=10 states, A=4 actions, horizon H=5, stationary
transitions, mean rewards in [0, 1] (deterministic), start state 0, one-hot features of
(state, action) so d = S*A = 40. It is drawn from ``numpy.random.default_rng(seed)`` and written
to an ``.npz`` file so that our own learner can be run on exactly the same problem.

Variants timed (``agent.fit(K)`` end to end: acting, Sherman-Morrison updates, planning):

* ``rlberry-plain``: ``rlberry_scool.agents.LSVIUCBAgent`` as shipped. Its planning step
  (``rlberry_scool.agents.linear.lsvi_ucb.run_lsvi``) is a pure Python loop over every stored
  sample, every step h and every action; rlberry-scool 0.7.3 has no numba path (older ``rlberry``
  releases had a ``run_lsvi_jit``; it was dropped).
* ``rlberry-numba``: the same agent with its planning step replaced by a numba ``@njit`` function
  written here, with the same loop nest (the quadratic form of every next-state feature is
  recomputed for each h, as in the shipped loop) and the same arithmetic.
* ``rlberry-numba-hoisted``: as ``rlberry-numba`` but the quadratic forms, which do not depend on
  h within one planning call, are computed once per call instead of H times. A stronger baseline.

All three compute the same Q-function representation; ``--check`` verifies this on a short run.
The numba compile time is measured in a warm-up call and reported separately (not in the timings).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

S_DEFAULT = 10
A_DEFAULT = 4
H_DEFAULT = 5
SEED_DEFAULT = 20240404
VARIANTS = ("rlberry-plain", "rlberry-numba", "rlberry-numba-hoisted")


# --------------------------------------------------------------------------------------------
# The problem
# --------------------------------------------------------------------------------------------


def make_mdp(seed: int, n_states: int, n_actions: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw a random tabular MDP: P of shape (S, A, S) and mean rewards R of shape (S, A)."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
    P /= P.sum(axis=-1, keepdims=True)  # rlberry checks |sum - 1| < 1e-15
    R = rng.uniform(0.0, 1.0, size=(n_states, n_actions))
    return P, R


def optimal_start_value(P: np.ndarray, R: np.ndarray, horizon: int, start: int) -> float:
    """Optimal expected return V*_1(start) of the finite-horizon MDP (exact backward induction)."""
    v = np.zeros(P.shape[0])
    for _ in range(horizon):
        v = (R + P @ v).max(axis=1)
    return float(v[start])


def save_mdp(path: Path, P: np.ndarray, R: np.ndarray, horizon: int, seed: int, start: int):
    """Write the problem in a form our learner can load (transitions carry a leading h axis)."""
    n_states = P.shape[0]
    mu = np.zeros(n_states)
    mu[start] = 1.0
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        transitions=P[None, ...],  # (1, S, A, S): stationary, the same at every h
        rewards=R,  # (S, A): mean reward, deterministic, in [0, 1]
        horizon=np.int64(horizon),
        seed=np.int64(seed),
        initial_distribution=mu,  # (S,): all mass on `start`
        features="one-hot (state, action): phi(s, a)[s * A + a] = 1",
    )


# --------------------------------------------------------------------------------------------
# rlberry glue (imported lazily: only the peers environment has rlberry)
# --------------------------------------------------------------------------------------------


def build_agent_classes():
    """Return (make_env, feature_map_fn, plain class, numba class, hoisted class, versions)."""
    import gymnasium
    import numba
    import rlberry
    from rlberry.envs.finite_mdp import FiniteMDP
    from rlberry_scool.agents.features import FeatureMap
    from rlberry_scool.agents.linear.lsvi_ucb import LSVIUCBAgent

    try:
        from importlib.metadata import version

        scool_version = version("rlberry-scool")
    except Exception:  # pragma: no cover - metadata missing
        scool_version = "unknown"

    class OneHotFeatures(FeatureMap):
        def __init__(self, n_states: int, n_actions: int):
            super().__init__()
            self.n_actions = n_actions
            self.shape = (n_states * n_actions,)

        def map(self, observation, action):
            phi = np.zeros(self.shape[0])
            phi[int(observation) * self.n_actions + int(action)] = 1.0
            return phi

    def feature_map_fn(env):
        return OneHotFeatures(env.observation_space.n, env.action_space.n)

    def make_env(P, R, start):
        env = FiniteMDP(R.copy(), P.copy(), initial_state_distribution=start)
        # rlberry derives v_max from reward_range; rewards are known to lie in [0, 1].
        env.reward_range = (0.0, 1.0)
        return env

    @numba.njit(cache=False)
    def plan_loop(lam_inv, rewards, feats, next_feats, n, horizon, beta, gamma, v_max):
        # Backward induction over the n stored samples; same loop nest as the shipped planner.
        d = feats.shape[1]
        n_act = next_feats.shape[1]
        w = np.zeros((horizon + 1, d))
        optimistic = 1.0 if beta > 0.0 else 0.0
        for h in range(horizon - 1, -1, -1):
            rhs = np.zeros(d)
            for t in range(n):
                best = -np.inf
                for a in range(n_act):
                    quad = 0.0
                    lin = 0.0
                    for i in range(d):
                        x_i = next_feats[t, a, i]
                        acc = 0.0
                        for j in range(d):
                            acc += lam_inv[j, i] * next_feats[t, a, j]
                        quad += x_i * acc
                        lin += x_i * w[h + 1, i]
                    q = lin + beta * np.sqrt(quad) + v_max * quad * optimistic
                    if q > v_max:
                        q = v_max
                    if q > best:
                        best = q
                target = rewards[t] + gamma * best
                for i in range(d):
                    rhs[i] += target * feats[t, i]
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += lam_inv[j, i] * rhs[j]
                w[h, i] = acc
        return w

    @numba.njit(cache=False)
    def plan_hoisted(lam_inv, rewards, feats, next_feats, n, horizon, beta, gamma, v_max):
        # Same result; the bonus of each stored next-state feature is computed once per call.
        d = feats.shape[1]
        n_act = next_feats.shape[1]
        w = np.zeros((horizon + 1, d))
        optimistic = 1.0 if beta > 0.0 else 0.0
        bonus = np.empty((n, n_act))
        for t in range(n):
            for a in range(n_act):
                quad = 0.0
                for i in range(d):
                    acc = 0.0
                    for j in range(d):
                        acc += lam_inv[j, i] * next_feats[t, a, j]
                    quad += next_feats[t, a, i] * acc
                bonus[t, a] = beta * np.sqrt(quad) + v_max * quad * optimistic
        for h in range(horizon - 1, -1, -1):
            rhs = np.zeros(d)
            for t in range(n):
                best = -np.inf
                for a in range(n_act):
                    lin = 0.0
                    for i in range(d):
                        lin += next_feats[t, a, i] * w[h + 1, i]
                    q = min(lin + bonus[t, a], v_max)
                    if q > best:
                        best = q
                target = rewards[t] + gamma * best
                for i in range(d):
                    rhs[i] += target * feats[t, i]
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += lam_inv[j, i] * rhs[j]
                w[h, i] = acc
        return w

    def _planner_subclass(name, kernel):
        class Compiled(LSVIUCBAgent):
            def _run_lsvi(self, bonus_factor):
                return kernel(
                    self.lambda_mat_inv,
                    self.reward_hist,
                    self.feat_hist,
                    self.feat_ns_all_actions,
                    self.total_time_steps,
                    self.horizon,
                    float(bonus_factor),
                    float(self.gamma),
                    float(self.v_max),
                )

        Compiled.__name__ = name
        Compiled.kernel = staticmethod(kernel)
        return Compiled

    versions = {
        "rlberry-scool": scool_version,
        "rlberry": rlberry.__version__,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "python": platform.python_version(),
    }
    classes = {
        "rlberry-plain": LSVIUCBAgent,
        "rlberry-numba": _planner_subclass("LSVIUCBNumba", plan_loop),
        "rlberry-numba-hoisted": _planner_subclass("LSVIUCBNumbaHoisted", plan_hoisted),
    }
    return make_env, feature_map_fn, classes, versions


def warm_up(kernel, d: int, n_actions: int, horizon: int) -> float:
    """Compile a numba kernel on tiny inputs of the right types; return the seconds it took."""
    t0 = time.perf_counter()
    kernel(
        np.eye(d),
        np.zeros(2),
        np.zeros((2, d)),
        np.zeros((2, n_actions, d)),
        2,
        horizon,
        1.0,
        1.0,
        float(horizon),
    )
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def run_once(cls, make_env, feature_map_fn, P, R, args, episodes: int, agent_seed: int):
    """Build a fresh agent, time ``fit(episodes)``; return (seconds, agent)."""
    env = make_env(P, R, args.start)
    agent = cls(
        env,
        horizon=args.horizon,
        feature_map_fn=feature_map_fn,
        gamma=1.0,
        bonus_scale_factor=args.beta,
        reg_factor=args.reg,
        seeder=agent_seed,
        _default_writer_kwargs={"name": "lsvi", "print_log": False},
    )
    t0 = time.perf_counter()
    agent.fit(episodes)
    return time.perf_counter() - t0, agent


def check_variants(classes, make_env, feature_map_fn, P, R, args) -> dict:
    """Run every variant on the same short run; report how far its Q-representation strays."""
    out = {}
    ref = None
    for name in args.variants:
        _, agent = run_once(classes[name], make_env, feature_map_fn, P, R, args, args.check, 1)
        if ref is None:
            ref = agent
            continue
        out[name] = {
            "episodes": args.check,
            "max_abs_diff_w_vec": float(np.max(np.abs(agent.w_vec - ref.w_vec))),
            "max_abs_diff_w_policy": float(np.max(np.abs(agent.w_policy - ref.w_policy))),
            "same_episode_rewards": bool(np.array_equal(agent._rewards, ref._rewards)),
        }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", "-K", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per numba variant")
    parser.add_argument("--plain-repeats", type=int, default=1, help="timed runs, plain variant")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=SEED_DEFAULT, help="seed of the MDP")
    parser.add_argument("--states", type=int, default=S_DEFAULT)
    parser.add_argument("--actions", type=int, default=A_DEFAULT)
    parser.add_argument("--horizon", type=int, default=H_DEFAULT)
    parser.add_argument("--start", type=int, default=0, help="initial state")
    parser.add_argument("--beta", type=float, default=1.0, help="rlberry bonus_scale_factor")
    parser.add_argument("--reg", type=float, default=1.0, help="rlberry reg_factor (lambda)")
    parser.add_argument(
        "--check",
        type=int,
        default=20,
        help="episodes of the equivalence check of the variants (0: skip)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--mdp",
        type=Path,
        default=None,
        help="write the MDP here (.npz); default: next to --json as <stem>_mdp.npz",
    )
    args = parser.parse_args(argv)

    make_env, feature_map_fn, classes, versions = build_agent_classes()
    P, R = make_mdp(args.seed, args.states, args.actions)
    d = args.states * args.actions
    v_star = optimal_start_value(P, R, args.horizon, args.start)

    mdp_path = args.mdp
    if mdp_path is None and args.json is not None:
        mdp_path = args.json.with_name(args.json.stem + "_mdp.npz")
    if mdp_path is not None:
        save_mdp(mdp_path, P, R, args.horizon, args.seed, args.start)

    problem = {
        "S": args.states,
        "A": args.actions,
        "H": args.horizon,
        "d": d,
        "features": "one-hot(state, action)",
        "transitions": "stationary, shape (1, S, A, S)",
        "seed": args.seed,
        "initial_state": args.start,
        "optimal_value_start": v_star,
        "mdp_npz": str(mdp_path) if mdp_path is not None else None,
    }
    hyper = {"gamma": 1.0, "bonus_scale_factor": args.beta, "reg_factor": args.reg}

    compile_seconds = {}
    for name in args.variants:
        kernel = getattr(classes[name], "kernel", None)
        if kernel is not None:
            compile_seconds[name] = warm_up(kernel, d, args.actions, args.horizon)

    check = check_variants(classes, make_env, feature_map_fn, P, R, args) if args.check else {}

    results = []
    for name in args.variants:
        repeats = args.plain_repeats if name == "rlberry-plain" else args.repeats
        seconds, returns = [], []
        for r in range(repeats):
            sec, agent = run_once(
                classes[name], make_env, feature_map_fn, P, R, args, args.episodes, 1000 + r
            )
            seconds.append(sec)
            returns.append(float(np.sum(agent._rewards)))
        med = statistics.median(seconds)
        record = {
            "variant": name,
            "episodes": args.episodes,
            "seconds_median": med,
            "seconds_all": seconds,
            "c_ms_per_K2": 1000.0 * med / args.episodes**2,
            "compile_seconds": compile_seconds.get(name),
            "regret_all": [args.episodes * v_star - g for g in returns],
            "check_vs_plain": check.get(name),
            "problem": problem,
            "hyperparameters": hyper,
            "versions": versions,
            "machine": {"platform": platform.platform(), "cpus": _cpu_count()},
        }
        results.append(record)
        comp = (
            ""
            if record["compile_seconds"] is None
            else f"  compile {record['compile_seconds']:.2f} s"
        )
        print(
            f"{name:24s} K={args.episodes:5d}  median {med:9.3f} s  "
            f"({record['c_ms_per_K2']:.4f} ms*K^2)  runs {[round(s, 3) for s in seconds]}{comp}",
            flush=True,
        )
    for name, c in check.items():
        print(f"check {name}: {c}")

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}" + (f" and {mdp_path}" if mdp_path else ""))
    return 0


def _cpu_count() -> int | None:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
