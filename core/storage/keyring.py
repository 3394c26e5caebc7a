"""Where the keys that encrypt free text at rest come from.

In order:

1. ``MEND_ENCRYPTION_KEYS``: comma-separated keys, the first encrypts. The setting for
   production and for PostgreSQL, where it is required.
2. For a SQLite file, a key file beside it, ``<database file>.key`` (``data/mend.db.key`` by
   default), created owner-only on first start with one new key. It may hold several keys,
   one per line, the first encrypting; lines starting with ``#`` are comments. To rotate,
   add a new first line and run ``mend rotate-keys``.
3. For in-memory SQLite (tests), a throwaway key: the data goes with the process anyway.

Keys are never logged.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from core.crypto import Cipher, generate_key
from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

KEY_FILE_SUFFIX = ".key"
_OWNER_ONLY = 0o600
_EMPTY_FILE_RETRIES = 20  # another process may have created the file and not written it yet
_EMPTY_FILE_WAIT_S = 0.05
_KEY_FILE_HEADER = (
    "# Mend's encryption key for {name}. Back it up together with the database: without it\n"
    "# the stored text cannot be read. To rotate, add a new key as the first line (the first\n"
    "# line encrypts, every line decrypts), run `mend rotate-keys`, then delete the old line.\n"
)


def resolve_cipher(settings: Settings) -> Cipher:
    """Build the cipher for free text at rest from the settings (see the module docstring).

    Args:
        settings: Validated settings; ``mend_encryption_keys`` and ``database_url`` are read.

    Returns:
        A cipher whose first key encrypts.

    Raises:
        SettingsError: PostgreSQL without ``MEND_ENCRYPTION_KEYS``, or a key file that is
            unreadable, empty or holds something that is not a key.
    """
    if settings.mend_encryption_keys is not None:
        keys = split_keys(settings.mend_encryption_keys.get_secret_value())
        if not keys:
            raise SettingsError("setting MEND_ENCRYPTION_KEYS: holds no key")
        try:
            return Cipher(keys)
        except ValueError as exc:
            raise SettingsError(f"setting MEND_ENCRYPTION_KEYS: {exc}") from None
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise SettingsError(
            "setting MEND_ENCRYPTION_KEYS: must be set when DATABASE_URL is PostgreSQL "
            "(comma-separated keys that encrypt free text at rest; see .env.example)"
        )
    if not url.database or url.database == ":memory:":
        return Cipher([generate_key()])
    return _key_file_cipher(key_file_for(url.database))


def split_keys(text: str) -> list[str]:
    """Split ``MEND_ENCRYPTION_KEYS`` on commas, stripping spaces and dropping empty parts.

    Args:
        text: The setting's value.

    Returns:
        The keys in order, the first one encrypting.
    """
    return [part.strip() for part in text.split(",") if part.strip()]


def key_file_for(database: str) -> Path:
    """The key file that belongs to a SQLite database file: the same path plus ``.key``.

    Args:
        database: The database file path from ``DATABASE_URL`` (relative paths stay relative
            to the working directory, as for the database itself).

    Returns:
        The key file's path, e.g. ``data/mend.db.key`` for ``data/mend.db``.
    """
    path = Path(database).expanduser()
    return path.with_name(path.name + KEY_FILE_SUFFIX)


def _key_file_cipher(path: Path) -> Cipher:
    if not path.exists():
        _create_key_file(path)
    keys = _read_key_file(path)
    try:
        return Cipher(keys)
    except ValueError as exc:
        raise SettingsError(f"key file {path}: {exc} (one key per line)") from None


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _OWNER_ONLY)
    except FileExistsError:
        return  # another process made it first; read theirs
    except OSError as exc:
        raise SettingsError(
            f"cannot create the key file {path} ({exc.strerror or type(exc).__name__}); "
            "set MEND_ENCRYPTION_KEYS instead"
        ) from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(_KEY_FILE_HEADER.format(name=path.name.removesuffix(KEY_FILE_SUFFIX)))
        handle.write(generate_key() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.warning(
        "generated an encryption key for stored text in %s: back it up together with the "
        "database, without it the text cannot be read (in production set "
        "MEND_ENCRYPTION_KEYS instead)",
        path,
    )


def _read_key_file(path: Path) -> list[str]:
    for attempt in range(_EMPTY_FILE_RETRIES + 1):
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not ASCII"
            raise SettingsError(f"cannot read the key file {path} ({reason})") from None
        keys = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if keys:
            break
        if attempt < _EMPTY_FILE_RETRIES:
            time.sleep(_EMPTY_FILE_WAIT_S)
    else:
        raise SettingsError(f"the key file {path} holds no key")
    _warn_if_shared(path)
    return keys


def _warn_if_shared(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "the key file %s can be read by other users (mode %s); run: chmod 600 %s",
            path,
            oct(mode),
            path,
        )
