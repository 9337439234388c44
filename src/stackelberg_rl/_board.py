"""The Ray backend's notice board, in a module that imports nothing.

Its actor's process starts without numba or pandas, which the driver's module would bring.
"""


class Board:
    """A Ray actor holding, of each task's progress and checkpoints, the newest not taken."""

    def __init__(self) -> None:
        self.news: dict[tuple[str, int], object] = {}

    def put(self, kind: str, index: int, value) -> None:
        self.news[kind, index] = value

    def take(self) -> dict[tuple[str, int], object]:
        news, self.news = self.news, {}
        return news
