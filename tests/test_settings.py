"""Settings: defaults, .env, one clear line per bad setting, and the CLI's handling of it."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings

MEND = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "mend"
SETTING_NAMES = [name.upper() for name in Settings.model_fields]
SECRET = "S3cr3tValue"
GOOD_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the machine running the tests, nor from a stray .env."""
    for name in list(os.environ):
        if name.upper() in SETTING_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def clean_subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env.update(extra)
    return env


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


# ---------------------------------------------------------------- defaults and sources


def test_every_setting_is_cleared_for_the_test() -> None:
    assert "DATABASE_URL" in SETTING_NAMES
    assert not [n for n in os.environ if n.upper() in SETTING_NAMES]


def test_defaults_with_an_empty_environment() -> None:
    settings = load_settings(env_file=None)
    assert settings.telegram_bot_token is None
    assert settings.discord_bot_token is None
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.database_url == "sqlite+aiosqlite:///./data/mend.db"
    assert settings.mend_default_timezone == "UTC"
    assert settings.mend_encryption_keys is None
    assert settings.log_level == "INFO"
    assert settings.has_platform_token is False


def test_missing_env_file_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(env_file=str(tmp_path / "absent.env"))
    assert settings.database_url == "sqlite+aiosqlite:///./data/mend.db"


def test_reads_a_dotenv_file(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path / "custom.env",
        TELEGRAM_BOT_TOKEN=f"123:{SECRET}",
        TELEGRAM_API_BASE_URL="http://localhost:8081/bot/",
        DATABASE_URL="postgresql+asyncpg://mend:pw@db:5432/mend",
        MEND_DEFAULT_TIMEZONE="berlin",
        MEND_ENCRYPTION_KEYS=f"{GOOD_KEY}, {OTHER_KEY}",
        LOG_LEVEL=" debug ",
    )
    settings = load_settings(env_file=str(env_file))
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == f"123:{SECRET}"
    assert settings.telegram_api_base_url == "http://localhost:8081/bot"
    assert settings.database_url == "postgresql+asyncpg://mend:pw@db:5432/mend"
    assert settings.mend_default_timezone == "Europe/Berlin"
    assert settings.mend_encryption_keys is not None
    assert settings.log_level == "DEBUG"
    assert settings.has_platform_token is True
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)


def test_default_env_file_is_dotenv_in_the_working_directory(tmp_path: Path) -> None:
    write_env(tmp_path / ".env", LOG_LEVEL="WARNING", DISCORD_BOT_TOKEN="abc")
    settings = load_settings()
    assert settings.log_level == "WARNING"
    assert settings.has_platform_token is True


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = write_env(tmp_path / "x.env", LOG_LEVEL="DEBUG")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert load_settings(env_file=str(env_file)).log_level == "ERROR"


def test_empty_values_mean_default(tmp_path: Path) -> None:
    env_file = write_env(tmp_path / "x.env", LOG_LEVEL="", DATABASE_URL="", TELEGRAM_BOT_TOKEN="")
    settings = load_settings(env_file=str(env_file))
    assert settings.log_level == "INFO"
    assert settings.database_url == "sqlite+aiosqlite:///./data/mend.db"
    assert settings.telegram_bot_token is None


@pytest.mark.parametrize("zone", ["UTC+5:30", "Europe/Berlin", "new york", "GMT-5"])
def test_default_timezone_is_stored_normalised(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("MEND_DEFAULT_TIMEZONE", zone)
    stored = load_settings(env_file=None).mend_default_timezone
    assert stored in {"UTC+05:30", "Europe/Berlin", "America/New_York", "UTC-05:00"}


# ---------------------------------------------------------------- bad settings


BAD_SETTINGS = [
    ("DATABASE_URL", f"sqlite:///{SECRET}.db"),
    ("DATABASE_URL", f"postgresql://mend:{SECRET}@db/mend"),
    ("DATABASE_URL", f"mysql+aiomysql://mend:{SECRET}@db/mend"),
    ("DATABASE_URL", f"not a url {SECRET}"),
    ("DATABASE_URL", "://"),
    ("LOG_LEVEL", f"VERBOSE{SECRET}"),
    ("LOG_LEVEL", "TRACE"),
    ("MEND_DEFAULT_TIMEZONE", f"Mars/{SECRET}"),
    ("MEND_DEFAULT_TIMEZONE", "UTC+15"),
    ("MEND_ENCRYPTION_KEYS", SECRET),
    ("MEND_ENCRYPTION_KEYS", f"{GOOD_KEY},{SECRET}"),
    ("MEND_ENCRYPTION_KEYS", f"{GOOD_KEY},"),
    ("MEND_ENCRYPTION_KEYS", base64.urlsafe_b64encode(b"x" * 31).decode()),
    ("MEND_ENCRYPTION_KEYS", "é" + SECRET),
    ("TELEGRAM_API_BASE_URL", f"ftp://{SECRET}.example/bot"),
    ("TELEGRAM_API_BASE_URL", f"api.telegram.org/bot{SECRET}"),
    ("TELEGRAM_WEBHOOK_URL", f"http://{SECRET}.example/hook"),
    ("TELEGRAM_WEBHOOK_SECRET", f"has spaces {SECRET}"),
    ("TELEGRAM_WEBHOOK_SECRET", "x" * 257),
    ("TELEGRAM_WEBHOOK_PORT", "70000"),
]


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_bad_setting_in_environment(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert message.startswith(f"setting {name}: ")
    assert "\n" not in message
    assert SECRET not in message
    assert value not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS[::3])
def test_bad_setting_in_dotenv(tmp_path: Path, name: str, value: str) -> None:
    env_file = write_env(tmp_path / "bad.env", **{name: value})
    with pytest.raises(SettingsError, match=f"^setting {name}: ") as caught:
        load_settings(env_file=str(env_file))
    assert SECRET not in str(caught.value)


def test_encryption_keys_must_each_decode_to_32_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEND_ENCRYPTION_KEYS", f" {GOOD_KEY} ,{OTHER_KEY}")
    keys = load_settings(env_file=None).mend_encryption_keys
    assert keys is not None
    assert GOOD_KEY in keys.get_secret_value()
    assert GOOD_KEY not in repr(keys)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://mend:{SECRET}",  # forgot '@host': password is read as the port
        f"postgresql+asyncpg://mend:pw@db:{SECRET}/mend",
    ],
)
def test_database_url_error_never_echoes_the_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    assert str(caught.value).startswith("setting DATABASE_URL: ")
    assert SECRET not in str(caught.value)


# ---------------------------------------------------------------- the CLI


def run_mend(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    if not MEND.exists():
        pytest.skip(f"{MEND} is not installed")
    return subprocess.run(
        [str(MEND), *args],
        cwd=cwd,
        env=clean_subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_cli_version(tmp_path: Path) -> None:
    result = run_mend(["--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mend 0.1.0"


@pytest.mark.slow
@pytest.mark.parametrize("url", [f"postgresql://mend:{SECRET}@db/mend", f"nonsense {SECRET}"])
def test_cli_bad_database_url_from_environment(tmp_path: Path, url: str) -> None:
    result = run_mend(["chat"], tmp_path, DATABASE_URL=url)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mend: setting DATABASE_URL: ")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_cli_bad_database_url_from_dotenv(tmp_path: Path) -> None:
    write_env(tmp_path / ".env", DATABASE_URL=f"sqlite:///{SECRET}.db")
    result = run_mend(["chat"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def test_a_webhook_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://mend.example/tg/hook")
    with pytest.raises(SettingsError, match=r"^setting TELEGRAM_WEBHOOK_SECRET: ") as caught:
        load_settings(env_file=None)
    assert "\n" not in str(caught.value)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "a_good-secret")
    settings = load_settings(env_file=None)
    assert settings.telegram_webhook_secret is not None
    assert settings.telegram_webhook_secret.get_secret_value() == "a_good-secret"
    assert "a_good-secret" not in repr(settings)
