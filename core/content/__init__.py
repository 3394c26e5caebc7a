"""Loading and validating Mend's content: texts, flows and the command list."""

from core.content.catalog import Content, Texts
from core.content.errors import ContentError
from core.content.loader import load_content

__all__ = ["Content", "ContentError", "Texts", "load_content"]
