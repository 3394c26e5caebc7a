"""The one error a bad content tree raises."""


class ContentError(Exception):
    """Content failed to load or validate; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid content:\n  - " + "\n  - ".join(problems))
