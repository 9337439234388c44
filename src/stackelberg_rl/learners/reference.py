"""A plain from-scratch soft-max LSVI-UCB, the baseline of the benchmarks and a cross-check."""

from __future__ import annotations

import numpy as np

from .functional import optimistic_q, soft_policies
from .lsvi_ucb import SoftmaxLSVIUCB


class ReferenceLSVIUCB(SoftmaxLSVIUCB):
    """A straightforward vectorised soft-max LSVI-UCB: every plan starts from scratch.

    It keeps the stored next states, and at each plan rebuilds their features, inverts ``Λ`` and
    recomputes every bonus with numpy — no cache, no downdates, no compiled code. It is the
    baseline of ``stackelberg-rl bench`` and a cross-check of :class:`SoftmaxLSVIUCB`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_states: list[list] = [[] for _ in range(self.H)]

    def record(self, h: int, x, a: int, b: int, r_l: float, r_f: float, x_next, **kw) -> None:
        """Store the transition and its next state."""
        super().record(h, x, a, b, r_l, r_f, x_next, **kw)
        self._next_states[h].append(x_next)

    def _update_inverse(self, refresh: bool) -> None:
        self.Lambda_inv = np.linalg.inv(self.Lambda)

    def _backward(self, refresh: bool) -> None:
        for h in range(self.H - 1, -1, -1):
            phi, r = self.observations(h)
            y = r.copy()
            if h < self.H - 1 and len(y):
                psi = self.feature_map(np.asarray(self._next_states[h]))  # (n, A, B, d)
                Q = optimistic_q(psi, self.w[:, h + 1], self.Lambda_inv[h + 1], self.beta, self.H)
                y += soft_policies(Q, self.alpha_l, self.alpha_f)[4]  # V_{h+1}: (n, 2)
            self.w[:, h] = (self.Lambda_inv[h] @ (phi.T @ y)).T
