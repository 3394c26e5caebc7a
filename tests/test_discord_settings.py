"""The DISCORD_* settings: defaults, parsing, and one clear line naming each bad one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings, parse_shard_ids

SETTING_NAMES = [name.upper() for name in Settings.model_fields]
TOKEN = "ODk5MDAwMDAwMDAwMDAwMDAy.GsEcRt.discord-settings-token-xyz"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the machine running the tests, nor from a stray .env."""
    for name in list(os.environ):
        if name.upper() in SETTING_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def load(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings(env_file=None)


def refused(monkeypatch: pytest.MonkeyPatch, **values: str) -> str:
    """The one-line error for ``values``, checked for shape; the bot token is always set."""
    with pytest.raises(SettingsError) as caught:
        load(monkeypatch, DISCORD_BOT_TOKEN=TOKEN, **values)
    message = str(caught.value)
    assert message.startswith("setting DISCORD_"), message
    assert "\n" not in message
    assert TOKEN not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    return message


# --- defaults and good values --------------------------------------------------------------


def test_discord_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch)
    assert settings.discord_bot_token is None
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.discord_dev_guild_id is None
    assert settings.discord_message_content is False
    assert settings.discord_shard_count is None
    assert settings.discord_shard_ids is None
    assert settings.shard_ids == ()
    assert settings.has_platform_token is False


def test_the_discord_token_alone_is_a_platform_token(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, DISCORD_BOT_TOKEN=TOKEN)
    assert settings.has_platform_token is True
    assert settings.discord_bot_token is not None
    assert settings.discord_bot_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)


def test_discord_settings_from_a_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / "discord.env"
    env_file.write_text(
        f"DISCORD_BOT_TOKEN={TOKEN}\n"
        "DISCORD_API_BASE_URL=http://127.0.0.1:8080/api/v10/\n"
        "DISCORD_DEV_GUILD_ID=123456789012345678\n"
        "DISCORD_MESSAGE_CONTENT=yes\n"
        "DISCORD_SHARD_COUNT=4\n"
        "DISCORD_SHARD_IDS= 3, 0 ,2\n",
        encoding="utf-8",
    )
    settings = load_settings(env_file=str(env_file))
    assert settings.discord_api_base_url == "http://127.0.0.1:8080/api/v10", "no trailing /"
    assert settings.discord_dev_guild_id == 123456789012345678
    assert settings.discord_message_content is True
    assert settings.discord_shard_count == 4
    assert settings.shard_ids == (3, 0, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),  # empty counts as unset
    ],
)
def test_message_content_parsing(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    assert load(monkeypatch, DISCORD_MESSAGE_CONTENT=value).discord_message_content is expected


@pytest.mark.parametrize("value", ["maybe", "2", "enabled", "tru"])
def test_message_content_must_be_a_yes_or_no(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    assert refused(monkeypatch, DISCORD_MESSAGE_CONTENT=value).startswith(
        "setting DISCORD_MESSAGE_CONTENT: "
    )


def test_a_shard_count_alone_means_every_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, DISCORD_SHARD_COUNT="3")
    assert settings.discord_shard_count == 3
    assert settings.shard_ids == ()


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [("1", "0", (0,)), ("2", "1", (1,)), ("8", "7,0, 4", (7, 0, 4)), ("16", "01", (1,))],
)
def test_good_shard_ids(
    monkeypatch: pytest.MonkeyPatch, count: str, ids: str, expected: tuple[int, ...]
) -> None:
    settings = load(monkeypatch, DISCORD_SHARD_COUNT=count, DISCORD_SHARD_IDS=ids)
    assert settings.shard_ids == expected


# --- shards --------------------------------------------------------------------------------


def test_shard_ids_need_a_shard_count(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refused(monkeypatch, DISCORD_SHARD_IDS="0,1")
    assert message.startswith("setting DISCORD_SHARD_COUNT: ")
    assert "DISCORD_SHARD_IDS" in message


@pytest.mark.parametrize(("count", "ids"), [("2", "2"), ("2", "0,2"), ("1", "1"), ("4", "9")])
def test_shard_ids_must_be_below_the_count(
    monkeypatch: pytest.MonkeyPatch, count: str, ids: str
) -> None:
    message = refused(monkeypatch, DISCORD_SHARD_COUNT=count, DISCORD_SHARD_IDS=ids)
    assert message.startswith("setting DISCORD_SHARD_IDS: ")
    assert f"DISCORD_SHARD_COUNT ({count})" in message


@pytest.mark.parametrize(
    "ids",
    ["a", "1,1", "-1", "0,a", "1,", ",1", "0;1", "1.0", "+1", "0 1", " ", "١", "²"],
)
def test_malformed_shard_ids(monkeypatch: pytest.MonkeyPatch, ids: str) -> None:
    message = refused(monkeypatch, DISCORD_SHARD_COUNT="4", DISCORD_SHARD_IDS=ids)
    assert message.startswith("setting DISCORD_SHARD_IDS: ")
    assert "separated by commas" in message
    assert parse_shard_ids(ids) is None


def test_malformed_shard_ids_are_named_even_without_a_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert refused(monkeypatch, DISCORD_SHARD_IDS="1,1").startswith("setting DISCORD_SHARD_IDS: ")


@pytest.mark.parametrize("count", ["0", "-2", "two", "1.5"])
def test_bad_shard_count(monkeypatch: pytest.MonkeyPatch, count: str) -> None:
    assert refused(monkeypatch, DISCORD_SHARD_COUNT=count).startswith(
        "setting DISCORD_SHARD_COUNT: "
    )


# --- dev server and REST base URL ----------------------------------------------------------


@pytest.mark.parametrize("guild", ["abc", "0", "-5", "12.5", "guild-123"])
def test_bad_dev_guild_id(monkeypatch: pytest.MonkeyPatch, guild: str) -> None:
    assert refused(monkeypatch, DISCORD_DEV_GUILD_ID=guild).startswith(
        "setting DISCORD_DEV_GUILD_ID: "
    )


@pytest.mark.parametrize(
    "url",
    [
        "discord.com/api/v10",
        "ftp://discord.example/api/v10",
        "ws://127.0.0.1:8080/api/v10",
        "wss://gateway.discord.gg",
        "HTTP//discord.com/api",
    ],
)
def test_api_base_url_must_be_http(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    message = refused(monkeypatch, DISCORD_API_BASE_URL=url)
    assert message.startswith("setting DISCORD_API_BASE_URL: ")
    assert "https://" in message


def test_a_local_http_base_url_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, DISCORD_API_BASE_URL="http://127.0.0.1:9000/api/v10///")
    assert settings.discord_api_base_url == "http://127.0.0.1:9000/api/v10"


def test_bad_discord_setting_in_dotenv_names_it(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text(
        f"DISCORD_BOT_TOKEN={TOKEN}\nDISCORD_SHARD_COUNT=2\nDISCORD_SHARD_IDS=5\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match=r"^setting DISCORD_SHARD_IDS: ") as caught:
        load_settings(env_file=str(env_file))
    assert TOKEN not in str(caught.value)
