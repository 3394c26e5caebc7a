"""Text normalisation for the safety screen: one spelling for many ways of typing a thing.

The steps, in order: accents and case folded; laughing emoji read as ``lol``; contractions
typed with an apostrophe spelt out (``he'll`` is ``he will``, never ``hell``); digits typed
for letters inside a word read as letters (``su1cide``); letters held down shortened
(``diiiie`` is ``die``, ``sooooo`` is ``soo``); punctuation that ends a clause kept as a lone
``,`` so a negation in one clause does not reach into the next; everything else not a letter
or digit dropped; then whole-word rewrites of typos, slang and contractions typed without
an apostrophe (:data:`TYPOS`), and the few rewrites that need a neighbouring word to decide
(``ill``, ``hell``, ``dye``).
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHE_VARIANTS = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'", "\u00b4": "'", "\u2032": "'"}
)
_LAUGHING = re.compile("[\U0001f602\U0001f923\U0001f480\U0001f606\U0001f605\u2620]")
_CLAUSE_ENDS = re.compile(r"[.!?;:\n\u2026,]+|\s[-\u2013\u2014]+\s")
_NON_WORD = re.compile(r"[^a-z0-9, ]+")
_SPACES = re.compile(r"\s+")
_BOUNDARIES = re.compile(r"(?: ?, ?)+")
_LEET = re.compile(r"(?<=[a-z])[013457@$](?=[a-z])")
_LEET_LETTERS = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_RUN = re.compile(r"(\w)\1{2,}")
_HELD_WORD = re.compile(r"\w*(\w)\1{2,}\w*")


def _words(text: str) -> frozenset[str]:
    """The words of ``text``, split on white space: a readable way to write a word list."""
    return frozenset(text.split())


BOUNDARY = ","
"""The token that stands for the end of a clause in normalised text."""

_IRREGULAR_NOT = {"can't": "cannot", "won't": "will not", "ain't": "am not", "shan't": "shall not"}
_CONTRACTIONS = re.compile(r"\b(\w+)'(m|re|ve|ll|d|s)\b|\b(\w+)n't\b")
_IS_AFTER = _words(
    "he she it that what there here who where how everyone everything nobody someone "
    "something everybody somebody"
)
_SUFFIXES = {"m": "am", "re": "are", "ve": "have", "ll": "will", "d": "would"}

KEYWORDS_HELD_DOWN = _words(
    "die dead kill help please pls bye goodbye scared now hurts hurt alone done sorry gone "
    "tired hate stop"
)
"""Words that, typed with a letter held down, shorten to one letter rather than two.

A held-down word that shortens to a key of :data:`TYPOS` (``kiiil``) does too."""

TYPOS: dict[str, str] = {
    # suicide and its misspellings, euphemisms and slang
    "sucide": "suicide",
    "suicde": "suicide",
    "suiside": "suicide",
    "suicid": "suicide",
    "sucicide": "suicide",
    "suecide": "suicide",
    "suacide": "suicide",
    "sewerslide": "suicide",
    "sewer slide": "suicide",
    "sewer sliding": "suicide",
    "ctb": "suicide",
    "sucidal": "suicidal",
    "suicidle": "suicidal",
    "suicidial": "suicidal",
    "suicidel": "suicidal",
    "suisidal": "suicidal",
    "sucicidal": "suicidal",
    "suicdal": "suicidal",
    "kms": "kill myself",
    "kys": "kill yourself",
    "killmyself": "kill myself",
    "unalive myself": "kill myself",
    "unaliving myself": "killing myself",
    "unalive my self": "kill myself",
    "unalive me": "kill me",
    "unalive you": "kill you",
    "unalive him": "kill him",
    "unalive her": "kill her",
    "unalive them": "kill them",
    "unalive": "kill myself",
    "unaliving": "killing myself",
    "unalived": "killed myself",
    "selfharm": "self harm",
    "selfharming": "self harming",
    "s h": "self harm",
    "od": "overdose",
    "oded": "overdosed",
    "oding": "overdosing",
    "overdoze": "overdose",
    "kil": "kill",
    "kll": "kill",
    "kilt myself": "killed myself",
    "myslef": "myself",
    "mysef": "myself",
    "mself": "myself",
    "myslf": "myself",
    "meself": "myself",
    "myseld": "myself",
    "mysefl": "myself",
    "urself": "yourself",
    "ded": "dead",
    "lifes": "life is",
    "pils": "pills",
    "wnat": "want",
    "wnt": "want",
    # contractions typed without an apostrophe, and informal verb forms
    "wanna": "want to",
    "wana": "want to",
    "gonna": "going to",
    "gunna": "going to",
    "gna": "going to",
    "finna": "going to",
    "tryna": "trying to",
    "gotta": "got to",
    "lemme": "let me",
    "dunno": "do not know",
    "kinda": "kind of",
    "im": "i am",
    "ive": "i have",
    "hes": "he is",
    "shes": "she is",
    "theyre": "they are",
    "theyll": "they will",
    "theyve": "they have",
    "theyd": "they would",
    "youre": "you are",
    "youve": "you have",
    "youll": "you will",
    "youd": "you would",
    "weve": "we have",
    "itll": "it will",
    "thatll": "that will",
    "thats": "that is",
    "whats": "what is",
    "theres": "there is",
    "u": "you",
    "ur": "your",
    "cant": "cannot",
    "can not": "cannot",
    "wont": "will not",
    "dont": "do not",
    "dnt": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "wouldnt": "would not",
    "couldnt": "could not",
    "shouldnt": "should not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "aint": "am not",
    "wouldve": "would have",
    "couldve": "could have",
    "shouldve": "should have",
    # people
    "bf": "boyfriend",
    "boyf": "boyfriend",
    "gf": "girlfriend",
    "hubby": "husband",
    "hubs": "husband",
    "wifey": "wife",
    "nobody": "no one",
    "noone": "no one",
    "no1": "no one",
    "everybody": "everyone",
    "every1": "everyone",
    "evry1": "everyone",
    "somebody": "someone",
    "some1": "someone",
    "sum1": "someone",
    "ppl": "people",
    # time
    "rn": "right now",
    "atm": "right now",
    "tonite": "tonight",
    "2nite": "tonight",
    "2night": "tonight",
    "2day": "today",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tomoz": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "nite": "night",
    "anymore": "any more",
    "nomore": "no more",
    "everyday": "every day",
    # small words
    "pls": "please",
    "plz": "please",
    "plss": "please",
    "thru": "through",
    "tho": "though",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "bcuz": "because",
    "abt": "about",
    "rly": "really",
    "alot": "a lot",
}
"""Whole-word rewrites: common typos, contractions typed without apostrophes, and slang."""

_TYPO_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(TYPOS, key=len, reverse=True)) + r")\b"
)

_VERBS_AFTER_WILL = sorted(
    _words(
        "be never always just still do go kill hurt end take make try get have see tell call jump "
        "die miss leave probably definitely really not ever only text talk let keep stop find show "
        "give run lose need wait come say think know sleep pay live start send put ask survive "
        "disappear hit beat shoot stab burn post ruin destroy break throw smash report take drown "
        "strangle choke murder hunt track follow regret pay lock kick snap flip freak lose"
    )
)
_NOT_AFTER_PRONOUN = _words(
    "the a an to of in from like living through what bloody pure absolute this was am is are "
    "be been feel felt feeling so very really quite too mentally terminally seriously "
    "critically chronically gravely fell get got getting look looked looks little bit kinda "
    "fairly pretty became become"
)
_AMBIGUOUS = re.compile(
    r"(?:(?<=\s)|^)(\w+ )?(ill|hell|shell|hed|shed|id)(?= (?:"
    + "|".join(_VERBS_AFTER_WILL)
    + r")\b)"
)
_SPELT_OUT = {
    "ill": "i will",
    "hell": "he will",
    "shell": "she will",
    "hed": "he would",
    "shed": "she would",
    "id": "i would",
}
_DYE = re.compile(
    r"\bdye\b(?! (?:my|your|his|her|their|our|the|it|them|a|some|this|that|hair|in|blonde"
    r"|black|red|pink|purple|blue|green|brown|ginger|job|kit|box|pack)\b)"
)


_HAD = re.compile(r"\bwould (never |not |already |just |ever )?(been|gone|done|taken|seen|had)\b")
"""``i'd been`` is ``i had been``, not ``i would been``: the ``'d`` is read before the verb."""


def _contraction(match: re.Match[str]) -> str:
    if match.group(3) is not None:
        whole = match.group(0)
        return _IRREGULAR_NOT.get(whole, match.group(3) + " not")
    word, suffix = match.group(1), match.group(2)
    if suffix == "s":
        return f"{word} is" if word in _IS_AFTER else word + "s"
    if word == "od" and suffix == "d":
        return "overdosed"
    return f"{word} {_SUFFIXES[suffix]}"


def _held_down(match: re.Match[str]) -> str:
    word = match.group(0)
    shortest = _RUN.sub(r"\1", word)
    if shortest in KEYWORDS_HELD_DOWN or shortest in TYPOS:
        return shortest
    return _RUN.sub(r"\1\1", word)


def _ambiguous(match: re.Match[str]) -> str:
    before = match.group(1) or ""
    if before.strip() in _NOT_AFTER_PRONOUN:
        return match.group(0)
    return before + _SPELT_OUT[match.group(2)]


def normalize(text: str) -> str:
    """Lower-case, accent-free, apostrophe-free, one space between words, typos mended.

    ``"I DON'T want to live anymore!!!"`` becomes ``"i do not want to live any more"``;
    ``"he'll kill me. im scared"`` becomes ``"he will kill me , i am scared"``: a lone ``,``
    (:data:`BOUNDARY`) marks where a clause ended.
    """
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = _LAUGHING.sub(" lol ", folded)
    folded = folded.translate(_APOSTROPHE_VARIANTS)
    folded = _CONTRACTIONS.sub(_contraction, folded).replace("'", "")
    folded = _LEET.sub(lambda m: m.group(0).translate(_LEET_LETTERS), folded)
    folded = _HELD_WORD.sub(_held_down, folded)
    folded = folded.replace("&", " and ")
    folded = _CLAUSE_ENDS.sub(" , ", folded)
    folded = _NON_WORD.sub(" ", folded)
    folded = _SPACES.sub(" ", folded)
    folded = _BOUNDARIES.sub(" , ", folded).strip(" ,")
    folded = _TYPO_PATTERN.sub(lambda m: TYPOS[m.group(1)], folded)
    folded = _DYE.sub("die", folded)
    folded = _HAD.sub(r"had \1\2", folded)
    return _AMBIGUOUS.sub(_ambiguous, folded)
