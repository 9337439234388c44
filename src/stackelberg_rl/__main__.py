"""``python -m stackelberg_rl`` is the command line."""

from .cli import main

raise SystemExit(main())
