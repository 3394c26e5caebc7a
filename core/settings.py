"""Settings from the environment and ``.env``, validated once at start-up."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.timezones import parse_timezone

_NEEDS_SECRET = "TELEGRAM_WEBHOOK_SECRET"  # noqa: S105 - a setting name
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
ASYNC_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
"""Accepted ``DATABASE_URL`` schemes (SQLite work runs on its own thread, see core.storage)."""


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it in one line."""


class Settings(BaseSettings):
    """Every setting Mend reads. ``.env.example`` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_dev_guild_id: int | None = Field(default=None, gt=0)
    discord_message_content: bool = False
    discord_shard_count: int | None = Field(default=None, ge=1)
    discord_shard_ids: str | None = None
    database_url: str = "sqlite+aiosqlite:///./data/mend.db"
    mend_default_timezone: str = "UTC"
    mend_encryption_keys: SecretStr | None = Field(default=None)
    mend_retention_days: int = Field(default=180, ge=1, le=3650)
    mend_tick_seconds: int = Field(default=15, ge=15, le=60)
    mend_pause_cap: int = Field(default=3, ge=1, le=20)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("telegram_api_base_url", "discord_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local server)")
        return value.rstrip("/")

    @field_validator("telegram_webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be a public https:// URL that Telegram can reach")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError(f"{_NEEDS_SECRET}: must be set when TELEGRAM_WEBHOOK_URL is")
        return self

    @field_validator("discord_shard_ids")
    @classmethod
    def _shard_ids(cls, value: str | None) -> str | None:
        if value is not None and parse_shard_ids(value) is None:
            raise ValueError("must be shard numbers separated by commas, such as 0,1")
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        ids = self.shard_ids
        if ids and self.discord_shard_count is None:
            raise ValueError("DISCORD_SHARD_COUNT: must be set when DISCORD_SHARD_IDS is")
        if ids and self.discord_shard_count is not None and max(ids) >= self.discord_shard_count:
            raise ValueError(
                f"DISCORD_SHARD_IDS: every id must be below DISCORD_SHARD_COUNT "
                f"({self.discord_shard_count})"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _async_database(cls, value: str) -> str:
        try:
            driver = make_url(value).drivername
        except (ArgumentError, ValueError):
            raise ValueError("is not a database URL") from None
        if driver not in ASYNC_DRIVERS:
            raise ValueError(
                f"must start with one of {', '.join(d + '://' for d in ASYNC_DRIVERS)}"
            )
        return value

    @field_validator("mend_default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        choice = parse_timezone(value)
        if choice is None:
            raise ValueError("is not a time zone (use an IANA name such as Europe/Berlin)")
        return choice.name

    @field_validator("mend_encryption_keys")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        for key in value.get_secret_value().split(","):
            try:
                raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
            except (binascii.Error, ValueError, UnicodeEncodeError):
                raw = b""
            if len(raw) != 32:
                raise ValueError("each key must be 32 random bytes, URL-safe base64 encoded")
        return value

    @property
    def shard_ids(self) -> tuple[int, ...]:
        """The Discord shards this process runs; empty means "all of them"."""
        if self.discord_shard_ids is None:
            return ()
        return parse_shard_ids(self.discord_shard_ids) or ()

    @property
    def has_platform_token(self) -> bool:
        """True if at least one chat platform is configured."""
        return self.telegram_bot_token is not None or self.discord_bot_token is not None


def parse_shard_ids(text: str) -> tuple[int, ...] | None:
    """Read ``"0,1, 2"`` as shard ids; None if any part is not a whole number or repeats."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or not all(part.isdigit() and part.isascii() for part in parts):
        return None
    ids = tuple(int(part) for part in parts)
    return ids if len(set(ids)) == len(ids) else None


def load_settings(env_file: str | None = ".env") -> Settings:
    """Read settings, turning any problem into one clear line that names the setting.

    Raises:
        SettingsError: naming the first bad setting, never echoing a secret value.
    """
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            message = f"{str(error['loc'][0]).upper()}: {message}"
        raise SettingsError(f"setting {message}") from None
