"""The crisis and abuse lines: fresh, complete per country, found by zone, strictly loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.content import ContentError
from core.safety.country import country_for_timezone
from core.safety.resources import (
    RESOURCES_FILE,
    CountryResources,
    HelpLine,
    LineKind,
    ResourceBook,
    load_resources,
)

MAX_AGE = timedelta(days=180)
COUNTRIES = {"US", "GB", "CA", "AU", "IE", "IN", "DE"}


@pytest.fixture(scope="module")
def book() -> ResourceBook:
    return load_resources()


def every_line(book: ResourceBook) -> Iterator[tuple[str, HelpLine]]:
    places: dict[str, CountryResources] = {**book.countries, "fallback": book.fallback}
    for code, place in places.items():
        for line in place.lines:
            yield code, line


def test_no_line_is_stale_or_dated_in_the_future(book: ResourceBook) -> None:
    """Goes red 180 days after a line was last confirmed: re-check it, then move its date."""
    today = date.today()
    stale = [
        f"{code} {line.name} (verified {line.verified_on})"
        for code, line in every_line(book)
        if line.verified_on < today - MAX_AGE
    ]
    future = [
        f"{code} {line.name} ({line.verified_on})"
        for code, line in every_line(book)
        if line.verified_on > today
    ]
    assert stale == [], f"re-check these lines on their sources: {stale}"
    assert future == [], f"verified_on lies in the future: {future}"
    assert book.oldest_verification() >= today - MAX_AGE


def test_oldest_verification_is_the_earliest_line(book: ResourceBook) -> None:
    assert book.oldest_verification() == min(line.verified_on for _, line in every_line(book))


def test_every_country_is_listed_with_an_emergency_number_and_both_kinds_of_line(
    book: ResourceBook,
) -> None:
    assert set(book.countries) == COUNTRIES
    for code, place in book.countries.items():
        assert place.emergency, code
        assert place.emergency.replace(" ", "").isdigit(), code
        assert place.lines, code
        assert place.lines_of(LineKind.CRISIS), f"{code} has no crisis line"
        assert place.lines_of(LineKind.ABUSE), f"{code} has no abuse line"


def test_emergency_numbers_keep_their_leading_zeros(book: ResourceBook) -> None:
    assert book.for_country("AU").emergency == "000"
    assert book.for_country("GB").emergency == "999"
    assert book.for_country("GB").emergency_note


def test_fallback_has_no_number_of_its_own_but_crisis_directories(book: ResourceBook) -> None:
    assert book.fallback.emergency is None
    assert {line.source for line in book.fallback.lines} == {
        "findahelpline.com",
        "befrienders.org",
    }
    assert all(line.kind is LineKind.CRISIS for line in book.fallback.lines)


@pytest.mark.parametrize("code", [None, "", "JP", "XX", "fallback", "United Kingdom"])
def test_unknown_or_missing_country_gets_the_fallback(book: ResourceBook, code: str | None) -> None:
    assert book.for_country(code) is book.fallback


@pytest.mark.parametrize("code", ["GB", "gb", " gb "])
def test_country_codes_are_matched_in_any_case(book: ResourceBook, code: str) -> None:
    assert book.for_country(code) is book.countries["GB"]


@pytest.mark.parametrize(
    ("zone", "code"),
    [
        ("Europe/London", "GB"),
        ("America/New_York", "US"),
        ("America/Toronto", "CA"),
        ("Australia/Sydney", "AU"),
        ("Europe/Dublin", "IE"),
        ("Asia/Kolkata", "IN"),
        ("Europe/Berlin", "DE"),
        ("US/Eastern", "US"),
        ("Asia/Calcutta", "IN"),
        ("Europe/Belfast", "GB"),
        ("Canada/Eastern", "CA"),
        ("europe/london", "GB"),
    ],
)
def test_a_zone_finds_its_country(book: ResourceBook, zone: str, code: str) -> None:
    assert country_for_timezone(zone) == code
    assert book.for_timezone(zone) is book.countries[code]


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "UTC+05:30", "UTC", "Etc/GMT+5", "Mars/Base", None])
def test_other_zones_get_the_fallback(book: ResourceBook, zone: str | None) -> None:
    assert book.for_timezone(zone) is book.fallback


def test_a_listed_zone_beats_its_link() -> None:
    """Jersey links to London's rules but is its own ISO country."""
    assert country_for_timezone("Europe/Jersey") == "JE"
    assert country_for_timezone("Asia/Tokyo") == "JP"
    assert country_for_timezone("UTC-03:00") is None


def test_the_shipped_file_is_read_once() -> None:
    assert load_resources() is load_resources()
    assert load_resources(RESOURCES_FILE) == load_resources()


# --- malformed files -------------------------------------------------------------------------


def shipped() -> dict[str, Any]:
    data = yaml.safe_load(RESOURCES_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _unknown_key(d: dict[str, Any]) -> None:
    d["countries"]["GB"]["lines"][0]["website"] = "x.org"


def _number_as_integer(d: dict[str, Any]) -> None:
    d["countries"]["AU"]["emergency"] = 0


def _no_date(d: dict[str, Any]) -> None:
    del d["countries"]["US"]["lines"][0]["verified_on"]


def _date_as_text(d: dict[str, Any]) -> None:
    d["countries"]["US"]["lines"][0]["verified_on"] = "last spring"


def _country_without_number(d: dict[str, Any]) -> None:
    d["countries"]["DE"]["emergency"] = None


def _fallback_with_number(d: dict[str, Any]) -> None:
    d["fallback"]["emergency"] = "112"


def _unknown_kind(d: dict[str, Any]) -> None:
    d["countries"]["IE"]["lines"][0]["kind"] = "advice"


def _no_lines(d: dict[str, Any]) -> None:
    d["countries"]["IN"]["lines"] = []


def _country_by_name(d: dict[str, Any]) -> None:
    d["countries"]["UK"] = d["countries"].pop("GB")


def _link_with_scheme(d: dict[str, Any]) -> None:
    d["countries"]["US"]["lines"][0]["contact"] = "chat at https://example.com/?ref=mend"


def _source_not_a_domain(d: dict[str, Any]) -> None:
    d["countries"]["US"]["lines"][0]["source"] = "a web page"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_unknown_key, "countries.GB.lines.0.website"),
        (_number_as_integer, "countries.AU.emergency"),
        (_no_date, "countries.US.lines.0.verified_on: Field required"),
        (_date_as_text, "countries.US.lines.0.verified_on"),
        (_country_without_number, "['DE'] need an emergency number"),
        (_fallback_with_number, "fallback has no emergency number"),
        (_unknown_kind, "countries.IE.lines.0.kind"),
        (_no_lines, "countries.IN.lines"),
        (_country_by_name, "['UK'] are not ISO 3166-1 country codes"),
        (_link_with_scheme, "without a scheme"),
        (_source_not_a_domain, "countries.US.lines.0.source"),
    ],
)
def test_a_malformed_file_fails_with_a_readable_message(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    data = shipped()
    mutate(data)
    with pytest.raises(ContentError) as caught:
        load_resources(write(tmp_path, data))
    assert "resources.yaml" in str(caught.value)
    assert expected in str(caught.value)


def test_the_unchanged_copy_loads(tmp_path: Path) -> None:
    """The mutation tests start from a file that is valid."""
    assert load_resources(write(tmp_path, shipped())) == load_resources()


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text("data_version: 1\ncountries: [\n  GB: {\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"resources\.yaml: is not valid YAML at line \d"):
        load_resources(path)


def test_a_country_listed_twice_is_refused(tmp_path: Path) -> None:
    text = RESOURCES_FILE.read_text(encoding="utf-8")
    path = tmp_path / "resources.yaml"
    path.write_text(text.replace("  IE:\n", "  GB:\n", 1), encoding="utf-8")
    with pytest.raises(ContentError, match="'GB' is given twice"):
        load_resources(path)


def test_a_missing_file_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="cannot be read"):
        load_resources(tmp_path / "nowhere.yaml")


def test_not_a_mapping_is_a_content_error(tmp_path: Path) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"resources\.yaml: file: "):
        load_resources(path)
