"""Finding words meant for people in source code: the adapters must hold none of them."""

from __future__ import annotations

import ast
import re
from string import Template

from core.content import Content

_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
_LOGGERS = {"log", "logger", "_LOGGER", "logging"}


def looks_like_prose(value: str) -> bool:
    return " " in value.strip() and re.search(r"[^\W\d_]{3,}", value) is not None


def literal_text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with ``{}`` where its values go."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
            for part in node.values
        )
    return None


def prose_literals(source: str) -> list[str]:
    """String literals in ``source`` that read like words for people.

    Docstrings (any bare string statement), log calls and raised exceptions are skipped:
    they are for developers and operators, never sent to a chat.
    """
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        ignored: ast.AST | None = None
        is_docstring = isinstance(node, ast.Expr) and literal_text(node.value) is not None
        if is_docstring or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _LOG_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in _LOGGERS
        ):
            ignored = node
        elif isinstance(node, ast.Raise):
            ignored = node.exc
        elif isinstance(node, ast.JoinedStr):  # judged whole, not part by part
            ignored = node
            skipped.update(id(n) for n in ast.walk(node) if n is not node)
            continue
        if ignored is not None:
            skipped.update(id(n) for n in ast.walk(ignored))
    found: list[str] = []
    for node in ast.walk(tree):
        text = literal_text(node)
        if text is not None and id(node) not in skipped and looks_like_prose(text):
            found.append(text)
    return found


def line_pattern(line: str) -> str:
    """A content line as a regex: literal text, any value where a placeholder is."""
    parts: list[str] = []
    position = 0
    for match in Template.pattern.finditer(line):
        parts.append(re.escape(line[position : match.start()]))
        named = match.group("named") or match.group("braced")
        parts.append(".+?" if named else re.escape("$"))
        position = match.end()
    parts.append(re.escape(line[position:]))
    return "".join(parts)


def content_lines(content: Content) -> list[re.Pattern[str]]:
    """Every non-blank line of every content text, as a pattern (see ``line_pattern``)."""
    return [
        re.compile(line_pattern(line))
        for text in content.texts.by_key.values()
        for line in text.splitlines()
        if line.strip()
    ]


def not_from_content(text: str, patterns: list[re.Pattern[str]]) -> list[str]:
    """The lines of ``text`` that no content line accounts for."""
    return [
        line
        for line in text.splitlines()
        if line.strip() and not any(p.fullmatch(line) for p in patterns)
    ]
