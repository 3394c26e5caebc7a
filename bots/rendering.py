"""Rendering helpers every adapter shares: splitting long texts at natural boundaries."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters.

    Paragraphs (blank-line separated) are kept whole where they fit; a paragraph longer than
    ``limit`` is split at line breaks, then at spaces, and only as a last resort mid-word.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for paragraph in _units(text, limit):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = paragraph
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def _units(text: str, limit: int) -> list[str]:
    """Paragraphs, each broken down further until every unit fits ``limit``."""
    units: list[str] = []
    for paragraph in text.split("\n\n"):
        paragraph = paragraph.strip("\n")
        if len(paragraph) <= limit:
            units.append(paragraph)
            continue
        units.extend(_break(paragraph, limit))
    return [u for u in units if u]


def _break(block: str, limit: int) -> list[str]:
    for separator in ("\n", " "):
        if separator not in block:
            continue
        parts: list[str] = []
        current = ""
        for word in block.split(separator):
            if len(word) > limit:
                parts += [current, *_break(word, limit)]
                current = ""
                continue
            candidate = f"{current}{separator}{word}" if current else word
            if len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current)
                current = word
        parts.append(current)
        return [p for p in parts if p.strip()]
    return [block[i : i + limit] for i in range(0, len(block), limit)]
