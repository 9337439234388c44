"""Benchmarks behind ``stackelberg-rl bench`` and ``make bench``: medians and ratios."""
