"""Text normalisation for the safety screen: one spelling for many ways of typing a thing."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "", "\u2018": "", "'": "", "`": "", "\u02bc": ""})
_REPEATS = re.compile(r"(\w)\1{2,}")
_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")

TYPOS: dict[str, str] = {
    "sucide": "suicide",
    "suicde": "suicide",
    "suiside": "suicide",
    "sucidal": "suicidal",
    "suicidle": "suicidal",
    "kil": "kill",
    "kll": "kill",
    "myslef": "myself",
    "mysef": "myself",
    "mself": "myself",
    "dye": "die",
    "ded": "dead",
    "wanna": "want to",
    "gonna": "going to",
    "gunna": "going to",
    "im": "i am",
    "ive": "i have",
    "hes": "he is",
    "shes": "she is",
    "theyre": "they are",
    "theyll": "they will",
    "u": "you",
    "ur": "your",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "hubby": "husband",
    "cant": "cannot",
    "can not": "cannot",
    "wont": "will not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "wouldnt": "would not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "aint": "am not",
    "rn": "right now",
    "atm": "right now",
    "pls": "please",
    "plz": "please",
    "thru": "through",
    "tho": "though",
    "nite": "night",
    "anymore": "any more",
}
"""Whole-word rewrites: common typos, contractions typed without apostrophes, and slang."""

_TYPO_PATTERN = re.compile(r"\b(" + "|".join(re.escape(k) for k in TYPOS) + r")\b")


def normalize(text: str) -> str:
    """Lower-case, accent-free, apostrophe-free, one space between words, typos mended.

    ``"I DON'T want to live anymore!!!"`` becomes ``"i do not want to live any more"``.
    """
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = folded.translate(_APOSTROPHES)
    folded = _REPEATS.sub(r"\1\1", folded)
    folded = _NON_WORD.sub(" ", folded)
    folded = _SPACES.sub(" ", folded).strip()
    return _TYPO_PATTERN.sub(lambda m: TYPOS[m.group(1)], folded)
