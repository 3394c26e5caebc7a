"""Loaded content as typed, read-only objects."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template

from core.content.program import ProgramContent
from core.content.schema import CommandGroupSpec, CommandSpec, FlowSpec

_template = functools.lru_cache(maxsize=4096)(Template)
"""One parsed ``Template`` per distinct text: texts are few and rendered again and again."""


@dataclass(frozen=True, slots=True)
class Texts:
    """Every text of one locale by key, rendered with safe substitution."""

    locale: str
    by_key: Mapping[str, str]

    def render(self, key: str, values: Mapping[str, str] | None = None) -> str:
        """Return the text for ``key`` with ``$placeholders`` filled from ``values``.

        ``string.Template.safe_substitute`` is used, so text that came from a person can
        never reach into other values or raise.

        Raises:
            KeyError: if ``key`` is not a text of this locale (prevented by validation).
        """
        text = self.by_key[key]
        return _template(text).safe_substitute(values or {}) if "$" in text else text


@dataclass(frozen=True, slots=True)
class Content:
    """All of Mend's content, validated at load."""

    locales: Mapping[str, Texts]
    default_locale: str
    flows: Mapping[str, FlowSpec]
    command_groups: tuple[CommandGroupSpec, ...]
    program: ProgramContent = field(default_factory=ProgramContent)

    @property
    def texts(self) -> Texts:
        """The default locale's texts."""
        return self.locales[self.default_locale]

    @property
    def commands(self) -> dict[str, CommandSpec]:
        """Every command by name."""
        return {c.name: c for g in self.command_groups for c in g.commands}
