"""A terminal chat on the same core and database: try Mend with no tokens at all."""

from bots.console.chat import ConsoleChat

__all__ = ["ConsoleChat"]
