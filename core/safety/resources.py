"""Crisis and domestic-abuse lines by country: the dated data set in ``content/safety``.

The file is data so it can be re-checked and corrected without touching code. Every line
carries the day it was last confirmed (``verified_on``); a test fails once any line is more
than 180 days old. Loading is strict: an unknown key, a number written as a YAML integer
(``000`` would read as 0), a web address with a scheme or a missing date fails the load with
:class:`~core.content.ContentError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from content import CONTENT_DIR
from core.content.errors import ContentError
from core.safety.country import country_codes, country_for_timezone

RESOURCES_FILE = CONTENT_DIR / "safety" / "resources.yaml"
"""The shipped data set."""

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)
_COUNTRY = r"^[A-Z]{2}$"
_NUMBER = r"^[0-9][0-9 -]*[0-9]$|^[0-9]$"
_DOMAIN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"


class LineKind(StrEnum):
    """What a line is for."""

    ABUSE = "abuse"
    """Domestic abuse: violence, threats, coercive control."""
    CRISIS = "crisis"
    """Suicide and emotional crisis."""


class HelpLine(BaseModel):
    """One organisation a person can reach.

    Attributes:
        name: the organisation or service, as it names itself.
        kind: abuse or crisis.
        contact: how to reach it, compactly: ``"call 116 123; text SHOUT to 85258"``.
            Web addresses are bare (``thehotline.org``), never with a scheme.
        source: the domain the line was confirmed on.
        verified_on: the day it was last confirmed there.
        recheck: True if widely published but not read on a primary source.
    """

    model_config = _STRICT

    name: str = Field(min_length=1)
    kind: Annotated[LineKind, Field(strict=False)]
    contact: str = Field(min_length=1)
    source: str = Field(pattern=_DOMAIN)
    verified_on: date
    recheck: bool = False

    @field_validator("contact")
    @classmethod
    def _bare_addresses(cls, contact: str) -> str:
        if "://" in contact or "www." in contact.lower():
            raise ValueError("write web addresses bare (example.org), without a scheme or www.")
        return contact


class CountryResources(BaseModel):
    """Everything Mend offers for one country, or for anywhere else (the fallback).

    Attributes:
        name: the country's English name, or a label for the fallback.
        emergency: the emergency number as text (``"000"``); None only for the fallback.
        emergency_note: a short fact about the emergency number, e.g. silent calls.
        emergency_recheck: True if the emergency number still needs confirming.
        lines: abuse and crisis lines, in the order to show them.
    """

    model_config = _STRICT

    name: str = Field(min_length=1)
    emergency: Annotated[str, Field(pattern=_NUMBER)] | None
    emergency_note: str | None = Field(default=None, min_length=1)
    emergency_recheck: bool = False
    lines: Annotated[tuple[HelpLine, ...], Field(min_length=1, strict=False)]

    def lines_of(self, kind: LineKind) -> tuple[HelpLine, ...]:
        """Return the lines of one kind, in file order.

        Args:
            kind: abuse or crisis.

        Returns:
            The matching lines; may be empty (the fallback lists no abuse line).
        """
        return tuple(line for line in self.lines if line.kind is kind)


class ResourceBook(BaseModel):
    """The whole data set: per-country resources and the international fallback.

    Attributes:
        data_version: bumped when the file's shape changes.
        compiled_on: the day the data set was compiled.
        countries: resources by ISO 3166-1 alpha-2 code (``GB``, not ``UK``).
        fallback: directories of lines for any other country; no emergency number.
    """

    model_config = _STRICT

    data_version: int = Field(ge=1)
    compiled_on: date
    countries: Mapping[Annotated[str, Field(pattern=_COUNTRY)], CountryResources]
    fallback: CountryResources

    @model_validator(mode="after")
    def _countries_and_numbers(self) -> ResourceBook:
        known = country_codes()
        unknown = sorted(code for code in self.countries if known and code not in known)
        if unknown:
            raise ValueError(f"{unknown} are not ISO 3166-1 country codes (the UK is GB)")
        missing = sorted(code for code, found in self.countries.items() if not found.emergency)
        if missing:
            raise ValueError(f"countries {missing} need an emergency number")
        if self.fallback.emergency is not None:
            raise ValueError("the fallback has no emergency number of its own: use null")
        return self

    def for_country(self, code: str | None) -> CountryResources:
        """Return the resources of a country, or the fallback.

        Args:
            code: an ISO 3166-1 alpha-2 code in any case, or None.

        Returns:
            That country's resources; the fallback if the code is None or not listed.
        """
        if code is None:
            return self.fallback
        return self.countries.get(code.strip().upper(), self.fallback)

    def for_timezone(self, zone: str | None) -> CountryResources:
        """Return the resources of the country an IANA time zone belongs to.

        Args:
            zone: e.g. ``Europe/London`` or ``US/Eastern``; offsets and None give the fallback.

        Returns:
            That country's resources, or the fallback.
        """
        return self.for_country(country_for_timezone(zone))

    def oldest_verification(self) -> date:
        """Return the earliest ``verified_on`` of any line, the fallback's included."""
        every = [*self.countries.values(), self.fallback]
        return min(line.verified_on for place in every for line in place.lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (plain YAML keeps the last silently)."""


def _mapping_without_repeats(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_repeats
)


def _parse(path: Path) -> ResourceBook:
    where = f"{path.parent.name}/{path.name}"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError([f"{where}: cannot be read ({type(exc).__name__})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f": {problem}" if problem else ""
        raise ContentError([f"{where}: is not valid YAML{line}{detail}"]) from None
    try:
        return ResourceBook.model_validate(data)
    except ValidationError as exc:
        raise ContentError(
            [
                f"{where}: {'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
                for err in exc.errors()
            ]
        ) from None


@cache
def _shipped() -> ResourceBook:
    return _parse(RESOURCES_FILE)


def load_resources(path: Path | None = None) -> ResourceBook:
    """Load and validate the crisis and abuse lines.

    Args:
        path: a resources file; None for the shipped one, read once and cached.

    Returns:
        The validated data set.

    Raises:
        ContentError: listing what is wrong: unreadable file, invalid YAML, a key given
            twice, an unknown or missing field, a number that is not text, and so on.
    """
    if path is None:
        return _shipped()
    return _parse(path)
