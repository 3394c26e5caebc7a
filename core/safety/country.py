"""The country an IANA time zone belongs to, so crisis lines can match where a person lives.

The table comes from the ``tzdata`` package (a dependency): ``zone.tab`` gives one ISO 3166-1
alpha-2 country per canonical zone, and the ``L target alias`` lines of ``tzdata.zi`` (which
include the ``backward`` links) map old and alias names such as ``US/Eastern``,
``Asia/Calcutta`` or ``Europe/Belfast`` to a canonical zone. A zone listed in ``zone.tab``
wins over a link, so ``Europe/Jersey`` stays JE although it links to ``Europe/London``.
``iso3166.tab`` gives the set of country codes, to catch ``UK`` written for ``GB``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

_ZONEINFO_PACKAGE = "tzdata.zoneinfo"
_MAX_LINK_HOPS = 4


@dataclass(frozen=True, slots=True)
class _ZoneTable:
    """Countries by canonical zone, and the canonical zone each link names."""

    countries: dict[str, str]
    links: dict[str, str]
    codes: frozenset[str]
    folded: dict[str, str]
    """Lower-cased zone or link name to its spelling in the tables."""


def _read(name: str) -> str:
    return resources.files(_ZONEINFO_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def _parse_zone_tab(text: str) -> dict[str, str]:
    countries: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            countries[fields[2].strip()] = fields[0].strip().upper()
    return countries


def _parse_links(text: str) -> dict[str, str]:
    links: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "L":
            links[fields[2]] = fields[1]
    return links


def _parse_codes(text: str) -> frozenset[str]:
    return frozenset(
        line.split("\t")[0].strip().upper()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


@cache
def _table() -> _ZoneTable:
    """Read the tables once; an install without tzdata data maps every zone to None."""
    try:
        countries = _parse_zone_tab(_read("zone.tab"))
    except (ModuleNotFoundError, OSError):
        countries = {}
    try:
        links = _parse_links(_read("tzdata.zi"))
    except (ModuleNotFoundError, OSError):
        links = {}
    try:
        codes = _parse_codes(_read("iso3166.tab"))
    except (ModuleNotFoundError, OSError):
        codes = frozenset()
    folded = {name.lower(): name for name in (*links, *countries)}
    return _ZoneTable(countries, links, codes, folded)


def country_codes() -> frozenset[str]:
    """Return every ISO 3166-1 alpha-2 code tzdata knows (``GB``, never ``UK``).

    Returns:
        The upper-case codes; empty if the tzdata package ships no ``iso3166.tab``.
    """
    return _table().codes


def country_for_timezone(zone: str | None) -> str | None:
    """Return the ISO 3166-1 alpha-2 country of an IANA time zone.

    Args:
        zone: an IANA name such as ``Europe/London`` or an alias such as ``US/Eastern``
            (case does not matter), a stored offset such as ``UTC+05:30``, or None.

    Returns:
        The upper-case country code, e.g. ``"GB"``; None for None, offsets, zones that belong
        to no single country (``UTC``, ``Etc/GMT+5``) and names tzdata does not know.
    """
    if not zone:
        return None
    table = _table()
    name = table.folded.get(zone.strip().lower())
    for _ in range(_MAX_LINK_HOPS):
        if name is None:
            return None
        if name in table.countries:
            return table.countries[name]
        name = table.links.get(name)
    return None
