"""What makes a sensible code word: the rules a couple's chosen word must pass.

A code word calls a break whenever it is typed as a whole word, so it must be a word that
never comes up by accident: one or two words of letters (any script), long enough to be
deliberate, not one of Mend's commands and not an everyday word.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from content import CONTENT_DIR
from core.text_input import clean_text, words_of
from core.yaml_io import load_yaml

MIN_CHARS = 3
"""Shortest code word, in characters (a space between two words counts)."""
MAX_CHARS = 24
"""Longest code word, in characters; the database column allows 32."""
MAX_WORDS = 2
"""A code word is one word or two."""
COMMON_WORDS_FILE = CONTENT_DIR / "codewords" / "common_en.yaml"
"""Everyday words a code word may not be (a YAML mapping with ``words``: a spaced list)."""
OFF = "off"
"""``/codeword off`` removes the couple's code word (so "off" can never be one)."""


class WordProblem(StrEnum):
    """Why a proposed code word was refused."""

    WORDS = "words"
    """None, or more than two words."""
    LETTERS = "letters"
    """Something other than letters: digits, punctuation, symbols, emoji."""
    LENGTH = "length"
    """Shorter than :data:`MIN_CHARS` or longer than :data:`MAX_CHARS`."""
    COMMAND = "command"
    """One of Mend's command names."""
    COMMON = "common"
    """Made only of everyday words."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A proposed code word after the rules.

    Attributes:
        word: the word as it would be stored (NFKC, case-folded, single spaces), or as
            far as it could be normalised when refused.
        problem: why it was refused, or None if it is a sensible code word.
    """

    word: str
    problem: WordProblem | None

    @property
    def ok(self) -> bool:
        """True if the word may be proposed."""
        return self.problem is None


def normalise(text: str) -> str:
    """``text`` as a code word is stored: cleaned, NFKC, case-folded, single spaces."""
    folded = unicodedata.normalize("NFKC", clean_text(text)).casefold()
    return " ".join(folded.split())


def _is_letters(token: str) -> bool:
    """Letters of any script, with the combining marks some scripts need after them."""
    categories = [unicodedata.category(char) for char in token]
    return bool(categories) and categories[0][0] == "L" and all(c[0] in "LM" for c in categories)


def check_codeword(text: str, commands: Iterable[str], common: frozenset[str]) -> Checked:
    """Apply the code-word rules to what a person typed after ``/codeword``.

    Args:
        text: the proposed word(s), as typed.
        commands: Mend's command names (a code word may not be one).
        common: everyday words (a one-word code word may not be one; a two-word one may
            not be made of them alone).
    """
    word = normalise(text)
    tokens = word.split()
    if not 1 <= len(tokens) <= MAX_WORDS:
        return Checked(word, WordProblem.WORDS)
    if not all(_is_letters(token) for token in tokens) or not words_of(word):
        return Checked(word, WordProblem.LETTERS)
    if not MIN_CHARS <= len(word) <= MAX_CHARS:
        return Checked(word, WordProblem.LENGTH)
    names = {name.casefold() for name in commands} | {OFF}
    if any(token in names for token in tokens):
        return Checked(word, WordProblem.COMMAND)
    if all(token in common for token in tokens):
        return Checked(word, WordProblem.COMMON)
    return Checked(word, None)


def load_common_words(path: Path = COMMON_WORDS_FILE) -> frozenset[str]:
    """The everyday words in ``path``, normalised like a code word.

    Raises:
        ValueError: if the file does not hold a ``words`` text.
    """
    data = load_yaml(path.read_text(encoding="utf-8"))
    listed = data.get("words") if isinstance(data, dict) else None
    if not isinstance(listed, str) or not listed.split():
        raise ValueError(f"{path.name} must hold a non-empty 'words' text")
    return frozenset(normalise(listed).split())


@cache
def common_words() -> frozenset[str]:
    """The shipped list of everyday English words, read once."""
    return load_common_words()
