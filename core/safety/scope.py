"""Questions about what Mend is, and requests for a diagnosis.

Recognised so Mend can answer them honestly: it is an AI coach, not a human and not a
therapist, and it never diagnoses anyone.
"""

from __future__ import annotations

import re
from enum import StrEnum

from core.safety.normalize import normalize


class ScopeQuestion(StrEnum):
    """A question about Mend's limits."""

    IDENTITY = "identity"
    """"Are you a bot / a human / a therapist?\""""
    DIAGNOSIS = "diagnosis"
    """"Is my partner a narcissist?" and other requests to label someone."""


_WHAT = (
    r"(a |an )?(real |actual |live )?(bot|robot|chat ?bot|ai|machine|computer|program|human|"
    r"person|people|therapist|counsell?or|psychologist|psychiatrist|doctor|professional|"
    r"coach|licensed|qualified|certified)"
)
_IDENTITY = re.compile(
    r"\b(are|r) (you|u|ya) " + _WHAT + r"\b"
    r"|\bam i (talking|chatting|speaking|texting) (to|with) " + _WHAT + r"\b"
    r"|\b(is this|is it) " + _WHAT + r"\b"
    r"|\b(is there|are there) (a |an )?(real )?(human|person|people|someone) "
    r"(behind|reading|on the other end|answering)"
    r"|\b(who|what) (are you|r u|is this)\b"
)
_LABELS = (
    r"(narcissist|narcissistic|npd|sociopath|sociopathic|psychopath|psychopathic|bipolar|"
    r"borderline|bpd|adhd|autistic|autism|ocd|schizophrenic|depressed|depression|"
    r"personality disorder|mentally ill|toxic person|gaslighter|manipulator|avoidant|"
    r"anxious attachment|avoidant attachment|codependent)"
)
_DIAGNOSIS = re.compile(
    r"\bdiagnos(e|is|ing)\b"
    r"|\b(is|does|do|could|might|am|are|would) (my |he |she |they |i |we |you think )"
    r"[a-z ]{0,40}?" + _LABELS + r"\b"
    r"|\b(has|have) (he|she|they|i|my \w+) (got )?" + _LABELS + r"\b"
    r"|\bwhat (is|s) wrong with (him|her|them|me|my \w+)\b"
)
_LABELLED = re.compile(
    r"\b(he|she|they|i|my \w+) (is|s|has|might be|could be|must be) (a |an )?" + _LABELS + r"\b"
)


def scope_question(text: str) -> ScopeQuestion | None:
    """Return which question about Mend's limits ``text`` asks, if any.

    A diagnosis request wins over an identity question when a message asks both
    ("are you a therapist? is he a narcissist?"), because its answer covers both.
    """
    plain = normalize(text)
    if _DIAGNOSIS.search(plain) or ("?" in text and _LABELLED.search(plain)):
        return ScopeQuestion.DIAGNOSIS
    if _IDENTITY.search(plain):
        return ScopeQuestion.IDENTITY
    return None
