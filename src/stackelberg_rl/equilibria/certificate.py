"""How far the uniform mixture of K policy pairs is from equilibrium: a two-sided certificate.

The coarse correlated Stackelberg equilibrium of a run (Definition 6, Corollary 1; math.md §4)
draws ``k`` uniformly from ``0 … K-1`` and plays ``(π_l^k, π_f^k)`` — with ``N`` followers the
profile ``(π_0^k, …, π_N^k)`` (SPEC §7). Its ``ε`` for the leader at a state ``x`` is

    ε_l(x) = max_{π'_l} (1/K) Σ_k V_l^{π'_l, π_f^k}(x) − (1/K) Σ_k V_l^{π_l^k, π_f^k}(x),

and likewise for every follower. The deviator does not see ``k``, which makes ``ε`` hard to
compute; :func:`certificate` brackets it for every player, at every state and at the initial
distribution:

- **upper bound**: the mean over ``k`` of each player's best-response gap against the others'
  ``π^k`` (a deviator that sees ``k`` can do no better; the quantity Corollary 1 bounds);
- **lower bound**: the gain of explicit deviations that do not see ``k`` (best responses to
  single episodes' opponent policies and to their average, and the player's own policies of
  single episodes), each evaluated exactly against the whole mixture.

All values come from backward passes batched over ``chunk`` episodes at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import _validate
from ..games.base import FiniteGame, action_axes
from ..planning import (
    best_response,
    check_policies,
    policy_names,
    stackelberg_equilibrium,
    start_values,
)


@dataclass(frozen=True)
class Certificate:
    """Bounds on the ``ε`` of the uniform mixture of ``K`` policy profiles, for every player.

    Attributes:
        episodes: ``K``.
        upper: ``(1+N, S)`` the mean best-response gap at each state (leader, then followers).
        lower: ``(1+N, S)`` the best gain of a ``k``-blind deviation at each state.
        upper_initial: ``(1+N,)`` the upper bound at the initial distribution.
        lower_initial: ``(1+N,)`` the lower bound at the initial distribution (one deviation
            for all initial states, the best of the candidates there).
        mixture_value: ``(1+N, S)`` ``(1/K) Σ_k V_m^{π^k}(x)``, every player.
        deviations: how many candidate deviations each player's lower bound tried.
    """

    episodes: int
    upper: np.ndarray
    lower: np.ndarray
    upper_initial: np.ndarray
    lower_initial: np.ndarray
    mixture_value: np.ndarray
    deviations: int

    @property
    def upper_worst(self) -> np.ndarray:
        """``(1+N,)`` the upper bound at the worst state: ``max_x upper(x)``."""
        return self.upper.max(axis=1)

    @property
    def lower_worst(self) -> np.ndarray:
        """``(1+N,)`` the lower bound at the worst state: ``max_x lower(x)``."""
        return self.lower.max(axis=1)


# ---------------------------------------------------------------------- batched backward passes
def _stack(game: FiniteGame, given: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every player's policies of every episode, ``pi_i (K, H, S, A_0, …, A_i)``, checked."""
    policies = [np.asarray(pi, dtype=np.float64) for pi in given]
    K = len(policies[0]) if policies and policies[0].ndim else 0
    ndims = [4 + i for i in range(game.n_players)]
    if [p.ndim for p in policies] != ndims or any(len(p) != K for p in policies) or K == 0:
        axes = action_axes(game.n_players)
        names = " and ".join(
            f"{name} (K, H, S, {', '.join(axes[: i + 1])})"
            for i, name in enumerate(policy_names(game.n_players))
        )
        raise ValueError(
            f"need {names} with the same K >= 1, got shapes "
            f"{' and '.join(str(p.shape) for p in policies)}"
        )
    for k in range(K):
        try:
            check_policies(game, *(p[k] for p in policies))
        except ValueError as err:
            raise ValueError(f"episode {k}: {err}") from None
    return policies


def _chunks(K: int, chunk: int):  # slices of at most chunk episodes
    return (slice(lo, min(K, lo + chunk)) for lo in range(0, K, chunk))


def episode_gaps(game: FiniteGame, *policies: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Each episode's best-response gap of each player at every state: ``(K, 1+N, S)``.

    ``policies``: ``pi_l (K, H, S, A)``, ``pi_f (K, H, S, A, B)``; with ``N`` followers
    ``pi_i (K, H, S, A_0, …, A_i)`` for ``i = 0 … N``. ``gaps[k, 0] = V_l^{BR_l(π_f^k), π_f^k} −
    V_l^{π^k}`` (eq. (8)) and ``gaps[k, 1] = V_f^{π_l^k, BR_f(π_l^k)} − V_f^{π^k}`` (eq. (7));
    ``gaps[k, m]`` player ``m``'s against the others' ``π^k`` (SPEC §7). The upper bound of the
    certificate of the first ``K'`` episodes is their mean over ``k < K'``, so one pass gives it
    for every prefix.
    """
    policies = _stack(game, policies)
    K = len(policies[0])
    gaps = np.empty((K, game.n_players, game.n_states))
    for sl in _chunks(K, chunk):
        V = start_values(game, [p[sl] for p in policies])[0]  # (2 rows, 2, n, S)
        gaps[sl] = np.moveaxis(V[1] - V[0], 0, 1)
    return gaps


# ---------------------------------------------------------------------- the certificate
def certificate(
    game: FiniteGame,
    *policies: np.ndarray,
    single_episodes: int | Sequence[int] = 8,
    seed: int = 0,
    chunk: int = 256,
) -> Certificate:
    """Upper and lower bounds on each player's ``ε`` for the uniform mixture of the profiles.

    Args:
        game: the game.
        policies: every player's policy of every episode, in order of moves: ``pi_l (K, H, S,
            A)`` and ``pi_f (K, H, S, A, B)``; with ``N`` followers ``pi_i (K, H, S, A_0, …,
            A_i)``.
        single_episodes: the episodes ``j`` whose opponent policy each player best-responds to,
            and whose own policy it tries, as candidate deviations: a number (the first, the
            last, and others drawn without replacement with ``seed``) or the indices.
        seed: seed of that draw.
        chunk: episodes per batched backward pass.

    Returns:
        The :class:`Certificate`; ``lower <= upper`` at every state (both are exact values of
        the policies they stand for; the test suite also checks them against brute force).
    """
    policies = _stack(game, policies)
    K, n = len(policies[0]), len(policies)
    js = _single_episodes(K, single_episodes, seed)
    p0 = game.initial_distribution

    # Pass 1: the pairs' values and every player's best-response value, episode by episode.
    total = np.zeros((2, n, game.n_states))  # rows: the pairs', the best responses'
    for sl in _chunks(K, chunk):
        total += start_values(game, [p[sl] for p in policies])[0].sum(axis=2)
    mixture, best = total / K
    upper = best - mixture

    # Candidate deviations that do not see k, each evaluated exactly against the whole mixture.
    means = [p.mean(axis=0) for p in policies]
    lower, lower_initial = np.empty((n, game.n_states)), np.empty(n)
    for m in range(n):
        candidates = [best_response(game, m, [p[j] for p in policies])[0] for j in js]
        candidates.append(best_response(game, m, means)[0])
        candidates.extend(policies[m][j] for j in js)
        gains = np.stack([_against_mixture(game, m, c, policies, chunk) for c in candidates])
        lower[m] = gains.max(axis=0) - mixture[m]
        lower_initial[m] = (gains @ p0).max() - p0 @ mixture[m]
    return Certificate(
        episodes=K,
        upper=upper,
        lower=lower,
        upper_initial=upper @ p0,
        lower_initial=lower_initial,
        mixture_value=mixture,
        deviations=len(candidates),
    )


def _single_episodes(K: int, spec: int | Sequence[int], seed: int) -> list[int]:
    if _validate.is_integer(spec):
        spec = _validate.integer(spec, "single_episodes", low=0)
        ends = [0, K - 1][: min(spec, 2)]
        rest = list(range(1, K - 1))
        n_more = min(max(spec - len(set(ends)), 0), len(rest))
        drawn = np.random.default_rng(seed).choice(rest, size=n_more, replace=False)
        return sorted({*ends, *(int(k) for k in drawn)})
    return sorted({_validate.index(j, K, "single_episodes") for j in spec})


def _against_mixture(
    game: FiniteGame, player: int, deviation: np.ndarray, policies: list[np.ndarray], chunk: int
) -> np.ndarray:
    """``(1/K) Σ_k V_m^{deviation, others^k}(x)``: ``(S,)``, for the deviating ``player``."""
    K = len(policies[0])
    total = np.zeros(game.n_states)
    for sl in _chunks(K, chunk):
        batch = [p[sl] for p in policies]
        batch[player] = np.broadcast_to(deviation, (sl.stop - sl.start, *deviation.shape))
        total += start_values(game, batch, best=False)[0][0, player].sum(axis=0)
    return total / K


def zero_sum_gap(game: FiniteGame, cert: Certificate) -> dict:
    """For a zero-sum game: the mixture's distance to the Stackelberg value, and exploitability.

    Returns:
        ``value_gap_initial`` ``|p0·V_l^mix − p0·V_l^SE|``, ``value_gap_worst`` (over states),
        and the mixture's exploitability, the sum of both players' ``ε``, bracketed as the sums
        of their bounds: ``exploitability_lower`` and ``exploitability_upper`` at the initial
        distribution.
    """
    _, _, values = stackelberg_equilibrium(game)
    p0 = game.initial_distribution
    gap = np.abs(cert.mixture_value[0] - values.V[0, 0])
    return {
        "value_gap_initial": float(abs(p0 @ cert.mixture_value[0] - p0 @ values.V[0, 0])),
        "value_gap_worst": float(gap.max()),
        "exploitability_lower": float(cert.lower_initial.sum()),
        "exploitability_upper": float(cert.upper_initial.sum()),
    }
