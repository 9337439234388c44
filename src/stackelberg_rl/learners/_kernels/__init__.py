"""Compiled loops of the learner (numba); the numpy formulation is in :mod:`..functional`."""
