"""How far the uniform mixture of K policy profiles is from equilibrium: a two-sided certificate.

The CCSE of a run (Definition 6, Corollary 1; math.md §4) plays ``(π_0^k, …, π_N^k)`` for a
uniform ``k``; its ``ε`` for the leader at ``x`` is ``max_{π'_l} (1/K) Σ_k V_l^{π'_l, π_f^k}(x)
− (1/K) Σ_k V_l^{π_l^k, π_f^k}(x)``, likewise for every follower (math.md §9). :func:`certificate`
brackets it: the **upper bound** is the mean over ``k`` of the best-response gap against the
others' ``π^k`` (a deviator that sees ``k``; what Corollary 1 bounds), the **lower bound** the
gain of explicit deviations that do not see ``k``, evaluated exactly against the whole mixture.
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
        episodes: ``K``; deviations: how many candidate deviations each lower bound tried.
        upper, lower: ``(1+N, S)`` at each state (leader, then followers): the mean best-response
            gap, the best gain of a ``k``-blind deviation.
        upper_initial, lower_initial: ``(1+N,)`` both at the initial distribution (the lower
            one: one deviation for all initial states, the best of the candidates there).
        mixture_value: ``(1+N, S)`` ``(1/K) Σ_k V_m^{π^k}(x)``, every player.
    """

    episodes: int
    upper: np.ndarray
    lower: np.ndarray
    upper_initial: np.ndarray
    lower_initial: np.ndarray
    mixture_value: np.ndarray
    deviations: int

    upper_worst = property(lambda self: self.upper.max(axis=1), doc="``(1+N,)`` max over x.")
    lower_worst = property(lambda self: self.lower.max(axis=1), doc="``(1+N,)`` max over x.")


# ---------------------------------------------------------------------- batched backward passes
def _stack(game: FiniteGame, given: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every player's policies of every episode, ``pi_i (K, H, S, A_0, …, A_i)``, checked."""
    policies = [np.asarray(pi, dtype=np.float64) for pi in given]
    K = len(policies[0]) if policies and policies[0].ndim else 0
    ndims = [4 + i for i in range(game.n_players)]
    if [p.ndim for p in policies] != ndims or any(len(p) != K for p in policies) or K == 0:
        axes, names = action_axes(game.n_players), policy_names(game.n_players)
        names = " and ".join(
            f"{n} (K, H, S, {', '.join(axes[: i + 1])})" for i, n in enumerate(names)
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


def _passes(game: FiniteGame, policies: list[np.ndarray], chunk: int, best: bool = True):
    """``(episodes, V)``: :func:`start_values` of at most ``chunk`` episodes at a time."""
    chunk = _validate.integer(chunk, "chunk", low=1)
    K = len(policies[0])
    for lo in range(0, K, chunk):
        sl = slice(lo, min(K, lo + chunk))
        yield sl, start_values(game, [p[sl] for p in policies], best=best)[0]


def episode_gaps(game: FiniteGame, *policies: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Each episode's best-response gap of each player at every state: ``(K, 1+N, S)``.

    ``policies``: ``pi_i (K, H, S, A_0, …, A_i)`` for ``i = 0 … N``. ``gaps[k, m]`` is player
    ``m``'s against the others' ``π^k`` (eqs. (7), (8); math.md §9); their mean over ``k < K'`` is
    the upper bound of the first ``K'`` episodes' certificate.
    """
    policies = _stack(game, policies)
    gaps = np.empty((len(policies[0]), game.n_players, game.n_states))
    for sl, V in _passes(game, policies, chunk):  # V: (2 rows, 1+N, n, S)
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

    ``policies``: every player's policy of every episode, ``pi_i (K, H, S, A_0, …, A_i)``;
    ``single_episodes``: the episodes ``j`` whose opponent policy each player best-responds to,
    and whose own policy it tries, as candidate deviations: a number (the first, the last, and
    others drawn without replacement with ``seed``) or the indices; ``chunk``: episodes per
    batched backward pass (an integer ``>= 1``). Returns the :class:`Certificate`; ``lower <=
    upper`` at every state.
    """
    policies = _stack(game, policies)
    K, n = len(policies[0]), len(policies)
    js = _single_episodes(K, single_episodes, seed)
    p0 = game.initial_distribution

    # Pass 1: the profiles' values and every player's best-response value, episode by episode.
    mixture, best = sum(V.sum(axis=2) for _, V in _passes(game, policies, chunk)) / K
    upper = best - mixture

    # Candidate deviations that do not see k, each evaluated exactly against the whole mixture.
    means = [p.mean(axis=0) for p in policies]
    lower, lower_initial = np.empty((n, game.n_states)), np.empty(n)
    for m in range(n):
        candidates = [best_response(game, m, [p[j] for p in policies])[0] for j in js]
        candidates.append(best_response(game, m, means)[0])
        candidates.extend(policies[m][j] for j in js)
        gains, batch = np.zeros((len(candidates), game.n_states)), list(policies)
        for c, gain in zip(candidates, gains, strict=True):  # (1/K) Σ_k V_m^{c, others^k}
            batch[m] = np.broadcast_to(c, (K, *c.shape))
            for _, V in _passes(game, batch, chunk, best=False):
                gain += V[0, m].sum(axis=0)
        gains /= K
        lower[m] = gains.max(axis=0) - mixture[m]
        lower_initial[m] = (gains @ p0).max() - p0 @ mixture[m]
    return Certificate(K, upper, lower, upper @ p0, lower_initial, mixture, len(candidates))


def _single_episodes(K: int, spec: int | Sequence[int], seed: int) -> list[int]:
    if _validate.is_integer(spec):
        spec = _validate.integer(spec, "single_episodes", low=0)
        ends = [0, K - 1][: min(spec, 2)]
        rest = list(range(1, K - 1))
        n_more = min(max(spec - len(set(ends)), 0), len(rest))
        drawn = np.random.default_rng(seed).choice(rest, size=n_more, replace=False)
        return sorted({*ends, *(int(k) for k in drawn)})
    return sorted({_validate.index(j, K, "single_episodes") for j in spec})


def zero_sum_gap(game: FiniteGame, cert: Certificate) -> dict:
    """For a zero-sum game: the mixture's distance to the Stackelberg value, and exploitability.

    ``value_gap_initial`` ``|p0·V_l^mix − p0·V_l^SE|``, ``value_gap_worst`` (over states), and the
    mixture's exploitability (the sum of both players' ``ε``) bracketed by the sums of their
    bounds at the initial distribution: ``exploitability_lower``, ``exploitability_upper``.
    """
    V, p0 = stackelberg_equilibrium(game)[-1].V[0, 0], game.initial_distribution
    return {
        "value_gap_initial": float(abs(p0 @ cert.mixture_value[0] - p0 @ V)),
        "value_gap_worst": float(np.abs(cert.mixture_value[0] - V).max()),
        "exploitability_lower": float(cert.lower_initial.sum()),
        "exploitability_upper": float(cert.upper_initial.sum()),
    }
