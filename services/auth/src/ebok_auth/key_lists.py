"""Key lists from the environment: ``<key id>:<32 random bytes, base64>,…``, the first key
the current one (it seals or signs), every key still accepted (it opens or verifies). One
parser for each such variable (``EBOK_TOTP_KEYS``, ``EBOK_AUDIT_KEYS``)."""

from __future__ import annotations

import base64
import binascii

from ebok_shared.config import ConfigError

KEY_BYTES = 32


def parse_key_list(raw: str, variable: str) -> dict[str, bytes]:
    """``kid:base64,…`` in order (the first is current); refused unless every key is 32
    bytes and ids are unique and short."""
    keys: dict[str, bytes] = {}
    for entry in (e.strip() for e in raw.split(",") if e.strip()):
        kid, _, encoded = entry.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not kid or len(kid) > 32 or len(key) != KEY_BYTES or kid in keys:
            raise ConfigError(
                f"{variable}: expected <key id>:<32 random bytes in base64>, comma-"
                'separated, ids unique (python -c "import base64,os;'
                'print(base64.b64encode(os.urandom(32)).decode())")'
            )
        keys[kid] = key
    if not keys:
        raise ConfigError(f"{variable}: at least one key is needed")
    return keys
