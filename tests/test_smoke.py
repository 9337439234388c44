import numpy as np

from stackelberg_rl import random_linear, regret, stackelberg_equilibrium


def test_stackelberg_solution_has_no_regret():
    game = random_linear(6, 2, 3, 4, 3, seed=0)
    pi_l, pi_f, _ = stackelberg_equilibrium(game)
    r_l, r_f = regret(game, pi_l, pi_f, 0, int(np.argmax(pi_l[0, 0])))
    assert abs(r_l) < 1e-9 and abs(r_f) < 1e-9
