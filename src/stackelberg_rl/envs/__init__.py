"""Any finite game, ``N ≥ 1`` followers, as PettingZoo, Gymnasium and OpenSpiel environments.

:mod:`.pettingzoo`, :mod:`.gymnasium` and :mod:`.openspiel` each need the optional extra (``pip
install "stackelberg-rl[envs]"``) and raise an :class:`ImportError` naming it without; importing
this package needs none. Games are given as objects or by registered name and parameters.
"""
