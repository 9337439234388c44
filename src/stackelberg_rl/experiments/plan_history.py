"""A run's plans: what replays the policy of every episode, bit for bit (``run --save-plans``).

Episode ``k`` plays the plan in force at its start (Algorithm 1, lines 4–20; math.md §9):
``w (1+N, H, d)``, ``α_0 … α_N``, ``β`` per plan, and ``Λ_h^{-1}``, which the learner rebuilds
exactly from the features played. Per seed: ``phi (K, H, d)``, ``plan_episode (P,)``,
``w (P, 1+N, H, d)``, ``alpha (P, 1+N)`` (``inf``: greedy), ``beta (P,)``, ``lam ()``. A run
folder holds every seed's in one ``plans.npz`` (group ``seed{s}``), checked when read
(:class:`PlansFileError` naming the array).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._files import load, pack, write_atomic
from .._validate import first_index, integer
from ..learners.base import player_name

PLANS_FILE = "plans.npz"
PLANS_FORMAT = "stackelberg-rl/plans"
PLANS_VERSION = 2
NORM_TOL = 1e-9
"""``‖φ‖₂ ≤ 1 + NORM_TOL`` (math.md §1), as the learners check it."""


class PlansFileError(ValueError):
    """A plans file (or a saved mixture) that is missing, truncated, foreign or inconsistent."""


@dataclass(frozen=True)
class Plans:
    """Everything that replays one seed's policies: the arrays of the module docstring."""

    phi: np.ndarray
    plan_episode: np.ndarray
    w: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    lam: float

    ARRAYS = ("phi", "plan_episode", "w", "alpha", "beta", "lam")

    episodes = property(lambda self: self.phi.shape[0], doc="``K``.")
    horizon = property(lambda self: self.phi.shape[1], doc="``H``.")
    dim = property(lambda self: self.phi.shape[2], doc="``d``.")
    n_plans = property(lambda self: len(self.plan_episode), doc="``P``.")
    n_players = property(lambda self: self.w.shape[1], doc="``1+N``.")

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return sum(int(a.nbytes) for a in self.to_arrays().values())

    def episode_plan(self) -> np.ndarray:
        """``(K,)`` the plan each episode plays: ``max{p : plan_episode[p] ≤ k}``."""
        return np.searchsorted(self.plan_episode, np.arange(self.episodes), side="right") - 1

    def prefix(self, episodes: int) -> Plans:
        """The plans of the first ``episodes`` episodes (those made before their end)."""
        episodes = integer(episodes, "episodes", low=1, high=self.episodes)
        P = int(np.searchsorted(self.plan_episode, episodes, side="left"))
        return Plans(
            self.phi[:episodes], self.plan_episode[:P], self.w[:P], self.alpha[:P],
            self.beta[:P], self.lam,
        )  # fmt: skip

    def validate(self, where: str = "plans") -> None:
        """Raise :class:`PlansFileError` naming the first array that is wrong and how."""

        def bad(name: str, what: str) -> PlansFileError:
            return PlansFileError(f"{where}: {name} {what}")

        a = self.to_arrays()
        for name, ndim in (("phi", 3), ("plan_episode", 1), ("w", 4), ("alpha", 2), ("beta", 1)):
            if a[name].ndim != ndim:
                raise bad(name, f"has {a[name].ndim} axes (shape {a[name].shape}), expected {ndim}")
            if name != "plan_episode" and a[name].dtype != np.float64:
                raise bad(name, f"has dtype {a[name].dtype}, expected float64")
        pe = a["plan_episode"]
        if pe.dtype.kind not in "iu":
            raise bad("plan_episode", f"has dtype {pe.dtype}, expected int")
        if a["lam"].shape != () or a["lam"].dtype != np.float64:
            raise bad("lam", f"has shape {a['lam'].shape}, expected a float64 scalar")
        (K, H, d), P, n = a["phi"].shape, len(pe), a["w"].shape[1]
        if K < 1 or H < 1 or d < 1:
            raise bad("phi", f"has shape {(K, H, d)}: no episode, step or feature")
        if n < 2:
            raise bad("w", f"has shape {a['w'].shape}: fewer than two players on axis 1")
        for name, shape in {"w": (P, n, H, d), "alpha": (P, n), "beta": (P,)}.items():
            if a[name].shape != shape:
                raise bad(name, f"has shape {a[name].shape}, expected {shape}")
        if P == 0 or pe[0] != 0:
            raise bad("plan_episode", "must start with a plan at episode 0")
        if (np.diff(pe) <= 0).any() or pe[-1] >= K:
            raise bad("plan_episode", f"must increase strictly within [0, {K})")
        for name in ("phi", "w", "beta", "lam"):
            if not np.isfinite(a[name]).all():
                raise bad(
                    name, f"has a non-finite entry at index {first_index(~np.isfinite(a[name]))}"
                )
        if np.isnan(a["alpha"]).any() or (a["alpha"] < 0).any():
            raise bad("alpha", "must be >= 0 (inf: greedy)")
        if (a["beta"] < 0).any():
            raise bad("beta", "must be >= 0")
        if not float(a["lam"]) > 0:
            raise bad("lam", f"must be > 0, got {float(a['lam'])!r}")
        norms = np.sqrt(np.einsum("khd,khd->kh", a["phi"], a["phi"]))
        if norms.max() > 1 + NORM_TOL:
            k, h = (int(i) for i in np.unravel_index(int(norms.argmax()), norms.shape))
            raise bad("phi", f"at episode {k}, step {h} has norm {float(norms[k, h])!r} > 1")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name."""
        return {name: np.asarray(getattr(self, name)) for name in self.ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str = "", where: str = "plans") -> Plans:
        """The plans named ``prefix + name`` in ``arrays``, checked.

        Raises:
            PlansFileError: an array is missing or wrong.
        """
        missing = [prefix + n for n in cls.ARRAYS if prefix + n not in arrays]
        if missing:
            raise PlansFileError(f"{where}: no array {missing[0]}")
        plans = cls(**{n: np.asarray(arrays[prefix + n]) for n in cls.ARRAYS})
        plans.validate(where)
        return replace(plans, lam=float(plans.lam))


# ---------------------------------------------------------------------- recording a run's plans
class PlanRecorder:
    """Keeps the plans made in a run: :meth:`after_plans` after every player's ``begin_episode``.

    Args:
        players: the ``1+N`` LSVI-UCB players in order of moves (the leader first), sharing one
            learner (centralised) or each with its own (decentralised: their plans must agree).
    """

    def __init__(self, *players) -> None:
        for m, player in enumerate(players):
            if not hasattr(player, "learner"):
                raise ValueError(
                    f"save_plans needs LSVI-UCB players; the "
                    f"{player_name(m, len(players))} is {type(player).__name__}"
                )
        self.players, self.learner = players, players[0].learner
        self._episodes, self._w, self._params = [], [], []  # params: (α_0, …, α_N, β)

    def after_plans(self, k: int) -> None:
        """Record the plan made at the start of episode ``k``, if one was (decentralised: one)."""
        leader, *followers = self.players
        L = self.learner
        own = [p for p in followers if p.learner is not L]  # the decentralised players
        if any(p.replanned != leader.replanned for p in own):
            raise RuntimeError(
                f"episode {k}: some decentralised players re-planned and others did not"
            )
        if not leader.replanned:
            return
        params = _params(L)
        if any(not np.array_equal(L.w, p.learner.w) or params != _params(p.learner) for p in own):
            raise RuntimeError(
                f"episode {k}: the decentralised players' plans differ; they should be one"
            )
        self._episodes.append(k)
        self._w.append(L.w.copy())
        self._params.append(params)

    def state_dict(self) -> dict:
        """The plans so far: ``episode (P,)``, ``w (P, 1+N, H, d)``, ``params (P, 2+N)``."""
        L = self.learner
        return {
            "episode": np.array(self._episodes, dtype=np.int64),
            "w": np.array(self._w, dtype=np.float64).reshape(-1, L.n_players, L.horizon, L.dim),
            "params": np.array(self._params, dtype=np.float64).reshape(-1, L.n_players + 1),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state`` (``ValueError`` if it does not fit)."""
        L = self.learner
        try:
            episode, w, params = (np.asarray(state[k]) for k in ("episode", "w", "params"))
        except KeyError as err:
            raise ValueError(f"the plan recorder's state has no {err.args[0]}") from None
        P, n = len(episode), L.n_players
        if w.shape != (P, n, L.horizon, L.dim) or params.shape != (P, n + 1):
            raise ValueError(
                f"the plan recorder's state has w {w.shape} and params {params.shape} for "
                f"{P} plans of {n} players, H={L.horizon}, d={L.dim}"
            )
        self._episodes = [int(k) for k in episode]
        self._w = list(w.astype(np.float64))
        self._params = [tuple(float(v) for v in row) for row in params]

    def finish(self) -> Plans:
        """The run's plans, with the features the learner recorded (checked)."""
        L, state = self.learner, self.state_dict()
        if len(set(L.n_samples.tolist())) != 1:
            raise RuntimeError(
                f"the steps have different numbers of samples: {L.n_samples.tolist()}"
            )
        phi = np.stack([L.observations(h)[0] for h in range(L.horizon)], axis=1)
        alpha, beta = state["params"][:, :-1], state["params"][:, -1]
        plans = Plans(
            np.ascontiguousarray(phi, dtype=np.float64), state["episode"], state["w"],
            np.ascontiguousarray(alpha), np.ascontiguousarray(beta), float(L.lam),
        )  # fmt: skip
        plans.validate("the recorded plans")
        return plans


def _params(learner) -> tuple[float, ...]:
    return (*(float(a) for a in learner.alphas), float(learner.beta))


# ---------------------------------------------------------------------- the file
def write_plans(path: Path, plans: dict[int, Plans]) -> None:
    """Write every seed's plans to ``path`` (a container, uncompressed), whole or not at all."""
    tree = {f"seed{seed}": p.to_arrays() for seed, p in plans.items()}
    write_atomic(path, pack(PLANS_FORMAT, PLANS_VERSION, tree, {"seeds": sorted(plans)}))


def read_plans(path: Path, seed: int) -> Plans:
    """Seed ``seed``'s plans from a run folder's plans file, checked.

    Raises:
        PlansFileError: the file is missing, truncated, foreign or inconsistent, or does not
            hold this seed.
    """
    head, tree = load(path, PLANS_FORMAT, PLANS_VERSION, what="plans file", error=PlansFileError)
    seeds = head.get("seeds")
    if not isinstance(seeds, list) or seed not in seeds or f"seed{seed}" not in tree:
        raise PlansFileError(f"{path} holds no plans of seed {seed} (seeds {seeds})")
    return Plans.from_arrays(tree[f"seed{seed}"], "", f"{path} (seed {seed})")


def plans_bytes(episodes: int, horizon: int, dim: int, n_players: int = 2) -> int:
    """Bytes of one seed's plans when it plans every episode (the most there can be)."""
    per_plan = 8 * (n_players * (horizon * dim + 1) + 1)  # w, alpha, beta
    return episodes * (8 * horizon * dim + per_plan + 8)


def bytes_per_episode(plans: Plans) -> float:
    """The plans' bytes over their episodes (what ``--save-plans`` costs on disk per episode)."""
    return plans.nbytes / plans.episodes if plans.episodes else math.nan
