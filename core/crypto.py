"""Encryption of free text at rest: Fernet tokens under a list of keys, the first one current.

Free text (journal entries, drafts, notes) is stored as a Fernet token: AES-128-CBC with an
HMAC-SHA256, a random IV and a timestamp. A :class:`Cipher` holds one or more keys; the first
encrypts, every key decrypts, so keys are rotated by putting a new key first, re-encrypting
(``mend rotate-keys``) and then dropping the old key. Where keys come from is
``core.storage.keyring``'s business.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_UNREADABLE = "a stored value cannot be decrypted with any configured key"


class CipherError(Exception):
    """A token cannot be decrypted with any configured key.

    The message never includes the token's plaintext or any key.
    """


def generate_key() -> str:
    """Return a fresh random Fernet key: 32 bytes, URL-safe base64 (44 ASCII characters)."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str, position: int) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError(
            f"encryption key {position} is not 32 random bytes in URL-safe base64"
        ) from None


class Cipher:
    """Seals text under the first key and opens tokens made under any of the keys.

    Args:
        keys: Fernet keys (32 bytes, URL-safe base64), at least one; the first encrypts.

    Raises:
        ValueError: no keys, or a key that is not a Fernet key (the message gives its
            position in the list, never the key).
    """

    __slots__ = ("_current", "_fernets", "_multi")

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise TypeError("Cipher takes a sequence of keys, not one string")
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernets = [_fernet(key, position) for position, key in enumerate(keys, 1)]
        self._current = self._fernets[0]
        self._multi = MultiFernet(self._fernets)

    def __repr__(self) -> str:
        count = len(self._fernets)
        return f"Cipher(<{count} key{'s' if count != 1 else ''}>)"

    @property
    def key_count(self) -> int:
        """How many keys this cipher holds (the first encrypts)."""
        return len(self._fernets)

    def seal(self, text: str) -> str:
        """Encrypt ``text`` under the first key.

        Args:
            text: Any text, including the empty string.

        Returns:
            The Fernet token, an ASCII string (URL-safe base64); different on every call.
        """
        return self._current.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        """Decrypt a token made by :meth:`seal` under any of the keys.

        Args:
            token: A Fernet token as stored.

        Returns:
            The original text.

        Raises:
            CipherError: no key opens the token (wrong keys, or it was altered or is not a token).
        """
        try:
            return self._multi.decrypt(_token_bytes(token)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise CipherError(_UNREADABLE) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a token made under any of the keys under the first key.

        Args:
            token: A Fernet token as stored.

        Returns:
            A new token for the same text, made with the first key.

        Raises:
            CipherError: no key opens the token.
        """
        try:
            return self._multi.rotate(_token_bytes(token)).decode("ascii")
        except InvalidToken:
            raise CipherError(_UNREADABLE) from None

    def is_current(self, token: str) -> bool:
        """True if ``token`` opens with the first key, so rotating it would change nothing.

        Args:
            token: A Fernet token as stored.

        Returns:
            Whether the first key opens it (False for tokens under older keys or no key).
        """
        try:
            self._current.decrypt(_token_bytes(token))
        except InvalidToken:
            return False
        return True


def _token_bytes(token: str) -> bytes:
    try:
        return token.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise InvalidToken from None
