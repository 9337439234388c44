"""Equilibria: the CCSE of a run (Corollary 1) and how far it is from a Stackelberg equilibrium.

:class:`CCSE` replays the uniform mixture of a run's policies from its saved plans; the
certificate (:func:`certificate`) brackets each player's ``ε``, per number of episodes
(:func:`certificate_curve`); :mod:`.reward_free` finds general-sum Stackelberg equilibria. This
package comes after :mod:`stackelberg_rl.experiments`, whose run folders it reads.
"""

from ..experiments.plan_history import PlansFileError
from .ccse import (
    CCSE,
    GameMismatchError,
    NoPlansError,
    SeedNotInRunError,
    is_mixture_file,
    is_zero_sum,
)
from .certificate import Certificate, certificate, episode_gaps, zero_sum_gap
from .curve import (
    certificate_curve,
    curve_table,
    loglog_slope,
    prefix_sizes,
    slope_interval,
    upper_bound_curve,
)

__all__ = [
    "CCSE",
    "Certificate",
    "GameMismatchError",
    "NoPlansError",
    "PlansFileError",
    "SeedNotInRunError",
    "certificate",
    "certificate_curve",
    "curve_table",
    "episode_gaps",
    "is_mixture_file",
    "is_zero_sum",
    "loglog_slope",
    "prefix_sizes",
    "slope_interval",
    "upper_bound_curve",
    "zero_sum_gap",
]
