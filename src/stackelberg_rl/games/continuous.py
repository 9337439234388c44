"""A leader-follower Markov game on the unit square, exactly linear: the ``continuous`` game.

States are points ``x ∈ [0, 1]²``; features are ``d`` action-weighted radial bases normalised to a
probability vector, transitions the mixture ``Σ_i φ_i μ_{h,i}`` of known densities, rewards
``⟨φ, θ_{m,h}⟩`` (math.md §6). The game carries its :class:`EvaluationSample`, drawn once from its
seed, so that every run and worker estimates regret on the same states.

Example:
    >>> from stackelberg_rl import games
    >>> g = games.make("continuous", n_eval_states=20)
    >>> x = g.sample_initial(np.random.default_rng(0))
    >>> phi = g.feature_map(x[None])
    >>> phi.shape, bool(np.allclose(phi.sum(-1), 1.0))
    ((1, 2, 2, 4), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._seeding import seed_sequence
from .._validate import array, distribution, fast_index, first_index, index, integer, point, real
from ._params import checked, param
from .base import SteppedGame, sha256_of
from .registry import register
from .sampling import draw

STATE_DIM = 2
"""States are points of the unit square ``[0, 1]²``."""

_EVALUATION_ARRAYS = ("states", "weights", "initial_states", "initial_weights")


class BetaDensities:
    """``μ_{h,i} = Beta(α_{h,i,0}, β_{h,i,0}) ⊗ Beta(α_{h,i,1}, β_{h,i,1})`` on ``[0, 1]²``.

    Args:
        alpha: ``(H, d, 2)`` first shape parameters, ``> 0``.
        beta: ``(H, d, 2)`` second shape parameters, ``> 0``.
        initial_alpha: ``(2,)`` of the initial density (uniform by default).
        initial_beta: ``(2,)`` of the initial density.
    """

    def __init__(self, alpha, beta, initial_alpha=(1.0, 1.0), initial_beta=(1.0, 1.0)) -> None:
        axes = ("H", "d", "coordinate")
        self.alpha = array(alpha, "alpha", shape=(None, None, STATE_DIM), axes=axes)
        H, d, _ = self.alpha.shape
        self.beta = array(beta, "beta", shape=(H, d, STATE_DIM), axes=axes)
        self.initial_alpha = array(initial_alpha, "initial_alpha", shape=(STATE_DIM,))
        self.initial_beta = array(initial_beta, "initial_beta", shape=(STATE_DIM,))
        for name, value in self.arrays().items():
            if (value <= 0).any():
                idx = first_index(value <= 0)
                name = name.removeprefix("beta_")
                raise ValueError(f"{name} is {value[idx]:.6g} at index {idx}; it must be > 0")
        self.horizon, self.dim = H, d

    def draw(self, h: int, i: int, rng: np.random.Generator) -> np.ndarray:
        """One state ``x' ~ μ_{h,i}``: ``(2,)``."""
        h, i = fast_index(h, self.horizon, "h"), fast_index(i, self.dim, "i")
        return rng.beta(self.alpha[h, i], self.beta[h, i])

    def draw_steps(self, R: int, N: int, rng: np.random.Generator) -> np.ndarray:
        """``R·N`` states from every ``μ_{h,i}``, ``h < H − 1``: ``(R, H-1, d, N, 2)``."""
        steps = self.horizon - 1
        a, b = self.alpha[None, :steps, :, None, :], self.beta[None, :steps, :, None, :]
        return rng.beta(a, b, size=(R, steps, self.dim, N, STATE_DIM))

    def draw_initial(self, R: int, N: int, rng: np.random.Generator) -> np.ndarray:
        """``R`` replications of ``N`` initial states: ``(R, N, 2)``."""
        return rng.beta(self.initial_alpha, self.initial_beta, size=(R, N, STATE_DIM))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the densities (for the game's fingerprint)."""
        return {
            "beta_alpha": self.alpha,
            "beta_beta": self.beta,
            "initial_alpha": self.initial_alpha,
            "initial_beta": self.initial_beta,
        }


class AtomDensities:
    """Densities on finitely many points: ``μ_{h,i}(points[s]) = mu[h, i, s]``.

    A continuous game with these is a finite one whose states are the points; :meth:`quadrature`
    gives the exact integrals instead of a sample.

    Args:
        points: ``(M, 2)`` points of ``[0, 1]²``.
        mu: ``(H, d, M)`` each ``mu[h, i]`` a distribution over the points.
        initial: ``(M,)`` the initial distribution over the points.
    """

    def __init__(self, points: np.ndarray, mu: np.ndarray, initial: np.ndarray) -> None:
        self.points = array(points, "points", shape=(None, STATE_DIM), axes=("M", "coordinate"))
        M = len(self.points)
        if not M:
            raise ValueError("points must have shape (M, 2) with M >= 1, got no point")
        axes = ("H", "d", "M")
        # As given (dtype=None): distribution's tolerance suits the dtype, float32's too.
        mu = array(mu, "mu", shape=(None, None, M), axes=axes, dtype=None)
        self.mu = distribution(mu, "mu", axes)
        initial = array(initial, "initial", shape=(M,), dtype=None)
        self.initial = distribution(initial, "initial", ("M",))
        self.horizon, self.dim = self.mu.shape[:2]
        self._cdf = np.cumsum(self.mu, axis=-1)
        self._initial_cdf = np.cumsum(self.initial)

    def _pick(self, cdf: np.ndarray, u: np.ndarray) -> np.ndarray:  # inverse CDF
        return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1)

    def draw(self, h: int, i: int, rng: np.random.Generator) -> np.ndarray:
        """One state ``x' ~ μ_{h,i}``: ``(2,)``."""
        h, i = fast_index(h, self.horizon, "h"), fast_index(i, self.dim, "i")
        return self.points[self._pick(self._cdf[h, i], rng.random())].copy()

    def draw_steps(self, R: int, N: int, rng: np.random.Generator) -> np.ndarray:
        """As :meth:`BetaDensities.draw_steps`: ``(R, H-1, d, N, 2)``."""
        u = rng.random((R, self.horizon - 1, self.dim, N))
        idx = np.empty(u.shape, dtype=np.intp)
        for h in range(self.horizon - 1):
            for i in range(self.dim):
                idx[:, h, i] = self._pick(self._cdf[h, i], u[:, h, i])
        return self.points[idx]

    def draw_initial(self, R: int, N: int, rng: np.random.Generator) -> np.ndarray:
        """As :meth:`BetaDensities.draw_initial`."""
        return self.points[self._pick(self._initial_cdf, rng.random((R, N)))]

    def quadrature(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The exact integrals as a one-replication sample: every point, weighted by ``mu``."""
        steps, d, M = self.horizon - 1, self.dim, len(self.points)
        states = np.broadcast_to(self.points, (1, steps, d, M, STATE_DIM)).copy()
        return states, self.mu[None, :steps].copy(), self.points[None].copy(), self.initial[None]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the densities (for the game's fingerprint)."""
        return {"atom_points": self.points, "atom_mu": self.mu, "atom_initial": self.initial}


@dataclass(frozen=True)
class EvaluationSample:
    """States on which a continuous game is planned, with quadrature weights (math.md §6).

    ``∫ μ_{h,i}(x') V(x') dx' ≈ Σ_j weights[r, h, i, j] · V(states[r, h, i, j])`` in
    replication ``r``: a Monte-Carlo sample (weights ``1/N``) or an exact quadrature.

    Attributes:
        states: ``(R, H-1, d, N, 2)``; ``states[r, h, i]`` drawn from ``μ_{h,i}`` (step ``h+1``).
        weights: ``(R, H-1, d, N)``, each ``weights[r, h, i]`` summing to one.
        features: ``(R, H-1, d·N, A, B, d)`` the features of ``states``, flattened over ``(i, j)``.
        initial_states: ``(R, N0, 2)`` drawn from the initial density.
        initial_weights: ``(R, N0)``, each row summing to one.
        initial_features: ``(R, N0, A, B, d)``.
        exact: whether the weights integrate exactly (then there is no interval to give).
    """

    states: np.ndarray
    weights: np.ndarray
    features: np.ndarray
    initial_states: np.ndarray
    initial_weights: np.ndarray
    initial_features: np.ndarray
    exact: bool = False

    @property
    def n_replications(self) -> int:
        """``R``."""
        return self.states.shape[0]

    @property
    def n_points(self) -> int:
        """``N``, states per density and replication."""
        return self.states.shape[3]

    def pooled(self) -> EvaluationSample:
        """The ``R`` replications as one sample of ``R·N`` states per density (weights ``/R``)."""
        R = self.n_replications
        if R == 1:
            return self

        def pool(a: np.ndarray, axis: int) -> np.ndarray:
            return np.concatenate(list(a), axis=axis - 1)[None]

        steps, d, N = self.states.shape[1:4]
        feats = self.features.reshape(R, steps, d, N, *self.features.shape[3:])
        return EvaluationSample(
            states=pool(self.states, 3),
            weights=pool(self.weights, 3) / R,
            features=pool(feats, 3).reshape(1, steps, d * R * N, *self.features.shape[3:]),
            initial_states=pool(self.initial_states, 1),
            initial_weights=pool(self.initial_weights, 1) / R,
            initial_features=pool(self.initial_features, 1),
            exact=self.exact,
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the sample's arrays."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))


class ContinuousGame(SteppedGame):
    """An episodic leader-follower Markov game on ``[0, 1]²``, exactly linear (math.md §6).

    It plays as a :class:`~.base.FiniteGame` does; a state is a ``(2,)`` array and ``n_states``
    is ``None``.

    Args:
        centres: ``(d, 2)`` centres ``c_i`` of the radial bases, in ``[0, 1]²``.
        bandwidth: ``σ > 0`` of the bases.
        log_weights: ``(A, B, d)`` the actions' log-weights ``ℓ_{a,b,i}`` (finite).
        theta: ``(2, H, d)`` reward vectors in ``[-1, 1]``.
        densities: :class:`BetaDensities` or :class:`AtomDensities` with ``H`` steps and ``d``
            components.
        n_eval_states: ``N`` states drawn from each density per replication for the regret
            estimate (math.md §6).
        n_replications: ``R`` independent replications (``R >= 2`` for an interval).
        eval_seed: seed (an integer or a ``SeedSequence``) of the evaluation sample.
        exact_evaluation: plan on the exact quadrature of :class:`AtomDensities` instead of a
            sample (then ``R = 1`` and there is no interval).
        name: a label used in results.
    """

    n_states = None
    """A continuous state space has no state count."""
    reward_noise = 0.0
    """Realised rewards are the mean rewards."""

    def __init__(
        self,
        centres: np.ndarray,
        bandwidth: float,
        log_weights: np.ndarray,
        theta: np.ndarray,
        densities: BetaDensities | AtomDensities,
        *,
        n_eval_states: int = 100,
        n_replications: int = 8,
        eval_seed: int | np.random.SeedSequence = 0,
        exact_evaluation: bool = False,
        name: str = "continuous",
    ) -> None:
        self.name = name
        self.centres = array(centres, "centres", shape=(None, STATE_DIM), axes=("d", "coordinate"))
        d = self.centres.shape[0]
        self.bandwidth = real(bandwidth, "bandwidth", low=0.0, low_open=True)
        axes = ("A", "B", "d")
        self.log_weights = array(log_weights, "log_weights", shape=(None, None, d), axes=axes)
        A, B, _ = self.log_weights.shape
        # Rewards are convex combinations of theta: they stay in [-1, 1] with it.
        shape, axes = (self.n_players, None, d), ("player", "H", "d")
        self.theta = array(theta, "theta", shape=shape, axes=axes, low=-1.0, high=1.0)
        H = self.theta.shape[1]
        if not isinstance(densities, BetaDensities | AtomDensities):
            raise ValueError(f"densities must be BetaDensities or AtomDensities, got {densities!r}")
        if (densities.horizon, densities.dim) != (H, d):
            raise ValueError(
                f"densities have H={densities.horizon}, d={densities.dim}; the game has H={H}, "
                f"d={d}"
            )
        if min(A, B, d, H) < 1:
            raise ValueError(f"empty game: A={A}, B={B}, d={d}, H={H}")
        self.densities = densities
        self.horizon, self.action_counts, self.dim = H, (A, B), d
        self.exact_evaluation = bool(exact_evaluation)
        if exact_evaluation:
            if not isinstance(densities, AtomDensities):
                raise ValueError("exact_evaluation needs AtomDensities (finitely many states)")
            self.evaluation = self._sample(*densities.quadrature(), exact=True)
        else:
            self.evaluation = self.draw_evaluation(n_eval_states, n_replications, eval_seed)

    def feature_map(self, states: np.ndarray) -> np.ndarray:
        """``phi (n, A, B, d)`` of the states ``(n, 2)``, each a probability vector.

        Raises:
            ValueError: for states that are not ``(n, 2)`` finite points of ``[0, 1]²``.
        """
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or states.shape[1] != STATE_DIM:
            raise ValueError(f"states must have shape (n, 2), got {states.shape}")
        outside = ~((states >= 0.0) & (states <= 1.0))  # also NaN
        if outside.any():
            row = first_index(outside)[0]
            raise ValueError(f"state {states[row].tolist()} (row {row}) is not in [0, 1]²")
        # φ_i ∝ exp(ℓ_{a,b,i} − ‖x − c_i‖²/(2σ²)), each row computed alone: the same bits whatever
        # the batch (elementwise operations, reductions over the last axis only)
        diff = states[:, None, :] - self.centres[None, :, :]  # (n, d, 2)
        sq = diff[..., 0] ** 2 + diff[..., 1] ** 2  # (n, d)
        logits = self.log_weights[None] - (sq / (2.0 * self.bandwidth**2))[:, None, None, :]
        logits -= logits.max(axis=-1, keepdims=True)  # the largest term is exp(0): never 0/0
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=-1, keepdims=True)
        return logits

    def _at(self, h: int, x: np.ndarray, actions: tuple) -> np.ndarray:
        """``φ(x, a, b) (d,)``, with ``h``, ``x`` and the actions checked."""
        a, b = self._joint(actions)
        self._step(h)
        x = point(x, "x")
        a, b = index(a, self.action_counts[0], "a"), index(b, self.action_counts[1], "b")
        return self.feature_map(x[None])[0, a, b]

    def _reward_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        return self.theta[:, h] @ phi

    def _next_state(self, h: int, phi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Exactly: ``i ~ φ(x, a, b)`` (one uniform), then ``x' ~ μ_{h,i}``."""
        return self.densities.draw(h, draw(phi, rng), rng)

    def sample_initial(self, rng: np.random.Generator) -> np.ndarray:
        """Draw ``x_0 (2,)`` from the initial density."""
        return self.densities.draw_initial(1, 1, self._rng(rng))[0, 0]

    def draw_evaluation(
        self, n_points: int, n_replications: int, seed: int | np.random.SeedSequence
    ) -> EvaluationSample:
        """``R = n_replications`` samples of ``N = n_points`` states from every density.

        The game's :attr:`evaluation` is one; ``seed`` is an integer or a ``SeedSequence``.
        """
        integer(n_points, "n_points", low=1)
        integer(n_replications, "n_replications", low=1)
        rng = np.random.default_rng(seed)
        states = self.densities.draw_steps(n_replications, n_points, rng)
        initial = self.densities.draw_initial(n_replications, n_points, rng)
        weights = np.full(states.shape[:-1], 1.0 / n_points)
        return self._sample(states, weights, initial, np.full(initial.shape[:-1], 1.0 / n_points))

    def _sample(self, states, weights, init_states, init_weights, exact=False) -> EvaluationSample:
        R, steps, d, N = weights.shape
        features = self.feature_map(states.reshape(-1, STATE_DIM))
        features = features.reshape(R, steps, d * N, *features.shape[1:])
        init_features = self.feature_map(init_states.reshape(-1, STATE_DIM))
        init_features = init_features.reshape(*init_states.shape[:2], *init_features.shape[1:])
        return EvaluationSample(
            states, weights, features, init_states, init_weights, init_features, exact=exact
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the game (its evaluation sample, mostly)."""
        own = self.centres.nbytes + self.log_weights.nbytes + self.theta.nbytes
        own += sum(a.nbytes for a in self.densities.arrays().values())
        return own + self.evaluation.nbytes

    def fingerprint(self) -> str:
        """SHA-256 of the game's arrays and its evaluation sample: equal play and estimates."""
        arrays = {
            "centres": self.centres,
            "bandwidth": np.float64(self.bandwidth),
            "log_weights": self.log_weights,
            "theta": self.theta,
            **self.densities.arrays(),
            **{f"eval_{k}": getattr(self.evaluation, k) for k in _EVALUATION_ARRAYS},
        }
        return sha256_of(arrays)

    def describe(self) -> dict:
        """What identifies the game in a manifest: name, sizes, provenance and fingerprint."""
        return {
            **self._record(state_space="[0, 1]^2"),
            "form": "continuous",
            "evaluation": {
                "method": "exact quadrature" if self.exact_evaluation else "monte-carlo",
                "n_eval_states": self.evaluation.n_points,
                "n_replications": self.evaluation.n_replications,
            },
            "sha256": self.fingerprint(),
        }

    def __repr__(self) -> str:
        return (
            f"ContinuousGame({self.name!r}, H={self.horizon}, states in [0,1]^2, "
            f"A={self.n_leader_actions}, B={self.n_follower_actions}, d={self.dim}, "
            f"N={self.evaluation.n_points}, R={self.evaluation.n_replications})"
        )


@dataclass(frozen=True)
class ContinuousParams:
    """Parameters of ``continuous``."""

    dim: int = param(
        4, "d, radial bases and mixture components (φ is a probability vector over them).", ge=1
    )
    n_leader_actions: int = param(2, "|A|, the leader's actions.", ge=1)
    n_follower_actions: int = param(2, "|B|, the follower's actions.", ge=1)
    horizon: int = param(3, "H, steps per episode.", ge=1)
    bandwidth: float = param(
        0.3,
        "σ > 0 of the radial bases exp(-‖x − c_i‖²/(2σ²)); small σ makes φ nearly one-hot.",
        gt=0.0,
    )
    tilt: float = param(
        2.0,
        "How strongly the actions steer, >= 0: their log-weights are tilt·z with z standard normal "
        "(0: the actions change nothing).",
        ge=0.0,
    )
    concentration: float = param(
        10.0,
        "κ > 0 of the densities: μ_{h,i} draws each coordinate from Beta(κm, κ(1−m)) around its "
        "mean m near the centre c_i; larger κ, more peaked.",
        gt=0.0,
    )
    seed: int = param(
        0,
        "Seed of the game's arrays, and (through a separate stream) of its evaluation sample.",
        ge=0,
    )
    n_eval_states: int = param(
        100,
        "N, states drawn from each density μ_{h,i} (and from the initial one) per replication, on "
        "which regret is estimated by planning.",
        ge=1,
    )
    n_replications: int = param(
        8,
        "R >= 2, independent samples of N states: the estimate is their mean, its 95% interval "
        "their Student-t interval.",
        ge=2,
    )


def _continuous_bytes(p: ContinuousParams) -> int:
    """The evaluation sample's features ``(R, (H-1)·d·N + N, A, B, d)``, four times (logits)."""
    A, B, d, H = p.n_leader_actions, p.n_follower_actions, p.dim, p.horizon
    points = p.n_replications * ((H - 1) * d + 1) * p.n_eval_states
    return 8 * (4 * points * A * B * d + 3 * points * STATE_DIM) + 8 * (A * B * d + 2 * H * d)


@register("continuous", ContinuousParams, nbytes=_continuous_bytes)
def continuous_game(**params) -> ContinuousGame:
    """States in the unit square, radial-basis features, a mixture of Beta densities (linear).

    Seeded construction (math.md §6): centres ``c_i ~ U([0, 1]²)``; log-weights
    ``ℓ_{a,b,i} = tilt·z`` with ``z ~ N(0, 1)``; each ``μ_{h,i}`` a product of Betas with mean
    ``m_{h,i} = clip(c_i + 0.1·N(0, I), 0.05, 0.95)`` and concentration ``κ`` — component ``i``
    leads near basis ``i``'s centre, so the state carries which component was drawn —
    ``θ_{m,h} ~ U([-1, 1]^d)`` (general-sum), and a uniform initial density. The evaluation
    sample comes from a second stream of the seed.
    """
    p = checked(ContinuousParams, **params)
    d, A, B, H = p.dim, p.n_leader_actions, p.n_follower_actions, p.horizon
    rng = np.random.default_rng(seed_sequence(p.seed, "game"))
    centres = rng.random((d, STATE_DIM))
    log_weights = p.tilt * rng.standard_normal((A, B, d))
    means = np.clip(centres[None] + 0.1 * rng.standard_normal((H, d, STATE_DIM)), 0.05, 0.95)
    theta = rng.uniform(-1.0, 1.0, size=(2, H, d))
    densities = BetaDensities(p.concentration * means, p.concentration * (1.0 - means))
    return ContinuousGame(
        centres,
        p.bandwidth,
        log_weights,
        theta,
        densities,
        n_eval_states=p.n_eval_states,
        n_replications=p.n_replications,
        eval_seed=seed_sequence(p.seed, "evaluation"),
        name=f"continuous(d={d},A={A},B={B},H={H})",
    )
