"""Encryption at rest: the cipher, and where its keys come from (settings, key file, neither)."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from core.crypto import Cipher, CipherError, generate_key
from core.settings import Settings, SettingsError
from core.storage.keyring import key_file_for, resolve_cipher, split_keys

KEY_A = generate_key()
KEY_B = generate_key()
SETTING_NAMES = [name.upper() for name in Settings.model_fields]
TEXTS = [
    "",
    "hello",
    "I felt unheard when you left 💔",
    "ünïcödé — 日本語\nline two\x00",
    "x" * 10_000,
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the machine running the tests, nor from a stray .env."""
    for name in list(os.environ):
        if name.upper() in SETTING_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings(database_url: str, keys: str | None = None) -> Settings:
    if keys is None:
        return Settings(_env_file=None, database_url=database_url)
    return Settings(_env_file=None, database_url=database_url, mend_encryption_keys=keys)


# ---------------------------------------------------------------- the cipher


@pytest.mark.parametrize("text", TEXTS)
def test_seal_open_round_trip(text: str) -> None:
    cipher = Cipher([KEY_A])
    token = cipher.seal(text)
    assert isinstance(token, str) and token.isascii()
    assert cipher.open(token) == text


@pytest.mark.parametrize("text", [t for t in TEXTS if t])
def test_tokens_hold_no_plaintext(text: str) -> None:
    cipher = Cipher([KEY_A])
    token = cipher.seal(text)
    assert token != text
    raw = base64.urlsafe_b64decode(token)
    for needle in {text, text[:8], text[-8:]}:
        if len(needle) >= 4:
            assert needle not in token
            assert needle.encode() not in raw
            assert needle.encode() not in token.encode()


def test_the_same_text_seals_differently_each_time() -> None:
    cipher = Cipher([KEY_A])
    assert cipher.seal("same") != cipher.seal("same")


def test_a_wrong_key_raises_cipher_error_without_the_plaintext_or_key() -> None:
    token = Cipher([KEY_A]).seal("a secret diary line")
    with pytest.raises(CipherError) as caught:
        Cipher([KEY_B]).open(token)
    assert "diary" not in str(caught.value)
    assert KEY_A not in str(caught.value) and KEY_B not in str(caught.value)


@pytest.mark.parametrize("token", ["", "not a token", "gAAAAA", "ünï", "a" * 100])
def test_garbage_raises_cipher_error(token: str) -> None:
    cipher = Cipher([KEY_A])
    with pytest.raises(CipherError):
        cipher.open(token)
    with pytest.raises(CipherError):
        cipher.rotate(token)
    assert not cipher.is_current(token)


def test_a_tampered_token_raises_cipher_error() -> None:
    cipher = Cipher([KEY_A])
    token = cipher.seal("hello there")
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[40] ^= 1
    with pytest.raises(CipherError):
        cipher.open(base64.urlsafe_b64encode(bytes(raw)).decode())


def test_first_key_encrypts_every_key_decrypts() -> None:
    old = Cipher([KEY_A]).seal("old text")
    both = Cipher([KEY_B, KEY_A])
    assert both.open(old) == "old text"
    new = both.seal("new text")
    assert Cipher([KEY_B]).open(new) == "new text"
    with pytest.raises(CipherError):
        Cipher([KEY_A]).open(new)


def test_rotate_moves_a_token_to_the_first_key() -> None:
    old = Cipher([KEY_A]).seal("kept")
    both = Cipher([KEY_B, KEY_A])
    assert not both.is_current(old)
    fresh = both.rotate(old)
    assert both.is_current(fresh)
    assert Cipher([KEY_B]).open(fresh) == "kept"


def test_repr_shows_no_key() -> None:
    cipher = Cipher([KEY_A, KEY_B])
    assert KEY_A not in repr(cipher) and KEY_B not in repr(cipher)
    assert repr(cipher) == "Cipher(<2 keys>)"
    assert cipher.key_count == 2


@pytest.mark.parametrize(
    "keys", [[], ["short"], [KEY_A, "not-a-key"], [KEY_A[:-2]], ["é" * 44]], ids=repr
)
def test_bad_keys_are_refused_without_echoing_them(keys: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        Cipher(keys)
    for key in keys:
        if key:
            assert key not in str(caught.value)


def test_one_string_is_not_a_list_of_keys() -> None:
    with pytest.raises(TypeError):
        Cipher(KEY_A)


def test_generated_keys_are_fernet_keys() -> None:
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != generate_key()


# ---------------------------------------------------------------- where the keys come from


def test_split_keys() -> None:
    assert split_keys(f" {KEY_A} ,, {KEY_B},") == [KEY_A, KEY_B]


def test_keys_from_the_setting_win_over_the_key_file(tmp_path: Path) -> None:
    db = tmp_path / "mend.db"
    cipher = resolve_cipher(settings(f"sqlite+aiosqlite:///{db}", f"{KEY_B}, {KEY_A}"))
    assert Cipher([KEY_B]).open(cipher.seal("x")) == "x"
    assert cipher.open(Cipher([KEY_A]).seal("y")) == "y"
    assert not key_file_for(str(db)).exists()


def test_keys_from_the_setting_work_with_postgresql() -> None:
    url = "postgresql+asyncpg://mend:pw@127.0.0.1:5432/mend"
    cipher = resolve_cipher(settings(url, KEY_A))
    assert Cipher([KEY_A]).open(cipher.seal("x")) == "x"


def test_postgresql_without_keys_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"^setting MEND_ENCRYPTION_KEYS: .*PostgreSQL"):
        resolve_cipher(settings("postgresql+asyncpg://mend:pw@127.0.0.1:5432/mend"))


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
def test_in_memory_sqlite_gets_a_throwaway_key_silently(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        first, second = resolve_cipher(settings(url)), resolve_cipher(settings(url))
    assert first.open(first.seal("x")) == "x"
    with pytest.raises(CipherError):
        second.open(first.seal("x"))
    assert caplog.records == []
    assert list(tmp_path.iterdir()) == []


def test_key_file_is_made_owner_only_beside_the_database_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "data" / "mend.db"
    chosen = settings(f"sqlite+aiosqlite:///{db}")
    with caplog.at_level(logging.DEBUG):
        first = resolve_cipher(chosen)
    path = tmp_path / "data" / "mend.db.key"
    assert path.exists()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert len(keys) == 1
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert str(path) in record.getMessage()
    assert "back it up" in record.getMessage() and "MEND_ENCRYPTION_KEYS" in record.getMessage()

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        second = resolve_cipher(chosen)
    assert caplog.records == []
    assert second.open(first.seal("same key")) == "same key"
    assert Cipher(keys).open(second.seal("x")) == "x"
    for record in caplog.records:
        assert keys[0] not in record.getMessage()


def test_the_key_never_reaches_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        resolve_cipher(settings(f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"))
    key = (tmp_path / "mend.db.key").read_text().splitlines()[-1]
    assert caplog.records
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in str(record.args)


def test_a_relative_database_path_keeps_its_key_file_relative(tmp_path: Path) -> None:
    resolve_cipher(settings("sqlite+aiosqlite:///./data/mend.db"))
    assert (tmp_path / "data" / "mend.db.key").exists()


def test_a_key_file_with_several_keys_encrypts_with_the_first(tmp_path: Path) -> None:
    path = tmp_path / "mend.db.key"
    path.write_text(f"# comment\n\n{KEY_B}\n  {KEY_A}  \n", encoding="ascii")
    path.chmod(0o600)
    cipher = resolve_cipher(settings(f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"))
    assert cipher.key_count == 2
    assert Cipher([KEY_B]).open(cipher.seal("x")) == "x"
    assert cipher.open(Cipher([KEY_A]).seal("y")) == "y"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_key_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "mend.db.key"
    path.write_text(KEY_A + "\n", encoding="ascii")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        resolve_cipher(settings(f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"))
    [record] = caplog.records
    assert "chmod 600" in record.getMessage() and "0o644" in record.getMessage()
    assert KEY_A not in record.getMessage()


@pytest.mark.parametrize("content", ["", "# only a comment\n", "not-a-key\n"])
def test_a_broken_key_file_is_a_settings_error(
    tmp_path: Path, content: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.storage.keyring._EMPTY_FILE_RETRIES", 0)
    path = tmp_path / "mend.db.key"
    path.write_text(content, encoding="ascii")
    path.chmod(0o600)
    with pytest.raises(SettingsError, match=r"key file") as caught:
        resolve_cipher(settings(f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"))
    assert "not-a-key" not in str(caught.value)
