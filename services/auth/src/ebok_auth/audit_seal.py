"""The audit log's seals (ASVS 7.3.4): an HMAC-SHA256 of each row's chain hash under a key
from the environment (``EBOK_AUDIT_KEYS``, ``<key id>:<32 bytes base64>,…``; the first
seals, all verify), stored with the key's id (table ``audit_seals``, migration 0005).

The database chains the rows (each row's SHA-256 covers its content and the previous row's
hash); the seal makes that chain keyed. Whoever can write the database — even a superuser
who turns the append-only triggers off and recomputes every hash — cannot make a seal, so
``python -m ebok_auth verify-audit`` names the first row rebuilt. Rotation: put a new key
first; keep an older key listed while the log still holds rows it sealed (the retention
period), since seals are never rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from ebok_shared.config import ConfigError

from .key_lists import parse_key_list
from .settings import AuthSettings

_CONTEXT = b"e-BOK audit seal v1\x00"  # a seal is never valid as any other MAC


class AuditSeal:
    def __init__(self, keys: dict[str, bytes]) -> None:
        self._keys = dict(keys)
        self.current = next(iter(keys))

    @staticmethod
    @functools.cache
    def parse(raw: str) -> AuditSeal:
        return AuditSeal(parse_key_list(raw, "EBOK_AUDIT_KEYS"))

    def _mac(self, key: bytes, row_hash: bytes) -> bytes:
        return hmac.new(key, _CONTEXT + row_hash, hashlib.sha256).digest()

    def seal(self, row_hash: bytes) -> tuple[str, bytes]:
        """The current key's id and its seal of ``row_hash``."""
        return self.current, self._mac(self._keys[self.current], row_hash)

    def holds(self, key_id: str, row_hash: bytes, mac: bytes) -> bool:
        """Is ``mac`` the seal of ``row_hash`` under the listed key ``key_id``?"""
        key = self._keys.get(key_id)
        return key is not None and hmac.compare_digest(self._mac(key, row_hash), mac)

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys


def seal_of(settings: AuthSettings) -> AuditSeal:
    """The seal of ``EBOK_AUDIT_KEYS`` (parsed once per value)."""
    if settings.audit_keys is None:
        raise ConfigError("EBOK_AUDIT_KEYS: required (the audit log's chain is keyed)")
    return AuditSeal.parse(settings.audit_keys.reveal())
