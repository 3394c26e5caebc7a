"""Parsers of what people type: time zones, times of day, and raw message text."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.localtime import format_local_time, parse_local_time
from core.text_input import MAX_INPUT_CHARS, clean_text, event_from_text
from core.timezones import TimeZoneChoice, parse_timezone, resolve_timezone
from core.types import ChatKind, ChatRef, EventKind, Platform, UserRef

USER = UserRef(Platform.TELEGRAM, "1001", display_name="Sam")
GROUP = ChatRef(Platform.TELEGRAM, "-500", ChatKind.GROUP)
PRIVATE = ChatRef(Platform.TELEGRAM, "1001", ChatKind.PRIVATE)
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WINTER = datetime(2026, 1, 15, 12, 0)
SUMMER = datetime(2026, 7, 15, 12, 0)

# ---------------------------------------------------------------- time zones

VALID_ZONES = [
    ("Berlin", "Europe/Berlin", True),
    ("Europe/Berlin", "Europe/Berlin", True),
    ("europe/berlin", "Europe/Berlin", True),
    ("EUROPE/BERLIN", "Europe/Berlin", True),
    ("  Berlin  ", "Europe/Berlin", True),
    ("new york", "America/New_York", True),
    ("New York", "America/New_York", True),
    ("new_york", "America/New_York", True),
    ("America/New_York", "America/New_York", True),
    ("  new    york ", "America/New_York", True),
    ("buenos aires", "America/Argentina/Buenos_Aires", False),  # no daylight saving there
    ("UTC", "UTC", False),
    ("utc", "UTC", False),
    ("GMT", "UTC", False),
    ("UTC+2", "UTC+02:00", False),
    ("utc +2", "UTC+02:00", False),
    ("+02:00", "UTC+02:00", False),
    ("+2", "UTC+02:00", False),
    ("GMT-5", "UTC-05:00", False),
    ("UTC-05:00", "UTC-05:00", False),
    ("UTC+5:30", "UTC+05:30", False),
    ("+0530", "UTC+05:30", False),
    ("UTC+14", "UTC+14:00", False),
    ("UTC+0", "UTC", False),
    ("Etc/GMT+5", "Etc/GMT+5", False),
]

INVALID_ZONES = [
    "",
    "   ",
    "foo",
    "Mars/Olympus",
    "UTC+15",
    "UTC-14:30",
    "+02:99",
    "UTC+2:5",
    "UTC 2",
    "Europe",
    "Europe/",
    "../etc/passwd",
    "Berlin" * 20,
    "x" * 10_000,
]


@pytest.mark.parametrize(("typed", "stored", "follows_dst"), VALID_ZONES)
def test_parse_timezone_valid(typed: str, stored: str, follows_dst: bool) -> None:
    assert parse_timezone(typed) == TimeZoneChoice(stored, follows_dst=follows_dst)


@pytest.mark.parametrize("typed", INVALID_ZONES)
def test_parse_timezone_invalid(typed: str) -> None:
    assert parse_timezone(typed) is None


@pytest.mark.parametrize(("typed", "stored", "follows_dst"), VALID_ZONES)
def test_parsed_name_is_a_stable_stored_name(typed: str, stored: str, follows_dst: bool) -> None:
    """What Mend confirms back ("Got it: Europe/Berlin") parses to itself and resolves."""
    choice = parse_timezone(typed)
    assert choice is not None
    assert parse_timezone(choice.name) == choice
    zone = resolve_timezone(choice.name)
    assert zone.utcoffset(WINTER) is not None


@pytest.mark.parametrize(
    ("stored", "winter", "summer"),
    [
        ("Europe/Berlin", timedelta(hours=1), timedelta(hours=2)),
        ("America/New_York", timedelta(hours=-5), timedelta(hours=-4)),
        ("UTC", timedelta(0), timedelta(0)),
        ("UTC+02:00", timedelta(hours=2), timedelta(hours=2)),
        ("UTC-05:00", timedelta(hours=-5), timedelta(hours=-5)),
        ("UTC+05:30", timedelta(hours=5, minutes=30), timedelta(hours=5, minutes=30)),
        ("UTC+14:00", timedelta(hours=14), timedelta(hours=14)),
    ],
)
def test_resolve_timezone_offsets(stored: str, winter: timedelta, summer: timedelta) -> None:
    zone = resolve_timezone(stored)
    assert WINTER.replace(tzinfo=zone).utcoffset() == winter
    assert SUMMER.replace(tzinfo=zone).utcoffset() == summer


@pytest.mark.parametrize(
    "garbage", ["", "Mars/Olympus", "UTCx", "UTC+ab:cd", "UTC+99:00", "../etc/passwd", "Europe/"]
)
def test_resolve_timezone_rejects_garbage(garbage: str) -> None:
    with pytest.raises(ValueError):
        resolve_timezone(garbage)


@pytest.mark.parametrize("garbage", ["Europe", "a" * 300])
def test_resolve_timezone_raises_value_error_for_folders_and_long_names(garbage: str) -> None:
    with pytest.raises(ValueError):
        resolve_timezone(garbage)


@pytest.mark.parametrize("garbage", ["UTC 05:30", "UTC+-5:00", "UTC+05-30"])
def test_resolve_timezone_rejects_malformed_offsets(garbage: str) -> None:
    with pytest.raises(ValueError):
        resolve_timezone(garbage)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_timezone_total_and_round_trips(text: str) -> None:
    choice = parse_timezone(text)
    if choice is not None:
        assert parse_timezone(choice.name) == choice
        resolve_timezone(choice.name)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["UTC", "GMT", "", "utc "]),
    st.sampled_from("+-"),
    st.integers(0, 14),
    st.sampled_from([0, 15, 30, 45]),
)
def test_every_offset_round_trips(prefix: str, sign: str, hours: int, minutes: int) -> None:
    choice = parse_timezone(f"{prefix}{sign}{hours}:{minutes:02d}")
    if hours == 14 and minutes:
        assert choice is None
        return
    assert choice is not None
    assert not choice.follows_dst
    offset = timedelta(hours=hours, minutes=minutes) * (1 if sign == "+" else -1)
    assert WINTER.replace(tzinfo=resolve_timezone(choice.name)).utcoffset() == offset
    assert parse_timezone(choice.name) == choice


# ---------------------------------------------------------------- times of day


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("7", time(7, 0)),
        ("07:30", time(7, 30)),
        ("7:30am", time(7, 30)),
        ("7:30 AM", time(7, 30)),
        ("7pm", time(19, 0)),
        ("7 p.m.", time(19, 0)),
        ("7.30pm", time(19, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("12:30am", time(0, 30)),
        ("19.30", time(19, 30)),
        ("19h", time(19, 0)),
        ("19h30", time(19, 30)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("  8:00  ", time(8, 0)),
    ],
)
def test_parse_local_time_valid(typed: str, expected: time) -> None:
    assert parse_local_time(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "25",
        "24:00",
        "12:60",
        "7:3",
        "13pm",
        "0am",
        "0pm",
        "",
        "   ",
        "seven",
        "7:30:00",
        "-7",
        "7" * 17,
        "7:30" + " " * 20 + "am",
        "x" * 10_000,
    ],
)
def test_parse_local_time_invalid(typed: str) -> None:
    assert parse_local_time(typed) is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_local_time_never_raises(text: str) -> None:
    result = parse_local_time(text)
    assert result is None or isinstance(result, time)


@given(st.times())
def test_formatted_time_parses_back(value: time) -> None:
    shown = format_local_time(value)
    assert parse_local_time(shown) == value.replace(second=0, microsecond=0)


# ---------------------------------------------------------------- clean_text


def test_clean_text_removes_control_characters() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x7f") == "abcd"


def test_clean_text_turns_tabs_into_spaces_and_keeps_newlines() -> None:
    assert clean_text("a\tb\nc") == "a b\nc"


def test_clean_text_trims() -> None:
    assert clean_text("  \n hello \t ") == "hello"


def test_clean_text_drops_invisible_format_characters() -> None:
    assert clean_text("\u202eevil\u202c") == "evil"  # right-to-left override
    assert clean_text("he\u200bllo\ufeff") == "hello"  # zero-width space, BOM


@pytest.mark.parametrize(
    "text",
    [
        "שלום, מה שלומך?",
        "مرحبا كيف حالك",
        "I love you 💛",
        "👨‍👩‍👧 family",  # ZWJ sequence
        "👍🏽 ok",  # skin tone
        "🇩🇪 home",  # flag from regional indicators
        "1️⃣ first",  # keycap with variation selector
        "Café naïve 日本語",
    ],
)
def test_clean_text_keeps_emoji_and_rtl(text: str) -> None:
    assert clean_text(text) == text


def test_clean_text_keeps_subdivision_flag() -> None:
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert clean_text(scotland) == scotland


def test_clean_text_keeps_crlf_as_one_line_break() -> None:
    assert clean_text("line one\r\nline two") == "line one\nline two"


def test_clean_text_truncates() -> None:
    assert clean_text("a" * (MAX_INPUT_CHARS + 500)) == "a" * MAX_INPUT_CHARS
    assert clean_text("b" * MAX_INPUT_CHARS) == "b" * MAX_INPUT_CHARS
    assert len(clean_text("😀" * (MAX_INPUT_CHARS * 3))) == MAX_INPUT_CHARS


def test_clean_text_counts_characters_after_dropping_controls() -> None:
    text = "\x00" * 100 + "a" * MAX_INPUT_CHARS + "b"
    assert clean_text(text) == "a" * MAX_INPUT_CHARS


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_clean_text_output_has_no_controls(text: str) -> None:
    cleaned = clean_text(text)
    assert len(cleaned) <= MAX_INPUT_CHARS
    assert all(c == "\n" or unicodedata.category(c) != "Cc" for c in cleaned)
    for i, c in enumerate(cleaned):
        if unicodedata.category(c) != "Cf" or c in ("\u200c", "\u200d"):
            continue
        # the only other format characters kept are tags inside a subdivision flag
        assert "\U000e0020" <= c <= "\U000e007f", repr(c)
        assert "\U0001f3f4" in cleaned[:i], repr(cleaned)
    assert cleaned == cleaned.strip()
    assert clean_text(cleaned) == cleaned


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=20), st.integers(MAX_INPUT_CHARS - 10, MAX_INPUT_CHARS * 3))
def test_clean_text_is_capped_for_long_input(unit: str, repeat: int) -> None:
    assert len(clean_text((unit * repeat)[: MAX_INPUT_CHARS * 3])) <= MAX_INPUT_CHARS


# ---------------------------------------------------------------- event_from_text


def test_plain_command() -> None:
    event = event_from_text(PRIVATE, USER, "/start", AT)
    assert event.kind is EventKind.COMMAND
    assert event.command == "start"
    assert event.args == ()
    assert event.addressed_to_bot
    assert (event.chat, event.user, event.at) == (PRIVATE, USER, AT)


def test_command_with_args() -> None:
    event = event_from_text(PRIVATE, USER, "/remind  7:30am   daily", AT)
    assert event.kind is EventKind.COMMAND
    assert event.command == "remind"
    assert event.args == ("7:30am", "daily")
    assert event.text == "/remind  7:30am   daily"


def test_command_name_is_lower_cased_and_trimmed() -> None:
    event = event_from_text(PRIVATE, USER, "  /HeLp  ", AT)
    assert (event.kind, event.command) == (EventKind.COMMAND, "help")


@pytest.mark.parametrize("mention", ["MendBot", "mendbot", "MENDBOT"])
def test_command_addressed_to_this_bot(mention: str) -> None:
    event = event_from_text(
        GROUP, USER, f"/start@{mention} now", AT, bot_username="MendBot", addressed_to_bot=False
    )
    assert event.kind is EventKind.COMMAND
    assert event.command == "start"
    assert event.args == ("now",)
    assert event.addressed_to_bot


@pytest.mark.parametrize("addressed", [True, False])
def test_command_for_another_bot_is_unaddressed_text(addressed: bool) -> None:
    event = event_from_text(
        GROUP, USER, "/start@OtherBot", AT, bot_username="MendBot", addressed_to_bot=addressed
    )
    assert event.kind is EventKind.TEXT
    assert event.command is None
    assert event.text == "/start@OtherBot"
    assert not event.addressed_to_bot


def test_plain_text_keeps_addressing() -> None:
    assert (
        event_from_text(GROUP, USER, "hi all", AT, addressed_to_bot=False).addressed_to_bot is False
    )
    event = event_from_text(PRIVATE, USER, "hi", AT)
    assert (event.kind, event.text, event.addressed_to_bot) == (EventKind.TEXT, "hi", True)


@pytest.mark.parametrize("text", ["hello /start", "/", "/ start", "/" + "a" * 33, "//start"])
def test_not_a_command(text: str) -> None:
    assert event_from_text(PRIVATE, USER, text, AT).kind is EventKind.TEXT


def test_invisible_characters_cannot_hide_a_command() -> None:
    event = event_from_text(PRIVATE, USER, "\u200b/st\u200bart\u202e", AT)
    assert (event.kind, event.command) == (EventKind.COMMAND, "start")


def test_event_text_is_cleaned() -> None:
    event = event_from_text(PRIVATE, USER, "  I\x00 miss \u202ehim 💔 אני  ", AT)
    assert event.text == "I miss him 💔 אני"


def test_event_text_is_truncated() -> None:
    event = event_from_text(PRIVATE, USER, "x" * (MAX_INPUT_CHARS * 2), AT)
    assert event.text == "x" * MAX_INPUT_CHARS
    long_args = event_from_text(PRIVATE, USER, "/start " + "y " * MAX_INPUT_CHARS, AT)
    assert long_args.kind is EventKind.COMMAND
    assert len(long_args.text) <= MAX_INPUT_CHARS


def test_clean_text_is_trimmed_after_truncation() -> None:
    cleaned = clean_text("a" * (MAX_INPUT_CHARS - 1) + " b")
    assert cleaned == cleaned.strip()
