"""TOTP keys encrypted at rest (ASVS 2.9.2 / 6.4.1): AES-256-GCM with keys from the
environment, never from the database the ciphertexts are in.

``EBOK_TOTP_KEYS`` is ``<key id>:<32 bytes, base64>,…``: the first key seals, all of them open.
Each ciphertext is stored with the id of the key that sealed it (the ``*_key_id`` column beside
it). The account's login is the associated data, so a ciphertext copied to another account's
row does not open. Rotation: put a new key first and deploy; at start-up auth re-seals every
key sealed with another key (or stored in clear, before this existed) under the first one,
then the old key can be dropped.
"""

from __future__ import annotations

import base64
import functools
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ebok_shared.config import ConfigError

from .key_lists import parse_key_list
from .settings import AuthSettings

_NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    key_id: str
    ciphertext: str  # base64 of nonce + AES-GCM output


class TotpVault:
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ConfigError("EBOK_TOTP_KEYS: at least one key is needed")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.current = next(iter(keys))

    @staticmethod
    @functools.cache
    def parse(raw: str) -> TotpVault:
        """``kid:base64,…`` (the first seals); refused unless every key is 32 bytes."""
        return TotpVault(parse_key_list(raw, "EBOK_TOTP_KEYS"))

    def seal(self, secret: str, owner: str) -> Sealed:
        nonce = os.urandom(_NONCE_BYTES)
        data = self._keys[self.current].encrypt(nonce, secret.encode(), owner.encode())
        return Sealed(self.current, base64.b64encode(nonce + data).decode())

    def open(self, key_id: str | None, stored: str, owner: str) -> str:
        """The secret in clear. ``key_id`` None: stored before encryption (in clear)."""
        if key_id is None:
            return stored
        raw = base64.b64decode(stored)
        try:
            return (
                self._keys[key_id]
                .decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], owner.encode())
                .decode()
            )
        except KeyError:
            raise LookupError(f"TOTP key {key_id!r} is not in EBOK_TOTP_KEYS") from None
        except InvalidTag:
            raise LookupError(f"a TOTP key sealed with {key_id!r} does not open") from None


def vault_of(settings: AuthSettings) -> TotpVault:
    """The vault of ``EBOK_TOTP_KEYS`` (parsed once per value)."""
    if settings.totp_keys is None:
        raise ConfigError("EBOK_TOTP_KEYS: required (TOTP keys are encrypted at rest)")
    return TotpVault.parse(settings.totp_keys.reveal())


def owner(kind: str, subject: str) -> str:
    """What a ciphertext is bound to (its associated data): one account."""
    return f"{kind}:{subject}"
